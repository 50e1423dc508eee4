#include "simulate/simulator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/overloaded.hpp"
#include "compile/compile.hpp"

namespace portcullis::simulate {

namespace ir = compile::ir;

const char* verdict_name(Verdict verdict) {
    switch (verdict) {
        case Verdict::accept: return "accept";
        case Verdict::drop: return "drop";
        case Verdict::reject: return "reject";
        case Verdict::skip: return "skip";
    }
    return "drop";
}

const char* path_name(Path path) {
    switch (path) {
        case Path::none: return "none";
        case Path::input: return "input";
        case Path::forward: return "forward";
        case Path::output: return "output";
        case Path::reply: return "reply";
    }
    return "none";
}

// Standard nft priority names (and "name + N", "name - N", plain integers).
int priority_value(const std::string& text, bool* ok) {
    static const std::map<std::string, int> names{{"raw", -300},    {"mangle", -150}, {"dstnat", -100},
                                                  {"filter", 0},    {"security", 50}, {"srcnat", 100}};
    *ok = true;
    std::string name = text;
    int offset = 0;
    auto sign = text.find_first_of("+-", 1);
    if (sign != std::string::npos && text.find_first_not_of("-0123456789 ") != std::string::npos) {
        name = text.substr(0, sign);
        while (!name.empty() && name.back() == ' ') name.pop_back();
        char* end = nullptr;
        std::string number = text.substr(sign + 1);
        long value = std::strtol(number.c_str(), &end, 10);
        if (end == number.c_str()) {
            *ok = false;
            return 0;
        }
        offset = static_cast<int>(text[sign] == '-' ? -value : value);
    }
    auto it = names.find(name);
    if (it != names.end()) return it->second + offset;
    char* end = nullptr;
    long value = std::strtol(name.c_str(), &end, 10);
    if (name.empty() || *end != '\0') {
        *ok = false;
        return 0;
    }
    return static_cast<int>(value) + offset;
}

Box box_of(const policy::Policy& policy) {
    Box box;
    box.gateway = policy.mode == policy::Mode::gateway;
    box.wan_interfaces = policy.wan_interfaces;
    box.lan_interface = policy.lan_interface;
    box.own_addresses = policy.wan_addresses;
    for (const auto& service : policy.services) box.service_names.push_back(service.name);
    box.default_ban_seconds = policy.runtime.default_ban_seconds;
    return box;
}

namespace {

bool is_icmp_error(std::uint8_t family, std::uint8_t type) {
    if (family == 4) return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    return type < 128;
}

// ICMP types that may start a connection (nf_conntrack_proto_icmp{,v6}.c).
bool icmp_can_start(std::uint8_t family, std::uint8_t type) {
    if (family == 4) return type == 8 || type == 13 || type == 15 || type == 17;
    return type == 128 || type == 139;
}

// ICMPv6 neighbour discovery and MLD: conntrack leaves them untracked.
bool icmpv6_untracked(std::uint8_t type) {
    return (type >= 130 && type <= 136) || type == 143;
}

bool is_icmp_reply(std::uint8_t family, std::uint8_t type) {
    if (family == 4) return type == 0 || type == 14 || type == 16 || type == 18;
    return type == 129 || type == 140;
}

std::string element_text(const ir::Set& set, const ir::Element& element) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < element.key.size(); ++i)
        parts.push_back(ir::render(element.key[i], i < set.key.size() ? set.key[i] : ir::DataType::verdict));
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? " . " : "") + parts[i];
    std::visit(Overloaded{
                   [](const std::monostate&) {},
                   [&](const ir::Verdict& v) { out += " : " + ir::render(ir::Statement{ir::VerdictStmt{v}}); },
                   [&](const ir::NatTarget& t) {
                       out += " : " + t.address.to_string();
                       if (t.port) out += " . " + std::to_string(*t.port);
                   },
               },
               element.data);
    return out;
}

std::string runtime_element_text(const ir::Set& set, const RuntimeElement& element, double now) {
    std::string out = element_text(set, ir::Element{element.key, {}});
    if (element.expires != kNever)
        out += fmt::format(" (expires in {:.0f}s)", std::max(0.0, element.expires - now));
    return out;
}

struct Translation {
    Address source, destination;
    std::optional<std::uint16_t> source_port, destination_port;
};

}  // namespace

// ------------------------------------------------------------------------------------------------

struct Simulator::Impl {
    ir::Table table;
    Box box;
    Options options;
    Conntrack conntrack;
    std::map<std::string, std::vector<RuntimeElement>> runtime;  // set name → elements
    std::map<std::string, TokenBucket> named_limits;
    std::map<const void*, TokenBucket> rule_limits;
    std::map<std::string, CounterValue> counters;
    std::map<Tuple, std::uint64_t> unnat_replies;  // inverse of a DNATed original tuple → conn
    std::map<Tuple, std::uint64_t> unsnat_replies;  // inverse of a masqueraded original tuple → conn
    struct Datagram {
        std::vector<Packet> fragments;
        std::optional<std::string> iif;
        bool have_first = false;
        std::optional<std::uint32_t> end;
        std::uint32_t covered = 0;
    };
    std::map<std::tuple<std::uint8_t, Address, Address, std::uint8_t, std::uint32_t>, Datagram> datagrams;
    Summary totals;
    std::uint64_t connections_created = 0;
    bool anchored = false;
    // Rendered once at load: the per-packet path only looks texts up.
    std::map<const ir::Rule*, std::string> rule_texts;
    std::map<const ir::Element*, std::string> element_texts;
    std::map<ir::BaseChain::Hook, std::vector<const ir::Chain*>> chains_by_hook;

    void prepare() {
        for (const auto& chain : table.chains)
            for (const auto& rule : chain.rules) rule_texts[&rule] = ir::render(rule);
        for (const auto& set : table.sets)
            for (const auto& element : set.elements) element_texts[&element] = element_text(set, element);
        for (auto hook : {ir::BaseChain::Hook::prerouting, ir::BaseChain::Hook::input, ir::BaseChain::Hook::forward,
                          ir::BaseChain::Hook::output, ir::BaseChain::Hook::postrouting})
            chains_by_hook[hook] = sorted_hook_chains(hook);
    }
    const std::string& rule_text(const ir::Rule& rule) { return rule_texts[&rule]; }

    // Per-packet evaluation context.
    struct Context {
        const Packet* packet = nullptr;
        Translation now_as;  // addresses/ports as the packet carries them now (after NAT)
        std::string iif, oif;
        std::uint8_t ct_bits = 0;  // ir::CtStateBits; 0 when no conntrack entry
        Connection* connection = nullptr;  // existing entry
        Connection* tentative = nullptr;   // new entry, inserted on accept
        bool nat_done = false;
        bool unsnat = false;  // a masqueraded connection's reply, its destination restored
        std::optional<ir::NatTarget> dnat;
        std::optional<std::string> helper;
        double time = 0;
        Outcome* outcome = nullptr;
        std::string last_element;  // the latest set/map element matched on the path
    };

