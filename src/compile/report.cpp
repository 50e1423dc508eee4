// The report is built once as JSON (the data) and the text form is rendered from that JSON, so the
// two forms cannot say different things.
#include "compile/report.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "compile/compile.hpp"
#include "compile/plan.hpp"
#include "policy/load.hpp"
#include "policy/values.hpp"

namespace portcullis::compile {

using nlohmann::json;
using policy::IpProtocol;
using policy::protocol_name;

namespace {

const char* guard_name(policy::Guard guard) {
    switch (guard) {
        case policy::Guard::none: return "none";
        case policy::Guard::grant: return "grant";
        case policy::Guard::knock: return "knock";
        case policy::Guard::spa: return "spa";
    }
    return "none";
}

const char* delivery_name(Delivery delivery) {
    switch (delivery) {
        case Delivery::local: return "local";
        case Delivery::forwarded: return "forwarded";
        case Delivery::pptp_expectation: return "pptp_expectation";
        case Delivery::local_inside_ipsec: return "local_inside_ipsec";
        case Delivery::inside_esp_not_forwarded: return "inside_esp_not_forwarded";
    }
    return "local";
}

// Sources as the admin thinks of them: a single address without "/32".
std::string prefix_text(const Prefix& prefix) {
    return prefix.is_host() ? prefix.address.to_string() : prefix.to_string();
}

std::string family_name(Family family) { return family == Family::ipv4 ? "ipv4" : "ipv6"; }

std::string endpoint(const Address& address, std::optional<std::uint16_t> port) {
    if (!port) return address.to_string();
    if (address.family == Family::ipv6) return fmt::format("[{}]:{}", address.to_string(), *port);
    return fmt::format("{}:{}", address.to_string(), *port);
}

bool has_family(const std::vector<Prefix>& prefixes, Family family) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const Prefix& p) { return p.address.family == family; });
}

json exposure_json(const policy::Policy& policy, const policy::Service& service, const Exposure& e) {
    json out;
    out["port"] = format_port(e.protocol, e.ports);
    out["protocol"] = std::string(protocol_name(e.protocol));
    out["ports"] = e.ports ? json{{"first", e.ports->first}, {"last", e.ports->last}} : json(nullptr);
    out["delivery"] = delivery_name(e.delivery);
    const bool host = policy.mode == policy::Mode::host;
    const std::string here = host ? "this host" : "the gateway itself";

    std::vector<Family> families;
    for (auto family : {Family::ipv4, Family::ipv6}) {
        if (e.forward_address && e.forward_address->family != family) continue;
        if (e.delivery == Delivery::pptp_expectation && family == Family::ipv6) continue;
        if (!service.allow_any && !has_family(service.allow_from, family)) continue;
        families.push_back(family);
    }
    if (e.delivery == Delivery::inside_esp_not_forwarded) families.clear();
    json family_list = json::array();
    for (auto f : families) family_list.push_back(family_name(f));
    out["families"] = family_list;

    std::string destination, note;
    switch (e.delivery) {
        case Delivery::local:
            destination = here;
            note = "accepted in the input chain";
            break;
        case Delivery::forwarded: {
            std::optional<std::uint16_t> port = e.forward_port;
            if (!port && e.ports && e.ports->first == e.ports->last) port = e.ports->first;
            destination = endpoint(*e.forward_address, port);
            note = e.forward_port ? fmt::format("DNAT from WAN, port {} becomes {}", e.ports->first,
                                                *e.forward_port)
                                  : "DNAT from WAN, replies relayed by conntrack";
            break;
        }
        case Delivery::pptp_expectation:
            destination = e.forward_address ? e.forward_address->to_string() : here;
            note = "only within a PPTP call: the pptp conntrack helper expects it (IPv4)";
            break;
        case Delivery::local_inside_ipsec:
            destination = here;
            note = "only when it arrived inside IPsec (meta secpath exists)";
            break;
        case Delivery::inside_esp_not_forwarded:
            destination = e.forward_address ? e.forward_address->to_string() : here;
            note = "never forwarded raw: it travels inside ESP to the server";
            break;
    }
    out["destination"] = destination;
    out["note"] = note;
    return out;
}

