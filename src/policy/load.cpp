#include "policy/load.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "auth/spa_keys.hpp"
#include "policy/diagnostics.hpp"
#include "policy/presets.hpp"
#include "policy/suggest.hpp"
#include "policy/values.hpp"

namespace portcullis::policy {
namespace detail {

std::vector<Diagnostic> Diagnostics::sorted() const {
    auto out = items_;
    auto key = [](const Diagnostic& d) {
        std::uint32_t line = d.where.line == 0 ? UINT32_MAX : d.where.line;
        return std::pair{line, d.where.column};
    };
    std::stable_sort(out.begin(), out.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
    return out;
}

}  // namespace detail

namespace {

using detail::Diagnostics;
using detail::PolicyNotes;
using detail::ServiceNotes;

constexpr std::array<std::string_view, 6> kTopLevelKeys{"firewall", "runtime", "management", "service", "detect",
                                                        "spa"};
constexpr std::array<std::string_view, 8> kFirewallKeys{"mode",    "wan",        "lan",       "wan_address",
                                                        "default", "masquerade", "log_drops", "log_rate"};
constexpr std::array<std::string_view, 2> kRuntimeKeys{"grant_timeout", "ban_timeout"};
constexpr std::array<std::string_view, 2> kManagementKeys{"sources", "ports"};
constexpr std::array<std::string_view, 12> kDetectKeys{"enabled", "theta0", "theta1", "p_d", "p_f",
                                                      "window_ports", "window", "ban_base", "ban_cap",
                                                      "jitter", "ipv6_prefix", "max_sources"};
constexpr std::array<std::string_view, 17> kServiceKeys{
    "name",           "preset",         "ports",          "forward_to",
    "allow_from",     "guard",          "trusted",        "knock",
    "ike_init_limit", "ike_init_burst", "ike_init_global_limit", "conformance",
    "drop_ikev1_aggressive", "control_limit", "control_burst", "control_global_limit", "control_global_burst"};
constexpr std::array<std::string_view, 9> kKnockKeys{"sequence", "step_timeout", "open_for", "tcp_flags",
                                                     "log_group", "rate_limit", "rate_burst", "global_limit", "global_burst"};
constexpr std::array<std::string_view, 9> kSpaKeys{"port",      "window",       "rate_limit", "rate_burst", "global_limit",
                                                  "global_burst", "log_group", "key",        "priority"};
constexpr std::array<std::string_view, 9> kSpaKeyKeys{"name",     "key",      "hmac_key",
                                                      "key_file", "key_stanza", "services",
                                                      "max_open", "allow_embedded_address", "sources"};

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// What a TOML value is, for "found X" in messages.
std::string describe(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string: return "string " + in_quotes(node.as_string()->get());
        case toml::node_type::integer: return "integer " + std::to_string(node.as_integer()->get());
        case toml::node_type::floating_point: {
            std::ostringstream out;
            out << "number " << node.as_floating_point()->get();
            return out.str();
        }
        case toml::node_type::boolean: return node.as_boolean()->get() ? "boolean true" : "boolean false";
        case toml::node_type::array: return "an array";
        case toml::node_type::table: return "a table";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        default: return "nothing";
    }
}

std::string join_quoted(std::span<const std::string_view> words, std::string_view last_joiner = " or ") {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) out += (i + 1 == words.size()) ? std::string(last_joiner) : std::string(", ");
        out += in_quotes(words[i]);
    }
    return out;
}

// A string value with where it was written.
struct Located {
    std::string text;
    Location where;
};

class Reader {
public:
    Reader(Diagnostics& diagnostics, Policy& policy, PolicyNotes& notes)
        : diag_(diagnostics), policy_(policy), notes_(notes) {}

    void read(const toml::table& root) {
        check_keys(root, kTopLevelKeys, "");
        read_firewall(root);
        read_runtime(root);
        read_management(root);
        read_services(root);
        read_detect(root);
        read_spa(root);
        check_spa();
    }

private:
    Diagnostics& diag_;
    Policy& policy_;
    PolicyNotes& notes_;

    Location at(const toml::source_region& region) const {
        return diag_.at(region.begin.line, region.begin.column);
    }
    Location at(const toml::node& node) const { return at(node.source()); }

    // Which section a key belongs to, so a key written in the wrong place gets a useful hint.
    static std::string_view home_of(std::string_view key) {
        auto in = [&](auto& keys) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
        if (in(kFirewallKeys)) return "[firewall]";
        if (in(kRuntimeKeys)) return "[runtime]";
        if (in(kServiceKeys)) return "[[service]]";
        if (in(kManagementKeys)) return "[management]";
        if (in(kDetectKeys)) return "[detect]";
        return "";
    }

    void check_keys(const toml::table& table, std::span<const std::string_view> known, std::string_view section) {
        for (auto&& [key, node] : table) {
            std::string_view name = key.str();
            if (std::find(known.begin(), known.end(), name) != known.end()) continue;
            std::string where = section.empty() ? std::string("at the top level") : "in " + std::string(section);
            std::string message = "unknown key " + in_quotes(name) + " " + where;
            auto suggestion = closest_match(name, known);
            if (suggestion) {
                bool top = section.empty();
                std::string shown = top ? (*suggestion == "service" ? "[[service]]" : "[" + *suggestion + "]")
                                        : *suggestion;
                message += "; did you mean " + (top ? shown : in_quotes(shown)) + "?";
            } else if (auto home = home_of(name); !home.empty() && home != section) {
                message += "; " + in_quotes(name) + " belongs in " + std::string(home);
            } else {
                message += " (expected one of " + join_quoted(known) + ")";
            }
            diag_.error(at(key.source()), message);
        }
    }

    // A table-valued key, or null (with an error when it exists but is not a table).
    const toml::table* section(const toml::table& root, std::string_view name) {
        const toml::node* node = root.get(name);
        if (!node) return nullptr;
        if (const auto* table = node->as_table()) return table;
        diag_.error(at(*node), in_quotes(name) + " is " + describe(*node) + "; expected a table, written [" +
                                   std::string(name) + "]");
        return nullptr;
    }

    std::optional<Located> string_value(const toml::node& node, std::string_view key, std::string_view expected) {
        if (const auto* text = node.as_string()) return Located{text->get(), at(node)};
        diag_.error(at(node), std::string(key) + " is " + describe(node) + "; expected " + std::string(expected));
        return std::nullopt;
    }

    std::optional<Located> optional_string(const toml::table& table, std::string_view key,
                                           std::string_view expected) {
        const toml::node* node = table.get(key);
        if (!node) return std::nullopt;
        return string_value(*node, key, expected);
    }