    Connection* ct_of(Context& c) const { return c.tentative ? c.tentative : c.connection; }

    // ---- fields ------------------------------------------------------------------------------

    std::optional<ir::Value> field(Context& c, ir::Field f) const {
        const Packet& p = *c.packet;
        auto host = [](const Address& a) {
            return ir::Value{Prefix{a, static_cast<std::uint8_t>(a.width_bits())}};
        };
        switch (f) {
            case ir::Field::meta_nfproto: return ir::Value{ir::Number{p.family}};
            case ir::Field::meta_l4proto: return ir::Value{ir::Proto{p.l4proto}};
            case ir::Field::iifname:
                if (c.iif.empty()) return std::nullopt;
                return ir::Value{ir::IfName{c.iif}};
            case ir::Field::oifname:
                if (c.oif.empty()) return std::nullopt;
                return ir::Value{ir::IfName{c.oif}};
            case ir::Field::ip_saddr:
                if (p.family != 4) return std::nullopt;
                return host(c.now_as.source);
            case ir::Field::ip_daddr:
                if (p.family != 4) return std::nullopt;
                return host(c.now_as.destination);
            case ir::Field::ip6_saddr:
                if (p.family != 6) return std::nullopt;
                return host(c.now_as.source);
            case ir::Field::ip6_daddr:
                if (p.family != 6) return std::nullopt;
                return host(c.now_as.destination);
            case ir::Field::ip6_hoplimit:
                if (p.family != 6) return std::nullopt;
                return ir::Value{ir::Number{p.hop_limit}};
            case ir::Field::th_dport: {
                // nft reads bytes 2-3 of whatever transport header there is (hence the l4proto
                // matches the compiler puts first); nothing in a non-first fragment.
                if (!p.transport_offset) return std::nullopt;
                std::uint16_t port = 0;
                if (c.now_as.destination_port) {
                    port = *c.now_as.destination_port;
                } else {
                    Bytes all(p.bytes.data(), p.bytes.size());
                    auto raw = read_be16(all, *p.transport_offset + 2);
                    if (!raw) return std::nullopt;
                    port = *raw;
                }
                return ir::Value{policy::PortRange{port, port}};
            }
            case ir::Field::th_sport: {
                if (!p.transport_offset) return std::nullopt;
                std::uint16_t port = 0;
                if (c.now_as.source_port) {
                    port = *c.now_as.source_port;
                } else {
                    Bytes all(p.bytes.data(), p.bytes.size());
                    auto raw = read_be16(all, *p.transport_offset);
                    if (!raw) return std::nullopt;
                    port = *raw;
                }
                return ir::Value{policy::PortRange{port, port}};
            }
            case ir::Field::ct_original_proto_dst: {
                const Connection* conn = ct_of(c);
                if (!conn || (conn->original.protocol != 6 && conn->original.protocol != 17))
                    return std::nullopt;
                std::uint16_t port = conn->original.destination_port;
                return ir::Value{policy::PortRange{port, port}};
            }
            case ir::Field::icmpv6_type:
                if (p.family != 6 || p.l4proto != 58 || !p.icmp_type) return std::nullopt;
                return ir::Value{ir::Number{*p.icmp_type}};
            default: return std::nullopt;  // refused by validate() at load
        }
    }

    std::optional<std::vector<ir::Value>> key(Context& c, const std::vector<ir::Field>& fields) const {
        std::vector<ir::Value> out;
        for (auto f : fields) {
            auto v = field(c, f);
            if (!v) return std::nullopt;
            out.push_back(std::move(*v));
        }
        return out;
    }

    // ---- sets --------------------------------------------------------------------------------

    struct Hit {
        const ir::Element* element = nullptr;  // a static element
        RuntimeElement* runtime = nullptr;
        std::string text;
    };

    std::optional<Hit> lookup(const ir::Set& set, const std::vector<ir::Value>& k, double now) {
        for (const auto& element : set.elements)
            if (key_matches(element.key, k)) return Hit{&element, nullptr, element_texts[&element]};
        auto it = runtime.find(set.name);
        if (it == runtime.end()) return std::nullopt;
        for (auto& element : it->second)
            if (element.expires > now && key_matches(element.key, k))
                return Hit{nullptr, &element, runtime_element_text(set, element, now)};
        return std::nullopt;
    }

    void expire(const std::string& set, double now) {
        auto it = runtime.find(set);
        if (it == runtime.end()) return;
        auto& v = it->second;
        v.erase(std::remove_if(v.begin(), v.end(), [&](const RuntimeElement& e) { return e.expires <= now; }),
                v.end());
    }

    // ---- matches -----------------------------------------------------------------------------

    // The packet's bits at a raw field; nullopt when the packet ends first (nft's payload
    // expression then breaks the rule, whatever the comparison).
    static std::optional<std::uint32_t> raw_value(Context& c, const ir::RawField& f) {
        const Packet& p = *c.packet;
        std::optional<std::size_t> base;
        switch (f.base) {
            case ir::RawField::Base::network: base = 0; break;
            case ir::RawField::Base::transport: base = p.transport_offset; break;
            case ir::RawField::Base::inner: base = p.inner_offset; break;
        }
        if (!base) return std::nullopt;
        const std::size_t first_bit = *base * 8 + f.offset_bits;
        const std::size_t last_bit = first_bit + f.length_bits;  // exclusive
        if ((last_bit + 7) / 8 > p.bytes.size()) return std::nullopt;
        std::uint64_t bits = 0;
        for (std::size_t byte = first_bit / 8; byte < (last_bit + 7) / 8; ++byte)
            bits = (bits << 8) | std::to_integer<std::uint8_t>(p.bytes[byte]);
        const std::size_t spare = ((last_bit + 7) / 8) * 8 - last_bit;
        bits >>= spare;
        bits &= (f.length_bits == 32) ? 0xffffffffull : ((1ull << f.length_bits) - 1);
        return static_cast<std::uint32_t>(bits);
    }

    bool raw_lookup(Context& c, const ir::RawLookup& m) const {
        const ir::Set* set = table.find_set(m.set);
        if (!set) return false;
        std::vector<std::uint32_t> key;
        for (const auto& f : m.key) {
            auto v = raw_value(c, f);
            if (!v) return false;
            key.push_back(*v);
        }
        bool found = std::any_of(set->elements.begin(), set->elements.end(), [&](const ir::Element& e) {
            if (e.key.size() != key.size()) return false;
            for (std::size_t i = 0; i < key.size(); ++i) {
                const auto* n = std::get_if<ir::Number>(&e.key[i]);
                if (!n || n->value != key[i]) return false;
            }
            return true;
        });
        return found != m.negate;
    }