bool exposes(const std::vector<Exposure>& exposures, IpProtocol protocol, std::uint16_t port, bool inside_ipsec) {
    return std::any_of(exposures.begin(), exposures.end(), [&](const Exposure& e) {
        return e.protocol == protocol && e.ports && e.ports->first <= port && port <= e.ports->last &&
               (e.delivery == Delivery::local || e.delivery == Delivery::forwarded ||
                (inside_ipsec && e.delivery == Delivery::local_inside_ipsec));
    });
}

std::string limit_text(const policy::FloodLimit& limit) {
    std::string out;
    if (limit.enabled)
        out = fmt::format("{}/s per source (burst {})", limit.per_source_per_second, limit.burst_packets);
    if (limit.global_per_second)
        out += fmt::format("{}{}/s from all sources (burst {})", out.empty() ? "" : " and ", *limit.global_per_second,
                           limit.global_burst_packets ? limit.global_burst_packets : limit.burst_packets);
    return out;
}

// The in-kernel flood limits and conformance checks a service gets (issue 5), one note each.
void protection_notes(const policy::Policy& policy, const policy::Service& service,
                      const std::vector<Exposure>& exposures, json& notes) {
    const bool ike = exposes(exposures, IpProtocol::udp, 500, false);
    const bool natt = exposes(exposures, IpProtocol::udp, 4500, false);
    const std::string ike_ports = ike && natt ? "udp/500 and udp/4500" : ike ? "udp/500" : "udp/4500";
    if ((ike || natt) && service.ike_init.enabled) {
        std::string counters = flood_counter(service.name, "ike_init");
        if (service.ike_init.global_per_second) counters += ", " + flood_counter(service.name, "ike_init_global");
        notes.push_back(fmt::format("flood: new IKE_SA_INIT requests on {} limited to {}; counters {}", ike_ports,
                                    limit_text(service.ike_init), counters));
    }
    struct Control {
        IpProtocol protocol;
        std::uint16_t port;
        const char* what;
        const char* label;
    };
    for (const Control& c : {Control{IpProtocol::tcp, 1723, "pptp_new", "new PPTP control connections (SYN to tcp/1723)"},
                             Control{IpProtocol::udp, 1701, "l2tp_sccrq", "L2TP SCCRQs to udp/1701"}}) {
        const auto& limit = service.control;
        if (!exposes(exposures, c.protocol, c.port, true) || (!limit.enabled && !limit.global_per_second)) continue;
        std::vector<std::string> counters;
        if (limit.enabled) counters.push_back(flood_counter(service.name, c.what));
        if (limit.global_per_second) counters.push_back(flood_counter(service.name, std::string(c.what) + "_global"));
        notes.push_back(fmt::format("flood: {} limited to {}; counters {}", c.label, limit_text(limit),
                                    fmt::join(counters, ", ")));
    }
    if (service.guard == policy::Guard::knock && service.knock && service.knock->sequence.size() >= 2) {
        const auto& limit = service.knock->rate;
        std::vector<std::string> counters;
        if (limit.enabled) counters.push_back(flood_counter(service.name, "knock"));
        if (limit.global_per_second) counters.push_back(flood_counter(service.name, "knock_global"));
        if (!counters.empty())
            notes.push_back(fmt::format("flood: knock packets limited to {}; counters {}", limit_text(limit),
                                        fmt::join(counters, ", ")));
    }
    if (service.guard == policy::Guard::spa && policy.spa) {
        policy::FloodLimit limit{true, policy.spa->per_source_per_second, policy.spa->burst_packets,
                                 policy.spa->global_per_second, policy.spa->global_burst_packets};
        notes.push_back(fmt::format("flood: SPA packets (all SPA services together) limited to {}; counters {}{}",
                                    limit_text(limit), kCounterSpaRateLimited,
                                    limit.global_per_second ? std::string(", ") + kCounterSpaGlobalLimited : ""));
    }
    if (!service.conformance) return;
    if (ike)
        notes.push_back(fmt::format(
            "conformance: udp/500 must carry an IKE header (28 bytes or more, version 1.0 or 2.0, a known exchange "
            "type, length field equal to the UDP payload length{}); counters {}, {}, {}, {}, {}{}",
            service.drop_ikev1_aggressive ? ", not IKEv1 aggressive mode" : "", kConformIkeShort, kConformIkeVersion,
            kConformIkeExchange, kConformIkeLength, kConformIkeLengthMismatch,
            service.drop_ikev1_aggressive ? std::string(", ") + kConformIkeAggressive : ""));
    if (natt)
        notes.push_back(fmt::format(
            "conformance: udp/4500 must carry a 0xFF keepalive, ESP with SPI 256 or more, or behind the non-ESP "
            "marker an IKE header as on udp/500 (length field equal to the UDP payload length - 4); counters {}, "
            "{}, {}, {}, {}, {}",
            kConformNattShort, kConformNattVersion, kConformNattExchange, kConformNattLength,
            kConformNattLengthMismatch, kConformNattSpi));
    if (exposes(exposures, IpProtocol::udp, kL2tpPort, true))
        notes.push_back(fmt::format("conformance: udp/1701 must carry an L2TP v2/v3 header with sane control bits; "
                                    "counters {}, {}, {}",
                                    kConformL2tpShort, kConformL2tpVersion, kConformL2tpControl));
    if (service.pptp_helper &&
        std::any_of(exposures.begin(), exposures.end(), [](const Exposure& e) { return e.protocol == IpProtocol::gre; }))
        notes.push_back(fmt::format("conformance: GRE arriving on WAN (IPv4, with options, and IPv6) must be enhanced GRE "
                                    "(version 1, PPP, key set, 8-byte header, no checksum/routing flags); counters "
                                    "{}, {}, {}, {}, {}",
                                    kConformGreShort, kConformGreVersion, kConformGreProtocol, kConformGreKey,
                                    kConformGreFlags));
}

