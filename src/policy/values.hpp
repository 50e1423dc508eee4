#pragma once
// The small value languages inside a policy: port strings, durations, names, forward targets.
// Each parser says what it found and what it expected; the loader adds file:line:column.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "policy/model.hpp"

namespace portcullis::policy {

// Longest accepted duration (grant and ban timeouts): a year. Longer values are almost always a
// typo, and every runtime set timeout must fit the kernel's limits comfortably.
inline constexpr std::uint32_t kMaxDurationSeconds = 365u * 24u * 3600u;

// "tcp/22", "udp/40000-40100", "esp", "gre", "ah". The protocol name is case-insensitive.
Result<PortSpec> parse_port_spec(std::string_view text);

// Canonical text of a port spec: "tcp/22", "udp/40000-40100", "esp".
std::string format_port_spec(const PortSpec& spec);
std::string_view protocol_name(IpProtocol protocol);

// Same protocol and intersecting port ranges; two portless specs overlap when their protocol is equal.
bool ports_overlap(const PortSpec& a, const PortSpec& b);

// "30s", "5m", "1h", "7d", compounds such as "1h30m", or a bare number of seconds ("90").
// Result is 1..kMaxDurationSeconds.
Result<std::uint32_t> parse_duration(std::string_view text);
Result<std::uint32_t> check_duration_seconds(std::int64_t seconds);

// Service names become parts of nftables set, chain and counter names: [a-z0-9][a-z0-9_-]{0,31}.
Result<std::string> check_service_name(std::string_view name);

// Linux interface names: 1-15 characters, no whitespace, '/' or ':'.
Result<std::string> check_interface_name(std::string_view name);

// "192.0.2.10", "192.0.2.10:8443", "2001:db8::10", "[2001:db8::10]:8443".
Result<ForwardTarget> parse_forward_target(std::string_view text);
std::string format_forward_target(const ForwardTarget& target);

}  // namespace portcullis::policy