    // A string, or an array of strings. Elements of the wrong type are reported and skipped;
    // `present` says whether the key exists at all.
    std::vector<Located> string_list(const toml::table& table, std::string_view key, std::string_view expected,
                                     bool& present, Location& where) {
        std::vector<Located> out;
        const toml::node* node = table.get(key);
        present = node != nullptr;
        if (!node) return out;
        where = at(*node);
        if (const auto* text = node->as_string()) {
            out.push_back({text->get(), at(*node)});
            return out;
        }
        const auto* array = node->as_array();
        if (!array) {
            diag_.error(at(*node), std::string(key) + " is " + describe(*node) + "; expected " +
                                       std::string(expected) + ", or a list of them");
            return out;
        }
        for (const auto& element : *array) {
            if (const auto* text = element.as_string()) {
                out.push_back({text->get(), at(element)});
                continue;
            }
            std::string message = std::string(key) + " entry is " + describe(element) + "; expected " +
                                  std::string(expected);
            if (element.is_integer() && key == "ports") {
                auto n = std::to_string(element.as_integer()->get());
                message += " (did you mean \"tcp/" + n + "\" or \"udp/" + n + "\"?)";
            }
            diag_.error(at(element), message);
        }
        return out;
    }

    std::optional<bool> optional_bool(const toml::table& table, std::string_view key) {
        const toml::node* node = table.get(key);
        if (!node) return std::nullopt;
        if (const auto* flag = node->as_boolean()) return flag->get();
        std::string message = std::string(key) + " is " + describe(*node) + "; expected true or false";
        if (const auto* text = node->as_string(); text && (text->get() == "true" || text->get() == "false"))
            message += " without quotes";
        diag_.error(at(*node), message);
        return std::nullopt;
    }

    std::optional<std::int64_t> optional_integer(const toml::table& table, std::string_view key, std::int64_t min,
                                                 std::int64_t max, std::string_view meaning) {
        const toml::node* node = table.get(key);
        if (!node) return std::nullopt;
        const auto* number = node->as_integer();
        if (!number) {
            diag_.error(at(*node), std::string(key) + " is " + describe(*node) + "; expected an integer " +
                                       std::to_string(min) + "-" + std::to_string(max) + " (" +
                                       std::string(meaning) + ")");
            return std::nullopt;
        }
        if (number->get() < min || number->get() > max) {
            diag_.error(at(*node), std::string(key) + " is " + std::to_string(number->get()) +
                                       ", out of range; expected " + std::to_string(min) + "-" +
                                       std::to_string(max) + " (" + std::string(meaning) + ")");
            return std::nullopt;
        }
        return number->get();
    }

    // One of a fixed set of words, with "did you mean" for near misses.
    std::optional<std::string> choice(const toml::table& table, std::string_view key,
                                      std::span<const std::string_view> choices) {
        auto value = optional_string(table, key, join_quoted(choices));
        if (!value) return std::nullopt;
        if (std::find(choices.begin(), choices.end(), value->text) != choices.end()) return value->text;
        std::string message =
            std::string(key) + " is " + in_quotes(value->text) + "; expected " + join_quoted(choices);
        if (auto suggestion = closest_match(value->text, choices)) message += " (did you mean " + in_quotes(*suggestion) + "?)";
        diag_.error(value->where, message);
        return std::nullopt;
    }

    void read_firewall(const toml::table& root) {
        const toml::table* firewall = section(root, "firewall");
        if (!firewall) {
            if (!root.get("firewall"))
                diag_.error(diag_.nowhere(),
                            "no [firewall] section; expected one with at least mode and wan, e.g. "
                            "[firewall] mode = \"host\" wan = \"eth0\"");
            notes_.firewall = diag_.nowhere();
            return;
        }
        notes_.firewall = at(*firewall);
        check_keys(*firewall, kFirewallKeys, "[firewall]");

        static constexpr std::array<std::string_view, 2> kModes{"gateway", "host"};
        bool mode_known = false;
        if (!firewall->get("mode")) {
            diag_.error(notes_.firewall, "[firewall] has no mode; expected mode = \"gateway\" or mode = \"host\"");
        } else if (auto mode = choice(*firewall, "mode", kModes)) {
            policy_.mode = *mode == "gateway" ? Mode::gateway : Mode::host;
            mode_known = true;
        }

        bool present = false;
        Location where;
        auto wan = string_list(*firewall, "wan", "an interface name such as \"eth0\"", present, where);
        if (!present) {
            diag_.error(notes_.firewall,
                        "[firewall] has no wan; expected the interface(s) facing the internet, e.g. wan = \"eth0\"");
        } else if (wan.empty() && firewall->get("wan")->is_array() && firewall->get("wan")->as_array()->empty()) {
            diag_.error(where, "wan is an empty list; expected at least one interface name such as \"eth0\"");
        }
        for (const auto& entry : wan) {
            auto name = check_interface_name(entry.text);
            if (!name) {
                diag_.error(entry.where, "wan: " + name.error().message);
                continue;
            }
            if (std::find(policy_.wan_interfaces.begin(), policy_.wan_interfaces.end(), *name) !=
                policy_.wan_interfaces.end()) {
                diag_.warning(entry.where, "wan lists " + in_quotes(*name) + " twice; the repeat is ignored");
                continue;
            }
            policy_.wan_interfaces.push_back(*name);
        }

        if (auto lan = optional_string(*firewall, "lan", "an interface name such as \"eth1\"")) {
            notes_.lan = lan->where;
            auto name = check_interface_name(lan->text);
            if (!name) {
                diag_.error(lan->where, "lan: " + name.error().message);
            } else if (std::find(policy_.wan_interfaces.begin(), policy_.wan_interfaces.end(), *name) !=
                       policy_.wan_interfaces.end()) {
                diag_.error(lan->where, "lan " + in_quotes(*name) +
                                            " is also a wan interface; expected the interface facing the VPN "
                                            "server, different from every wan interface");
            } else {
                policy_.lan_interface = *name;
            }
        }

        auto addresses = string_list(*firewall, "wan_address", "an IPv4 or IPv6 address such as \"203.0.113.1\"",
                                     present, where);
        if (present) notes_.wan_address = where;
        for (const auto& entry : addresses) {
            auto address = Address::parse(entry.text);
            if (!address) {
                diag_.error(entry.where, "wan_address: " + address.error().message +
                                             " (expected a single address such as \"203.0.113.1\", not a prefix)");
                continue;
            }
            if (std::find(policy_.wan_addresses.begin(), policy_.wan_addresses.end(), *address) !=
                policy_.wan_addresses.end()) {
                diag_.warning(entry.where, "wan_address lists " + address->to_string() + " twice; the repeat is ignored");
                continue;
            }
            policy_.wan_addresses.push_back(*address);
        }

        static constexpr std::array<std::string_view, 2> kDefaults{"drop", "reject"};
        if (auto action = choice(*firewall, "default", kDefaults))
            policy_.default_action = *action == "reject" ? DefaultAction::reject : DefaultAction::drop;

        if (auto masquerade = optional_bool(*firewall, "masquerade")) policy_.masquerade_lan = *masquerade;
        if (auto group = optional_integer(*firewall, "log_drops", 0, 65535, "an NFLOG group number"))
            policy_.logging.drop_group = static_cast<std::uint16_t>(*group);
        if (auto rate = optional_integer(*firewall, "log_rate", 1, 100000, "logged drops per second"))
            policy_.logging.drop_rate_per_second = static_cast<std::uint32_t>(*rate);

        // Only when the mode is certain: a misspelt mode must not add a cascade of host-mode warnings.
        if (mode_known && policy_.mode == Mode::host) {
            if (policy_.lan_interface)
                diag_.warning(notes_.lan, "lan has no effect in host mode (it names the interface facing the VPN "
                                          "server in gateway mode)");
            if (policy_.masquerade_lan)
                diag_.warning(at(*firewall->get("masquerade")), "masquerade has no effect in host mode");
            if (!policy_.wan_addresses.empty())
                diag_.warning(notes_.wan_address,
                              "wan_address has no effect in host mode (it limits DNAT in gateway mode)");
        }
    }

