#include "daemon/drop_summary.hpp"

#include <algorithm>
#include <vector>

namespace portcullis::daemon {

std::optional<Address> packet_source(Bytes payload) {
    auto first = read_u8(payload, 0);
    if (!first) return std::nullopt;
    Address address;
    if ((*first >> 4) == 4) {
        auto field = slice(payload, 12, 4);
        if (!field) return std::nullopt;
        address.family = Family::ipv4;
        for (std::size_t i = 0; i < 4; ++i) address.bytes[i] = *read_u8(*field, i);
        return address;
    }
    if ((*first >> 4) == 6) {
        auto field = slice(payload, 8, 16);
        if (!field) return std::nullopt;
        address.family = Family::ipv6;
        for (std::size_t i = 0; i < 16; ++i) address.bytes[i] = *read_u8(*field, i);
        return address;
    }
    return std::nullopt;
}

void DropSummary::on_packet(const intake::NflogPacket& packet) {
    ++packets_;
    ++total_packets_;
    bytes_ += packet.payload.size();
    if (by_prefix_.size() < 64 || by_prefix_.count(std::string(packet.prefix)))
        ++by_prefix_[std::string(packet.prefix)];
    auto source = packet_source(packet.payload);
    if (!source) return;
    auto it = by_source_.find(*source);
    if (it != by_source_.end()) ++it->second;
    else if (by_source_.size() < kMaxTrackedSources) by_source_.emplace(*source, 1);
    else ++untracked_;
}

std::optional<nlohmann::json> DropSummary::take(double interval_seconds) {
    if (packets_ == 0) return std::nullopt;
    std::vector<std::pair<Address, std::uint64_t>> top(by_source_.begin(), by_source_.end());
    std::size_t count = std::min(top.size(), kTopSources);
    std::partial_sort(top.begin(), top.begin() + static_cast<long>(count), top.end(),
                      [](const auto& a, const auto& b) { return a.second > b.second; });
    auto sources = nlohmann::json::array();
    for (std::size_t i = 0; i < count; ++i)
        sources.push_back({{"source", top[i].first.to_string()}, {"packets", top[i].second}});
    nlohmann::json prefixes = nlohmann::json::object();
    for (const auto& [prefix, n] : by_prefix_) prefixes[prefix.empty() ? "-" : prefix] = n;
    nlohmann::json summary = {{"interval_seconds", interval_seconds},
                              {"packets", packets_},
                              {"bytes", bytes_},
                              {"distinct_sources", by_source_.size()},
                              {"untracked_packets", untracked_},
                              {"top_sources", sources},
                              {"by_prefix", prefixes}};
    by_source_.clear();
    by_prefix_.clear();
    packets_ = bytes_ = untracked_ = 0;
    return summary;
}

}  // namespace portcullis::daemon