    bool payload_match(Context& c, const ir::Payload& m) const {
        auto raw = raw_value(c, {m.base, m.offset_bits, m.length_bits});
        if (!raw) return false;
        std::uint32_t value = *raw;
        if (m.mask) value &= *m.mask;
        bool equal = std::find(m.values.begin(), m.values.end(), value) != m.values.end();
        return equal != m.negate;
    }

    bool compare_match(Context& c, const ir::Compare& m) const {
        auto v = field(c, m.field);
        if (!v) return false;  // nft's implicit protocol dependency fails: no match either way
        bool any = std::any_of(m.values.begin(), m.values.end(),
                               [&](const ir::Value& e) { return value_matches(e, *v); });
        return any != m.negate;
    }

    bool set_update(Context& c, const ir::SetUpdate& m, std::string& element) {
        const ir::Set* set = table.find_set(m.set);
        auto k = key(c, m.key);
        if (!set || !k) return false;
        expire(m.set, c.time);
        auto& elements = runtime[m.set];
        if (m.op == ir::SetUpdate::Op::remove) {
            // `delete @set { key }` on the packet path: removes the element if present, never stops
            // evaluation (knock resets use it).
            std::erase_if(elements, [&](const RuntimeElement& e) { return e.key == *k; });
            return true;
        }
        std::optional<std::uint32_t> timeout = m.timeout_seconds;
        if (!timeout && set->timeout_seconds && *set->timeout_seconds) timeout = set->timeout_seconds;
        const double expires = timeout ? c.time + *timeout : kNever;
        RuntimeElement* target = nullptr;
        for (auto& e : elements)
            if (e.key == *k) target = &e;
        if (!target) {
            RuntimeElement fresh;
            fresh.key = *k;
            fresh.expires = expires;
            if (m.limit) fresh.limiter.emplace(m.limit->rate_per_second, m.limit->burst_packets);
            elements.push_back(std::move(fresh));
            target = &elements.back();
        } else if (m.op == ir::SetUpdate::Op::update) {
            target->expires = expires;
        }
        element = runtime_element_text(*set, *target, c.time);
        if (!m.limit) return true;
        if (!target->limiter) target->limiter.emplace(m.limit->rate_per_second, m.limit->burst_packets);
        bool within = target->limiter->take(c.time);
        return m.limit->over ? !within : within;
    }

    // Evaluates one match; `element` receives the element a lookup matched.
    bool match(Context& c, const ir::Match& m, std::string& element) {
        return std::visit(
            Overloaded{
                [&](const ir::SetLookup& x) {
                    const ir::Set* set = table.find_set(x.set);
                    auto k = key(c, x.key);
                    if (!set || !k) return false;
                    auto hit = lookup(*set, *k, c.time);
                    if (hit && !x.negate) element = hit->text;
                    // A counted set counts every lookup that finds an element, as the kernel does.
                    if (hit && hit->element && set->counted && !hit->element->counter.empty()) {
                        auto& counter = counters[hit->element->counter];
                        ++counter.packets;
                        counter.bytes += c.packet->length;
                    }
                    return hit.has_value() != x.negate;
                },
                [&](const ir::Compare& x) { return compare_match(c, x); },
                [&](const ir::CtState& x) {
                    // No entry at all (invalid/untracked) still has a state for `ct state`.
                    return (c.ct_bits & x.any_of) != 0;
                },
                [&](const ir::CtStatusDnat&) {
                    const Connection* conn = ct_of(c);
                    return conn && conn->dnat;
                },
                [&](const ir::Secpath& x) { return options.secpath == x.exists; },
                [&](const ir::LimitRef& x) {
                    auto it = named_limits.find(x.name);
                    return it != named_limits.end() && it->second.take(c.time);
                },
                [&](const ir::LimitRate& x) {
                    auto it = rule_limits.find(&x);
                    if (it == rule_limits.end())
                        it = rule_limits.emplace(&x, TokenBucket(x.rate_per_second, x.burst_packets)).first;
                    bool within = it->second.take(c.time);
                    return x.over ? !within : within;
                },
                [&](const ir::Payload& x) { return payload_match(c, x); },
                [&](const ir::RawLookup& x) { return raw_lookup(c, x); },
                [&](const ir::SetUpdate& x) { return set_update(c, x, element); },
                [&](const auto&) { return false; },  // refused by validate() at load
            },
            m);
    }

    // ---- chains ------------------------------------------------------------------------------

    enum class Flow { next_rule, accept, drop, reject };

    struct ChainVerdict {
        Verdict verdict = Verdict::accept;
        std::string reject_with;
        Decision decision;
        bool by_rule = false;  // a rule decided (not the chain policy)
    };

    void trace(Context& c, const std::string& chain, std::size_t rule, std::string text, std::string element = {}) {
        if (!options.explain) return;
        c.outcome->trace.push_back({chain, rule, std::move(text), std::move(element)});
    }

    void apply_dnat(Context& c, const ir::NatTarget& target) {
        Connection* conn = c.tentative;
        if (!conn) return;
        c.dnat = target;
        conn->dnat = true;
        conn->reply.source = target.address;
        if (target.port && (conn->original.protocol == 6 || conn->original.protocol == 17))
            conn->reply.source_port = *target.port;
        c.now_as.destination = target.address;
        if (target.port && c.now_as.destination_port) c.now_as.destination_port = *target.port;
    }

    // The address masquerade picks: the outgoing (WAN) interface's, as far as the box knows it.
    std::optional<Address> wan_address(std::uint8_t family) const {
        const Family want = family == 4 ? Family::ipv4 : Family::ipv6;
        for (const auto& a : box.own_addresses)
            if (a.family == want) return a;
        for (const auto& a : options.gateway_addresses)
            if (a.family == want) return a;
        return std::nullopt;
    }

    static std::string snat_text(const Connection& conn) {
        return conn.snat_address ? conn.snat_address->to_string() : std::string("<wan address>");
    }

    void apply_masquerade(Context& c) {
        Connection* conn = c.tentative;
        if (!conn) return;
        conn->snat = true;
        conn->snat_address = wan_address(c.packet->family);
        if (conn->snat_address) conn->reply.destination = *conn->snat_address;
        c.outcome->snat = snat_text(*conn);
    }

