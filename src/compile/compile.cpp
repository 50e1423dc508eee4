// Policy → ir::Table → nft text.
//
// Per-packet design (cost independent of the number of services and sources):
//   * Base chains hold a fixed number of rules. A packet from WAN meets, in order: management
//     (two set lookups), IPv6 neighbour discovery, bans (a hash set of hosts, an interval set of
//     prefixes), conntrack state, then the service lookups, then the default action.
//   * Unguarded services ("flat", the common case) have no chain of their own: per delivery
//     (local input / forwarded) and protocol kind (tcp, udp, portless) one counted interval set
//     holds `source prefix . port` (or `. protocol`) for every allowed pair, and one counted set
//     holds every service port. A base chain asks at most ten lookups — accept if the pair is in
//     the accept set, refuse (goto deny_service) if the port belongs to a service — whatever the
//     number of services or sources. Each element carries its own counter and, as its comment,
//     the service's logical counter name (svc_<name>_accepted / _dropped): metrics and simulate
//     sum elements per service. Forwarded services match `ct original proto-dst` (the port
//     before DNAT); nft can concatenate it only after `meta l4proto`, hence one set per protocol.
//     Why not a chain per service: 10,000 chains + 20,000 named counters + 10,000 sets made the
//     kernel transaction itself take seconds (measured in docs/benchmarks.md), and stable set
//     names let a re-apply change elements instead of re-creating sets (see kernel/transaction).
//   * Guarded services (grant/knock/spa) and L2TP-inside-IPsec keep a chain each, reached through
//     a verdict map keyed on `meta l4proto . th dport` (or the protocol alone): a constant handful
//     of rules (allow set, grant set, named counters, verdict).
//
// Rule order in the WAN-facing filter chains (input; forward in gateway mode):
//   1. traffic not arriving on a WAN interface is not ours to police: accept (our table only);
//   2. management sources on management ports: accept — before anything that can drop (anti-lockout);
//   3. IPv6 neighbour discovery (hop limit 255, i.e. on-link only) and link-local DHCPv6 replies:
//      accept, or the WAN's IPv6 dies (input chain only);
//   4. banned sources: drop — before conntrack state so a ban also cuts established UDP "flows"
//      (an IKE flood whose first packet was answered is "established" to conntrack);
//   5. ct state established,related: accept (replies, PPTP GRE expectations, ICMP errors);
//   6. ct state invalid: drop;
//   7. flat service sets, then the verdict maps of guarded services, then the default action.
#include "compile/compile.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "compile/plan.hpp"

namespace portcullis::compile {

using policy::IpProtocol;
using policy::PortRange;

std::string grant_set_v4(const std::string& service_name) {
    return ir::identifier("grant4_", service_name);
}
std::string grant_set_v6(const std::string& service_name) {
    return ir::identifier("grant6_", service_name);
}
std::string accepted_counter(const std::string& service_name) {
    return ir::identifier("svc_", service_name) + "_accepted";
}
std::string dropped_counter(const std::string& service_name) {
    return ir::identifier("svc_", service_name) + "_dropped";
}
std::string service_chain(const std::string& service_name) {
    return ir::identifier("svc_", service_name);
}
std::string knock_chain(const std::string& service_name) { return ir::identifier("knock_", service_name); }
std::string knock_stage_set(Family family, const std::string& service_name, std::size_t stage) {
    return ir::identifier(family == Family::ipv4 ? "knock4_" : "knock6_", service_name) + "_" +
           std::to_string(stage);
}
std::string knock_counter(const std::string& service_name, const std::string& what) {
    return ir::identifier("knock_", service_name) + "_" + what;
}
std::string flood_set(Family family, const std::string& service_name, const std::string& what) {
    return ir::identifier(family == Family::ipv4 ? "flood4_" : "flood6_", service_name) + "_" + what;
}
std::string flood_counter(const std::string& service_name, const std::string& what) {
    return ir::identifier("flood_", service_name) + "_" + what;
}
std::string spa_rate_set(Family family) { return family == Family::ipv4 ? "spa4_rate" : "spa6_rate"; }
std::string knock_log_prefix(const std::string& service_name) {
    return std::string(kLogPrefixKnock) + service_name + " ";
}

namespace {

constexpr const char* kChainDenyService = "deny_service";
constexpr const char* kChainDenyClosed = "deny_closed";
constexpr const char* kMgmtSetV4 = "mgmt4";
constexpr const char* kMgmtSetV6 = "mgmt6";
constexpr const char* kMgmtPorts = "mgmt_ports";
constexpr const char* kMgmtProtos = "mgmt_protos";
constexpr const char* kLocalPorts = "local_ports";
constexpr const char* kLocalProtos = "local_protos";
constexpr const char* kForwardTcp = "fwd_tcp";
constexpr const char* kForwardUdp = "fwd_udp";
constexpr const char* kForwardProtos = "fwd_protos";
constexpr const char* kPptpHelper = "pptp";
constexpr const char* kChainFloodDrop = "flood_drop";
constexpr std::uint32_t kFloodLogPerSecond = 5;
constexpr const char* kChainConformIke = "conform_ike";
constexpr const char* kChainConformNatt = "conform_natt";
constexpr const char* kChainConformL2tp = "conform_l2tp";
constexpr const char* kChainConformGre = "conform_gre";

std::string allow_set(Family family, const std::string& service) {
    return ir::identifier(family == Family::ipv4 ? "allow4_" : "allow6_", service);
}
std::string dnat_map(Family family, const char* kind) {
    return std::string(family == Family::ipv4 ? "dnat4_" : "dnat6_") + kind;
}

ir::Proto proto(IpProtocol p) { return ir::Proto{static_cast<std::uint8_t>(p)}; }

ir::Verdict jump(const std::string& chain) { return {ir::Verdict::Kind::jump, chain}; }
ir::Verdict go_to(const std::string& chain) { return {ir::Verdict::Kind::go_to, chain}; }
ir::Statement accept() { return ir::VerdictStmt{{ir::Verdict::Kind::accept, {}}}; }
ir::Statement drop() { return ir::VerdictStmt{{ir::Verdict::Kind::drop, {}}}; }
ir::Statement count(const std::string& name) { return ir::CounterRef{name}; }

// Interval sets refuse overlapping elements; allow lists may nest (10.0.0.0/8 and 10.1.0.0/16).
// Prefixes either nest or are disjoint, so after sorting by start (shorter first on ties) a prefix
// is redundant exactly when the last kept one contains it.
std::vector<Prefix> without_nested(std::vector<Prefix> prefixes) {
    std::sort(prefixes.begin(), prefixes.end(), [](const Prefix& a, const Prefix& b) {
        if (a.address != b.address) return a.address < b.address;
        return a.length < b.length;
    });
    std::vector<Prefix> kept;
    for (const auto& prefix : prefixes) {
        if (!kept.empty() && kept.back().address.family == prefix.address.family &&
            kept.back().contains(prefix.address) && kept.back().length <= prefix.length)
            continue;
        kept.push_back(prefix);
    }
    return kept;
}

std::vector<Prefix> of_family(const std::vector<Prefix>& prefixes, Family family) {
    std::vector<Prefix> out;
    for (const auto& p : prefixes)
        if (p.address.family == family) out.push_back(p);
    return out;
}

ir::Set address_set(std::string name, Family family, const std::vector<Prefix>& prefixes) {
    ir::Set set;
    set.name = std::move(name);
    set.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
    set.flags.interval = true;
    for (const auto& p : without_nested(prefixes)) set.elements.push_back({{p}, {}});
    return set;
}

// Port-keyed entries of one map, collected from all services and sorted so the output does not
// depend on policy order. Overlaps are policy errors the parser reports; should one slip through,
// the first entry (in sorted order) wins and later overlapping ones are left out rather than
// producing a table the kernel rejects.
struct PortEntry {
    std::uint8_t protocol = 0;
    std::optional<PortRange> ports;
    ir::MapData data;
};

std::vector<PortEntry> sorted_disjoint(std::vector<PortEntry> entries) {
    std::stable_sort(entries.begin(), entries.end(), [](const PortEntry& a, const PortEntry& b) {
        if (a.protocol != b.protocol) return a.protocol < b.protocol;
        std::uint16_t fa = a.ports ? a.ports->first : 0, fb = b.ports ? b.ports->first : 0;
        return fa < fb;
    });
    std::vector<PortEntry> kept;
    for (auto& entry : entries) {
        if (!kept.empty() && kept.back().protocol == entry.protocol) {
            const auto& last = kept.back();
            bool overlaps = !entry.ports || !last.ports || entry.ports->first <= last.ports->last;
            if (overlaps) continue;
        }
        kept.push_back(std::move(entry));
    }
    return kept;
}

// Merge overlapping/duplicate ranges per protocol (a plain set, no data to disagree about).
std::vector<PortEntry> merged(std::vector<PortEntry> entries) {
    std::stable_sort(entries.begin(), entries.end(), [](const PortEntry& a, const PortEntry& b) {
        if (a.protocol != b.protocol) return a.protocol < b.protocol;
        return (a.ports ? a.ports->first : 0) < (b.ports ? b.ports->first : 0);
    });
    std::vector<PortEntry> out;
    for (auto& entry : entries) {
        if (!out.empty() && out.back().protocol == entry.protocol && entry.ports && out.back().ports &&
            entry.ports->first <= out.back().ports->last) {
            out.back().ports->last = std::max(out.back().ports->last, entry.ports->last);
            continue;
        }
        if (!out.empty() && out.back().protocol == entry.protocol && !entry.ports) continue;
        out.push_back(std::move(entry));
    }
    return out;
}

ir::Set port_map(std::string name, std::vector<ir::DataType> key, std::vector<ir::DataType> data,
                 const std::vector<PortEntry>& entries, bool with_proto, bool with_port) {
    ir::Set set;
    set.name = std::move(name);
    set.key = std::move(key);
    set.data = std::move(data);
    // Interval maps only where a range needs one: an interval backend swaps in its new elements
    // after the commit's generation flip, so a packet meeting a re-created interval map in that
    // window misses it (measured: re-applies under a flow lost datagrams). Hash maps switch
    // with the generation itself.
    set.flags.interval = with_port && std::any_of(entries.begin(), entries.end(), [](const PortEntry& e) {
        return e.ports && e.ports->first != e.ports->last;
    });
    for (const auto& e : sorted_disjoint(entries)) {
        ir::Element element;
        if (with_proto) element.key.push_back(ir::Proto{e.protocol});
        if (with_port && e.ports) element.key.push_back(*e.ports);
        element.data = e.data;
        set.elements.push_back(std::move(element));
    }
    return set;
}

class Builder {
public:
    explicit Builder(const policy::Policy& policy)
        : policy_(policy),
          gateway_(policy.mode == policy::Mode::gateway),
          services_(services_by_name(policy)) {
        std::set<std::string> unique(policy.wan_interfaces.begin(), policy.wan_interfaces.end());
        for (const auto& name : unique) wan_.push_back(ir::IfName{name});
    }

