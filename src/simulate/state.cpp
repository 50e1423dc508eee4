#include "simulate/state.hpp"

#include <algorithm>

namespace portcullis::simulate {

namespace ir = compile::ir;

TokenBucket::TokenBucket(std::uint32_t rate_per_second, std::uint32_t burst_packets) {
    const double rate = rate_per_second == 0 ? 1 : rate_per_second;
    cost_ = 1.0 / rate;
    capacity_ = cost_ * (burst_packets == 0 ? 5 : burst_packets);
    tokens_ = capacity_;
}

bool TokenBucket::take(double now) {
    if (last_) tokens_ = std::min(capacity_, tokens_ + std::max(0.0, now - *last_));
    last_ = now;
    // A tolerance well below one nanosecond keeps exact-rate arrivals from losing to rounding.
    if (tokens_ - cost_ >= -1e-12) {
        tokens_ = std::max(0.0, tokens_ - cost_);
        return true;
    }
    return false;
}

namespace {

// The numeric interval a value stands for, when it is numeric.
std::optional<std::pair<std::uint32_t, std::uint32_t>> numeric(const ir::Value& value) {
    if (const auto* p = std::get_if<ir::Proto>(&value)) return std::pair{p->number + 0u, p->number + 0u};
    if (const auto* r = std::get_if<policy::PortRange>(&value))
        return std::pair{r->first + 0u, r->last + 0u};
    if (const auto* n = std::get_if<ir::Number>(&value)) return std::pair{n->value, n->value};
    return std::nullopt;
}

bool name_matches(const std::string& pattern, const std::string& name) {
    // nft ifname wildcards: a trailing '*' matches any suffix.
    if (!pattern.empty() && pattern.back() == '*')
        return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    return pattern == name;
}

}  // namespace

bool value_matches(const ir::Value& element, const ir::Value& packet_value) {
    if (const auto* prefix = std::get_if<Prefix>(&element)) {
        const auto* address = std::get_if<Prefix>(&packet_value);
        return address && address->address.family == prefix->address.family &&
               prefix->contains(address->address);
    }
    if (const auto* name = std::get_if<ir::IfName>(&element)) {
        const auto* other = std::get_if<ir::IfName>(&packet_value);
        return other && name_matches(name->name, other->name);
    }
    auto range = numeric(element);
    auto value = numeric(packet_value);
    return range && value && value->first >= range->first && value->first <= range->second;
}

bool key_matches(const std::vector<ir::Value>& element, const std::vector<ir::Value>& packet_key) {
    if (element.size() != packet_key.size()) return false;
    for (std::size_t i = 0; i < element.size(); ++i)
        if (!value_matches(element[i], packet_key[i])) return false;
    return true;
}

}  // namespace portcullis::simulate
