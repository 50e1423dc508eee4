// Checks that need the whole policy at once. The reader has already reported every local problem;
// these look at how services, management and the firewall section fit together.
#include <algorithm>
#include <array>

#include "policy/diagnostics.hpp"
#include "policy/values.hpp"

namespace portcullis::policy::detail {
namespace {

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string family_name(Family family) { return family == Family::ipv4 ? "IPv4" : "IPv6"; }

bool before(const Location& a, const Location& b) {
    return std::pair{a.line, a.column} < std::pair{b.line, b.column};
}

// One protocol/port that something in the policy wants to own.
struct Claim {
    PortSpec spec;
    std::string owner;      // "service \"vpn\"" or "management"
    std::size_t owner_id;   // services by index; management is SIZE_MAX
    bool implicit = false;  // udp/1701 that l2tp-ipsec accepts inside IPsec
};

std::string describe_claim(const Claim& claim) {
    if (claim.implicit) return claim.owner + " (udp/1701 inside IPsec, from preset \"l2tp-ipsec\")";
    return claim.owner + " (" + format_port_spec(claim.spec) + ")";
}

// Every pair of claims on the same protocol with intersecting ports. Sorted by protocol and first
// port, each claim is compared only with the claims that start inside its range: linear for a
// policy without overlaps, however many services it has.
void check_overlaps(std::vector<Claim> claims, Diagnostics& diagnostics) {
    auto low = [](const Claim& c) { return c.spec.ports ? c.spec.ports->first : std::uint16_t{0}; };
    auto high = [](const Claim& c) { return c.spec.ports ? c.spec.ports->last : std::uint16_t{0}; };
    std::sort(claims.begin(), claims.end(), [&](const Claim& a, const Claim& b) {
        if (a.spec.protocol != b.spec.protocol) return a.spec.protocol < b.spec.protocol;
        if (low(a) != low(b)) return low(a) < low(b);
        return before(a.spec.where, b.spec.where);
    });
    // One sweeping range (tcp/1-65535) can collide with thousands of services; past this many the
    // admin learns nothing new from each further line.
    constexpr std::size_t kMaxReported = 100;
    std::size_t found = 0;
    for (std::size_t i = 0; i < claims.size(); ++i) {
        for (std::size_t j = i + 1; j < claims.size(); ++j) {
            const Claim& a = claims[i];
            const Claim& b = claims[j];
            if (b.spec.protocol != a.spec.protocol || low(b) > high(a)) break;
            if (a.owner_id == b.owner_id && (a.implicit || b.implicit)) continue;
            const Claim& earlier = before(b.spec.where, a.spec.where) ? b : a;
            const Claim& later = &earlier == &a ? b : a;
            std::string message;
            if (a.owner_id == b.owner_id) {
                message = later.owner + " lists " + format_port_spec(later.spec) + " and " +
                          format_port_spec(earlier.spec) + " (line " + std::to_string(earlier.spec.where.line) +
                          "), which overlap; expected disjoint ports";
            } else {
                message = later.owner + " claims " + (later.implicit ? std::string("udp/1701") : format_port_spec(later.spec)) +
                          ", which " + describe_claim(earlier) + " already claims at line " +
                          std::to_string(earlier.spec.where.line) +
                          "; each protocol/port can belong to one service only (management ports included)";
            }
            if (++found <= kMaxReported) diagnostics.error(later.spec.where, message);
        }
    }
    if (found > kMaxReported)
        diagnostics.error(diagnostics.nowhere(), std::to_string(found - kMaxReported) +
                                                     " more overlapping protocol/port claims not shown (" +
                                                     std::to_string(found) + " in all)");
}

struct AdminPort {
    IpProtocol protocol;
    std::uint16_t port;
    std::string_view what;
};

// Ports whose exposure to the whole internet is a classic break-in path.
constexpr std::array<AdminPort, 13> kAdminPorts{{
    {IpProtocol::tcp, 22, "SSH"},
    {IpProtocol::tcp, 23, "Telnet"},
    {IpProtocol::tcp, 445, "SMB"},
    {IpProtocol::tcp, 2222, "SSH (alternate)"},
    {IpProtocol::tcp, 3389, "RDP"},
    {IpProtocol::tcp, 5900, "VNC"},
    {IpProtocol::tcp, 5985, "WinRM"},
    {IpProtocol::tcp, 5986, "WinRM"},
    {IpProtocol::tcp, 8006, "Proxmox"},
    {IpProtocol::tcp, 8443, "an admin web UI"},
    {IpProtocol::tcp, 9090, "Cockpit"},
    {IpProtocol::tcp, 10000, "Webmin"},
    {IpProtocol::udp, 161, "SNMP"},
}};

bool covers(const PortSpec& spec, IpProtocol protocol, std::uint16_t port) {
    return spec.protocol == protocol && spec.ports && spec.ports->first <= port && spec.ports->last >= port;
}

std::string label_of(const Service& service, std::size_t index) {
    return service.name.empty() ? "service #" + std::to_string(index + 1) : "service " + in_quotes(service.name);
}

void check_forwarding(const Policy& policy, const PolicyNotes& policy_notes, const Service& service,
                      const ServiceNotes& notes, const std::string& label, Diagnostics& diagnostics) {
    if (!service.forward_to) return;
    const ForwardTarget& target = *service.forward_to;
    const std::string shown = format_forward_target(target);
    if (policy.mode == Mode::host) {
        diagnostics.error(notes.forward_to,
                          label + ": forward_to " + in_quotes(shown) +
                              " only works in gateway mode; in host mode the service runs on this machine "
                              "(remove forward_to, or set mode = \"gateway\")");
        return;
    }
    if (!policy.lan_interface && policy_notes.lan.line == 0)
        diagnostics.error(notes.forward_to, label + ": forward_to " + in_quotes(shown) +
                                                " needs the LAN interface, but [firewall] has no lan; expected "
                                                "lan = \"eth1\" (the interface facing the VPN server)");
    if (target.port) {
        bool single = service.ports.size() == 1 && service.ports.front().ports &&
                      service.ports.front().ports->first == service.ports.front().ports->last;
        if (!single) {
            std::string list;
            for (const auto& spec : service.ports) list += (list.empty() ? "" : ", ") + format_port_spec(spec);
            diagnostics.error(notes.forward_to,
                              label + ": forward_to " + in_quotes(shown) + " changes the port, but the service exposes " +
                                  list + "; a port can only be remapped for a service with exactly one port "
                                  "(drop \":" + std::to_string(*target.port) + "\" or split the service)");
        }
    }
    if (std::find(policy.wan_addresses.begin(), policy.wan_addresses.end(), target.address) !=
        policy.wan_addresses.end())
        diagnostics.error(notes.forward_to, label + ": forward_to " + in_quotes(shown) +
                                                " is one of the gateway's own wan_address entries; expected the "
                                                "address of the VPN server on the LAN");
    const Family family = target.address.family;
    const Family other = family == Family::ipv4 ? Family::ipv6 : Family::ipv4;
    if (!policy.wan_addresses.empty() &&
        std::none_of(policy.wan_addresses.begin(), policy.wan_addresses.end(),
                     [&](const Address& a) { return a.family == family; }))
        diagnostics.error(notes.forward_to, label + ": forward_to " + in_quotes(shown) + " is " + family_name(family) +
                                                " but wan_address has no " + family_name(family) +
                                                " address, so no packet could be forwarded; expected a " +
                                                family_name(family) + " wan_address or target");
    if (service.allow_any) {
        if (family == Family::ipv6)
            diagnostics.warning(notes.forward_to,
                                label + ": forward_to is IPv6, so only IPv6 clients are forwarded; NAT does not "
                                        "translate between families, IPv4 clients cannot reach this service");
        return;
    }
    std::size_t matching = 0;
    for (std::size_t i = 0; i < service.allow_from.size(); ++i) {
        if (service.allow_from[i].address.family == family) {
            ++matching;
            continue;
        }
        diagnostics.warning(i < notes.allow_from_entries.size() ? notes.allow_from_entries[i] : notes.allow_from,
                            label + ": allow_from entry " + service.allow_from[i].to_string() + " is " +
                                family_name(other) + " but forward_to is " + family_name(family) +
                                "; such clients are never forwarded (NAT does not translate families)");
    }
    if (matching == 0 && !service.allow_from.empty())
        diagnostics.error(notes.allow_from, label + ": every allow_from entry is " + family_name(other) +
                                                " but forward_to " + in_quotes(shown) + " is " + family_name(family) +
                                                "; nobody could reach the service (expected " + family_name(family) +
                                                " sources or a " + family_name(other) + " target)");
}

// The ports a scanner tries first (nmap's 100 most frequent TCP ports, its top UDP ports): a knock
// there is hit by every casual scan, so a sweep can walk a sequence built from them.
constexpr std::array<std::uint16_t, 100> kScannedTcp{
    7,    9,     13,    21,    22,    23,    25,    26,    37,    53,    79,    80,    81,    88,    106,
    110,  111,   113,   119,   135,   139,   143,   144,   179,   199,   389,   427,   443,   444,   445,
    465,  513,   514,   515,   543,   544,   548,   554,   587,   631,   646,   873,   990,   993,   995,
    1025, 1026,  1027,  1028,  1029,  1110,  1433,  1720,  1723,  1755,  1900,  2000,  2001,  2049,  2121,
    2717, 3000,  3128,  3306,  3389,  3986,  4899,  5000,  5009,  5051,  5060,  5101,  5190,  5357,  5432,
    5631, 5666,  5800,  5900,  6000,  6001,  6646,  7070,  8000,  8008,  8009,  8080,  8081,  8443,  8888,
    9100, 9999,  10000, 32768, 49152, 49153, 49154, 49155, 49156, 49157};
constexpr std::array<std::uint16_t, 24> kScannedUdp{7,   53,  67,  68,  69,   111,  123,  135,  137,  138,  139,   161,
                                                    162, 445, 500, 514, 520,  631,  1434, 1900, 4500, 5353, 49152, 1701};

bool commonly_scanned(const KnockStep& step) {
    const auto* begin = step.protocol == IpProtocol::tcp ? kScannedTcp.data() : kScannedUdp.data();
    const auto* end = begin + (step.protocol == IpProtocol::tcp ? kScannedTcp.size() : kScannedUdp.size());
    return std::find(begin, end, step.port) != end;
}

std::string step_text(const KnockStep& step) {
    return std::string(protocol_name(step.protocol)) + "/" + std::to_string(step.port);
}

// Sequences that a scan or a guess walks easily. Knocking is obscurity either way; these make
// even the obscurity thin.
void check_knock(const Knock& knock, const std::string& label, Diagnostics& diagnostics) {
    const auto& steps = knock.sequence;
    if (steps.size() < 2) return;  // the reader already refused it
    if (steps.size() < 3)
        diagnostics.warning(knock.where, label + ": knock sequence has only " + std::to_string(steps.size()) +
                                             " steps; expected at least 3 (each step multiplies what a guesser must try)");
    bool ascending = true, descending = true;
    for (std::size_t i = 1; i < steps.size(); ++i) {
        ascending = ascending && steps[i].port > steps[i - 1].port;
        descending = descending && steps[i].port < steps[i - 1].port;
    }
    if (ascending || descending)
        diagnostics.warning(knock.where, label + ": knock ports are " + (ascending ? "ascending" : "descending") +
                                             ", the order a sequential port scan (nmap -r) uses; expected an "
                                             "unordered sequence");
    for (const auto& step : steps)
        if (commonly_scanned(step))
            diagnostics.warning(step.where, label + ": knock step " + step_text(step) +
                                                " is among the ports scanners try first; expected an uncommon port");
}

}  // namespace

void check_policy(const Policy& policy, const PolicyNotes& notes, Diagnostics& diagnostics) {
    std::vector<Claim> claims;
    for (const auto& spec : policy.management.ports) claims.push_back({spec, "management", SIZE_MAX});

    for (std::size_t index = 0; index < policy.services.size(); ++index) {
        const Service& service = policy.services[index];
        const ServiceNotes& service_notes = notes.services[index];
        const std::string label = label_of(service, index);

        for (const auto& spec : service.ports) claims.push_back({spec, label, index});
        if (service.knock) {
            // Knock ports are dispatched like service ports, so they must not collide with any.
            for (const auto& step : service.knock->sequence)
                claims.push_back({PortSpec{step.protocol, PortRange{step.port, step.port}, step.where},
                                  label + " knock step", policy.services.size() + index});
            check_knock(*service.knock, label, diagnostics);
        }
        // Accepted on this machine inside IPsec, so no other service may own udp/1701 here.
        if (service.l2tp_only_inside_ipsec && !service.forward_to) {
            PortSpec l2tp{IpProtocol::udp, PortRange{1701, 1701}, service_notes.preset};
            claims.push_back({l2tp, label, index, true});
        }

        check_forwarding(policy, notes, service, service_notes, label, diagnostics);

        if (service.allow_any && service.guard == Guard::none) {
            for (const auto& spec : service.ports) {
                std::string names;
                for (const auto& admin : kAdminPorts) {
                    if (!covers(spec, admin.protocol, admin.port)) continue;
                    names += (names.empty() ? "" : ", ") + std::string(protocol_name(admin.protocol)) + "/" +
                             std::to_string(admin.port) + " (" + std::string(admin.what) + ")";
                }
                if (!names.empty())
                    diagnostics.warning(spec.where, label + " opens " + names +
                                                        " to any source without a guard; restrict allow_from or "
                                                        "use guard = \"grant\"");
            }
        }
    }
    // The SPA port is dispatched like a service port (to the SPA log-and-drop chain).
    if (policy.spa && std::any_of(policy.services.begin(), policy.services.end(),
                                  [](const Service& s) { return s.guard == Guard::spa; }))
        claims.push_back({PortSpec{IpProtocol::udp, PortRange{policy.spa->port, policy.spa->port}, policy.spa->port_where},
                          "[spa] port", SIZE_MAX - 1});
    check_overlaps(std::move(claims), diagnostics);

    if (policy.services.empty() && diagnostics.error_count() == 0)
        diagnostics.warning(notes.firewall, "the policy has no [[service]]: everything inbound except management "
                                            "is dropped");

    if (!notes.management_present) {
        std::string ssh_service;
        for (std::size_t index = 0; index < policy.services.size() && ssh_service.empty(); ++index) {
            const Service& service = policy.services[index];
            if (!service.allow_any) continue;
            for (const auto& spec : service.ports)
                if (covers(spec, IpProtocol::tcp, 22)) ssh_service = label_of(service, index);
        }
        if (!ssh_service.empty())
            diagnostics.warning(notes.firewall,
                                "no [management] block while the WAN carries SSH (tcp/22 through " + ssh_service +
                                    ", open to any): add [management] with your admin sources and ports so your own "
                                    "access is explicit and survives any policy mistake");
        else
            diagnostics.warning(notes.firewall,
                                "no [management] block: nothing guarantees your own access to this machine, so "
                                "a policy mistake can lock you out; expected [management] with sources and "
                                "ports such as [\"tcp/22\"]");
    }
}

}  // namespace portcullis::policy::detail