    ir::Table build() {
        table_.family = kTableFamily;
        table_.name = kTableName;
        plan_services();
        add_spa();
        add_objects();
        add_sets();
        add_service_chains();
        add_knock_chains();
        add_flood_chain();
        add_conformance_chains();
        add_deny_chains();
        add_helper_chain();
        add_dnat_chain();
        add_input_chain();
        add_forward_chain();
        add_masquerade_chain();
        return std::move(table_);
    }

private:
    struct Planned {
        const policy::Service* service;
        std::vector<Exposure> exposures;
        bool flat = false;  // no chain of its own: see is_flat()
    };
    // One (service, protocol, ports) exposure of a flat service.
    struct FlatEntry {
        const policy::Service* service;
        std::uint8_t protocol = 0;
        std::optional<PortRange> ports;  // empty for portless protocols (esp, gre, ah)
        bool forwarded = false;
    };
    enum class FlatKind : std::uint8_t { tcp, udp, protos };

    // A validated policy always names a WAN interface; should one arrive without, every interface
    // is policed (fail closed) rather than rendering an empty, unloadable interface match.
    std::vector<ir::Match> from_wan(bool negate = false) const {
        if (wan_.empty()) return {};
        return {ir::Compare{ir::Field::iifname, wan_, negate}};
    }

    bool has_logging() const { return policy_.logging.drop_group.has_value(); }
    bool has_management() const {
        return !policy_.management.sources.empty() && !policy_.management.ports.empty();
    }

    // A service without a guard or per-service condition needs no chain of its own: its
    // (source, port) pairs go into the shared counted accept sets and its ports into the counted
    // refuse sets, so ten thousand services are a few sets with many elements rather than ten
    // thousand chains, sets and counters (which is what made applying large policies slow).
    static bool is_flat(const policy::Service& service, const std::vector<Exposure>& exposures) {
        if (service.guard != policy::Guard::none) return false;
        return std::none_of(exposures.begin(), exposures.end(),
                            [](const Exposure& e) { return e.delivery == Delivery::local_inside_ipsec; });
    }

    void plan_services() {
        for (const auto* service : services_) {
            Planned planned{service, plan_exposures(policy_, *service)};
            planned.flat = is_flat(*service, planned.exposures);
            for (const auto& exposure : planned.exposures) {
                const auto verdict = jump(service_chain(service->name));
                const auto number = static_cast<std::uint8_t>(exposure.protocol);
                const bool delivered =
                    exposure.delivery == Delivery::local || exposure.delivery == Delivery::forwarded;
                if (planned.flat && delivered) {
                    const bool forwarded = exposure.delivery == Delivery::forwarded;
                    flat_.push_back({service, number, exposure.ports, forwarded});
                    if (forwarded) add_dnat(exposure, number);
                    if (service->pptp_helper && exposure.protocol == IpProtocol::tcp && exposure.ports)
                        helper_ports_.push_back(*exposure.ports);
                    continue;
                }
                switch (exposure.delivery) {
                    case Delivery::local:
                    case Delivery::local_inside_ipsec:
                        (exposure.ports ? local_ports_ : local_protos_)
                            .push_back({number, exposure.ports, verdict});
                        break;
                    case Delivery::forwarded: add_forward(exposure, number, verdict); break;
                    case Delivery::pptp_expectation:
                    case Delivery::inside_esp_not_forwarded: break;
                }
                if (service->pptp_helper && exposure.protocol == IpProtocol::tcp && exposure.ports)
                    helper_ports_.push_back(*exposure.ports);
            }
            // Knocks are addressed to this machine whatever the service's delivery, so they are
            // dispatched by the input chain's port map like any local port.
            if (service->guard == policy::Guard::knock && service->knock)
                for (const auto& step : service->knock->sequence)
                    local_ports_.push_back({static_cast<std::uint8_t>(step.protocol),
                                            PortRange{step.port, step.port},
                                            jump(knock_chain(service->name))});
            planned_.push_back(std::move(planned));
        }
    }

    void add_forward(const Exposure& exposure, std::uint8_t number, const ir::Verdict& verdict) {
        // The forward chain sees the packet after DNAT, so it dispatches on the connection's
        // ORIGINAL destination port. nft cannot concatenate `ct original proto-dst` (its width
        // depends on the protocol), hence one map per port-carrying protocol: still a fixed
        // number of lookups per packet.
        if (exposure.protocol == IpProtocol::tcp && exposure.ports)
            forward_tcp_.push_back({number, exposure.ports, verdict});
        else if (exposure.protocol == IpProtocol::udp && exposure.ports)
            forward_udp_.push_back({number, exposure.ports, verdict});
        else
            forward_protos_.push_back({number, std::nullopt, verdict});
        add_dnat(exposure, number);
    }

    void add_dnat(const Exposure& exposure, std::uint8_t number) {
        const Address& target = *exposure.forward_address;
        auto& maps = target.family == Family::ipv4 ? dnat4_ : dnat6_;
        ir::NatTarget nat{target, exposure.forward_port};
        if (!exposure.ports)
            maps.protos.push_back({number, std::nullopt, nat});
        else if (exposure.forward_port)
            maps.remap.push_back({number, exposure.ports, nat});
        else
            maps.keep.push_back({number, exposure.ports, nat});
    }

    void add_objects() {
        if (!helper_ports_.empty())
            table_.ct_helpers.push_back(
                {kPptpHelper, "pptp", proto(IpProtocol::tcp), Family::ipv4});  // pptp is IPv4-only
        if (has_logging())
            table_.limits.push_back({kDropLogLimit, policy_.logging.drop_rate_per_second, 0});
        for (const char* name :
             {kCounterManagementAccepted, kCounterBanned, kCounterInvalid, kCounterDefaultDropped})
            table_.counters.push_back({name});
        for (const auto& planned : planned_) {
            if (!planned.flat) {
                table_.counters.push_back({accepted_counter(planned.service->name)});
                table_.counters.push_back({dropped_counter(planned.service->name)});
            }
            if (knock_of(*planned.service))
                for (const char* what : {"step", "reset", "granted"})
                    table_.counters.push_back({knock_counter(planned.service->name, what)});
            if (!ike_ports(planned).empty()) {
                table_.counters.push_back({flood_counter(planned.service->name, "ike_init")});
                if (planned.service->ike_init.global_per_second)
                    table_.counters.push_back({flood_counter(planned.service->name, "ike_init_global")});
                any_flood_ = true;
            }
            for (const auto& control : control_ports(planned)) {
                if (planned.service->control.enabled)
                    table_.counters.push_back({flood_counter(planned.service->name, control.what)});
                if (planned.service->control.global_per_second)
                    table_.counters.push_back({flood_counter(planned.service->name, std::string(control.what) + "_global")});
                any_flood_ = true;
            }
            if (const auto* knock = knock_of(*planned.service)) {
                if (knock->rate.enabled) table_.counters.push_back({flood_counter(planned.service->name, "knock")});
                if (knock->rate.global_per_second)
                    table_.counters.push_back({flood_counter(planned.service->name, "knock_global")});
                any_flood_ = any_flood_ || knock->rate.enabled || knock->rate.global_per_second;
            }
        }
        if (any_flood_ && has_logging()) table_.limits.push_back({kFloodLogLimit, kFloodLogPerSecond, 0});
        for (const auto& planned : planned_) {
            for (auto port : conformance_ports(planned)) {
                if (port == 500) {
                    conform_ike_ = planned.service;
                    for (const char* name : {kConformIkeShort, kConformIkeVersion, kConformIkeExchange,
                                             kConformIkeLength, kConformIkeLengthMismatch})
                        table_.counters.push_back({name});
                    if (planned.service->drop_ikev1_aggressive)
                        table_.counters.push_back({kConformIkeAggressive});
                } else {
                    conform_natt_ = planned.service;
                    for (const char* name : {kConformNattShort, kConformNattVersion, kConformNattExchange,
                                             kConformNattLength, kConformNattLengthMismatch, kConformNattSpi})
                        table_.counters.push_back({name});
                }
            }
        }
        add_l2tp_gre_conformance_objects();
    }

    // Runtime ban sets (compile.hpp): prefixes (and hosts of older versions) in the interval sets
    // ban4/ban6, hosts in the hash sets banh4/banh6. The daemon fills them; bans expire by timeout.
    void add_ban_sets() {
        for (auto [name, family] : {std::pair{kBanSetV4, Family::ipv4}, std::pair{kBanSetV6, Family::ipv6}}) {
            ir::Set ban = address_set(name, family, {});
            ban.flags.timeout = true;
            ban.timeout_seconds = policy_.runtime.default_ban_seconds;
            ban.runtime = true;
            table_.sets.push_back(std::move(ban));
        }
        for (auto [name, family] : {std::pair{kBanHostSetV4, Family::ipv4}, std::pair{kBanHostSetV6, Family::ipv6}}) {
            ir::Set ban;
            ban.name = name;
            ban.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
            ban.flags.timeout = true;
            ban.timeout_seconds = policy_.runtime.default_ban_seconds;
            ban.runtime = true;
            table_.sets.push_back(std::move(ban));
        }
    }

    // A banned source is dropped whichever ban set holds it; hosts (the common case, one hash
    // lookup) are asked first. Both rules count into the one "banned" counter.
    void add_ban_rules(ir::Chain& chain) const {
        for (auto [set, field] : {std::pair{kBanHostSetV4, ir::Field::ip_saddr}, std::pair{kBanSetV4, ir::Field::ip_saddr},
                                  std::pair{kBanHostSetV6, ir::Field::ip6_saddr}, std::pair{kBanSetV6, ir::Field::ip6_saddr}})
            chain.rules.push_back({{ir::SetLookup{{field}, set}}, {count(kCounterBanned), drop()}, {}});
    }