    void read_duration(const toml::table& table, std::string_view key, std::uint32_t& out) {
        const toml::node* node = table.get(key);
        if (!node) return;
        Result<std::uint32_t> seconds = fail("");
        if (const auto* number = node->as_integer()) {
            seconds = check_duration_seconds(number->get());
        } else if (const auto* text = node->as_string()) {
            seconds = parse_duration(text->get());
        } else {
            diag_.error(at(*node), std::string(key) + " is " + describe(*node) +
                                       "; expected a duration such as \"30s\", \"5m\", \"1h\", \"7d\" or integer seconds");
            return;
        }
        if (!seconds) {
            diag_.error(at(*node), std::string(key) + ": " + seconds.error().message);
            return;
        }
        out = *seconds;
    }

    // A number in a range whose ends are open or closed as given (integers count as numbers).
    std::optional<double> optional_number(const toml::table& table, std::string_view key, double min,
                                          bool min_inclusive, double max, bool max_inclusive,
                                          std::string_view meaning) {
        const toml::node* node = table.get(key);
        if (!node) return std::nullopt;
        std::optional<double> value;
        if (const auto* number = node->as_floating_point()) value = number->get();
        else if (const auto* integer = node->as_integer()) value = static_cast<double>(integer->get());
        std::ostringstream expected;
        expected << "a number " << (min_inclusive ? "from " : "above ") << min
                 << (max_inclusive ? " to " : " and below ") << max << " (" << meaning << ")";
        if (!value) {
            diag_.error(at(*node), std::string(key) + " is " + describe(*node) + "; expected " + expected.str());
            return std::nullopt;
        }
        bool low_ok = min_inclusive ? *value >= min : *value > min;
        bool high_ok = max_inclusive ? *value <= max : *value < max;
        if (!low_ok || !high_ok) {
            diag_.error(at(*node), std::string(key) + " is " + describe(*node) + ", out of range; expected " +
                                       expected.str());
            return std::nullopt;
        }
        return value;
    }

    // Where to point for a finding about `key`: the key's value, else the table itself.
    Location where_of(const toml::table& table, std::string_view key) const {
        const toml::node* node = table.get(key);
        return node ? at(*node) : at(table);
    }

    void read_detect(const toml::table& root) {
        const toml::table* detect = section(root, "detect");
        if (!detect) return;
        Detect& d = policy_.detect;
        d.where = at(*detect);
        d.enabled = true;
        check_keys(*detect, kDetectKeys, "[detect]");
        if (auto enabled = optional_bool(*detect, "enabled")) d.enabled = *enabled;
        auto probability = [&](std::string_view key, std::string_view meaning, double& out) {
            if (auto v = optional_number(*detect, key, 0, false, 1, false, meaning)) out = *v;
        };
        probability("theta0", "probability that a benign source's first contact succeeds", d.theta0);
        probability("theta1", "probability that a scanner's first contact succeeds", d.theta1);
        probability("p_d", "wanted detection probability", d.detection_probability);
        probability("p_f", "tolerated false positive probability", d.false_positive_probability);
        if (d.theta1 >= d.theta0)
            diag_.error(where_of(*detect, detect->get("theta1") ? "theta1" : "theta0"),
                        "theta1 must be below theta0 (a scanner's first contacts succeed less often than a "
                        "benign source's)");
        if (d.false_positive_probability >= d.detection_probability)
            diag_.error(where_of(*detect, detect->get("p_f") ? "p_f" : "p_d"), "p_f must be below p_d");
        if (auto v = optional_integer(*detect, "window_ports", 2, 65535, "distinct failed ports that flag a source"))
            d.window_ports = static_cast<std::uint16_t>(*v);
        read_duration(*detect, "window", d.window_seconds);
        read_duration(*detect, "ban_base", d.ban_base_seconds);
        read_duration(*detect, "ban_cap", d.ban_cap_seconds);
        if (d.ban_cap_seconds < d.ban_base_seconds)
            diag_.error(where_of(*detect, detect->get("ban_cap") ? "ban_cap" : "ban_base"),
                        "ban_cap (" + std::to_string(d.ban_cap_seconds) + "s) is shorter than ban_base (" +
                            std::to_string(d.ban_base_seconds) + "s)");
        if (auto v = optional_number(*detect, "jitter", 0, true, 0.5, true, "0 for none, 0.1 for +/-10%"))
            d.jitter = *v;
        if (auto v = optional_integer(*detect, "ipv6_prefix", 64, 128, "64 bans IPv6 per /64, 128 per address")) {
            if (*v != 64 && *v != 128)
                diag_.error(where_of(*detect, "ipv6_prefix"),
                            "ipv6_prefix is " + std::to_string(*v) + "; expected 64 or 128");
            else
                d.ipv6_prefix = static_cast<std::uint8_t>(*v);
        }
        if (auto v = optional_integer(*detect, "max_sources", 1, 16777216, "tracked sources before LRU eviction"))
            d.max_sources = static_cast<std::uint32_t>(*v);
        if (d.enabled && !policy_.logging.drop_group)
            diag_.error(d.where, "[detect] reads the logged drops: set log_drops = <NFLOG group> in [firewall]");
    }

    void read_runtime(const toml::table& root) {
        const toml::table* runtime = section(root, "runtime");
        if (!runtime) return;
        check_keys(*runtime, kRuntimeKeys, "[runtime]");
        read_duration(*runtime, "grant_timeout", policy_.runtime.default_grant_seconds);
        read_duration(*runtime, "ban_timeout", policy_.runtime.default_ban_seconds);
    }

