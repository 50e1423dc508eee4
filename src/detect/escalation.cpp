#include "detect/escalation.hpp"

#include <algorithm>
#include <cmath>

namespace portcullis::detect {

std::uint32_t ban_seconds(const EscalationSettings& settings, std::uint32_t offences,
                          const std::function<double()>& uniform) {
    const std::uint32_t doublings = offences == 0 ? 0 : std::min<std::uint32_t>(offences - 1, 40);
    const double escalated = std::ldexp(static_cast<double>(settings.base_seconds), doublings);
    const double capped = std::min(escalated, static_cast<double>(settings.cap_seconds));
    const double jitter = (uniform() * 2.0 - 1.0) * settings.jitter_fraction;
    const double jittered = std::clamp(capped * (1.0 + jitter), 1.0,
                                       static_cast<double>(settings.cap_seconds));
    return static_cast<std::uint32_t>(std::llround(jittered));
}

Prefix ban_prefix(const Address& source, bool aggregate_ipv6_to_64) {
    Prefix prefix{source, static_cast<std::uint8_t>(source.width_bits())};
    if (aggregate_ipv6_to_64 && source.family == Family::ipv6) {
        prefix.length = 64;
        std::fill(prefix.address.bytes.begin() + 8, prefix.address.bytes.end(), 0);
    }
    return prefix;
}

bool is_trusted(const Address& source, const std::vector<Prefix>& trusted) {
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const Prefix& prefix) { return prefix.contains(source); });
}

}  // namespace portcullis::detect
