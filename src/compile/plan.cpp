#include "compile/plan.hpp"

#include <algorithm>

namespace portcullis::compile {

std::vector<Exposure> plan_exposures(const policy::Policy& policy, const policy::Service& service) {
    using policy::IpProtocol;
    const bool forwarded =
        policy.mode == policy::Mode::gateway && service.forward_to.has_value();
    std::vector<Exposure> out;
    for (const auto& spec : service.ports) {
        Exposure exposure;
        exposure.protocol = spec.protocol;
        exposure.ports = spec.ports;
        if (service.pptp_helper && spec.protocol == IpProtocol::gre) {
            // The pptp helper learns the call IDs from the control connection and expects exactly
            // that GRE flow (NATed to the server in gateway mode); raw GRE stays closed.
            exposure.delivery = Delivery::pptp_expectation;
            if (forwarded) exposure.forward_address = service.forward_to->address;
        } else if (forwarded) {
            exposure.delivery = Delivery::forwarded;
            exposure.forward_address = service.forward_to->address;
            // A port remap only exists for a single port (the parser rejects it elsewhere); a
            // range keeps its ports rather than collapsing onto one.
            if (service.forward_to->port && spec.ports && spec.ports->first == spec.ports->last &&
                *service.forward_to->port != spec.ports->first)
                exposure.forward_port = service.forward_to->port;
        } else {
            exposure.delivery = Delivery::local;
        }
        out.push_back(exposure);
    }
    if (service.l2tp_only_inside_ipsec) {
        Exposure l2tp;
        l2tp.protocol = IpProtocol::udp;
        l2tp.ports = policy::PortRange{kL2tpPort, kL2tpPort};
        // Behind a gateway L2TP travels inside ESP to the server; on this host the kernel's
        // IPsec decapsulates it first, so only packets carrying a secpath are genuine.
        l2tp.delivery =
            forwarded ? Delivery::inside_esp_not_forwarded : Delivery::local_inside_ipsec;
        if (forwarded) l2tp.forward_address = service.forward_to->address;
        // An explicit raw udp/1701 in the same service already covers it (with a warning).
        bool explicit_raw = std::any_of(out.begin(), out.end(), [](const Exposure& e) {
            return e.protocol == IpProtocol::udp && e.ports && e.ports->first <= kL2tpPort &&
                   kL2tpPort <= e.ports->last;
        });
        if (!explicit_raw) out.push_back(l2tp);
    }
    return out;
}

std::vector<const policy::Service*> services_by_name(const policy::Policy& policy) {
    std::vector<const policy::Service*> out;
    for (const auto& service : policy.services) out.push_back(&service);
    std::sort(out.begin(), out.end(),
              [](const auto* a, const auto* b) { return a->name < b->name; });
    return out;
}

}  // namespace portcullis::compile
