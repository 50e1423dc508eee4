#pragma once
// How each thing a service exposes reaches its destination. One classification serves the
// compiler (which maps and chains an exposure lands in) and the exposure report (what `check`
// tells the admin), so the two can never disagree.
#include <optional>
#include <vector>

#include "common/net.hpp"
#include "policy/model.hpp"

namespace portcullis::compile {

enum class Delivery {
    local,                     // accepted in the input chain (host mode, or a gateway-local service)
    forwarded,                 // DNATed on WAN and accepted in the forward chain
    pptp_expectation,          // GRE of a PPTP call: admitted only via the pptp helper's expectation
    local_inside_ipsec,        // L2TP (udp/1701) on this host, only when it arrived inside IPsec
    inside_esp_not_forwarded,  // L2TP behind a gateway: rides inside ESP, never forwarded raw
};

struct Exposure {
    policy::IpProtocol protocol = policy::IpProtocol::tcp;
    std::optional<policy::PortRange> ports;  // empty for portless protocols
    Delivery delivery = Delivery::local;
    std::optional<Address> forward_address;    // forwarded: the LAN destination
    std::optional<std::uint16_t> forward_port;  // forwarded: the new port when it changes
};

inline constexpr std::uint16_t kL2tpPort = 1701;

// Exposures in a stable order (the service's port order, then the implicit L2TP entry).
std::vector<Exposure> plan_exposures(const policy::Policy& policy, const policy::Service& service);

// Services sorted by name: every output iterates services in this order, so reordering services in
// the policy file never changes the compiled bytes.
std::vector<const policy::Service*> services_by_name(const policy::Policy& policy);

}  // namespace portcullis::compile