    // Port strings of one owner, parsed; exact repeats are dropped with a warning.
    void read_ports(const std::vector<Located>& entries, std::string_view owner, std::vector<PortSpec>& out) {
        for (const auto& entry : entries) {
            auto spec = parse_port_spec(entry.text);
            if (!spec) {
                diag_.error(entry.where, "ports: " + spec.error().message);
                continue;
            }
            spec->where = entry.where;
            auto same = std::find(out.begin(), out.end(), *spec);
            if (same != out.end()) {
                std::string origin = same->where.line == entry.where.line
                                         ? std::string("already")
                                         : "already at line " + std::to_string(same->where.line);
                diag_.warning(entry.where, std::string(owner) + " lists " + format_port_spec(*spec) + " " + origin +
                                               "; the repeat is ignored");
                continue;
            }
            out.push_back(*spec);
        }
    }

    // Prefix entries; "any" is handled by the caller. Returns the prefixes with their locations,
    // with exact repeats and prefixes inside another entry removed (with a warning each).
    void read_prefixes(const std::vector<Located>& entries, std::string_view key, std::vector<Prefix>& prefixes,
                       std::vector<Location>& locations) {
        struct Entry {
            Prefix prefix;
            Location where;
            std::size_t order;
        };
        std::vector<Entry> parsed;
        for (const auto& entry : entries) {
            if (entry.text == "any") continue;
            auto prefix = Prefix::parse(entry.text);
            if (!prefix) {
                diag_.error(entry.where, std::string(key) + ": " + prefix.error().message +
                                             (prefix.error().message.find("host bits") == std::string::npos
                                                  ? " (expected an IPv4 or IPv6 address or CIDR such as "
                                                    "\"192.0.2.0/24\" or \"2001:db8::/32\")"
                                                  : ""));
                continue;
            }
            parsed.push_back({*prefix, entry.where, parsed.size()});
        }
        // Sorted by network then length, a covering prefix comes before everything it covers; a
        // stack of nested prefixes finds each covered entry in O(n log n), even for 10,000 CIDRs.
        std::vector<const Entry*> order;
        for (const auto& entry : parsed) order.push_back(&entry);
        std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
            if (a->prefix != b->prefix) return a->prefix < b->prefix;
            return a->order < b->order;
        });
        std::vector<bool> keep(parsed.size(), true);
        std::vector<const Entry*> open;
        for (const Entry* entry : order) {
            while (!open.empty() && !open.back()->prefix.contains(entry->prefix.address)) open.pop_back();
            if (!open.empty()) {
                const Entry* cover = open.back();
                const Entry* redundant = entry;
                // Report at the later one in the file when both say the same thing.
                if (cover->prefix == entry->prefix && cover->order > entry->order) std::swap(cover, redundant);
                keep[redundant->order] = false;
                std::string message =
                    cover->prefix == redundant->prefix
                        ? std::string(key) + " lists " + redundant->prefix.to_string() + " twice (also at line " +
                              std::to_string(cover->where.line) + "); the repeat is ignored"
                        : std::string(key) + " entry " + redundant->prefix.to_string() + " is inside " +
                              cover->prefix.to_string() + " (line " + std::to_string(cover->where.line) +
                              "); it adds nothing and is ignored";
                diag_.warning(redundant->where, message);
                if (cover != open.back()) open.back() = cover;
                continue;
            }
            open.push_back(entry);
        }
        for (const auto& entry : parsed) {
            if (!keep[entry.order]) continue;
            prefixes.push_back(entry.prefix);
            locations.push_back(entry.where);
        }
    }

    void read_management(const toml::table& root) {
        const toml::table* management = section(root, "management");
        if (!management) return;
        policy_.management.where = at(*management);
        check_keys(*management, kManagementKeys, "[management]");

        bool sources_present = false, ports_present = false;
        Location sources_where, ports_where;
        auto sources = string_list(*management, "sources", "an address or CIDR such as \"203.0.113.10\"",
                                   sources_present, sources_where);
        auto ports = string_list(*management, "ports", "a port such as \"tcp/22\"", ports_present, ports_where);
        for (const auto& entry : sources) {
            if (entry.text == "any")
                diag_.error(entry.where, "management sources cannot be \"any\": management access bypasses every "
                                         "guard and ban; expected the addresses or CIDRs you administer from");
        }
        std::vector<Location> ignored;
        read_prefixes(sources, "sources", policy_.management.sources, ignored);
        for (const auto& source : policy_.management.sources) {
            if (source.length == 0)
                diag_.warning(policy_.management.where,
                              "management sources include " + source.to_string() +
                                  ", every " + (source.address.family == Family::ipv4 ? "IPv4" : "IPv6") +
                                  " address: management ports are open to the whole internet");
        }
        read_ports(ports, "management", policy_.management.ports);

        notes_.management_present = !sources.empty() || !ports.empty();
        if (!sources.empty() && !ports_present)
            diag_.error(policy_.management.where,
                        "[management] has sources but no ports; expected ports = [\"tcp/22\"] or similar");
        else if (!sources.empty() && ports.empty())
            diag_.error(ports_where, "management ports is empty but sources are given; expected at least one "
                                     "port such as \"tcp/22\"");
        if (!ports.empty() && !sources_present)
            diag_.error(policy_.management.where,
                        "[management] has ports but no sources; expected sources = [\"203.0.113.10\"] or similar");
        else if (!ports.empty() && sources.empty())
            diag_.error(sources_where, "management sources is empty but ports are given; expected at least one "
                                       "address or CIDR");
    }

    void read_services(const toml::table& root) {
        const toml::node* node = root.get("service");
        if (!node) return;
        const toml::array* services = node->as_array();
        if (!services) {
            diag_.error(at(*node), "service is " + describe(*node) +
                                       "; expected [[service]] (double brackets: one block per service)");
            return;
        }
        std::map<std::string, Location, std::less<>> names;
        std::size_t index = 0;
        for (const auto& element : *services) {
            ++index;
            const toml::table* table = element.as_table();
            if (!table) {
                diag_.error(at(element), "service entry is " + describe(element) + "; expected a [[service]] table");
                continue;
            }
            read_service(*table, index, names);
        }
    }

    void read_service(const toml::table& table, std::size_t index, std::map<std::string, Location, std::less<>>& names) {
        Service service;
        ServiceNotes notes;
        service.where = at(table);
        check_keys(table, kServiceKeys, "[[service]]");

        std::string label = "service #" + std::to_string(index);
        if (!table.get("name")) {
            diag_.error(service.where, "service #" + std::to_string(index) +
                                           " has no name; expected name = \"...\" ([a-z0-9][a-z0-9_-]{0,31})");
        } else if (auto name = optional_string(table, "name", "a name such as \"vpn\"")) {
            auto checked = check_service_name(name->text);
            if (!checked) {
                diag_.error(name->where, checked.error().message);
            } else if (auto seen = names.find(*checked); seen != names.end()) {
                diag_.error(name->where, "duplicate service name " + in_quotes(*checked) + " (first used at line " +
                                             std::to_string(seen->second.line) + "); expected unique names");
            } else {
                names.emplace(*checked, name->where);
            }
            service.name = name->text;
            label = "service " + in_quotes(name->text);
        }

        const Preset* preset = nullptr;
        if (auto preset_name = optional_string(table, "preset", "a preset name such as \"ikev2\"")) {
            notes.preset = preset_name->where;
            preset = find_preset(preset_name->text);
            if (!preset) {
                auto names_list = preset_names();
                std::string message = "unknown preset " + in_quotes(preset_name->text) + "; expected one of " +
                                      join_quoted(names_list);
                if (auto suggestion = closest_match(preset_name->text, names_list))
                    message += " (did you mean " + in_quotes(*suggestion) + "?)";
                diag_.error(preset_name->where, message);
            } else {
                service.preset = std::string(preset->name);
                service.explanation = std::string(preset->explanation);
                service.l2tp_only_inside_ipsec = preset->l2tp_only_inside_ipsec;
                service.pptp_helper = preset->pptp_helper;
                for (auto spec : preset_port_specs(*preset)) {
                    spec.where = preset_name->where;
                    service.ports.push_back(spec);
                }
            }
        }

        bool ports_present = false;
        Location ports_where;
        auto explicit_ports = string_list(table, "ports", "a port such as \"tcp/443\"", ports_present, ports_where);
        std::size_t from_preset = service.ports.size();
        // Repeats of the preset's own ports: say so once per port, then ignore them.
        std::vector<Located> extra;
        for (const auto& entry : explicit_ports) {
            auto spec = parse_port_spec(entry.text);
            if (spec && std::find(service.ports.begin(), service.ports.begin() + static_cast<std::ptrdiff_t>(from_preset),
                                  *spec) != service.ports.begin() + static_cast<std::ptrdiff_t>(from_preset)) {
                diag_.warning(entry.where, label + ": " + format_port_spec(*spec) + " is already part of preset " +
                                               in_quotes(service.preset.value_or("")) + "; the repeat is ignored");
                continue;
            }
            extra.push_back(entry);
        }
        std::vector<PortSpec> explicit_specs;
        read_ports(extra, label, explicit_specs);
        service.ports.insert(service.ports.end(), explicit_specs.begin(), explicit_specs.end());

        if (!preset && !table.get("preset") && !ports_present)
            diag_.error(service.where, label + " exposes nothing; expected preset = \"...\" (one of " +
                                           join_quoted(preset_names()) + ") or ports = [...]");
        else if (!table.get("preset") && table.get("ports")->is_array() && table.get("ports")->as_array()->empty())
            diag_.error(ports_where, label + " has an empty ports list and no preset; expected at least one port");
        if (service.explanation.empty()) service.explanation = "explicit ports";

        for (const auto& spec : explicit_specs) {
            if (spec.protocol == IpProtocol::udp && spec.ports && spec.ports->first <= 1701 && spec.ports->last >= 1701)
                diag_.warning(spec.where, label + " exposes raw L2TP (" + format_port_spec(spec) +
                                              ") outside IPsec: L2TP itself has no encryption; use preset "
                                              "\"l2tp-ipsec\", which accepts UDP 1701 only inside IPsec");
            if (!service.pptp_helper && spec.protocol == IpProtocol::tcp && spec.ports && spec.ports->first <= 1723 &&
                spec.ports->last >= 1723)
                diag_.warning(spec.where, label + " exposes tcp/1723 (PPTP) without preset \"pptp\": no conntrack "
                                              "helper is assigned, so the PPTP GRE tunnel will not be tracked");
        }
        if (service.pptp_helper)
            diag_.warning(notes.preset, label + " uses PPTP, whose MS-CHAPv2/MPPE authentication and encryption "
                                                "are broken; prefer ikev2 or wireguard");

        if (auto target = optional_string(table, "forward_to", "an address such as \"192.0.2.10\"")) {
            notes.forward_to = target->where;
            auto parsed = parse_forward_target(target->text);
            if (!parsed)
                diag_.error(target->where, "forward_to: " + parsed.error().message);
            else
                service.forward_to = *parsed;
        }

        read_allow_from(table, label, service, notes);

        static constexpr std::array<std::string_view, 4> kGuards{"none", "grant", "knock", "spa"};
        if (auto value = choice(table, "guard", kGuards)) {
            service.guard = *value == "grant" ? Guard::grant
                            : *value == "knock" ? Guard::knock
                            : *value == "spa"   ? Guard::spa
                                                : Guard::none;
            if (service.guard == Guard::spa) notes.guard = at(*table.get("guard"));
        }
        read_knock(table, label, service);
        read_flood(table, service);
        if (auto conformance = optional_bool(table, "conformance")) service.conformance = *conformance;
        if (auto aggressive = optional_bool(table, "drop_ikev1_aggressive")) service.drop_ikev1_aggressive = *aggressive;
        if (auto trusted = optional_bool(table, "trusted")) service.trusted = *trusted;

        policy_.services.push_back(std::move(service));
        notes_.services.push_back(std::move(notes));
    }

    // "N/s" (packets per second, 1..1000000), or "off" when `off_allowed`.
    std::optional<std::uint32_t> read_rate(const toml::table& table, std::string_view key, bool off_allowed,
                                           bool& off) {
        off = false;
        auto value = optional_string(table, key, "a rate such as \"5/s\"");
        if (!value) return std::nullopt;
        if (off_allowed && value->text == "off") {
            off = true;
            return std::nullopt;
        }
        const std::string& text = value->text;
        auto slash = text.find('/');
        std::uint64_t number = 0;
        bool digits = slash != std::string::npos && slash > 0 && slash <= 7;
        for (std::size_t i = 0; digits && i < slash; ++i) {
            if (text[i] < '0' || text[i] > '9') digits = false;
            else number = number * 10 + static_cast<std::uint64_t>(text[i] - '0');
        }
        std::string unit = slash == std::string::npos ? "" : text.substr(slash + 1);
        if (!digits || (unit != "s" && unit != "second") || number == 0 || number > 1000000) {
            diag_.error(value->where, std::string(key) + " is " + in_quotes(text) +
                                          "; expected packets per second such as \"5/s\" (1-1000000)" +
                                          (off_allowed ? " or \"off\"" : ""));
            return std::nullopt;
        }
        return static_cast<std::uint32_t>(number);
    }

    void read_flood(const toml::table& table, Service& service) {
        bool off = false;
        if (auto rate = read_rate(table, "ike_init_limit", true, off)) service.ike_init.per_source_per_second = *rate;
        if (off) service.ike_init.enabled = false;
        if (auto burst = optional_integer(table, "ike_init_burst", 1, 100000, "packets above the rate"))
            service.ike_init.burst_packets = static_cast<std::uint32_t>(*burst);
        bool global_off = false;
        if (auto global = read_rate(table, "ike_init_global_limit", true, global_off))
            service.ike_init.global_per_second = *global;
        if (global_off) service.ike_init.global_per_second.reset();
        bool control_off = false;
        if (auto rate = read_rate(table, "control_limit", true, control_off))
            service.control.per_source_per_second = *rate;
        if (control_off) service.control.enabled = false;
        if (auto burst = optional_integer(table, "control_burst", 1, 100000, "packets above the rate"))
            service.control.burst_packets = static_cast<std::uint32_t>(*burst);
        read_global(table, "control_global_limit", "control_global_burst", service.control.global_per_second,
                    service.control.global_burst_packets);
    }

    // A global (all sources together) limit: "N/s" or "off", and its burst.
    void read_global(const toml::table& table, std::string_view rate_key, std::string_view burst_key,
                     std::optional<std::uint32_t>& rate, std::uint32_t& burst) {
        bool off = false;
        if (auto value = read_rate(table, rate_key, true, off)) rate = *value;
        if (off) rate.reset();
        if (auto value = optional_integer(table, burst_key, 1, 1000000, "packets above the global rate"))
            burst = static_cast<std::uint32_t>(*value);
    }

    // [service.knock]: required with guard = "knock", refused without it.
    void read_knock(const toml::table& table, const std::string& label, Service& service) {
        const toml::node* node = table.get("knock");
        if (!node) {
            if (service.guard == Guard::knock)
                diag_.error(service.where, label + " has guard = \"knock\" but no knock table; expected "
                                                   "knock = { sequence = [\"tcp/7000\", \"udp/8000\", \"tcp/9000\"] }");
            return;
        }
        const toml::table* knock_table = node->as_table();
        if (!knock_table) {
            diag_.error(at(*node), "knock is " + describe(*node) + "; expected a table such as [service.knock]");
            return;
        }
        if (service.guard != Guard::knock) {
            diag_.error(at(*node), label + " has a knock table but guard is not \"knock\"; expected guard = \"knock\"");
            return;
        }
        check_keys(*knock_table, kKnockKeys, "[service.knock]");
        Knock knock;
        knock.where = at(*node);
        bool present = false;
        Location where = knock.where;
        auto steps = string_list(*knock_table, "sequence", "a knock such as \"tcp/7000\"", present, where);
        for (const auto& entry : steps) {
            auto spec = parse_port_spec(entry.text);
            if (!spec) {
                diag_.error(entry.where, "knock sequence: " + spec.error().message);
                continue;
            }
            if ((spec->protocol != IpProtocol::tcp && spec->protocol != IpProtocol::udp) || !spec->ports ||
                spec->ports->first != spec->ports->last) {
                diag_.error(entry.where, "knock sequence entry " + in_quotes(entry.text) +
                                             " is not a single TCP or UDP port; expected e.g. \"tcp/7000\"");
                continue;
            }
            KnockStep step{spec->protocol, spec->ports->first, entry.where};
            if (std::find(knock.sequence.begin(), knock.sequence.end(), step) != knock.sequence.end()) {
                diag_.error(entry.where, "knock sequence repeats " + format_port_spec(*spec) +
                                             "; expected distinct steps (a repeat cannot be told from a retransmission)");
                continue;
            }
            knock.sequence.push_back(step);
        }
        if (!present)
            diag_.error(knock.where, label + ": knock has no sequence; expected sequence = [\"tcp/7000\", ...]");
        else if (steps.size() < 2)
            diag_.error(where, label + ": a knock sequence needs at least 2 steps");
        read_duration(*knock_table, "step_timeout", knock.step_timeout_seconds);
        read_duration(*knock_table, "open_for", knock.open_for_seconds);
        static constexpr std::array<std::string_view, 2> kFlags{"syn", "any"};
        if (auto flags = choice(*knock_table, "tcp_flags", kFlags)) knock.tcp_syn_only = *flags == "syn";
        if (auto group = optional_integer(*knock_table, "log_group", 0, 65535, "an NFLOG group"))
            knock.log_group = static_cast<std::uint16_t>(*group);
        bool rate_off = false;
        if (auto rate = read_rate(*knock_table, "rate_limit", true, rate_off)) knock.rate.per_source_per_second = *rate;
        if (rate_off) knock.rate.enabled = false;
        if (auto burst = optional_integer(*knock_table, "rate_burst", 1, 100000, "packets above the rate"))
            knock.rate.burst_packets = static_cast<std::uint32_t>(*burst);
        read_global(*knock_table, "global_limit", "global_burst", knock.rate.global_per_second,
                    knock.rate.global_burst_packets);
        service.knock = std::move(knock);
    }

    // [spa] and its [[spa.key]] stanzas (issue 4). Cross-checks against the services follow in
    // check_spa(), once every service has been read.
    void read_spa(const toml::table& root) {
        const toml::table* table = section(root, "spa");
        if (!table) return;
        Spa spa;
        spa.where = at(*table);
        check_keys(*table, kSpaKeys, "[spa]");
        spa.port_where = spa.where;
        if (auto port = optional_integer(*table, "port", 1, 65535, "the UDP port SPA packets arrive on")) {
            spa.port = static_cast<std::uint16_t>(*port);
            spa.port_where = at(*table->get("port"));
        }
        if (const toml::node* window = table->get("window")) {
            std::uint32_t seconds = spa.window_seconds;
            read_duration(*table, "window", seconds);
            if (seconds < 10 || seconds > 3600)
                diag_.error(at(*window), "window is " + std::to_string(seconds) +
                                             "s; expected 10s-1h (how far a packet's timestamp may be from now)");
            else
                spa.window_seconds = seconds;
        }
        bool off = false;
        if (auto rate = read_rate(*table, "rate_limit", false, off)) spa.per_source_per_second = *rate;
        if (auto burst = optional_integer(*table, "rate_burst", 1, 100000, "packets above the rate"))
            spa.burst_packets = static_cast<std::uint32_t>(*burst);
        read_global(*table, "global_limit", "global_burst", spa.global_per_second, spa.global_burst_packets);
        if (auto group = optional_integer(*table, "log_group", 0, 65535, "a dedicated NFLOG group for SPA packets"))
            spa.log_group = static_cast<std::uint16_t>(*group);
        static constexpr std::array<std::string_view, 2> kPriorities{"realtime", "normal"};
        if (auto priority = choice(*table, "priority", kPriorities)) spa.realtime = *priority == "realtime";

        std::map<std::string, Location, std::less<>> names;
        if (const toml::node* keys = table->get("key")) {
            const toml::array* array = keys->as_array();
            if (!array) {
                diag_.error(at(*keys), "key is " + describe(*keys) +
                                           "; expected [[spa.key]] stanzas (double brackets: one per user)");
            } else {
                for (const auto& element : *array) {
                    const toml::table* stanza = element.as_table();
                    if (!stanza) {
                        diag_.error(at(element), "spa key entry is " + describe(element) +
                                                     "; expected a [[spa.key]] table");
                        continue;
                    }
                    if (auto key = read_spa_key(*stanza, spa.keys.size() + 1, names)) spa.keys.push_back(std::move(*key));
                }
            }
        }
        if (spa.keys.empty() && !table->get("key"))
            diag_.warning(spa.where, "[spa] has no [[spa.key]]: nobody can open an SPA-guarded service");
        policy_.spa = std::move(spa);
    }

    std::optional<SpaKeyConfig> read_spa_key(const toml::table& table, std::size_t index,
                                             std::map<std::string, Location, std::less<>>& names) {
        SpaKeyConfig key;
        key.where = at(table);
        check_keys(table, kSpaKeyKeys, "[[spa.key]]");
        bool ok = true;
        std::string label = "spa key #" + std::to_string(index);
        if (!table.get("name")) {
            diag_.error(key.where, label + " has no name; expected name = \"...\" ([a-z0-9][a-z0-9_-]{0,31})");
            ok = false;
        } else if (auto name = optional_string(table, "name", "a name such as \"alice\"")) {
            auto checked = check_service_name(name->text);
            if (!checked) {
                std::string message = checked.error().message;
                if (message.rfind("service name", 0) == 0) message.replace(0, 12, "spa key name");
                diag_.error(name->where, message);
                ok = false;
            } else if (auto seen = names.find(*checked); seen != names.end()) {
                diag_.error(name->where, "duplicate spa key name " + in_quotes(*checked) + " (first used at line " +
                                             std::to_string(seen->second.line) + "); expected unique names");
                ok = false;
            } else {
                names.emplace(*checked, name->where);
                key.name = *checked;
                label = "spa key " + in_quotes(key.name);
            }
        } else {
            ok = false;
        }

        auto inline_key = optional_string(table, "key", "the base64 KEY_BASE64 of `fwknop --key-gen`");
        auto inline_hmac = optional_string(table, "hmac_key", "the base64 HMAC_KEY_BASE64 of `fwknop --key-gen`");
        auto file = optional_string(table, "key_file", "the path of a key file (mode 0600)");
        auto stanza = optional_string(table, "key_stanza", "the [stanza] of the key file to use");
        if (file && (inline_key || inline_hmac)) {
            diag_.error(file->where, label + " has both key_file and inline keys; expected one or the other");
            ok = false;
        } else if (file) {
            std::filesystem::path path(file->text);
            if (path.is_relative()) {
                std::filesystem::path policy_dir = std::filesystem::path(policy_.source_path).parent_path();
                if (!policy_dir.empty()) path = policy_dir / path;
            }
            auto material = auth::load_key_file(path.string(), stanza ? std::optional<std::string_view>(stanza->text)
                                                                      : std::nullopt);
            if (!material) {
                diag_.error(file->where, "key_file: " + material.error().message);
                ok = false;
            } else {
                key.key = std::move(material->key);
                key.hmac_key = std::move(material->hmac_key);
                key.key_file = path.string();
            }
        } else if (inline_key || inline_hmac) {
            if (stanza) diag_.error(stanza->where, "key_stanza applies only with key_file");
            if (!inline_key || !inline_hmac) {
                diag_.error((inline_key ? inline_key : inline_hmac)->where,
                            label + " has " + (inline_key ? "key but no hmac_key" : "hmac_key but no key") +
                                "; expected both (an HMAC key is required)");
                ok = false;
            } else {
                // Each key is checked on its own (beside a well-formed stand-in for the other) so
                // that each error points at the value that is wrong.
                auto material = auth::key_material_from_base64(inline_key->text, "AAAAAAAAAAAAAAAAAAAAAA==");
                if (!material) {
                    diag_.error(inline_key->where, "key: " + material.error().message +
                                                       " (expected KEY_BASE64 as `fwknop --key-gen` prints it)");
                    ok = false;
                }
                auto hmac = auth::key_material_from_base64("AA==", inline_hmac->text);
                if (!hmac) {
                    diag_.error(inline_hmac->where, "hmac_key: " + hmac.error().message +
                                                        " (expected HMAC_KEY_BASE64 as `fwknop --key-gen` prints it)");
                    ok = false;
                }
                if (material && hmac) {
                    key.key = std::move(material->key);
                    key.hmac_key = std::move(hmac->hmac_key);
                }
            }
        } else {
            diag_.error(key.where, label + " has no keys; expected key + hmac_key (base64) or key_file = \"...\"");
            ok = false;
        }

        bool present = false;
        Location services_where = key.where;
        auto services = string_list(table, "services", "a service name", present, services_where);
        if (!present) {
            diag_.error(key.where, label + " has no services; expected services = [\"...\"] naming the SPA-guarded "
                                           "services it may open");
            ok = false;
        } else if (services.empty() && table.get("services")->is_array()) {
            diag_.error(services_where, label + ": services is empty; expected at least one service name");
            ok = false;
        }
        for (const auto& entry : services) {
            if (std::find(key.services.begin(), key.services.end(), entry.text) != key.services.end()) {
                diag_.warning(entry.where, label + " lists service " + in_quotes(entry.text) +
                                               " twice; the repeat is ignored");
                continue;
            }
            key.services.push_back(entry.text);
            key.service_where.push_back(entry.where);
        }
        read_duration(table, "max_open", key.max_open_seconds);
        if (auto embedded = optional_bool(table, "allow_embedded_address")) key.allow_embedded_address = *embedded;
        Location sources_where = key.where;
        auto sources = string_list(table, "sources", "an address or CIDR such as \"198.51.100.0/24\"", present,
                                   sources_where);
        for (const auto& entry : sources)
            if (entry.text == "any")
                diag_.error(entry.where, label + ": sources cannot be \"any\"; leave sources out to accept the key "
                                                 "from anywhere");
        std::vector<Location> ignored;
        read_prefixes(sources, "sources", key.sources, ignored);
        if (!ok) return std::nullopt;
        return key;
    }

    // After every service is known: key services must name SPA-guarded services, and every
    // SPA-guarded service needs [spa] and a key that may open it.
    void check_spa() {
        bool any_spa_service = false;
        for (std::size_t i = 0; i < policy_.services.size(); ++i) {
            const Service& service = policy_.services[i];
            if (service.guard != Guard::spa) continue;
            any_spa_service = true;
            const Location& where = notes_.services[i].guard;
            if (!policy_.spa) {
                diag_.error(where, "service " + in_quotes(service.name) +
                                       " has guard = \"spa\" but the policy has no [spa] section; expected [spa] "
                                       "with at least one [[spa.key]] whose services include it");
                continue;
            }
            bool opened_by_some_key = false;
            for (const auto& key : policy_.spa->keys)
                opened_by_some_key |= std::find(key.services.begin(), key.services.end(), service.name) !=
                                      key.services.end();
            if (!opened_by_some_key)
                diag_.warning(where, "service " + in_quotes(service.name) +
                                         " has guard = \"spa\" but no [[spa.key]] lists it: nobody can open it");
        }
        if (!policy_.spa) return;
        for (const auto& key : policy_.spa->keys) {
            for (std::size_t i = 0; i < key.services.size(); ++i) {
                const std::string& name = key.services[i];
                auto it = std::find_if(policy_.services.begin(), policy_.services.end(),
                                       [&](const Service& s) { return s.name == name; });
                if (it == policy_.services.end()) {
                    std::vector<std::string_view> known;
                    for (const auto& s : policy_.services)
                        if (s.guard == Guard::spa) known.push_back(s.name);
                    std::string message = "spa key " + in_quotes(key.name) + " names service " + in_quotes(name) +
                                          ", which does not exist";
                    if (auto suggestion = closest_match(name, known))
                        message += " (did you mean " + in_quotes(*suggestion) + "?)";
                    diag_.error(key.service_where[i], message);
                } else if (it->guard != Guard::spa) {
                    diag_.error(key.service_where[i], "spa key " + in_quotes(key.name) + " names service " +
                                                          in_quotes(name) + ", which is not guarded by SPA; expected "
                                                          "guard = \"spa\" on that service");
                }
            }
        }
        if (!any_spa_service && !policy_.spa->keys.empty())
            diag_.warning(policy_.spa->where, "[spa] is defined but no service has guard = \"spa\"; SPA packets are "
                                              "not accepted");
        if (policy_.logging.drop_group && *policy_.logging.drop_group == policy_.spa->log_group)
            diag_.error(policy_.spa->where, "[spa] log_group " + std::to_string(policy_.spa->log_group) +
                                                " is also firewall.log_drops; expected a dedicated NFLOG group");
        for (const auto& service : policy_.services)
            if (service.knock && service.knock->log_group && *service.knock->log_group == policy_.spa->log_group)
                diag_.error(service.knock->where, "knock log_group " + std::to_string(policy_.spa->log_group) +
                                                      " is also [spa] log_group; expected a dedicated NFLOG group "
                                                      "for SPA");
    }

    void read_allow_from(const toml::table& table, const std::string& label, Service& service, ServiceNotes& notes) {
        bool present = false;
        auto entries = string_list(table, "allow_from", "\"any\" or an address or CIDR such as \"192.0.2.0/24\"",
                                   present, notes.allow_from);
        if (!present) {
            diag_.error(service.where, label + " has no allow_from; expected allow_from = [\"any\"] or a list of "
                                               "addresses/CIDRs allowed to reach it");
            return;
        }
        const toml::node* node = table.get("allow_from");
        if (node->is_array() && node->as_array()->empty()) {
            diag_.error(notes.allow_from, label + ": allow_from is empty, so nobody could reach the service; "
                                                  "expected \"any\" or at least one address or CIDR");
            return;
        }
        bool any = false;
        const Located* first_any = nullptr;
        for (const auto& entry : entries) {
            if (entry.text == "any") {
                if (any) diag_.warning(entry.where, label + ": allow_from lists \"any\" twice; the repeat is ignored");
                any = true;
                if (!first_any) first_any = &entry;
            }
        }
        read_prefixes(entries, "allow_from", service.allow_from, notes.allow_from_entries);
        if (any) {
            service.allow_any = true;
            if (!service.allow_from.empty())
                diag_.warning(first_any->where, label + ": allow_from mixes \"any\" with addresses/CIDRs; \"any\" "
                                                        "already allows everyone, so the others are ignored");
            service.allow_from.clear();
            notes.allow_from_entries.clear();
        }
    }
};

