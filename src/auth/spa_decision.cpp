#include "auth/spa_decision.hpp"

#include <algorithm>

namespace portcullis::auth {
namespace {

bool covers(const ServicePort& port, const AccessPort& request) {
    if (port.protocol != static_cast<std::uint8_t>(request.protocol)) return false;
    if (port.first_port == 0 && port.last_port == 0) return false;  // port-less: cannot be asked for
    return request.port >= port.first_port && request.port <= std::max(port.first_port, port.last_port);
}

bool is_unspecified(const Address& address) {
    return std::all_of(address.bytes.begin(), address.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

tl::expected<Decision, Reject> decide(const SpaMessage& message, const SpaKey& key,
                                      std::span<const ServiceSpec> allowed, const Address& packet_source) {
    Decision decision;
    decision.key_name = key.name;

    for (const AccessPort& request : message.access) {
        auto service = std::find_if(allowed.begin(), allowed.end(), [&](const ServiceSpec& spec) {
            return std::any_of(spec.ports.begin(), spec.ports.end(),
                               [&](const ServicePort& port) { return covers(port, request); });
        });
        if (service == allowed.end()) return tl::unexpected(Reject::service_not_allowed);
        if (std::find(decision.services.begin(), decision.services.end(), service->name) == decision.services.end())
            decision.services.push_back(service->name);
    }

    decision.address = packet_source;
    auto embedded = Address::parse(message.allow_address);
    if (!embedded) return tl::unexpected(Reject::malformed);
    if (!is_unspecified(*embedded) && *embedded != packet_source) {
        if (!key.allow_embedded_address) return tl::unexpected(Reject::embedded_address_not_allowed);
        decision.address = *embedded;
    }

    decision.open_seconds = key.max_open_seconds;
    if (message.client_timeout) decision.open_seconds = std::min(*message.client_timeout, key.max_open_seconds);
    return decision;
}

}  // namespace portcullis::auth