json service_json(const policy::Policy& policy, const policy::Service& service) {
    json out;
    out["name"] = service.name;
    out["preset"] = service.preset ? json(*service.preset) : json(nullptr);
    out["explanation"] = service.explanation;
    out["guard"] = guard_name(service.guard);
    out["trusted"] = service.trusted;
    json sources = json::array();
    if (service.allow_any) sources.push_back("any");
    for (const auto& p : service.allow_from) sources.push_back(prefix_text(p));
    out["sources"] = sources;
    out["forward_to"] = service.forward_to && policy.mode == policy::Mode::gateway
                            ? json(endpoint(service.forward_to->address, service.forward_to->port))
                            : json(nullptr);
    json exposures = json::array();
    for (const auto& e : plan_exposures(policy, service))
        exposures.push_back(exposure_json(policy, service, e));
    out["exposures"] = exposures;
    out["counters"] = {{"accepted", accepted_counter(service.name)},
                       {"dropped", dropped_counter(service.name)}};

    json notes = json::array();
    if (service.guard != policy::Guard::none) {
        out["grant_sets"] = {grant_set_v4(service.name), grant_set_v6(service.name)};
        notes.push_back(fmt::format(
            "closed to every source until one is granted (sets {} / {}, default lifetime {}){}",
            grant_set_v4(service.name), grant_set_v6(service.name),
            ir::render_duration(policy.runtime.default_grant_seconds),
            service.allow_any ? "" : "; a grant must also be inside the sources above"));
        if (service.guard == policy::Guard::knock && service.knock) {
            std::string steps;
            for (const auto& step : service.knock->sequence)
                steps += (steps.empty() ? "" : " ") + std::string(protocol_name(step.protocol)) + "/" +
                         std::to_string(step.port);
            notes.push_back(fmt::format(
                "knock {} (each step within {}, TCP {}) opens for {}; knocks are dropped and evaluated in "
                "chain {}, counters {}, {}, {}",
                steps, ir::render_duration(service.knock->step_timeout_seconds),
                service.knock->tcp_syn_only ? "bare SYN only" : "any flags",
                ir::render_duration(service.knock->open_for_seconds), knock_chain(service.name),
                knock_counter(service.name, "step"), knock_counter(service.name, "reset"),
                knock_counter(service.name, "granted")));
        }
        if (service.guard == policy::Guard::spa && policy.spa) {
            std::string keys;
            for (const auto& key : policy.spa->keys)
                if (std::find(key.services.begin(), key.services.end(), service.name) != key.services.end())
                    keys += (keys.empty() ? "" : ", ") + key.name + " (up to " +
                            ir::render_duration(key.max_open_seconds) + ")";
            notes.push_back(fmt::format(
                "opened by a verified fwknop SPA packet to udp/{} from keys {}; SPA packets are rate-limited, "
                "logged to NFLOG group {} and dropped in chain {} (the daemon `portcullis run` verifies them)",
                policy.spa->port, keys.empty() ? std::string("(none)") : keys, policy.spa->log_group,
                kChainSpaIntake));
        }
    } else {
        out["grant_sets"] = json::array();
    }
    if (service.forward_to && policy.mode == policy::Mode::gateway && !service.allow_any) {
        Family target = service.forward_to->address.family;
        Family other = target == Family::ipv4 ? Family::ipv6 : Family::ipv4;
        if (has_family(service.allow_from, other))
            notes.push_back(fmt::format(
                "the {} sources cannot reach it: the forward target is {} and only {} is DNATed",
                other == Family::ipv4 ? "IPv4" : "IPv6", target == Family::ipv4 ? "IPv4" : "IPv6",
                target == Family::ipv4 ? "IPv4" : "IPv6"));
    }
    protection_notes(policy, service, plan_exposures(policy, service), notes);
    if (service.trusted) notes.push_back("trusted: detectors never ban its sources");
    out["notes"] = notes;
    return out;
}

