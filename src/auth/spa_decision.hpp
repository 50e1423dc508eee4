#pragma once
// What a verified SPA message may open. Plain data in, plain data out: the caller resolves the
// key's service names into port lists (from the policy), this decides which services open, for
// which address, for how long.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "auth/spa_keys.hpp"
#include "auth/spa_types.hpp"
#include "common/net.hpp"

namespace portcullis::auth {

// One thing a service exposes. `protocol` is the IP protocol number (6 tcp, 17 udp, 50 esp,
// 47 gre, ...); port-less protocols have first_port == last_port == 0.
struct ServicePort {
    std::uint8_t protocol = 6;
    std::uint16_t first_port = 0;
    std::uint16_t last_port = 0;
};

struct ServiceSpec {
    std::string name;
    std::vector<ServicePort> ports;  // the whole bundle: e.g. ipsec = udp/500, udp/4500, esp
};

struct Decision {
    std::string key_name;
    Address address;                    // who gets the grant
    std::vector<std::string> services;  // each opened whole, in the order first requested
    std::uint32_t open_seconds = 0;
};

// Every requested proto/port must fall inside a port of one of `allowed` (the key's services);
// a hit opens that service's whole bundle (udp/500 -> ipsec with 4500 and ESP). The grant goes to
// `packet_source` unless the message names another address (not 0.0.0.0 / ::) and the key
// allows embedded addresses. Client timeouts are capped by the key's max_open_seconds.
tl::expected<Decision, Reject> decide(const SpaMessage& message, const SpaKey& key,
                                      std::span<const ServiceSpec> allowed, const Address& packet_source);

}  // namespace portcullis::auth