    ChainVerdict run_chain(Context& c, const ir::Chain& base) {
        struct Frame {
            const ir::Chain* chain;
            std::size_t next;
        };
        std::vector<Frame> stack;
        const ir::Chain* chain = &base;
        std::size_t index = 0;
        trace(c, base.name, 0, "enter");
        while (true) {
            if (index >= chain->rules.size()) {
                if (stack.empty()) break;
                trace(c, chain->name, 0, "end of chain: return");
                chain = stack.back().chain;
                index = stack.back().next;
                stack.pop_back();
                continue;
            }
            const std::size_t rule_number = index + 1;
            const ir::Rule& rule = chain->rules[index++];
            std::string element;
            bool all = true;
            for (const auto& m : rule.matches) {
                std::string matched;
                if (!match(c, m, matched)) {
                    all = false;
                    break;
                }
                if (!matched.empty()) element += (element.empty() ? "" : ", ") + matched;
            }
            if (!all) continue;
            // A rule that only logs or counts (e.g. a per-source drop-log meter) decides nothing: its
            // set element must not become the explanation of a later verdict.
            const bool side_effects_only =
                std::all_of(rule.statements.begin(), rule.statements.end(), [](const ir::Statement& s) {
                    return std::holds_alternative<ir::Log>(s) || std::holds_alternative<ir::CounterRef>(s);
                });
            if (!element.empty() && !side_effects_only) c.last_element = element;
            trace(c, chain->name, rule_number, rule_text(rule), element);
            auto decide = [&](Verdict v, std::string with = {}) {
                ChainVerdict out;
                out.verdict = v;
                out.reject_with = std::move(with);
                out.by_rule = true;
                out.decision = Decision{chain->name, rule_number, rule_text(rule),
                                        element.empty() ? c.last_element : element};
                return out;
            };
            bool rule_done = false;
            std::optional<ir::Verdict> verdict;
            for (const auto& s : rule.statements) {
                std::visit(
                    Overloaded{
                        [&](const ir::CounterRef& x) {
                            auto& counter = counters[x.name];
                            ++counter.packets;
                            counter.bytes += c.packet->length;
                        },
                        [&](const ir::Log& x) {
                            c.outcome->logs.push_back(
                                fmt::format("group {} prefix \"{}\"", x.group, x.prefix));
                        },
                        [&](const ir::Reject& x) {
                            verdict = ir::Verdict{ir::Verdict::Kind::drop, "reject"};
                            c.outcome->reject_with = x.kind == ir::Reject::Kind::tcp_reset
                                                         ? "tcp reset"
                                                         : "icmpx admin-prohibited";
                        },
                        [&](const ir::VerdictStmt& x) { verdict = x.verdict; },
                        [&](const ir::VerdictMapStmt& x) {
                            const ir::Set* set = table.find_set(x.map);
                            auto k = key(c, x.key);
                            std::optional<Hit> hit;
                            if (set && k) hit = lookup(*set, *k, c.time);
                            if (!hit || !hit->element) {
                                rule_done = true;  // no element: the rule stops, next rule
                                trace(c, chain->name, rule_number, "no element in @" + x.map + ": next rule");
                                return;
                            }
                            element = hit->text;
                            c.last_element = element;
                            trace(c, chain->name, rule_number, "vmap @" + x.map + " element", element);
                            verdict = std::get<ir::Verdict>(hit->element->data);
                        },
                        [&](const ir::DnatMapStmt& x) {
                            const ir::Set* set = table.find_set(x.map);
                            auto k = key(c, x.key);
                            std::optional<Hit> hit;
                            if (set && k) hit = lookup(*set, *k, c.time);
                            const bool family_ok = (x.family == Family::ipv4) == (c.packet->family == 4);
                            if (!hit || !hit->element || !family_ok) {
                                rule_done = true;
                                trace(c, chain->name, rule_number, "no element in @" + x.map + ": next rule");
                                return;
                            }
                            element = hit->text;
                            c.last_element = element;
                            apply_dnat(c, std::get<ir::NatTarget>(hit->element->data));
                            trace(c, chain->name, rule_number, "dnat via @" + x.map, element);
                            // NAT statements are terminal: this chain accepts.
                            verdict = ir::Verdict{ir::Verdict::Kind::accept, {}};
                        },
                        [&](const ir::Masquerade&) {
                            apply_masquerade(c);
                            trace(c, chain->name, rule_number, "masquerade (source becomes the outgoing interface's address)");
                            verdict = ir::Verdict{ir::Verdict::Kind::accept, {}};
                        },
                        [&](const ir::CtHelperSet& x) {
                            // Only an unconfirmed (new) connection can get a helper.
                            if (!c.tentative) return;
                            for (const auto& h : table.ct_helpers)
                                if (h.name == x.helper) c.tentative->helper = h.type;
                        },
                        [&](const auto&) { rule_done = true; },
                    },
                    s);
                if (rule_done || verdict) break;
            }
            if (rule_done || !verdict) continue;
            switch (verdict->kind) {
                case ir::Verdict::Kind::accept: return decide(Verdict::accept);
                case ir::Verdict::Kind::drop:
                    if (verdict->chain == "reject") return decide(Verdict::reject, c.outcome->reject_with);
                    return decide(Verdict::drop);
                case ir::Verdict::Kind::jump:
                    stack.push_back({chain, index});
                    [[fallthrough]];
                case ir::Verdict::Kind::go_to:
                    chain = table.find_chain(verdict->chain);
                    index = 0;
                    trace(c, chain->name, 0, "enter");
                    continue;
                case ir::Verdict::Kind::return_:
                    if (stack.empty()) {  // return from the base chain: its policy decides
                        chain = &base;
                        index = base.rules.size();
                        continue;
                    }
                    chain = stack.back().chain;
                    index = stack.back().next;
                    stack.pop_back();
                    continue;
            }
        }
        ChainVerdict out;
        const bool drop = base.base && base.base->policy == ir::Verdict::Kind::drop;
        out.verdict = drop ? Verdict::drop : Verdict::accept;
        out.decision = Decision{base.name, 0, drop ? "policy drop" : "policy accept", {}};
        trace(c, base.name, 0, out.decision.text);
        return out;
    }

