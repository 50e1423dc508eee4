#include "kernel/conntrack_cleanup.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <fmt/core.h>

namespace portcullis::kernel {
namespace {

bool port_matches(const ForwardedPort& forwarded, const FlowView& flow) {
    if (forwarded.l4proto != flow.l4proto) return false;
    if (!forwarded.has_ports) return true;
    return flow.destination_port && *flow.destination_port >= forwarded.first_port &&
           *flow.destination_port <= forwarded.last_port;
}

bool has_ports(std::uint8_t l4proto) {
    return l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP || l4proto == IPPROTO_SCTP ||
           l4proto == IPPROTO_UDPLITE || l4proto == IPPROTO_DCCP;
}

std::optional<FlowView> view_of(const nf_conntrack* ct) {
    FlowView flow;
    std::uint8_t l3 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
    if (l3 == AF_INET) {
        flow.destination.family = Family::ipv4;
        std::uint32_t address = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST);  // network order
        std::memcpy(flow.destination.bytes.data(), &address, 4);
    } else if (l3 == AF_INET6) {
        flow.destination.family = Family::ipv6;
        const void* address = nfct_get_attr(ct, ATTR_ORIG_IPV6_DST);
        if (address == nullptr) return std::nullopt;
        std::memcpy(flow.destination.bytes.data(), address, 16);
    } else {
        return std::nullopt;
    }
    flow.l4proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
    if (has_ports(flow.l4proto) && nfct_attr_is_set(ct, ATTR_ORIG_PORT_DST) > 0)
        flow.destination_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
    flow.dst_natted = (nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_DST_NAT) != 0;
    return flow;
}

struct DumpState {
    const std::vector<ForwardedPort>* forwarded;
    const std::vector<Address>* destinations;
    std::vector<nf_conntrack*> doomed;
    std::size_t examined = 0;
};

int on_entry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
    auto* state = static_cast<DumpState*>(data);
    ++state->examined;
    auto flow = view_of(ct);
    if (flow && is_stale_unnatted(*flow, *state->forwarded, *state->destinations)) {
        nf_conntrack* copy = nfct_clone(ct);
        if (copy != nullptr) state->doomed.push_back(copy);
    }
    return NFCT_CB_CONTINUE;
}

}  // namespace

bool is_stale_unnatted(const FlowView& flow, const std::vector<ForwardedPort>& forwarded,
                       const std::vector<Address>& destinations) {
    if (flow.dst_natted) return false;
    if (std::find(destinations.begin(), destinations.end(), flow.destination) == destinations.end()) return false;
    return std::any_of(forwarded.begin(), forwarded.end(),
                       [&](const ForwardedPort& port) { return port_matches(port, flow); });
}

std::vector<Address> interface_addresses(const std::vector<std::string>& interfaces) {
    std::vector<Address> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr || entry->ifa_name == nullptr) continue;
        if (std::find(interfaces.begin(), interfaces.end(), entry->ifa_name) == interfaces.end()) continue;
        Address address;
        if (entry->ifa_addr->sa_family == AF_INET) {
            sockaddr_in in4;
            std::memcpy(&in4, entry->ifa_addr, sizeof in4);
            address.family = Family::ipv4;
            std::memcpy(address.bytes.data(), &in4.sin_addr, 4);
        } else if (entry->ifa_addr->sa_family == AF_INET6) {
            sockaddr_in6 in6;
            std::memcpy(&in6, entry->ifa_addr, sizeof in6);
            address.family = Family::ipv6;
            std::memcpy(address.bytes.data(), &in6.sin6_addr, 16);
        } else {
            continue;
        }
        out.push_back(address);
    }
    ::freeifaddrs(list);
    return out;
}

Result<CleanupReport> delete_stale_unnatted(const StaleFlowSpec& spec) {
    CleanupReport report;
    if (spec.forwarded.empty()) return report;
    std::vector<Address> destinations =
        spec.destinations.empty() ? interface_addresses(spec.wan_interfaces) : spec.destinations;
    if (destinations.empty()) return report;

    nfct_handle* handle = nfct_open(CONNTRACK, 0);
    if (handle == nullptr) return fail(fmt::format("cannot open the conntrack netlink socket: {}", std::strerror(errno)));
    DumpState state{&spec.forwarded, &destinations, {}, 0};
    nfct_callback_register(handle, NFCT_T_ALL, on_entry, &state);
    std::uint32_t family = AF_UNSPEC;
    int dumped = nfct_query(handle, NFCT_Q_DUMP, &family);
    int dump_errno = errno;
    nfct_callback_unregister(handle);
    std::string failure;
    if (dumped < 0) failure = fmt::format("cannot dump the conntrack table: {}", std::strerror(dump_errno));
    report.examined = state.examined;
    for (nf_conntrack* ct : state.doomed) {
        // ENOENT: the entry expired between the dump and now, which is what we wanted anyway.
        if (failure.empty() && (nfct_query(handle, NFCT_Q_DESTROY, ct) == 0 || errno == ENOENT)) ++report.deleted;
        nfct_destroy(ct);
    }
    nfct_close(handle);
    if (!failure.empty()) return fail(failure);
    return report;
}

}  // namespace portcullis::kernel
