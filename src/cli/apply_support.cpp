#include "cli/apply_support.hpp"

#include <algorithm>

#include <fmt/core.h>

#include "kernel/features.hpp"

namespace portcullis::cli {

std::vector<std::string> fit_to_kernel(policy::Policy& policy, kernel::Nftables& nft) {
    std::vector<std::string> messages;
    bool wants_pptp = std::any_of(policy.services.begin(), policy.services.end(),
                                  [](const policy::Service& s) { return s.pptp_helper; });
    bool wants_secpath = std::any_of(policy.services.begin(), policy.services.end(),
                                     [](const policy::Service& s) { return s.l2tp_only_inside_ipsec; });
    if (wants_pptp && !kernel::probe_feature(nft, "ct helper pptp").available) {
        for (auto& service : policy.services) {
            if (!service.pptp_helper) continue;
            service.pptp_helper = false;
            std::erase_if(service.ports, [](const policy::PortSpec& spec) { return spec.protocol == policy::IpProtocol::gre; });
            messages.push_back(fmt::format(
                "service {}: this kernel has no pptp conntrack helper (nf_conntrack_pptp), so GRE stays "
                "closed; TCP 1723 is exposed but PPTP calls will carry no data", service.name));
        }
    }
    if (wants_secpath && !kernel::probe_feature(nft, "meta secpath").available) {
        for (auto& service : policy.services) {
            if (!service.l2tp_only_inside_ipsec) continue;
            service.l2tp_only_inside_ipsec = false;
            messages.push_back(fmt::format(
                "service {}: this kernel cannot match `meta secpath` (nft_xfrm), so UDP 1701 stays closed; "
                "L2TP inside IPsec will not work", service.name));
        }
    }
    return messages;
}

kernel::StaleFlowSpec stale_flow_spec(const policy::Policy& policy) {
    kernel::StaleFlowSpec spec;
    if (policy.mode != policy::Mode::gateway) return spec;
    for (const auto& service : policy.services) {
        if (!service.forward_to) continue;
        for (const auto& port : service.ports) {
            kernel::ForwardedPort forwarded;
            forwarded.l4proto = static_cast<std::uint8_t>(port.protocol);
            forwarded.has_ports = port.ports.has_value();
            if (port.ports) {
                forwarded.first_port = port.ports->first;
                forwarded.last_port = port.ports->last;
            }
            spec.forwarded.push_back(forwarded);
        }
    }
    spec.destinations = policy.wan_addresses;
    spec.wan_interfaces = policy.wan_interfaces;
    return spec;
}

}  // namespace portcullis::cli