    // Base chains on a hook, by priority (then table order, as nft does for equal priorities).
    std::vector<const ir::Chain*> sorted_hook_chains(ir::BaseChain::Hook hook) const {
        std::vector<std::pair<int, const ir::Chain*>> found;
        for (const auto& chain : table.chains) {
            if (!chain.base || chain.base->hook != hook) continue;
            bool ok = false;
            found.emplace_back(priority_value(chain.base->priority, &ok), &chain);
        }
        std::stable_sort(found.begin(), found.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<const ir::Chain*> out;
        for (auto& [priority, chain] : found) out.push_back(chain);
        return out;
    }

    // Runs a hook; `before` limits to chains with priority < bound (and `from` ≥ bound).
    std::optional<ChainVerdict> run_hook(Context& c, ir::BaseChain::Hook hook, std::optional<ChainVerdict>& decisive,
                                         int from = -1000000, int below = 1000000) {
        for (const ir::Chain* chain : chains_by_hook[hook]) {
            bool ok = false;
            int priority = priority_value(chain->base->priority, &ok);
            if (priority < from || priority >= below) continue;
            if (chain->base->type == ir::BaseChain::Type::nat) {
                // NAT chains see only the first packet of a connection; later packets reuse
                // the binding conntrack stored.
                if (!c.tentative || c.nat_done) continue;
            }
            ChainVerdict v = run_chain(c, *chain);
            if (v.verdict != Verdict::accept) return v;
            // The last filter rule that accepted explains the packet best (the filter chain's,
            // after the nat chain's dnat; not the postrouting masquerade after the filter); a
            // nat rule or a chain policy explains it only when nothing did before.
            const bool nat_chain = chain->base->type == ir::BaseChain::Type::nat;
            if ((v.by_rule && !nat_chain) || !decisive) decisive = v;
        }
        return std::nullopt;
    }

    // ---- conntrack ---------------------------------------------------------------------------

    Tuple tuple_of(const Packet& p) const {
        Tuple t{p.source, p.destination, p.l4proto, 0, 0};
        if ((p.l4proto == 6 || p.l4proto == 17) && p.source_port && p.destination_port) {
            t.source_port = *p.source_port;
            t.destination_port = *p.destination_port;
        } else if ((p.l4proto == 1 || p.l4proto == 58) && p.icmp_id && p.icmp_type) {
            // Request and reply share the identifier; which side carries it says the direction.
            if (is_icmp_reply(p.family, *p.icmp_type)) t.destination_port = *p.icmp_id;
            else t.source_port = *p.icmp_id;
        } else if (p.l4proto == 47 && p.gre_call_id) {
            t.destination_port = *p.gre_call_id;
            t.source_port = conntrack.gre_source_key(t);
        }
        return t;
    }

    // Decides the conntrack state; existing entries are updated as nf_conntrack_in does (before
    // any rule), new ones are prepared for insertion on accept.
    void conntrack_in(Context& c, Connection& tentative_storage, const Tuple& tuple) {
        const Packet& p = *c.packet;
        auto& outcome = *c.outcome;
        auto found = conntrack.find(tuple, c.time);
        const bool tcp = p.l4proto == 6 && p.tcp_flags;
        const std::uint8_t flags = p.tcp_flags.value_or(0);
        const bool syn_only = tcp && (flags & 0x02) && !(flags & (0x10 | 0x04 | 0x01));
        if (found.connection && tcp && !found.reply && syn_only &&
            (found.connection->tcp == TcpState::close || found.connection->tcp == TcpState::fin_wait)) {
            // A new SYN on a closing connection starts a new one (nf_conntrack_tcp's reopen).
            conntrack.remove(found.connection->id);
            found = {};
        }
        if (found.connection && tcp && !found.reply && found.connection->tcp == TcpState::syn_sent &&
            !syn_only && !(flags & 0x04)) {
            // nf_conntrack_tcp: in SYN_SENT only a SYN (retransmit) or RST may come from the
            // originator; an ACK or FIN before the SYN-ACK is invalid.
            c.ct_bits = ir::ct_invalid;
            return;
        }
        if (found.connection) {
            Connection& conn = *found.connection;
            c.connection = &conn;
            outcome.connection = conn.id;
            if (found.reply) c.ct_bits = ir::ct_established;
            else if (conn.seen_reply) c.ct_bits = ir::ct_established;
            else if (conn.related) c.ct_bits = ir::ct_related;
            else c.ct_bits = ir::ct_new;
            ++conn.packets;
            if (found.reply) conn.seen_reply = true;
            if (tcp) advance_tcp(conn, flags, found.reply);
            conn.expires = c.time + conntrack_timeout(conn);
            // The stored NAT binding applies to every later packet.
            if (conn.dnat) {
                if (!found.reply) {
                    c.now_as.destination = conn.reply.source;
                    if (c.now_as.destination_port) c.now_as.destination_port = conn.reply.source_port;
                    c.dnat = ir::NatTarget{conn.reply.source, std::nullopt};
                    if (conn.reply.source_port != conn.original.destination_port)
                        c.dnat->port = conn.reply.source_port;
                }
                // Replies keep the server's address until postrouting un-NATs them.
            }
            if (conn.snat) {
                if (!found.reply) {
                    outcome.snat = snat_text(conn);
                } else {
                    // Prerouting restores a masqueraded connection's reply to the LAN host.
                    c.now_as.destination = conn.original.source;
                    if (c.now_as.destination_port) c.now_as.destination_port = conn.original.source_port;
                    c.unsnat = true;
                    outcome.unsnat = conn.original.source.to_string();
                }
            }
            c.nat_done = true;
            return;
        }
        // ICMP errors belong to the connection they quote.
        if ((p.l4proto == 1 || p.l4proto == 58) && p.icmp_type && is_icmp_error(p.family, *p.icmp_type)) {
            if (p.quoted && p.quoted->ip_version == p.family) {
                Tuple inner{p.quoted->source, p.quoted->destination, p.quoted->protocol,
                            p.quoted->source_port.value_or(0), p.quoted->destination_port.value_or(0)};
                auto related = conntrack.find(inverse(inner), c.time);
                if (!related.connection) related = conntrack.find(inner, c.time);
                if (related.connection) {
                    c.connection = related.connection;
                    outcome.connection = related.connection->id;
                    c.ct_bits = ir::ct_related;
                    c.nat_done = true;
                    if (related.connection->dnat && !related.reply) {
                        c.now_as.destination = related.connection->reply.source;
                    }
                    return;
                }
            }
            c.ct_bits = ir::ct_invalid;
            return;
        }
        if (p.l4proto == 58 && p.icmp_type && icmpv6_untracked(*p.icmp_type)) {
            c.ct_bits = ir::ct_untracked;
            return;
        }
        if ((p.l4proto == 1 || p.l4proto == 58) && p.icmp_type && !icmp_can_start(p.family, *p.icmp_type)) {
            c.ct_bits = ir::ct_invalid;
            return;
        }
        if (p.l4proto == 6) {
            if (!tcp) {
                c.ct_bits = ir::ct_invalid;  // no TCP header: conntrack cannot track it
                return;
            }
            const bool bad_combo = (flags & 0x02) && (flags & (0x01 | 0x04));
            const bool pure_ack = (flags & 0x10) && !(flags & (0x02 | 0x04 | 0x01));
            const bool loose_pickup = options.tcp_loose && pure_ack;
            if (bad_combo || !(syn_only || loose_pickup)) {
                c.ct_bits = ir::ct_invalid;
                return;
            }
        }
        Connection& fresh = tentative_storage;
        fresh = Connection{};
        fresh.original = tuple;
        fresh.reply = inverse(tuple);
        fresh.first_frame = p.frame;
        fresh.packets = 1;
        if (tcp) fresh.tcp = syn_only ? TcpState::syn_sent : TcpState::established;
        if (p.l4proto == 47) {
            if (auto expected = conntrack.take_expectation(tuple, c.time)) {
                fresh.related = true;
                const Connection* master = conntrack.get(expected->master);
                if (master && master->dnat && tuple.destination == master->original.destination) {
                    fresh.dnat = true;
                    fresh.reply.source = master->reply.source;
                    c.now_as.destination = master->reply.source;
                    c.dnat = ir::NatTarget{master->reply.source, std::nullopt};
                }
                c.nat_done = true;  // the expectation brought its NAT with it
                c.ct_bits = ir::ct_related;
                c.tentative = &fresh;
                fresh.expires = c.time + conntrack_timeout(fresh);
                return;
            }
        }
        fresh.expires = c.time + conntrack_timeout(fresh);
        c.tentative = &fresh;
        c.ct_bits = ir::ct_new;
    }

    static void advance_tcp(Connection& conn, std::uint8_t flags, bool reply) {
        const bool syn = flags & 0x02, ack = flags & 0x10, fin = flags & 0x01, rst = flags & 0x04;
        if (rst) conn.tcp = TcpState::close;
        else if (fin) conn.tcp = TcpState::fin_wait;
        else if (syn && ack && reply) conn.tcp = TcpState::syn_recv;
        else if (ack && !syn && conn.tcp == TcpState::syn_recv && !reply) conn.tcp = TcpState::established;
        else if (ack && !syn && conn.seen_reply && conn.tcp != TcpState::fin_wait) conn.tcp = TcpState::established;
    }

    // PPTP helper (nf_conntrack_pptp), with the control connection's client as the PNS and its
    // server as the PAC. A call opens GRE in both directions, keyed by the call IDs, when it is
    // connected: outgoing, by an Outgoing-Call-Reply saying "connected"; incoming, by the PAC's
    // Incoming-Call-Connected after the PNS accepted its Incoming-Call-Request.
    void run_helper(Connection& conn, const Packet& p, bool reply, double now) {
        if (!conn.helper || *conn.helper != "pptp") return;
        auto open_gre = [&](std::uint16_t pac_call, std::uint16_t pns_call) {
            Tuple towards_server{conn.original.source, conn.original.destination, 47, pns_call, pac_call};
            Tuple towards_client{conn.reply.source, conn.reply.destination, 47, pac_call, pns_call};
            conntrack.map_gre_key(towards_server, pns_call);
            conntrack.map_gre_key(towards_client, pac_call);
            // A WAN-side capture shows the PAC's GRE after the gateway un-NATed its source.
            if (conn.reply.source != conn.original.destination)
                conntrack.map_gre_key({conn.original.destination, conn.original.source, 47, pac_call, pns_call},
                                      pac_call);
            conntrack.expect({towards_server, conn.id, now + 300});
            conntrack.expect({towards_client, conn.id, now + 300});
        };
        for (const auto& message : p.pptp) {
            if (reply) {
                switch (message.type) {
                    case 8:  // OCRP
                        if (message.result.value_or(0) == 1 && message.call_id && message.peer_call_id)
                            open_gre(*message.call_id, *message.peer_call_id);
                        break;
                    case 9:  // ICRQ: a new incoming call replaces whatever was pending
                        conn.pptp_in_pac_call = message.call_id;
                        conn.pptp_in_pns_call.reset();
                        break;
                    case 11:  // ICCN: only for the call the PNS accepted
                        if (conn.pptp_in_pac_call && conn.pptp_in_pns_call && message.peer_call_id &&
                            *message.peer_call_id == *conn.pptp_in_pns_call)
                            open_gre(*conn.pptp_in_pac_call, *conn.pptp_in_pns_call);
                        break;
                    default: break;
                }
            } else if (message.type == 10 && conn.pptp_in_pac_call && message.peer_call_id &&
                       *message.peer_call_id == *conn.pptp_in_pac_call) {  // ICRP for the pending call
                if (message.result.value_or(0) == 1 && message.call_id) {
                    conn.pptp_in_pns_call = message.call_id;
                } else {
                    conn.pptp_in_pac_call.reset();  // refused
                    conn.pptp_in_pns_call.reset();
                }
            }
        }
    }

    // ---- one packet --------------------------------------------------------------------------

    bool own_address(const Address& a) const {
        if (std::find(box.own_addresses.begin(), box.own_addresses.end(), a) != box.own_addresses.end())
            return true;
        return std::find(options.gateway_addresses.begin(), options.gateway_addresses.end(), a) !=
               options.gateway_addresses.end();
    }
    bool know_own_addresses(Family family) const {
        for (const auto& a : box.own_addresses)
            if (a.family == family) return true;
        for (const auto& a : options.gateway_addresses)
            if (a.family == family) return true;
        return false;
    }
    // Multicast, broadcast and IPv6 link-local destinations are never forwarded.
    static bool link_scoped(const Address& a) {
        if (a.family == Family::ipv4) return a.bytes[0] >= 224;
        return a.bytes[0] == 0xff || (a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80);
    }
    std::string wan() const { return box.wan_interfaces.empty() ? "wan" : box.wan_interfaces.front(); }
    std::string lan() const { return box.lan_interface.value_or("lan"); }

    Outcome evaluate(const Packet& packet, const std::optional<std::string>& iif_override) {
        Outcome outcome;
        outcome.packet = packet;
        if (packet.family == 0) {
            outcome.verdict = Verdict::skip;
            outcome.decided_by.text = "not an IP packet: an inet table never sees it";
            return outcome;
        }
        if (!packet.malformed.empty()) {
            outcome.verdict = Verdict::drop;
            outcome.decided_by.text = "malformed IP header (" + packet.malformed +
                                      "): the kernel drops it before netfilter";
            return outcome;
        }
        Context c;
        c.packet = &packet;
        c.time = packet.time;
        c.outcome = &outcome;
        c.now_as = {packet.source, packet.destination, packet.source_port, packet.destination_port};
        Connection tentative_storage;
        Tuple tuple = tuple_of(packet);

        // Which way is the packet going? A capture shows both directions of a conversation; only
        // what arrives from outside meets the inbound chains.
        enum class Way { inbound, local_out, reply_from_lan, masqueraded_reply } way = Way::inbound;
        std::optional<std::uint64_t> unnat_conn, unsnat_conn;
        std::string iif = iif_override ? *iif_override : options.iif.value_or(wan());
        if (!iif_override) {
            // The reply of a masqueraded connection comes back in from the WAN whatever --iif
            // says (a LAN-side capture shows it after the gateway restored the destination).
            if (auto it = unsnat_replies.find(tuple); it != unsnat_replies.end() && conntrack.get(it->second)) {
                way = Way::masqueraded_reply;
                unsnat_conn = it->second;
            } else if (auto found = conntrack.find(tuple, c.time);
                       found.connection && found.reply && found.connection->snat) {
                way = Way::masqueraded_reply;
            }
        }
        if (way == Way::masqueraded_reply) {
            iif = wan();
            if (unsnat_conn) {
                // Seen after the gateway restored it; it crossed the WAN in the masqueraded form.
                const Connection* conn = conntrack.get(*unsnat_conn);
                tuple = conn->reply;
                c.now_as.destination = conn->reply.destination;
                if (c.now_as.destination_port) c.now_as.destination_port = conn->reply.destination_port;
            }
        } else if (!iif_override && !options.iif) {
            if (auto it = unnat_replies.find(tuple); it != unnat_replies.end() && conntrack.get(it->second)) {
                way = Way::reply_from_lan;
                unnat_conn = it->second;
            } else if (auto found = conntrack.find(tuple, c.time);
                       found.connection && found.reply && found.connection->inbound_origin) {
                // The reply of a connection that came in from outside goes back out.
                way = found.connection->forwarded ? Way::reply_from_lan : Way::local_out;
            } else if (own_address(packet.source)) {
                way = Way::local_out;
            }
        }

        if (way == Way::reply_from_lan && unnat_conn) {
            // Seen after the gateway un-NATed it; it crossed the gateway in the NATed form.
            const Connection* conn = conntrack.get(*unnat_conn);
            tuple = conn->reply;
            c.now_as.source = conn->reply.source;
            if (c.now_as.source_port) c.now_as.source_port = conn->reply.source_port;
        }

        if (way == Way::local_out) {
            c.iif.clear();
            c.oif = wan();
            outcome.oif = c.oif;
            outcome.path = Path::output;
        } else {
            c.iif = way == Way::reply_from_lan ? lan() : iif;
            outcome.iif = c.iif;
        }

        conntrack_in(c, tentative_storage, tuple);
        static constexpr const char* kStateNames[] = {"new", "established", "related", "invalid", "untracked"};
        for (int bit = 0; bit < 5; ++bit)
            if (c.ct_bits & (1 << bit)) outcome.ct_state = kStateNames[bit];
        if (outcome.ct_state.empty()) outcome.ct_state = "invalid";

        std::optional<ChainVerdict> decisive;
        std::optional<ChainVerdict> stopped;
        auto finish_with = [&](const ChainVerdict& v) {
            outcome.verdict = v.verdict;
            outcome.decided_by = v.decision;
            if (v.verdict == Verdict::reject) outcome.reject_with = v.reject_with;
        };

        if (way == Way::local_out) {
            stopped = run_hook(c, ir::BaseChain::Hook::output, decisive);
            if (!stopped) stopped = run_hook(c, ir::BaseChain::Hook::postrouting, decisive);
        } else {
            stopped = run_hook(c, ir::BaseChain::Hook::prerouting, decisive);
            if (!stopped) {
                // Routing: the gateway's own addresses are local; DNATed packets go on.
                bool local;
                if (!box.gateway) local = true;
                else if (way == Way::reply_from_lan || c.unsnat) local = false;
                else if (own_address(c.now_as.destination) || link_scoped(c.now_as.destination)) local = true;
                else if (c.iif == lan()) local = false;  // from the LAN to elsewhere: routed out
                else if (c.dnat) local = false;
                else local = !know_own_addresses(packet.family == 4 ? Family::ipv4 : Family::ipv6);
                if (local) {
                    outcome.path = Path::input;
                    stopped = run_hook(c, ir::BaseChain::Hook::input, decisive);
                } else {
                    outcome.path = way == Way::reply_from_lan ? Path::reply : Path::forward;
                    // Whatever arrived on the LAN side leaves through the WAN, and vice versa.
                    c.oif = c.iif == lan() ? wan() : lan();
                    outcome.oif = c.oif;
                    stopped = run_hook(c, ir::BaseChain::Hook::forward, decisive);
                    if (!stopped) stopped = run_hook(c, ir::BaseChain::Hook::postrouting, decisive);
                }
            }
        }
        if (c.dnat) {
            std::string text = c.dnat->address.to_string();
            if (c.dnat->address.family == Family::ipv6) text = "[" + text + "]";
            if (c.now_as.destination_port) text += ":" + std::to_string(*c.now_as.destination_port);
            outcome.dnat = text;
        }
        if (stopped) {
            finish_with(*stopped);
            return outcome;
        }
        if (decisive) {
            finish_with(*decisive);
        } else {
            outcome.verdict = Verdict::accept;
            outcome.decided_by.text = "no chain of the table on this path";
        }
        outcome.verdict = Verdict::accept;
        // Accepted: a new connection is confirmed, and helpers see the packet.
        Connection* conn = c.connection;
        if (c.tentative) {
            c.tentative->inbound_origin =
                way == Way::inbound && std::find(box.wan_interfaces.begin(), box.wan_interfaces.end(),
                                                 c.iif) != box.wan_interfaces.end();
            c.tentative->forwarded = outcome.path == Path::forward;
            Connection& inserted = conntrack.insert(*c.tentative);
            ++connections_created;
            outcome.connection = inserted.id;
            if (inserted.dnat) unnat_replies[inverse(inserted.original)] = inserted.id;
            if (inserted.snat) unsnat_replies[inverse(inserted.original)] = inserted.id;
            conn = &inserted;
        }
        if (conn && packet.l4proto == 6) {
            auto found = conntrack.find(tuple, c.time);
            run_helper(*conn, packet, found.connection && found.reply, c.time);
        }
        return outcome;
    }

    // ---- fragments -------------------------------------------------------------------------

    std::vector<Outcome> fragment(const Packet& packet, const std::optional<std::string>& iif) {
        auto key = std::make_tuple(packet.family, packet.source, packet.destination, packet.l4proto,
                                   packet.fragment->id);
        auto& d = datagrams[key];
        if (d.fragments.empty()) d.iif = iif;
        d.fragments.push_back(packet);
        if (packet.fragment->offset_bytes == 0) d.have_first = true;
        if (!packet.fragment->more_fragments)
            d.end = packet.fragment->offset_bytes + packet.fragment_data_length;
        d.covered += packet.fragment_data_length;
        if (!d.have_first || !d.end || d.covered < *d.end) return {};
        // Complete: netfilter sees the reassembled datagram once (its first fragment's headers).
        Datagram done = std::move(d);
        datagrams.erase(key);
        const Packet* first = nullptr;
        std::uint32_t total = 0;
        for (const auto& f : done.fragments) {
            if (f.fragment->offset_bytes == 0 && !first) first = &f;
            total += f.fragment_data_length;
        }
        Packet whole = *first;
        whole.length = total + static_cast<std::uint32_t>(whole.transport_offset.value_or(0));
        whole.time = packet.time;
        Outcome decided = evaluate(whole, done.iif);
        std::vector<Outcome> out;
        for (const auto& f : done.fragments) {
            Outcome copy = decided;
            copy.packet = f;
            copy.datagram_frame = first->frame;
            if (f.frame != first->frame) copy.trace.clear();
            out.push_back(std::move(copy));
        }
        return out;
    }

    void tally(const Outcome& o) {
        ++totals.packets;
        ++totals.verdicts[verdict_name(o.verdict)];
        ++totals.paths[path_name(o.path)];
        totals.logged += o.logs.size();
    }
};

// ------------------------------------------------------------------------------------------------

Simulator::Simulator() : impl_(std::make_unique<Impl>()) {}
Simulator::~Simulator() = default;

Result<std::unique_ptr<Simulator>> Simulator::create(const policy::Policy& policy, Options options) {
    return create(compile::compile_ir(policy), box_of(policy), std::move(options));
}

Result<std::unique_ptr<Simulator>> Simulator::create(ir::Table table, Box box, Options options) {
    if (auto ok = validate(table); !ok) return fail("simulate cannot model this table: " + ok.error().message);
    std::unique_ptr<Simulator> sim(new Simulator());
    Impl& impl = *sim->impl_;
    impl.table = std::move(table);
    impl.box = std::move(box);
    impl.options = std::move(options);
    impl.prepare();
    for (const auto& limit : impl.table.limits)
        impl.named_limits.emplace(limit.name, TokenBucket(limit.rate_per_second, limit.burst_packets));
    for (const auto& counter : impl.table.counters) impl.counters[counter.name];
    for (const auto& set : impl.table.sets)
        if (set.counted)
            for (const auto& element : set.elements)
                if (!element.counter.empty()) impl.counters[element.counter];
    if (impl.options.iif && impl.options.iif->empty()) return fail("--iif: empty interface name");
    for (const auto& g : impl.options.grants)
        if (auto r = sim->grant(g.service, g.address, 0, g.seconds); !r) return tl::unexpected(r.error());
    for (const auto& b : impl.options.bans)
        if (auto r = sim->ban(b.prefix, 0, b.seconds); !r) return tl::unexpected(r.error());
    return sim;
}

std::vector<Outcome> Simulator::process(const Packet& packet, const std::optional<std::string>& iif) {
    // Initial grants and bans were entered relative to time 0: anchor them at the first packet.
    if (!impl_->anchored) {
        impl_->anchored = true;
        for (auto& [name, elements] : impl_->runtime)
            for (auto& e : elements)
                if (e.expires != kNever) e.expires += packet.time;
    }
    std::vector<Outcome> out;
    if (packet.family != 0 && packet.malformed.empty() && packet.is_fragment())
        out = impl_->fragment(packet, iif);
    else
        out.push_back(impl_->evaluate(packet, iif));
    for (const auto& o : out) impl_->tally(o);
    return out;
}

std::vector<Outcome> Simulator::finish() {
    std::vector<Outcome> out;
    for (auto& [key, d] : impl_->datagrams) {
        for (const auto& f : d.fragments) {
            Outcome o;
            o.packet = f;
            o.verdict = Verdict::drop;
            o.decided_by.text = "fragment of a datagram that never completed: reassembly (before netfilter) times it out";
            out.push_back(std::move(o));
        }
    }
    impl_->datagrams.clear();
    std::sort(out.begin(), out.end(), [](const Outcome& a, const Outcome& b) { return a.packet.frame < b.packet.frame; });
    for (const auto& o : out) impl_->tally(o);
    return out;
}

Result<void> Simulator::grant(const std::string& service, const Address& address, double now,
                              std::optional<std::uint32_t> seconds) {
    const auto& names = impl_->box.service_names;
    if (std::find(names.begin(), names.end(), service) == names.end())
        return fail("--grant: no service named \"" + service + "\" in the policy");
    const std::string set_name = address.family == Family::ipv4 ? compile::grant_set_v4(service)
                                                                : compile::grant_set_v6(service);
    const ir::Set* set = impl_->table.find_set(set_name);
    if (!set) return fail("--grant: service \"" + service + "\" is not guarded (it has no grant set)");
    RuntimeElement e;
    e.key = {Prefix{address, static_cast<std::uint8_t>(address.width_bits())}};
    std::optional<std::uint32_t> timeout = seconds;
    if (!timeout && set->timeout_seconds && *set->timeout_seconds) timeout = set->timeout_seconds;
    e.expires = timeout ? now + *timeout : kNever;
    impl_->runtime[set_name].push_back(std::move(e));
    return {};
}

Result<void> Simulator::ban(const Prefix& prefix, double now, std::optional<std::uint32_t> seconds) {
    // Where the daemon puts it: hosts in the hash sets (when the table has them), prefixes in ban4/ban6.
    const bool v4 = prefix.address.family == Family::ipv4;
    std::string set_name = v4 ? compile::kBanSetV4 : compile::kBanSetV6;
    if (prefix.is_host() && impl_->table.find_set(v4 ? compile::kBanHostSetV4 : compile::kBanHostSetV6))
        set_name = v4 ? compile::kBanHostSetV4 : compile::kBanHostSetV6;
    if (!impl_->table.find_set(set_name)) return fail("--ban: the table has no set " + set_name);
    RuntimeElement e;
    e.key = {prefix};
    std::uint32_t timeout = seconds.value_or(impl_->box.default_ban_seconds);
    e.expires = timeout ? now + timeout : kNever;
    impl_->runtime[set_name].push_back(std::move(e));
    return {};
}

const ir::Table& Simulator::table() const { return impl_->table; }
const Conntrack& Simulator::conntrack() const { return impl_->conntrack; }

CounterValue Simulator::counter(const std::string& name) const {
    auto it = impl_->counters.find(name);
    return it == impl_->counters.end() ? CounterValue{} : it->second;
}

std::size_t Simulator::set_size(const std::string& name, double now) const {
    std::size_t n = 0;
    if (const auto* set = impl_->table.find_set(name)) n += set->elements.size();
    auto it = impl_->runtime.find(name);
    if (it != impl_->runtime.end())
        for (const auto& e : it->second)
            if (e.expires > now) ++n;
    return n;
}

Summary Simulator::summary() const {
    Summary s = impl_->totals;
    s.connections = impl_->connections_created;
    for (const auto& counter : impl_->table.counters)
        s.counters.emplace_back(counter.name, this->counter(counter.name));
    // Logical counters kept in counted set elements (one per service and verdict), after the
    // named ones, each once, in table order.
    std::set<std::string> seen;
    for (const auto& set : impl_->table.sets) {
        if (!set.counted) continue;
        for (const auto& element : set.elements)
            if (!element.counter.empty() && seen.insert(element.counter).second)
                s.counters.emplace_back(element.counter, this->counter(element.counter));
    }
    return s;
}

}  // namespace portcullis::simulate