std::string joined(const json& list, std::size_t limit) {
    std::string out;
    std::size_t shown = 0;
    for (const auto& item : list) {
        if (shown == limit) {
            out += fmt::format(", ... and {} more (see --json)", list.size() - limit);
            break;
        }
        if (shown) out += ", ";
        out += item.get<std::string>();
        ++shown;
    }
    return out.empty() ? "(none)" : out;
}

std::string pad(const std::string& text, std::size_t width) {
    return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

}  // namespace

std::string format_port(IpProtocol protocol, const std::optional<policy::PortRange>& ports) {
    std::string out(protocol_name(protocol));
    if (!ports) return out;
    if (ports->first == ports->last) return fmt::format("{}/{}", out, ports->first);
    return fmt::format("{}/{}-{}", out, ports->first, ports->last);
}

json render_report_json(const policy::Policy& policy) {
    json out;
    out["policy"] = policy.source_path;
    out["mode"] = policy.mode == policy::Mode::gateway ? "gateway" : "host";
    out["wan"] = policy.wan_interfaces;
    out["lan"] = policy.lan_interface ? json(*policy.lan_interface) : json(nullptr);
    json wan_addresses = json::array();
    for (const auto& a : policy.wan_addresses) wan_addresses.push_back(a.to_string());
    out["wan_addresses"] = wan_addresses;
    out["default_action"] = policy.default_action == policy::DefaultAction::drop ? "drop" : "reject";
    out["masquerade"] = policy.mode == policy::Mode::gateway && policy.masquerade_lan;
    out["logging"] = policy.logging.drop_group
                         ? json{{"nflog_group", *policy.logging.drop_group},
                                {"rate_per_second", policy.logging.drop_rate_per_second}}
                         : json(nullptr);
    out["runtime"] = {{"grant_timeout_seconds", policy.runtime.default_grant_seconds},
                      {"ban_timeout_seconds", policy.runtime.default_ban_seconds},
                      {"ban_sets", {kBanHostSetV4, kBanHostSetV6, kBanSetV4, kBanSetV6}}};

    json management;
    json sources = json::array(), ports = json::array();
    for (const auto& p : policy.management.sources) sources.push_back(prefix_text(p));
    for (const auto& spec : policy.management.ports) ports.push_back(format_port(spec.protocol, spec.ports));
    management["sources"] = sources;
    management["ports"] = ports;
    management["active"] = !sources.empty() && !ports.empty();
    out["management"] = management;

    json services = json::array();
    for (const auto* service : services_by_name(policy)) services.push_back(service_json(policy, *service));
    out["services"] = services;

    json warnings = json::array();
    for (const auto& w : policy.warnings) {
        warnings.push_back({{"file", w.where.file},
                            {"line", w.where.line},
                            {"column", w.where.column},
                            {"message", w.message},
                            {"text", policy::format(w)}});
    }
    out["warnings"] = warnings;
    return out;
}