    void add_sets() {
        add_ban_sets();
        if (has_logging() && policy_.detect.enabled) {
            for (auto [name, family] : {std::pair{kDropLogMeterV4, Family::ipv4}, std::pair{kDropLogMeterV6, Family::ipv6}}) {
                ir::Set meter;
                meter.name = name;
                meter.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
                meter.flags.dynamic = true;
                meter.flags.timeout = true;
                meter.timeout_seconds = 10;  // a quiet source's meter is forgotten after 10 s
                table_.sets.push_back(std::move(meter));
            }
        }
        if (has_management()) {
            for (auto [name, family] : {std::pair{kMgmtSetV4, Family::ipv4}, std::pair{kMgmtSetV6, Family::ipv6}}) {
                auto sources = of_family(policy_.management.sources, family);
                if (!sources.empty()) table_.sets.push_back(address_set(name, family, sources));
            }
            std::vector<PortEntry> ports, protos;
            for (const auto& spec : policy_.management.ports) {
                auto number = static_cast<std::uint8_t>(spec.protocol);
                (spec.ports ? ports : protos).push_back({number, spec.ports, {}});
            }
            if (!ports.empty()) {
                ir::Set set;
                set.name = kMgmtPorts;
                set.key = {ir::DataType::inet_proto, ir::DataType::inet_service};
                set.flags.interval = std::any_of(ports.begin(), ports.end(), [](const PortEntry& e) {
                    return e.ports && e.ports->first != e.ports->last;
                });
                for (const auto& e : merged(ports))
                    set.elements.push_back({{ir::Proto{e.protocol}, *e.ports}, {}});
                table_.sets.push_back(std::move(set));
            }
            if (!protos.empty()) {
                ir::Set set;
                set.name = kMgmtProtos;
                set.key = {ir::DataType::inet_proto};
                for (const auto& e : merged(protos)) set.elements.push_back({{ir::Proto{e.protocol}}, {}});
                table_.sets.push_back(std::move(set));
            }
        }
        for (const auto& planned : planned_) {
            const auto& service = *planned.service;
            if (service.guard != policy::Guard::none) {
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    ir::Set grant;
                    grant.name = family == Family::ipv4 ? grant_set_v4(service.name)
                                                        : grant_set_v6(service.name);
                    grant.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr
                                                        : ir::DataType::ipv6_addr};
                    // dynamic: in-kernel knock rules (issue 4) may add grants from the packet path.
                    grant.flags.dynamic = true;
                    grant.flags.timeout = true;
                    grant.timeout_seconds = policy_.runtime.default_grant_seconds;
                    grant.runtime = true;
                    table_.sets.push_back(std::move(grant));
                }
            }
            if (!ike_ports(planned).empty()) {
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    ir::Set flood;
                    flood.name = flood_set(family, service.name, "ike");
                    flood.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
                    flood.flags.dynamic = true;
                    flood.flags.timeout = true;
                    // A source's limiter lives while it keeps sending; a minute of silence forgets it.
                    flood.timeout_seconds = 60;
                    table_.sets.push_back(std::move(flood));
                }
            }
            if (const auto* knock = knock_of(service); knock && knock->rate.enabled) {
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    ir::Set flood;
                    flood.name = flood_set(family, service.name, "knock");
                    flood.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
                    flood.flags.dynamic = true;
                    flood.flags.timeout = true;
                    flood.timeout_seconds = 60;
                    table_.sets.push_back(std::move(flood));
                }
            }
            if (service.control.enabled && !control_ports(planned).empty()) {
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    ir::Set flood;
                    flood.name = flood_set(family, service.name, "control");
                    flood.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
                    flood.flags.dynamic = true;
                    flood.flags.timeout = true;
                    flood.timeout_seconds = 60;
                    table_.sets.push_back(std::move(flood));
                }
            }
            if (const auto* knock = knock_of(service)) {
                // Stage k holds the sources that have completed k steps. Not runtime sets: a
                // knock in progress lasts seconds, and a new policy may change the sequence.
                for (auto family : {Family::ipv4, Family::ipv6})
                    for (std::size_t k = 1; k < knock->sequence.size(); ++k) {
                        ir::Set stage;
                        stage.name = knock_stage_set(family, service.name, k);
                        stage.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr
                                                            : ir::DataType::ipv6_addr};
                        stage.flags.dynamic = true;
                        stage.flags.timeout = true;
                        stage.timeout_seconds = knock->step_timeout_seconds;
                        table_.sets.push_back(std::move(stage));
                    }
            }
            if (!service.allow_any && !planned.flat) {
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    auto sources = of_family(service.allow_from, family);
                    // One prefix is compared inline: no set object at all. Kernel set creation
                    // grows superlinearly with the number of sets in a table (measured: 1,000
                    // sets 0.03 s, 10,000 sets 2.5 s), so sets are kept for real lists.
                    if (sources.size() > 1)
                        table_.sets.push_back(
                            address_set(allow_set(family, service.name), family, sources));
                }
            }
        }
        add_flat_sets();
        if (conform_ike_) add_ike_length_sets(0);
        if (conform_natt_) add_ike_length_sets(32);
        using ir::DataType;
        const std::vector<DataType> proto_port{DataType::inet_proto, DataType::inet_service};
        const std::vector<DataType> verdict{DataType::verdict};
        if (!local_ports_.empty())
            table_.sets.push_back(port_map(kLocalPorts, proto_port, verdict, local_ports_, true, true));
        if (!local_protos_.empty())
            table_.sets.push_back(
                port_map(kLocalProtos, {DataType::inet_proto}, verdict, local_protos_, true, false));
        if (!forward_tcp_.empty())
            table_.sets.push_back(
                port_map(kForwardTcp, {DataType::inet_service}, verdict, forward_tcp_, false, true));
        if (!forward_udp_.empty())
            table_.sets.push_back(
                port_map(kForwardUdp, {DataType::inet_service}, verdict, forward_udp_, false, true));
        if (!forward_protos_.empty())
            table_.sets.push_back(port_map(kForwardProtos, {DataType::inet_proto}, verdict,
                                           forward_protos_, true, false));
        for (auto family : {Family::ipv4, Family::ipv6}) {
            const auto& maps = family == Family::ipv4 ? dnat4_ : dnat6_;
            const DataType addr = family == Family::ipv4 ? DataType::ipv4_addr : DataType::ipv6_addr;
            if (!maps.keep.empty())
                table_.sets.push_back(
                    port_map(dnat_map(family, "ports"), proto_port, {addr}, maps.keep, true, true));
            if (!maps.remap.empty())
                table_.sets.push_back(port_map(dnat_map(family, "remap"), proto_port,
                                               {addr, DataType::inet_service}, maps.remap, true, true));
            if (!maps.protos.empty())
                table_.sets.push_back(port_map(dnat_map(family, "protos"), {DataType::inet_proto},
                                               {addr}, maps.protos, true, false));
        }
    }

    static FlatKind flat_kind(std::uint8_t protocol) {
        if (protocol == static_cast<std::uint8_t>(IpProtocol::tcp)) return FlatKind::tcp;
        if (protocol == static_cast<std::uint8_t>(IpProtocol::udp)) return FlatKind::udp;
        return FlatKind::protos;
    }
    static const char* flat_kind_name(FlatKind kind) {
        switch (kind) {
            case FlatKind::tcp: return "tcp";
            case FlatKind::udp: return "udp";
            case FlatKind::protos: return "protos";
        }
        return "protos";
    }
    static std::string accept_set(Family family, bool forwarded, FlatKind kind) {
        return std::string(family == Family::ipv4 ? "accept4_" : "accept6_") + (forwarded ? "forward_" : "local_") +
               flat_kind_name(kind);
    }
    static std::string refuse_set(bool forwarded, FlatKind kind) {
        return std::string("refuse_") + (forwarded ? "forward_" : "local_") + flat_kind_name(kind);
    }
    std::vector<FlatEntry> flat_entries(bool forwarded, FlatKind kind) const {
        std::vector<FlatEntry> out;
        for (const auto& e : flat_)
            if (e.forwarded == forwarded && flat_kind(e.protocol) == kind) out.push_back(e);
        // Deterministic and overlap-free per service: ranges of one service merge.
        std::stable_sort(out.begin(), out.end(), [](const FlatEntry& a, const FlatEntry& b) {
            return std::tuple(a.protocol, a.ports ? a.ports->first : 0) < std::tuple(b.protocol, b.ports ? b.ports->first : 0);
        });
        std::vector<FlatEntry> merged_out;
        for (auto& e : out) {
            if (!merged_out.empty() && merged_out.back().protocol == e.protocol) {
                auto& last = merged_out.back();
                if (!e.ports || !last.ports) continue;  // same portless protocol twice
                if (e.ports->first <= last.ports->last) {
                    // Overlaps between services are policy errors; within one service they merge.
                    if (last.service == e.service) last.ports->last = std::max(last.ports->last, e.ports->last);
                    continue;
                }
            }
            merged_out.push_back(e);
        }
        return merged_out;
    }

    // The counted accept sets (source . port, or source . protocol) and refuse sets (port or
    // protocol) of flat services, per delivery (local input / forwarded) and protocol kind. The
    // element comment names the service's logical counter, which `metrics` and `simulate` sum.
    // Both families' accept sets exist whenever the kind does, so set names stay stable across
    // policies: a re-apply then updates elements of kept sets instead of re-creating them.
    void add_flat_sets() {
        using ir::DataType;
        for (bool forwarded : {false, true}) {
            for (auto kind : {FlatKind::tcp, FlatKind::udp, FlatKind::protos}) {
                const auto entries = flat_entries(forwarded, kind);
                if (entries.empty()) continue;
                const DataType what = kind == FlatKind::protos ? DataType::inet_proto : DataType::inet_service;
                auto position = [&](const FlatEntry& e) -> ir::Value {
                    if (kind == FlatKind::protos) return ir::Proto{e.protocol};
                    return *e.ports;
                };
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    ir::Set set;
                    set.name = accept_set(family, forwarded, kind);
                    set.key = {family == Family::ipv4 ? DataType::ipv4_addr : DataType::ipv6_addr, what};
                    set.flags.interval = true;
                    set.counted = true;
                    for (const auto& e : entries) {
                        std::vector<Prefix> sources;
                        if (e.service->allow_any)
                            sources.push_back(*Prefix::parse(family == Family::ipv4 ? "0.0.0.0/0" : "::/0"));
                        else
                            sources = without_nested(of_family(e.service->allow_from, family));
                        for (const auto& source : sources) {
                            ir::Element element;
                            element.key = {source, position(e)};
                            element.counter = accepted_counter(e.service->name);
                            set.elements.push_back(std::move(element));
                        }
                    }
                    table_.sets.push_back(std::move(set));
                }
                ir::Set refuse;
                refuse.name = refuse_set(forwarded, kind);
                refuse.key = {what};
                refuse.flags.interval = kind != FlatKind::protos;
                refuse.counted = true;
                for (const auto& e : entries) {
                    ir::Element element;
                    element.key = {position(e)};
                    element.counter = dropped_counter(e.service->name);
                    refuse.elements.push_back(std::move(element));
                }
                table_.sets.push_back(std::move(refuse));
            }
        }
    }

    // Rules consulting the flat sets: accept an allowed source, refuse (counted) a known service
    // port from anyone else. At most ten rules whatever the number of services.
    void add_flat_rules(ir::Chain& chain, bool forwarded) const {
        for (auto kind : {FlatKind::tcp, FlatKind::udp, FlatKind::protos}) {
            if (!table_.find_set(refuse_set(forwarded, kind))) continue;
            std::vector<ir::Match> head;
            if (forwarded) head.push_back(ir::CtStatusDnat{});
            ir::Field position = ir::Field::meta_l4proto;
            if (kind != FlatKind::protos) {
                head.push_back(ir::Compare{ir::Field::meta_l4proto,
                                           {proto(kind == FlatKind::tcp ? IpProtocol::tcp : IpProtocol::udp)}});
                position = forwarded ? ir::Field::ct_original_proto_dst : ir::Field::th_dport;
            }
            for (auto family : {Family::ipv4, Family::ipv6}) {
                auto matches = head;
                matches.push_back(ir::SetLookup{
                    {family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr, position},
                    accept_set(family, forwarded, kind)});
                chain.rules.push_back({std::move(matches), {accept()}, {}});
            }
            auto matches = head;
            matches.push_back(ir::SetLookup{{position}, refuse_set(forwarded, kind)});
            chain.rules.push_back({std::move(matches), {ir::VerdictStmt{go_to(kChainDenyService)}}, {}});
        }
    }

    void add_service_chains() {
        for (const auto& planned : planned_) {
            if (planned.flat) continue;
            const auto& service = *planned.service;
            ir::Chain chain;
            chain.name = service_chain(service.name);
            const auto accepted = accepted_counter(service.name);
            const auto dropped = dropped_counter(service.name);
            const ir::Statement deny = ir::VerdictStmt{go_to(kChainDenyService)};

            bool l2tp_inside_ipsec = std::any_of(
                planned.exposures.begin(), planned.exposures.end(),
                [](const Exposure& e) { return e.delivery == Delivery::local_inside_ipsec; });
            if (l2tp_inside_ipsec) {
                // Raw L2TP is a cleartext tunnel; only what the kernel's IPsec decapsulated counts.
                chain.rules.push_back(
                    {{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::udp)}},
                      ir::Compare{ir::Field::th_dport, {PortRange{kL2tpPort, kL2tpPort}}},
                      ir::Secpath{false}},
                     {count(dropped), deny},
                     "l2tp only inside ipsec"});
            }

            const bool guarded = service.guard != policy::Guard::none;
            for (auto family : {Family::ipv4, Family::ipv6}) {
                const auto saddr = family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr;
                ir::Rule rule;
                if (!service.allow_any) {
                    auto sources = of_family(service.allow_from, family);
                    if (sources.empty()) continue;
                    if (sources.size() == 1)
                        rule.matches.push_back(ir::Compare{saddr, {sources.front()}});
                    else
                        rule.matches.push_back(ir::SetLookup{{saddr}, allow_set(family, service.name)});
                } else if (!guarded) {
                    if (family == Family::ipv6) continue;  // one family-agnostic rule covers both
                    chain.rules.push_back({{}, {count(accepted), accept()}, {}});
                    continue;
                }
                if (guarded)
                    rule.matches.push_back(ir::SetLookup{
                        {saddr},
                        family == Family::ipv4 ? grant_set_v4(service.name) : grant_set_v6(service.name)});
                rule.statements = {count(accepted), accept()};
                chain.rules.push_back(std::move(rule));
            }
            chain.rules.push_back({{}, {count(dropped), deny}, {}});
            table_.chains.push_back(std::move(chain));
        }
    }

    // SPA (guard = "spa"): the [spa] UDP port goes through the input chain's port map (after bans,
    // like any local port) to chain spa_intake: a per-source rate limit (a dynamic limiter set per
    // family), then the whole packet is logged to the dedicated NFLOG group and dropped. The daemon
    // verifies it from NFLOG and opens the service's grant sets, exactly like `grants add`. Nothing
    // answers on the port (no socket, so no ICMP port unreachable), in host and gateway mode alike.
    // Adds its own port-map entry, counters, sets and chain; called once from build().
    void add_spa() {
        if (!policy_.spa) return;
        if (std::none_of(policy_.services.begin(), policy_.services.end(),
                         [](const policy::Service& s) { return s.guard == policy::Guard::spa; }))
            return;
        const auto& spa = *policy_.spa;
        local_ports_.push_back({static_cast<std::uint8_t>(IpProtocol::udp), PortRange{spa.port, spa.port},
                                jump(kChainSpaIntake)});
        table_.counters.push_back({kCounterSpaReceived});
        table_.counters.push_back({kCounterSpaRateLimited});
        ir::Chain chain;
        chain.name = kChainSpaIntake;
        for (auto family : {Family::ipv4, Family::ipv6}) {
            ir::Set limiter;
            limiter.name = spa_rate_set(family);
            limiter.key = {family == Family::ipv4 ? ir::DataType::ipv4_addr : ir::DataType::ipv6_addr};
            limiter.flags.dynamic = true;
            limiter.flags.timeout = true;
            limiter.timeout_seconds = 60;  // a source silent for a minute is forgotten
            table_.sets.push_back(std::move(limiter));
            chain.rules.push_back(
                {{ir::Compare{ir::Field::meta_nfproto, {ir::Number{family == Family::ipv4 ? 4u : 6u}}},
                  ir::SetUpdate{ir::SetUpdate::Op::update, spa_rate_set(family),
                                {family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr}, std::nullopt,
                                ir::LimitRate{spa.per_source_per_second, spa.burst_packets, true}}},
                 {count(kCounterSpaRateLimited), drop()},
                 "spa over the per-source limit"});
        }
        // After the per-source limits: a flood from many sources reaches the daemon's (real-time)
        // SPA thread at this rate at most, so the thread's CPU time per second stays bounded.
        if (spa.global_per_second) {
            table_.counters.push_back({kCounterSpaGlobalLimited});
            chain.rules.push_back({{ir::LimitRate{*spa.global_per_second, spa.global_burst_packets, true}},
                                   {count(kCounterSpaGlobalLimited), drop()},
                                   "spa over the global limit"});
        }
        chain.rules.push_back(
            {{}, {count(kCounterSpaReceived), ir::Log{spa.log_group, kLogPrefixSpa}, drop()}, "spa to the daemon"});
        table_.chains.push_back(std::move(chain));
    }

    static const policy::Knock* knock_of(const policy::Service& service) {
        if (service.guard != policy::Guard::knock || !service.knock || service.knock->sequence.size() < 2)
            return nullptr;
        return &*service.knock;
    }

    // One chain per knock-guarded service, reached from the port map for any of its knock ports.
    // Per family and step j (0-based; stage k = k steps done), in this order:
    //   duplicate: the source is already in stage j+1, i.e. this is a retransmitted step j → drop,
    //              no change (a lost-ACK SYN retry must not break a sequence);
    //   advance:   j = 0 from anywhere (restart), or the source is in stage j → move it to stage j+1
    //              with the step timeout; after the last step add the grant for open_for and log;
    //   reset:     any other packet to step j's port → the source leaves every stage, so a scan
    //              that walks the ports in order never completes a sequence.
    // Every knock packet is dropped: knock ports never answer.
    void add_knock_chains() {
        for (const auto& planned : planned_) {
            const auto& service = *planned.service;
            const auto* knock = knock_of(service);
            if (!knock) continue;
            const auto& steps = knock->sequence;
            const std::size_t n = steps.size();
            ir::Chain chain;
            chain.name = knock_chain(service.name);
            std::optional<std::uint16_t> log_group = knock->log_group;
            if (!log_group) log_group = policy_.logging.drop_group;
            // Rate limits first: per source (each family), then all sources together, so a single
            // flooding source spends its own budget, not the one every source shares.
            for (auto family : {Family::ipv4, Family::ipv6}) {
                if (!knock->rate.enabled) break;
                const auto saddr = family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr;
                chain.rules.push_back(
                    {{ir::Compare{ir::Field::meta_nfproto, {ir::Number{family == Family::ipv4 ? 4u : 6u}}},
                      ir::SetUpdate{ir::SetUpdate::Op::update, flood_set(family, service.name, "knock"), {saddr},
                                    std::nullopt,
                                    ir::LimitRate{knock->rate.per_source_per_second, knock->rate.burst_packets, true}}},
                     {count(flood_counter(service.name, "knock")), ir::VerdictStmt{go_to(kChainFloodDrop)}},
                     "knocks over the per-source limit"});
            }
            if (knock->rate.global_per_second)
                chain.rules.push_back(
                    {{ir::LimitRate{*knock->rate.global_per_second, global_burst(knock->rate), true}},
                     {count(flood_counter(service.name, "knock_global")), ir::VerdictStmt{go_to(kChainFloodDrop)}},
                     "knocks over the global limit"});
            for (auto family : {Family::ipv4, Family::ipv6}) {
                const auto saddr = family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr;
                auto remove = [&](std::size_t k) {
                    return ir::SetUpdate{ir::SetUpdate::Op::remove, knock_stage_set(family, service.name, k),
                                         {saddr}, std::nullopt, std::nullopt};
                };
                for (std::size_t j = 0; j < n; ++j) {
                    const auto& step = steps[j];
                    std::vector<ir::Match> base{
                        ir::Compare{ir::Field::meta_nfproto, {ir::Number{family == Family::ipv4 ? 4u : 6u}}},
                        ir::Compare{ir::Field::meta_l4proto, {proto(step.protocol)}},
                        ir::Compare{ir::Field::th_dport, {PortRange{step.port, step.port}}}};
                    if (step.protocol == IpProtocol::tcp && knock->tcp_syn_only)
                        // TCP flags byte: SYN alone among FIN|SYN|RST|ACK.
                        base.push_back(ir::Payload{ir::Payload::Base::transport, 104, 8, 0x17u, {0x02u}, false});
                    const std::string step_name = "knock " + std::to_string(j + 1) + "/" + std::to_string(n);
                    if (j + 1 < n) {
                        auto duplicate = base;
                        duplicate.push_back(
                            ir::SetLookup{{saddr}, knock_stage_set(family, service.name, j + 1)});
                        chain.rules.push_back({duplicate, {drop()}, step_name + " repeated"});
                    }
                    auto advance = base;
                    if (j == 0) {
                        for (std::size_t k = 2; k < n; ++k) advance.push_back(remove(k));
                    } else {
                        advance.push_back(ir::SetLookup{{saddr}, knock_stage_set(family, service.name, j)});
                        advance.push_back(remove(j));
                    }
                    if (j + 1 < n) {
                        advance.push_back(ir::SetUpdate{ir::SetUpdate::Op::add,
                                                        knock_stage_set(family, service.name, j + 1),
                                                        {saddr}, knock->step_timeout_seconds, std::nullopt});
                        chain.rules.push_back(
                            {advance, {count(knock_counter(service.name, "step")), drop()}, step_name});
                    } else {
                        advance.push_back(ir::SetUpdate{
                            ir::SetUpdate::Op::add,
                            family == Family::ipv4 ? grant_set_v4(service.name) : grant_set_v6(service.name),
                            {saddr}, knock->open_for_seconds, std::nullopt});
                        std::vector<ir::Statement> statements{count(knock_counter(service.name, "granted"))};
                        if (log_group)
                            statements.push_back(ir::Log{*log_group, knock_log_prefix(service.name)});
                        statements.push_back(drop());
                        chain.rules.push_back({advance, statements, step_name + " opens"});
                    }
                    if (j > 0) {
                        auto reset = base;
                        for (std::size_t k = 1; k < n; ++k) reset.push_back(remove(k));
                        chain.rules.push_back(
                            {reset, {count(knock_counter(service.name, "reset")), drop()}, step_name + " out of order"});
                    }
                }
            }
            // TCP knocks that are not bare SYNs, and anything else dispatched here.
            chain.rules.push_back({{}, {drop()}, {}});
            table_.chains.push_back(std::move(chain));
        }
    }

    // udp/500 and udp/4500 when the service exposes them and its IKE_SA_INIT limit is on.
    static std::vector<std::uint16_t> ike_ports(const Planned& planned) {
        std::vector<std::uint16_t> out;
        if (!planned.service->ike_init.enabled) return out;
        for (std::uint16_t port : {std::uint16_t{500}, std::uint16_t{4500}})
            for (const auto& e : planned.exposures)
                if (e.protocol == IpProtocol::udp && e.ports && e.ports->first <= port && port <= e.ports->last &&
                    (e.delivery == Delivery::local || e.delivery == Delivery::forwarded)) {
                    out.push_back(port);
                    break;
                }
        return out;
    }

    // A new IKE_SA_INIT request: responder SPI zero, exchange type 34, initiator flag set (RFC 7296
    // section 3.1). On udp/4500 the IKE header follows the 4-byte non-ESP marker (RFC 3948).
    static std::vector<ir::Match> ike_sa_init(std::uint16_t port) {
        using ir::Payload;
        const std::uint16_t shift = port == 4500 ? 32 : 0;
        std::vector<ir::Match> m{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::udp)}},
                                 ir::Compare{ir::Field::th_dport, {PortRange{port, port}}}};
        if (port == 4500) m.push_back(Payload{Payload::Base::transport, 64, 32, std::nullopt, {0u}, false});
        m.push_back(Payload{Payload::Base::transport, static_cast<std::uint16_t>(128 + shift), 32, std::nullopt, {0u}, false});
        m.push_back(Payload{Payload::Base::transport, static_cast<std::uint16_t>(160 + shift), 32, std::nullopt, {0u}, false});
        m.push_back(Payload{Payload::Base::transport, static_cast<std::uint16_t>(208 + shift), 8, std::nullopt, {34u}, false});
        m.push_back(Payload{Payload::Base::transport, static_cast<std::uint16_t>(216 + shift), 8, 0x08u, {0x08u}, false});
        return m;
    }

    // New control connections a per-source limiter guards: PPTP's TCP SYN to 1723 and L2TPv2's
    // SCCRQ to udp/1701 (also when it arrives inside IPsec: the decapsulated packet passes again).
    struct ControlPort {
        IpProtocol protocol;
        std::uint16_t port;
        const char* what;  // counter suffix
        const char* label;
    };
    static std::vector<ControlPort> control_ports(const Planned& planned) {
        std::vector<ControlPort> out;
        const auto& control = planned.service->control;
        if (!control.enabled && !control.global_per_second) return out;
        for (const ControlPort& candidate : {ControlPort{IpProtocol::tcp, 1723, "pptp_new", "new PPTP control connection"},
                                             ControlPort{IpProtocol::udp, 1701, "l2tp_sccrq", "L2TP SCCRQ"}})
            for (const auto& e : planned.exposures)
                if (e.protocol == candidate.protocol && e.ports && e.ports->first <= candidate.port &&
                    candidate.port <= e.ports->last &&
                    (e.delivery == Delivery::local || e.delivery == Delivery::forwarded ||
                     e.delivery == Delivery::local_inside_ipsec)) {
                    out.push_back(candidate);
                    break;
                }
        return out;
    }

    // PPTP: SYN without ACK (TCP flags at byte 13). L2TPv2 SCCRQ (RFC 2661): T, L and S bits set,
    // version 2, tunnel ID 0 (only SCCRQ is sent before the peer assigned one), and the first AVP,
    // Message Type (attribute 0), says 1. With L and S set the header is 12 bytes; the AVP's value
    // sits at payload byte 18, after its flags/length, vendor and attribute fields.
    static std::vector<ir::Match> control_opening(const ControlPort& control) {
        std::vector<ir::Match> m{ir::Compare{ir::Field::meta_l4proto, {proto(control.protocol)}},
                                 ir::Compare{ir::Field::th_dport, {PortRange{control.port, control.port}}}};
        if (control.protocol == IpProtocol::tcp) {
            m.push_back(raw(104, 8, {0x02u}, false, 0x12u));
        } else {
            m.push_back(raw(64, 8, {0xc8u}, false, 0xcbu));   // T L S set, O and P clear
            m.push_back(raw(72, 8, {0x02u}, false, 0x0fu));   // version 2
            m.push_back(raw(96, 16, {0u}));                  // tunnel ID 0
            m.push_back(raw(176, 16, {0u}));                 // AVP vendor 0 (IETF)
            m.push_back(raw(192, 16, {0u}));                 // attribute 0: Message Type
            m.push_back(raw(208, 16, {1u}));                 // SCCRQ
        }
        return m;
    }

    static std::vector<std::uint16_t> conformance_ports(const Planned& planned) {
        std::vector<std::uint16_t> out;
        if (!planned.service->conformance) return out;
        for (std::uint16_t port : {std::uint16_t{500}, std::uint16_t{4500}})
            for (const auto& e : planned.exposures)
                if (e.protocol == IpProtocol::udp && e.ports && e.ports->first <= port && port <= e.ports->last &&
                    (e.delivery == Delivery::local || e.delivery == Delivery::forwarded)) {
                    out.push_back(port);
                    break;
                }
        return out;
    }

    static ir::Payload raw(std::uint16_t offset, std::uint8_t length, std::vector<std::uint32_t> values,
                           bool negate = false, std::optional<std::uint32_t> mask = std::nullopt) {
        return ir::Payload{ir::Payload::Base::transport, offset, length, mask, std::move(values), negate};
    }
    static std::vector<std::uint32_t> range(std::uint32_t first, std::uint32_t last) {
        std::vector<std::uint32_t> out;
        for (auto v = first; v <= last; ++v) out.push_back(v);
        return out;
    }

    // The IKE length field equal to the UDP payload length, without arithmetic (nft cannot compare
    // two packet fields, nor subtract). With L the UDP length (header bytes 4-5, counting its own
    // 8 bytes) and `overhead` = 8 (udp/500) or 12 (udp/4500: UDP header + non-ESP marker), the IKE
    // length must be L - overhead; its top 16 bits are zero (checked before), and its low 16 bits
    // are compared a byte at a time:
    //   low byte:  ike_lo = (L_lo - overhead) mod 256, a function of L_lo alone: the 256 pairs
    //              (L_lo . ike_lo) in set <prefix>_len_lo;
    //   high byte: ike_hi = L_hi - borrow, borrow = (L_lo < overhead): the 256 pairs (h . h) in
    //              <prefix>_len_hi, and (h . h - 1) in <prefix>_len_hi_borrow.
    // Three lookups per IKE packet; exact for every L (an L below the header is refused earlier).
    struct IkeLengthSets {
        std::string lo, hi, hi_borrow;
        ir::RawField udp_lo{ir::RawField::Base::transport, 40, 8}, udp_hi{ir::RawField::Base::transport, 32, 8};
        ir::RawField ike_lo, ike_hi;
        std::uint32_t overhead = 8;
    };
    static IkeLengthSets ike_length_sets(std::uint16_t shift) {
        IkeLengthSets s;
        const std::string prefix = shift ? "natt" : "ike";
        s.lo = prefix + "_len_lo";
        s.hi = prefix + "_len_hi";
        s.hi_borrow = prefix + "_len_hi_borrow";
        // The length's low 16 bits sit at IKE header bytes 26-27.
        s.ike_hi = {ir::RawField::Base::transport, static_cast<std::uint16_t>(272 + shift), 8};
        s.ike_lo = {ir::RawField::Base::transport, static_cast<std::uint16_t>(280 + shift), 8};
        s.overhead = 8 + shift / 8u;
        return s;
    }

    void add_ike_length_sets(std::uint16_t shift) {
        const auto s = ike_length_sets(shift);
        auto pairs = [](std::string name, std::vector<ir::RawField> key, auto second) {
            ir::Set set;
            set.name = std::move(name);
            set.raw_key = std::move(key);
            for (std::uint32_t x = 0; x < 256; ++x)
                set.elements.push_back({{ir::Number{x}, ir::Number{second(x)}}, {}});
            return set;
        };
        const std::uint32_t overhead = s.overhead;
        table_.sets.push_back(pairs(s.lo, {s.udp_lo, s.ike_lo}, [overhead](std::uint32_t x) { return (x + 256 - overhead) % 256; }));
        table_.sets.push_back(pairs(s.hi, {s.udp_hi, s.ike_hi}, [](std::uint32_t x) { return x; }));
        table_.sets.push_back(pairs(s.hi_borrow, {s.udp_hi, s.ike_hi}, [](std::uint32_t x) { return (x + 255) % 256; }));
    }

    // IKE header checks at `shift` bits after the UDP header (0 on 500, 32 behind the non-ESP
    // marker on 4500): long enough for the 28-byte header, version 1.0 or 2.0, a known exchange
    // type, a length field that can fit a UDP payload and equals it, and optionally no IKEv1
    // aggressive mode.
    void add_ike_header_checks(ir::Chain& chain, std::uint16_t shift, const char* too_short, const char* version,
                               const char* exchange, const char* length, const char* mismatch,
                               const char* aggressive, std::vector<ir::Match> guard) const {
        auto rule = [&](std::vector<ir::Match> extra, const char* counter, std::string comment) {
            auto matches = guard;
            matches.insert(matches.end(), extra.begin(), extra.end());
            chain.rules.push_back({matches, {count(counter), drop()}, std::move(comment)});
        };
        // UDP length counts its own 8 bytes.
        rule({raw(32, 16, range(0, static_cast<std::uint32_t>(8 + 28 + shift / 8 - 1)))}, too_short,
             "shorter than an IKE header");
        rule({raw(static_cast<std::uint16_t>(136 + 64 + shift), 8, {0x10u, 0x20u}, true)}, version,
             "IKE version not 1.0 or 2.0");
        // IKEv1: 1 base, 2 main, 4 aggressive, 5 informational, 32 quick, 33 new group;
        // IKEv2: 34-37, 38 session resumption, 43 intermediate, 44 followup key exchange.
        rule({raw(static_cast<std::uint16_t>(144 + 64 + shift), 8, {1, 2, 4, 5, 32, 33, 34, 35, 36, 37, 38, 43, 44},
                  true)},
             exchange, "unknown IKE exchange type");
        // A length field of 64 KiB or more can never equal a UDP payload's length.
        rule({raw(static_cast<std::uint16_t>(192 + 64 + shift), 16, {0u}, true)}, length,
             "IKE length beyond any UDP payload");
        const auto s = ike_length_sets(shift);
        rule({ir::RawLookup{{s.udp_lo, s.ike_lo}, s.lo, true}}, mismatch, "IKE length not the UDP payload length");
        const auto borrow = range(0, s.overhead - 1);  // L_lo < overhead: the high byte borrows
        rule({raw(s.udp_lo.offset_bits, 8, borrow), ir::RawLookup{{s.udp_hi, s.ike_hi}, s.hi_borrow, true}}, mismatch,
             "IKE length not the UDP payload length");
        rule({raw(s.udp_lo.offset_bits, 8, borrow, true), ir::RawLookup{{s.udp_hi, s.ike_hi}, s.hi, true}}, mismatch,
             "IKE length not the UDP payload length");
        if (aggressive) rule({raw(static_cast<std::uint16_t>(144 + 64 + shift), 8, {4u})}, aggressive, "IKEv1 aggressive mode");
    }

    void add_conformance_chains() {
        if (conform_ike_) {
            ir::Chain chain;
            chain.name = kChainConformIke;
            add_ike_header_checks(chain, 0, kConformIkeShort, kConformIkeVersion, kConformIkeExchange,
                                  kConformIkeLength, kConformIkeLengthMismatch,
                                  conform_ike_->drop_ikev1_aggressive ? kConformIkeAggressive : nullptr, {});
            table_.chains.push_back(std::move(chain));
        }
        if (conform_natt_) {
            ir::Chain chain;
            chain.name = kChainConformNatt;
            // NAT keepalive: exactly one 0xFF byte.
            chain.rules.push_back({{raw(32, 16, {9u}), raw(64, 8, {0xffu})}, {ir::VerdictStmt{{ir::Verdict::Kind::return_, {}}}},
                                   "NAT-T keepalive"});
            // Anything else needs at least 8 payload bytes (ESP SPI + sequence, or marker + SPI).
            chain.rules.push_back({{raw(32, 16, range(0, 15))}, {count(kConformNattShort), drop()},
                                   "too short for ESP or IKE"});
            add_ike_header_checks(chain, 32, kConformNattShort, kConformNattVersion, kConformNattExchange,
                                  kConformNattLength, kConformNattLengthMismatch, nullptr, {raw(64, 32, {0u})});
            chain.rules.push_back({{raw(64, 32, {0u})}, {ir::VerdictStmt{{ir::Verdict::Kind::return_, {}}}},
                                   "IKE behind the non-ESP marker"});
            // ESP: SPIs 1-255 are reserved (RFC 4303).
            chain.rules.push_back({{raw(64, 24, {0u})}, {count(kConformNattSpi), drop()}, "ESP with a reserved SPI"});
            table_.chains.push_back(std::move(chain));
        }
        add_l2tp_gre_conformance_chains();
    }

    void add_conformance_jumps(ir::Chain& chain) const {
        for (auto [service, port, target] : {std::tuple{conform_ike_, std::uint16_t{500}, kChainConformIke},
                                             std::tuple{conform_natt_, std::uint16_t{4500}, kChainConformNatt}}) {
            if (!service) continue;
            chain.rules.push_back({{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::udp)}},
                                    ir::Compare{ir::Field::th_dport, {PortRange{port, port}}}},
                                   {ir::VerdictStmt{jump(target)}},
                                   {}});
        }
        add_l2tp_gre_conformance_jumps(chain);
    }

    // ---- L2TP and PPTP GRE conformance (issue 5) -----------------------------------------------

    // udp/1701 exposed raw or inside IPsec (decrypted L2TP is checked too: a bad header there is
    // just as much junk), when the service keeps conformance on.
    static bool exposes_l2tp(const Planned& planned) {
        if (!planned.service->conformance) return false;
        return std::any_of(planned.exposures.begin(), planned.exposures.end(), [](const Exposure& e) {
            return e.protocol == IpProtocol::udp && e.ports && e.ports->first <= kL2tpPort &&
                   kL2tpPort <= e.ports->last &&
                   (e.delivery == Delivery::local || e.delivery == Delivery::forwarded ||
                    e.delivery == Delivery::local_inside_ipsec);
        });
    }
    // GRE is checked only for PPTP services: plain GRE tunnels (version 0) are legitimate elsewhere.
    static bool exposes_pptp_gre(const Planned& planned) {
        if (!planned.service->conformance || !planned.service->pptp_helper) return false;
        return std::any_of(planned.exposures.begin(), planned.exposures.end(),
                           [](const Exposure& e) { return e.protocol == IpProtocol::gre; });
    }

    void add_l2tp_gre_conformance_objects() {
        for (const auto& planned : planned_) {
            if (!conform_l2tp_ && exposes_l2tp(planned)) {
                conform_l2tp_ = true;
                for (const char* name : {kConformL2tpShort, kConformL2tpVersion, kConformL2tpControl})
                    table_.counters.push_back({name});
            }
            if (!conform_gre_ && exposes_pptp_gre(planned)) {
                conform_gre_ = true;
                for (const char* name :
                     {kConformGreShort, kConformGreVersion, kConformGreProtocol, kConformGreKey, kConformGreFlags})
                    table_.counters.push_back({name});
            }
        }
    }

    void add_l2tp_gre_conformance_chains() {
        auto rule = [](ir::Chain& chain, std::vector<ir::Match> matches, const char* counter, const char* why) {
            chain.rules.push_back({std::move(matches), {count(counter), drop()}, why});
        };
        if (conform_l2tp_) {
            ir::Chain chain;
            chain.name = kChainConformL2tp;
            // Offsets after the 8-byte UDP header. First 16 bits: T L x x S x O P x x x x Ver(4).
            // The smallest message is a v2 data header (flags, tunnel, session: 6 bytes).
            rule(chain, {raw(32, 16, range(0, 8 + 6 - 1))}, kConformL2tpShort, "shorter than an L2TP header");
            rule(chain, {raw(76, 4, {2u, 3u}, true)}, kConformL2tpVersion, "L2TP version not 2 or 3");
            // Control messages carry flags, length, tunnel/connection id, Ns, Nr: 12 bytes.
            rule(chain, {raw(64, 1, {1u}), raw(32, 16, range(0, 8 + 12 - 1))}, kConformL2tpShort,
                 "L2TP control message shorter than its header");
            // RFC 2661 3.1 / RFC 3931 3.2.1: control messages MUST set L and S.
            rule(chain, {raw(64, 16, {0x8000u, 0x8800u, 0xc000u}, false, 0xc800u)}, kConformL2tpControl,
                 "L2TP control message without length or sequence bits");
            // RFC 2661 3.1: the offset bit MUST be 0 in a v2 control message.
            rule(chain, {raw(64, 16, {0x8202u}, false, 0x820fu)}, kConformL2tpControl,
                 "L2TPv2 control message with an offset");
            table_.chains.push_back(std::move(chain));
        }
        if (conform_gre_) {
            ir::Chain chain;
            chain.name = kChainConformGre;
            // First 16 bits: C R K S s Recur(3) A Flags(4) Ver(3).
            rule(chain, {raw(13, 3, {1u}, true)}, kConformGreVersion, "GRE version not 1 (enhanced GRE)");
            rule(chain, {raw(16, 16, {0x880bu}, true)}, kConformGreProtocol, "GRE protocol type not PPP (0x880B)");
            rule(chain, {raw(2, 1, {0u})}, kConformGreKey, "enhanced GRE without the key (call id)");
            // C, R, s, recursion and the flag bits MUST be 0 (RFC 2637 4.1).
            rule(chain, {raw(0, 16, {0u}, true, 0xcf78u)}, kConformGreFlags,
                 "GRE checksum, routing, recursion or reserved flags set");
            // Enhanced GRE is 8 bytes before its optional sequence and ack numbers. @th is where
            // the kernel found the GRE header (after IPv4 options or IPv6 extension headers); a
            // raw load past the packet's end fails, which fails the rule. So: a packet whose last
            // header byte (the call id's low byte) can be read returns; one that ends first falls
            // through to the drop. Shorter than 4 bytes never matched the field checks above.
            chain.rules.push_back({{raw(56, 1, {0u, 1u})}, {ir::VerdictStmt{{ir::Verdict::Kind::return_, {}}}},
                                   "enhanced GRE header complete"});
            rule(chain, {}, kConformGreShort, "shorter than an enhanced GRE header");
            table_.chains.push_back(std::move(chain));
        }
    }

    void add_l2tp_gre_conformance_jumps(ir::Chain& chain) const {
        if (conform_l2tp_)
            chain.rules.push_back({{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::udp)}},
                                    ir::Compare{ir::Field::th_dport, {PortRange{kL2tpPort, kL2tpPort}}}},
                                   {ir::VerdictStmt{jump(kChainConformL2tp)}},
                                   {}});
        if (conform_gre_)
            chain.rules.push_back({{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::gre)}}},
                                   {ir::VerdictStmt{jump(kChainConformGre)}},
                                   {}});
    }

    static std::uint32_t global_burst(const policy::FloodLimit& limit) {
        return limit.global_burst_packets ? limit.global_burst_packets : limit.burst_packets;
    }

    // Per-source (and optional global) IKE_SA_INIT limits. They sit before conntrack's
    // established accept: a flood from one source port is an "established" UDP flow after the
    // first answer, and retransmitted SA_INITs are exactly what a flood looks like.
    void add_flood_rules(ir::Chain& chain) const {
        for (const auto& planned : planned_) {
            const auto& service = *planned.service;
            for (auto port : ike_ports(planned)) {
                const std::string what = port == 500 ? "IKE_SA_INIT" : "IKE_SA_INIT (udp/4500)";
                if (const auto global = service.ike_init.global_per_second) {
                    auto matches = ike_sa_init(port);
                    matches.push_back(ir::LimitRate{*global, service.ike_init.burst_packets, true});
                    chain.rules.push_back({matches,
                                           {count(flood_counter(service.name, "ike_init_global")),
                                            ir::VerdictStmt{go_to(kChainFloodDrop)}},
                                           what + " over the global limit"});
                }
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    std::vector<ir::Match> matches{
                        ir::Compare{ir::Field::meta_nfproto, {ir::Number{family == Family::ipv4 ? 4u : 6u}}}};
                    auto ike = ike_sa_init(port);
                    matches.insert(matches.end(), ike.begin(), ike.end());
                    matches.push_back(ir::SetUpdate{
                        ir::SetUpdate::Op::update, flood_set(family, service.name, "ike"),
                        {family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr}, std::nullopt,
                        ir::LimitRate{service.ike_init.per_source_per_second, service.ike_init.burst_packets, true}});
                    chain.rules.push_back({matches,
                                           {count(flood_counter(service.name, "ike_init")),
                                            ir::VerdictStmt{go_to(kChainFloodDrop)}},
                                           what + " over the per-source limit"});
                }
            }
            for (const auto& control : control_ports(planned)) {
                for (auto family : {Family::ipv4, Family::ipv6}) {
                    if (!service.control.enabled) break;
                    std::vector<ir::Match> matches{
                        ir::Compare{ir::Field::meta_nfproto, {ir::Number{family == Family::ipv4 ? 4u : 6u}}}};
                    auto opening = control_opening(control);
                    matches.insert(matches.end(), opening.begin(), opening.end());
                    matches.push_back(ir::SetUpdate{
                        ir::SetUpdate::Op::update, flood_set(family, service.name, "control"),
                        {family == Family::ipv4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr}, std::nullopt,
                        ir::LimitRate{service.control.per_source_per_second, service.control.burst_packets, true}});
                    chain.rules.push_back({matches,
                                           {count(flood_counter(service.name, control.what)),
                                            ir::VerdictStmt{go_to(kChainFloodDrop)}},
                                           std::string(control.label) + " over the per-source limit"});
                }
                // After the per-source limiters, so a single flooding source spends its own
                // budget, not the one all sources share.
                if (const auto global = service.control.global_per_second) {
                    auto matches = control_opening(control);
                    matches.push_back(ir::LimitRate{*global, global_burst(service.control), true});
                    chain.rules.push_back({matches,
                                           {count(flood_counter(service.name, std::string(control.what) + "_global")),
                                            ir::VerdictStmt{go_to(kChainFloodDrop)}},
                                           std::string(control.label) + " over the global limit"});
                }
            }
        }
    }

    void add_flood_chain() {
        if (!any_flood_) return;
        ir::Chain chain;
        chain.name = kChainFloodDrop;
        if (has_logging())
            chain.rules.push_back({{ir::LimitRef{kFloodLogLimit}},
                                   {ir::Log{*policy_.logging.drop_group, kLogPrefixFlood}},
                                   {}});
        chain.rules.push_back({{}, {drop()}, {}});
        table_.chains.push_back(std::move(chain));
    }

    // Where a refused packet ends: optional rate-limited NFLOG (the shared `drop_log` limiter keeps
    // the total bounded however many rules log), then the policy's default action.
    ir::Chain deny_chain(const char* name, const char* log_prefix) const {
        ir::Chain chain;
        chain.name = name;
        for (auto& rule : drop_log_rules({}, log_prefix)) chain.rules.push_back(std::move(rule));
        if (policy_.default_action == policy::DefaultAction::reject) {
            chain.rules.push_back({{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::tcp)}}},
                                   {ir::Reject{ir::Reject::Kind::tcp_reset}},
                                   {}});
            chain.rules.push_back({{}, {ir::Reject{ir::Reject::Kind::icmpx_admin_prohibited}}, {}});
        } else {
            chain.rules.push_back({{}, {drop()}, {}});
        }
        return chain;
    }

    void add_deny_chains() {
        table_.chains.push_back(deny_chain(kChainDenyService, kLogPrefixService));
        table_.chains.push_back(deny_chain(kChainDenyClosed, kLogPrefixClosed));
    }

    // Kernels >= 6.0 never attach helpers automatically. Priority `filter` (0) runs after
    // conntrack (-200) has created the entry and before it is confirmed, which is when a helper
    // can still be attached; in gateway mode it is also after DNAT, so match the original port.
    void add_helper_chain() {
        if (helper_ports_.empty()) return;
        ir::Chain chain;
        chain.name = "prerouting_helpers";
        chain.base = ir::BaseChain{ir::BaseChain::Type::filter, ir::BaseChain::Hook::prerouting,
                                   "filter", ir::Verdict::Kind::accept};
        std::sort(helper_ports_.begin(), helper_ports_.end(),
                  [](const PortRange& a, const PortRange& b) { return a.first < b.first; });
        std::vector<ir::Value> ports(helper_ports_.begin(), helper_ports_.end());
        auto matches = from_wan();
        matches.insert(matches.end(), {ir::Compare{ir::Field::meta_nfproto, {ir::Number{4}}},
                                       ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::tcp)}},
                                       ir::CtState{ir::ct_new},
                                       ir::Compare{ir::Field::ct_original_proto_dst, ports}});
        chain.rules.push_back({matches, {ir::CtHelperSet{kPptpHelper}}, {}});
        table_.chains.push_back(std::move(chain));
    }

    void add_dnat_chain() {
        if (!gateway_) return;
        ir::Chain chain;
        chain.name = "prerouting_nat";
        chain.base = ir::BaseChain{ir::BaseChain::Type::nat, ir::BaseChain::Hook::prerouting, "dstnat",
                                   ir::Verdict::Kind::accept};
        for (auto family : {Family::ipv4, Family::ipv6}) {
            const auto& maps = family == Family::ipv4 ? dnat4_ : dnat6_;
            if (maps.keep.empty() && maps.remap.empty() && maps.protos.empty()) continue;
            std::vector<ir::Match> base = from_wan();
            if (!policy_.wan_addresses.empty()) {
                std::vector<ir::Value> addresses;
                std::set<Address> unique;
                for (const auto& a : policy_.wan_addresses)
                    if (a.family == family) unique.insert(a);
                // wan_address lists only the other family: this family is not DNATed at all.
                if (unique.empty()) continue;
                for (const auto& a : unique)
                    addresses.push_back(Prefix{a, static_cast<std::uint8_t>(a.width_bits())});
                base.push_back(ir::Compare{
                    family == Family::ipv4 ? ir::Field::ip_daddr : ir::Field::ip6_daddr, addresses});
            } else {
                base.push_back(ir::Compare{ir::Field::meta_nfproto,
                                           {ir::Number{family == Family::ipv4 ? 4u : 6u}}});
            }
            const std::vector<ir::Field> proto_port{ir::Field::meta_l4proto, ir::Field::th_dport};
            if (!maps.keep.empty())
                chain.rules.push_back(
                    {base, {ir::DnatMapStmt{family, proto_port, dnat_map(family, "ports")}}, {}});
            if (!maps.remap.empty()) {
                // nft only rewrites a port after the rule has established a transport protocol.
                auto with_transport = base;
                with_transport.push_back(ir::Compare{
                    ir::Field::meta_l4proto, {proto(IpProtocol::tcp), proto(IpProtocol::udp)}});
                chain.rules.push_back({with_transport,
                                       {ir::DnatMapStmt{family, proto_port, dnat_map(family, "remap")}},
                                       {}});
            }
            if (!maps.protos.empty())
                chain.rules.push_back({base,
                                       {ir::DnatMapStmt{family, {ir::Field::meta_l4proto},
                                                        dnat_map(family, "protos")}},
                                       {}});
        }
        if (!chain.rules.empty()) table_.chains.push_back(std::move(chain));
    }

    void add_common_head(ir::Chain& chain, bool with_management) {
        if (!wan_.empty()) chain.rules.push_back({from_wan(true), {accept()}, "not from wan"});
        if (with_management && has_management()) {
            for (auto [set, field] : {std::pair{kMgmtSetV4, ir::Field::ip_saddr},
                                      std::pair{kMgmtSetV6, ir::Field::ip6_saddr}}) {
                if (!table_.find_set(set)) continue;
                if (table_.find_set(kMgmtPorts))
                    chain.rules.push_back(
                        {{ir::SetLookup{{field}, set},
                          ir::SetLookup{{ir::Field::meta_l4proto, ir::Field::th_dport}, kMgmtPorts}},
                         {count(kCounterManagementAccepted), accept()},
                         "management"});
                if (table_.find_set(kMgmtProtos))
                    chain.rules.push_back({{ir::SetLookup{{field}, set},
                                            ir::SetLookup{{ir::Field::meta_l4proto}, kMgmtProtos}},
                                           {count(kCounterManagementAccepted), accept()},
                                           "management"});
            }
        }
        if (with_management) {
            // Hop limit 255 proves the sender is on-link; without NS/NA/RA IPv6 stops working.
            chain.rules.push_back(
                {{ir::Compare{ir::Field::meta_l4proto, {ir::Proto{58}}},
                  ir::Compare{ir::Field::icmpv6_type, {ir::Number{134}, ir::Number{135}, ir::Number{136}}},
                  ir::Compare{ir::Field::ip6_hoplimit, {ir::Number{255}}}},
                 {accept()},
                 {}});
            // DHCPv6 answers come from the router's link-local address to ours, while the request
            // went to a multicast group, so conntrack never sees them as replies. Link-local to
            // link-local cannot come from beyond the WAN link.
            chain.rules.push_back(
                {{ir::Compare{ir::Field::meta_l4proto, {proto(IpProtocol::udp)}},
                  ir::Compare{ir::Field::ip6_saddr, {*Prefix::parse("fe80::/10")}},
                  ir::Compare{ir::Field::ip6_daddr, {*Prefix::parse("fe80::/10")}},
                  ir::Compare{ir::Field::th_sport, {PortRange{547, 547}}},
                  ir::Compare{ir::Field::th_dport, {PortRange{546, 546}}}},
                 {accept()},
                 "dhcpv6 client"});
        }
        add_ban_rules(chain);
        add_conformance_jumps(chain);
        add_flood_rules(chain);
        chain.rules.push_back({{ir::CtState{ir::ct_established | ir::ct_related}}, {accept()}, {}});
        add_invalid_log(chain);
        chain.rules.push_back({{ir::CtState{ir::ct_invalid}}, {count(kCounterInvalid), drop()}, {}});
    }

    // Packets conntrack calls invalid are logged (through the shared drop_log limiter) before the
    // invalid drop: FIN, NULL, XMAS and ACK scans end there, and scan detection must see them.
    void add_invalid_log(ir::Chain& chain) const {
        for (auto& rule : drop_log_rules({ir::CtState{ir::ct_invalid}}, kLogPrefixInvalid))
            chain.rules.push_back(std::move(rule));
    }

    // Logging of refused packets (nothing without log_drops). Without scan detection: one rule
    // drawing from the shared drop_log budget. With [detect]: one rule per family, each source
    // metered first (kDropLogPerSourcePerSecond, burst kDropLogPerSourceBurst, in the droplog
    // sets declared by add_sets) and only then drawing from the shared budget, so a flood from a
    // few sources spends its own meter, not the log budget a scanner's first probes need.
    std::vector<ir::Rule> drop_log_rules(std::vector<ir::Match> first, const char* log_prefix) const {
        std::vector<ir::Rule> rules;
        if (!has_logging()) return rules;
        if (!policy_.detect.enabled) {
            first.push_back(ir::LimitRef{kDropLogLimit});
            rules.push_back({std::move(first), {ir::Log{*policy_.logging.drop_group, log_prefix}}, {}});
            return rules;
        }
        for (auto family : {Family::ipv4, Family::ipv6}) {
            const bool v4 = family == Family::ipv4;
            auto matches = first;
            matches.push_back(ir::Compare{ir::Field::meta_nfproto, {ir::Number{v4 ? 4u : 6u}}});
            matches.push_back(ir::SetUpdate{
                ir::SetUpdate::Op::update, v4 ? kDropLogMeterV4 : kDropLogMeterV6,
                {v4 ? ir::Field::ip_saddr : ir::Field::ip6_saddr}, std::nullopt,
                ir::LimitRate{kDropLogPerSourcePerSecond, kDropLogPerSourceBurst, false}});
            matches.push_back(ir::LimitRef{kDropLogLimit});
            rules.push_back({std::move(matches), {ir::Log{*policy_.logging.drop_group, log_prefix}}, {}});
        }
        return rules;
    }

    void add_default(ir::Chain& chain) {
        chain.rules.push_back(
            {{}, {count(kCounterDefaultDropped), ir::VerdictStmt{go_to(kChainDenyClosed)}}, {}});
    }

    void add_input_chain() {
        ir::Chain chain;
        chain.name = "input_filter";
        chain.base = ir::BaseChain{ir::BaseChain::Type::filter, ir::BaseChain::Hook::input, "filter",
                                   ir::Verdict::Kind::accept};
        add_common_head(chain, true);
        add_flat_rules(chain, false);
        if (table_.find_set(kLocalPorts))
            chain.rules.push_back(
                {{}, {ir::VerdictMapStmt{{ir::Field::meta_l4proto, ir::Field::th_dport}, kLocalPorts}}, {}});
        if (table_.find_set(kLocalProtos))
            chain.rules.push_back({{}, {ir::VerdictMapStmt{{ir::Field::meta_l4proto}, kLocalProtos}}, {}});
        add_default(chain);
        table_.chains.push_back(std::move(chain));
    }

    void add_forward_chain() {
        if (!gateway_) return;
        ir::Chain chain;
        chain.name = "forward_filter";  // not "fwd": that is an nft keyword
        chain.base = ir::BaseChain{ir::BaseChain::Type::filter, ir::BaseChain::Hook::forward, "filter",
                                   ir::Verdict::Kind::accept};
        add_common_head(chain, false);
        add_flat_rules(chain, true);
        for (auto [map, protocol] :
             {std::pair{kForwardTcp, IpProtocol::tcp}, std::pair{kForwardUdp, IpProtocol::udp}}) {
            if (!table_.find_set(map)) continue;
            chain.rules.push_back({{ir::CtStatusDnat{},
                                    ir::Compare{ir::Field::meta_l4proto, {proto(protocol)}}},
                                   {ir::VerdictMapStmt{{ir::Field::ct_original_proto_dst}, map}},
                                   {}});
        }
        if (table_.find_set(kForwardProtos))
            chain.rules.push_back({{ir::CtStatusDnat{}},
                                   {ir::VerdictMapStmt{{ir::Field::meta_l4proto}, kForwardProtos}},
                                   {}});
        add_default(chain);
        table_.chains.push_back(std::move(chain));
    }

    void add_masquerade_chain() {
        if (!gateway_ || !policy_.masquerade_lan) return;
        ir::Chain chain;
        chain.name = "postrouting_nat";
        chain.base = ir::BaseChain{ir::BaseChain::Type::nat, ir::BaseChain::Hook::postrouting, "srcnat",
                                   ir::Verdict::Kind::accept};
        std::vector<ir::Match> matches;
        if (policy_.lan_interface)
            matches.push_back(ir::Compare{ir::Field::iifname, {ir::IfName{*policy_.lan_interface}}});
        else
            matches = from_wan(true);
        if (!wan_.empty()) matches.push_back(ir::Compare{ir::Field::oifname, wan_});
        chain.rules.push_back({matches, {ir::Masquerade{}}, {}});
        table_.chains.push_back(std::move(chain));
    }

    struct DnatMaps {
        std::vector<PortEntry> keep, remap, protos;
    };

    const policy::Policy& policy_;
    const bool gateway_;
    std::vector<const policy::Service*> services_;
    std::vector<ir::Value> wan_;
    std::vector<Planned> planned_;
    std::vector<FlatEntry> flat_;
    std::vector<PortEntry> local_ports_, local_protos_, forward_tcp_, forward_udp_, forward_protos_;
    DnatMaps dnat4_, dnat6_;
    std::vector<PortRange> helper_ports_;
    bool any_flood_ = false;
    const policy::Service* conform_ike_ = nullptr;   // the service exposing udp/500, if checked
    const policy::Service* conform_natt_ = nullptr;  // the service exposing udp/4500, if checked
    bool conform_l2tp_ = false;  // some service exposes udp/1701 with conformance on
    bool conform_gre_ = false;   // some PPTP service exposes GRE with conformance on
    ir::Table table_;
};

}  // namespace

ir::Table compile_ir(const policy::Policy& policy) { return Builder(policy).build(); }

TableManifest manifest_of(const ir::Table& table) {
    TableManifest manifest;
    for (const auto& chain : table.chains) manifest.chains.push_back(chain.name);
    for (const auto& set : table.sets) {
        (set.runtime ? manifest.runtime_sets : manifest.sets).push_back(set.name);
        if (set.counted) manifest.counted_sets.push_back(set.name);
    }
    for (const auto& counter : table.counters) manifest.counters.push_back(counter.name);
    for (const auto& helper : table.ct_helpers) manifest.ct_helpers.push_back(helper.name);
    for (const auto& limit : table.limits) manifest.limits.push_back(limit.name);
    return manifest;
}

Compiled compile(const policy::Policy& policy) {
    ir::Table table = compile_ir(policy);
    Compiled out;
    out.table_text = ir::render(table);
    out.manifest = manifest_of(table);
    out.sets = std::move(table.sets);
    return out;
}

}  // namespace portcullis::compile
