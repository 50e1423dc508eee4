#pragma once
// Ban durations that grow with repeat offences: base × 2^(offences−1), capped, with ±jitter so a
// batch of bans placed together does not expire together (and a scanner cannot time its return).
#include <cstdint>
#include <functional>
#include <vector>

#include "common/net.hpp"

namespace portcullis::detect {

struct EscalationSettings {
    std::uint32_t base_seconds = 3600;
    std::uint32_t cap_seconds = 7 * 24 * 3600;
    double jitter_fraction = 0.10;
};

// `uniform` returns a value in [0, 1); injected so tests are deterministic.
std::uint32_t ban_seconds(const EscalationSettings& settings, std::uint32_t offences,
                          const std::function<double()>& uniform);

// The address a ban should cover: the source itself, or its /64 when IPv6 aggregation is on.
Prefix ban_prefix(const Address& source, bool aggregate_ipv6_to_64);

// True when `source` lies inside any of `trusted` (management sources, trusted allow lists).
bool is_trusted(const Address& source, const std::vector<Prefix>& trusted);

}  // namespace portcullis::detect
