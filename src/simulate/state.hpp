#pragma once
// Runtime state that lives in the kernel's table between packets: set elements added at runtime
// (grants, bans, knock stages, per-source limits) with timeouts, token-bucket limiters, counters.
// Time is the simulation clock (capture timestamps, seconds).
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compile/ir.hpp"

namespace portcullis::simulate {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

// nft's token bucket (nft_limit.c): `rate N/second burst B packets` lets B packets through at
// once (B defaults to 5), then one every 1/N s; the bucket starts full.
class TokenBucket {
public:
    TokenBucket(std::uint32_t rate_per_second, std::uint32_t burst_packets);
    // True when the packet is within the budget (and takes its token).
    bool take(double now);

private:
    double cost_ = 0, capacity_ = 0, tokens_ = 0;
    std::optional<double> last_;
};

// One element added from the packet path or by the runtime (grant/ban).
struct RuntimeElement {
    std::vector<compile::ir::Value> key;
    double expires = kNever;
    std::optional<TokenBucket> limiter;  // `add @set { key limit rate ... }`
};

// True when the packet's key (one host/exact value per component) falls inside the element's key
// (prefixes, ranges and exact values).
bool key_matches(const std::vector<compile::ir::Value>& element,
                 const std::vector<compile::ir::Value>& packet_key);
bool value_matches(const compile::ir::Value& element, const compile::ir::Value& packet_value);

struct CounterValue {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
};

}  // namespace portcullis::simulate