LoadResult finish(Diagnostics& diagnostics, Policy policy) {
    LoadResult result;
    result.diagnostics = diagnostics.sorted();
    if (diagnostics.error_count() > 0) return result;
    for (const auto& diagnostic : result.diagnostics)
        if (diagnostic.severity == Severity::warning) policy.warnings.push_back(diagnostic);
    result.policy = std::move(policy);
    return result;
}

}  // namespace

LoadResult load_string(std::string_view toml_text, const std::string& source_name) {
    Diagnostics diagnostics(source_name);
    Policy policy;
    policy.source_path = source_name;
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& error) {
        const auto& where = error.source().begin;
        diagnostics.error(diagnostics.at(where.line, where.column),
                          "TOML syntax error: " + std::string(error.description()));
        return finish(diagnostics, std::move(policy));
    } catch (const std::exception& error) {
        diagnostics.error(diagnostics.nowhere(), std::string("cannot parse the policy: ") + error.what());
        return finish(diagnostics, std::move(policy));
    }
    try {
        PolicyNotes notes;
        Reader reader(diagnostics, policy, notes);
        reader.read(root);
        detail::check_policy(policy, notes, diagnostics);
    } catch (const std::exception& error) {
        // Nothing above is meant to throw; if it does, the admin still gets a diagnostic, not a crash.
        diagnostics.error(diagnostics.nowhere(), std::string("internal error while checking the policy: ") + error.what());
    }
    return finish(diagnostics, std::move(policy));
}

LoadResult load_file(const std::string& path) {
    std::error_code ignored;
    if (std::filesystem::is_directory(path, ignored)) {
        LoadResult result;
        result.diagnostics.push_back({Severity::error, {path, 0, 0}, "is a directory; expected a policy file"});
        return result;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        LoadResult result;
        result.diagnostics.push_back({Severity::error, {path, 0, 0}, "cannot open the policy file"});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        LoadResult result;
        result.diagnostics.push_back({Severity::error, {path, 0, 0}, "cannot read the policy file"});
        return result;
    }
    return load_string(text.str(), path);
}

std::string format(const Diagnostic& diagnostic) {
    std::string out = diagnostic.where.file;
    if (diagnostic.where.line != 0) {
        out += ":" + std::to_string(diagnostic.where.line);
        if (diagnostic.where.column != 0) out += ":" + std::to_string(diagnostic.where.column);
    }
    out += diagnostic.severity == Severity::error ? ": error: " : ": warning: ";
    out += diagnostic.message;
    return out;
}

}  // namespace portcullis::policy
