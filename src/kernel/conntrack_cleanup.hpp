#pragma once
// After an apply that adds port forwards: conntrack entries created before the DNAT existed
// still carry the flow un-NATed (to the gateway itself), and a VPN keepalive that never pauses
// keeps such an entry alive forever. Deleting them lets the next packet take the new DNAT.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "common/result.hpp"

namespace portcullis::kernel {

struct ForwardedPort {
    std::uint8_t l4proto = 0;           // IPPROTO_*
    std::uint16_t first_port = 0;       // ignored when !has_ports
    std::uint16_t last_port = 0;
    bool has_ports = true;              // false for portless protocols (ESP, GRE)
};

struct StaleFlowSpec {
    std::vector<ForwardedPort> forwarded;
    // Destinations the DNAT rewrites. Empty: the addresses currently on `wan_interfaces`.
    std::vector<Address> destinations;
    std::vector<std::string> wan_interfaces;
};

// One conntrack entry's original direction, as far as the decision needs it.
struct FlowView {
    Address destination;
    std::uint8_t l4proto = 0;
    std::optional<std::uint16_t> destination_port;
    bool dst_natted = false;
};

// True when `flow` is addressed to one of `destinations` on a forwarded protocol/port and was
// not destination-NATed, i.e. it was created before the forward existed.
bool is_stale_unnatted(const FlowView& flow, const std::vector<ForwardedPort>& forwarded,
                       const std::vector<Address>& destinations);

// The addresses currently configured on the named interfaces (getifaddrs).
std::vector<Address> interface_addresses(const std::vector<std::string>& interfaces);

struct CleanupReport {
    std::size_t examined = 0;
    std::size_t deleted = 0;
};

// Dumps the conntrack table and deletes the stale entries (libnetfilter_conntrack).
Result<CleanupReport> delete_stale_unnatted(const StaleFlowSpec& spec);

}  // namespace portcullis::kernel