std::string render_report_text(const policy::Policy& policy) {
    const json report = render_report_json(policy);
    std::string out;
    auto line = [&](const std::string& label, const std::string& text) {
        out += pad(label, 12) + text + "\n";
    };
    out += "portcullis exposure report" +
           (policy.source_path.empty() ? std::string() : " for " + policy.source_path) + "\n\n";

    std::string wan = joined(report["wan"], 16);
    if (report["mode"] == "gateway") {
        std::string text = "gateway: WAN " + wan;
        if (!report["lan"].is_null()) text += " -> LAN " + report["lan"].get<std::string>();
        if (!report["wan_addresses"].empty())
            text += " (DNAT only for " + joined(report["wan_addresses"], 16) + ")";
        line("Mode", text);
    } else {
        line("Mode", "host: services on this machine, traffic arriving on " + wan);
    }
    line("Default", report["default_action"] == "drop"
                        ? "drop every other packet arriving on WAN"
                        : "reject every other packet arriving on WAN (TCP reset, ICMP admin-prohibited)");
    if (report["logging"].is_null())
        line("Logging", "drops are counted, not logged");
    else
        line("Logging", fmt::format("drops to NFLOG group {}, at most {}/s",
                                    report["logging"]["nflog_group"].get<int>(),
                                    report["logging"]["rate_per_second"].get<int>()));
    if (report["mode"] == "gateway")
        line("Masquerade", report["masquerade"].get<bool>() ? "LAN -> WAN egress" : "no");
    line("Bans", fmt::format("sources in {}/{} (addresses) or {}/{} (prefixes) are dropped right after "
                             "management (default {})",
                             kBanHostSetV4, kBanHostSetV6, kBanSetV4, kBanSetV6,
                             ir::render_duration(policy.runtime.default_ban_seconds)));

    out += "\nManagement (always reachable; compiled before anything that can drop)\n";
    if (report["management"]["active"].get<bool>()) {
        out += "  sources  " + joined(report["management"]["sources"], 16) + "\n";
        out += "  ports    " + joined(report["management"]["ports"], 16) + "\n";
    } else {
        out += "  none: nothing on the gateway itself is reachable from WAN (lockout risk)\n";
    }

    if (report["services"].empty()) out += "\nNo services: every packet arriving on WAN is refused.\n";
    for (const auto& service : report["services"]) {
        std::string title = "\nService " + service["name"].get<std::string>();
        if (!service["preset"].is_null()) title += " (preset " + service["preset"].get<std::string>() + ")";
        out += title + "\n";
        out += "  what     " + service["explanation"].get<std::string>() + "\n";
        out += "  from     " + joined(service["sources"], 8) + "\n";
        out += "  guard    " + service["guard"].get<std::string>() +
               (service["guard"] == "none" ? " (open to the sources above)" : "") + "\n";
        std::size_t port_width = 4, destination_width = 4, family_width = 4;
        std::vector<std::string> family_texts;
        for (const auto& e : service["exposures"]) {
            std::string families;
            for (const auto& f : e["families"]) families += (families.empty() ? "" : "+") + f.get<std::string>();
            if (families.empty()) families = "-";
            family_texts.push_back(families);
            port_width = std::max(port_width, e["port"].get<std::string>().size());
            destination_width = std::max(destination_width, e["destination"].get<std::string>().size());
            family_width = std::max(family_width, families.size());
        }
        std::size_t index = 0;
        for (const auto& e : service["exposures"]) {
            out += "  " + pad(e["port"].get<std::string>(), port_width + 2) + "-> " +
                   pad(e["destination"].get<std::string>(), destination_width + 2) +
                   pad(family_texts[index++], family_width + 2) + e["note"].get<std::string>() + "\n";
        }
        for (const auto& note : service["notes"]) out += "  note     " + note.get<std::string>() + "\n";
        out += "  counters " + service["counters"]["accepted"].get<std::string>() + ", " +
               service["counters"]["dropped"].get<std::string>() + "\n";
    }

    out += fmt::format("\nWarnings ({})\n", report["warnings"].size());
    if (report["warnings"].empty()) out += "  none\n";
    for (const auto& w : report["warnings"]) out += "  " + w["text"].get<std::string>() + "\n";
    return out;
}

}  // namespace portcullis::compile
