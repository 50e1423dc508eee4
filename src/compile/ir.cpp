#include "compile/ir.hpp"

#include <fmt/format.h>

#include <array>
#include <type_traits>

#include "common/overloaded.hpp"

namespace portcullis::compile::ir {
namespace {

std::string quoted(const std::string& text) {
    // nft strings cannot carry a double quote or newline; compile only feeds identifiers and
    // fixed prefixes here, so replacing keeps rendering total rather than throwing.
    std::string out = "\"";
    for (char c : text) out += (c == '"' || c == '\n' || c == '\\') ? '_' : c;
    out += '"';
    return out;
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i) out += separator;
        out += parts[i];
    }
    return out;
}

const char* type_name(DataType type) {
    switch (type) {
        case DataType::ipv4_addr: return "ipv4_addr";
        case DataType::ipv6_addr: return "ipv6_addr";
        case DataType::inet_proto: return "inet_proto";
        case DataType::inet_service: return "inet_service";
        case DataType::ifname: return "ifname";
        case DataType::verdict: return "verdict";
    }
    return "invalid";
}

std::string render_raw_field(const RawField& f) {
    const char* base = f.base == RawField::Base::network     ? "@nh"
                       : f.base == RawField::Base::transport ? "@th"
                                                             : "@ih";
    return fmt::format("{},{},{}", base, f.offset_bits, f.length_bits);
}

std::string render_raw_key(const std::vector<RawField>& key) {
    std::vector<std::string> parts;
    for (const auto& f : key) parts.push_back(render_raw_field(f));
    return join(parts, " . ");
}

// A raw key component as `nft list` prints it (hex, zero-padded to the field's bytes), so that
// re-applies find the live elements identical and leave them alone.
std::string render_raw_value(const Value& value, const RawField& field) {
    const auto* number = std::get_if<Number>(&value);
    if (!number) return render(value, DataType::verdict);
    const int digits = 2 * ((field.length_bits + 7) / 8);
    return fmt::format("0x{:0{}x}", number->value, digits);
}

std::string render_key(const std::vector<Field>& key) {
    std::vector<std::string> parts;
    for (Field f : key) parts.push_back(render_field(f));
    return join(parts, " . ");
}

std::string render_verdict(const Verdict& verdict) {
    switch (verdict.kind) {
        case Verdict::Kind::accept: return "accept";
        case Verdict::Kind::drop: return "drop";
        case Verdict::Kind::jump: return "jump " + verdict.chain;
        case Verdict::Kind::go_to: return "goto " + verdict.chain;
        case Verdict::Kind::return_: return "return";
    }
    return "drop";
}

std::string render_icmpv6_type(std::uint32_t type) {
    switch (type) {
        case 1: return "destination-unreachable";
        case 2: return "packet-too-big";
        case 3: return "time-exceeded";
        case 4: return "parameter-problem";
        case 128: return "echo-request";
        case 129: return "echo-reply";
        case 133: return "nd-router-solicit";
        case 134: return "nd-router-advert";
        case 135: return "nd-neighbor-solicit";
        case 136: return "nd-neighbor-advert";
        case 137: return "nd-redirect";
        default: return std::to_string(type);
    }
}

// The literal type a field compares against, for rendering Compare values.
DataType field_type(Field field) {
    switch (field) {
        case Field::ip_saddr:
        case Field::ip_daddr: return DataType::ipv4_addr;
        case Field::ip6_saddr:
        case Field::ip6_daddr: return DataType::ipv6_addr;
        case Field::meta_l4proto: return DataType::inet_proto;
        case Field::th_dport:
        case Field::th_sport:
        case Field::ct_original_proto_dst: return DataType::inet_service;
        case Field::iifname:
        case Field::oifname: return DataType::ifname;
        case Field::meta_nfproto:
        case Field::ip6_hoplimit:
        case Field::icmpv6_type: return DataType::verdict;  // numbers; rendered by field below
    }
    return DataType::verdict;
}

std::string render_compare_value(Field field, const Value& value) {
    if (const auto* number = std::get_if<Number>(&value)) {
        if (field == Field::meta_nfproto) return number->value == 6 ? "ipv6" : "ipv4";
        if (field == Field::icmpv6_type) return render_icmpv6_type(number->value);
        return std::to_string(number->value);
    }
    return render(value, field_type(field));
}

std::string render_limit(const LimitRate& m) {
    std::string out =
        fmt::format("limit rate {}{}/second", m.over ? "over " : "", m.rate_per_second);
    if (m.burst_packets) out += fmt::format(" burst {} packets", m.burst_packets);
    return out;
}

std::string render_element(const Set& set, const Element& element) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < element.key.size(); ++i) {
        if (!set.raw_key.empty()) {
            parts.push_back(i < set.raw_key.size() ? render_raw_value(element.key[i], set.raw_key[i])
                                                   : render(element.key[i], DataType::verdict));
            continue;
        }
        DataType type = i < set.key.size() ? set.key[i] : DataType::verdict;
        parts.push_back(render(element.key[i], type));
    }
    std::string out = join(parts, " . ");
    std::visit(Overloaded{
                   [](const std::monostate&) {},
                   [&](const Verdict& v) { out += " : " + render_verdict(v); },
                   [&](const NatTarget& t) {
                       out += " : " + t.address.to_string();
                       if (t.port) out += " . " + std::to_string(*t.port);
                   },
               },
               element.data);
    if (!element.counter.empty()) out += " comment \"" + element.counter + "\"";
    return out;
}

const char* hook_name(BaseChain::Hook hook) {
    switch (hook) {
        case BaseChain::Hook::prerouting: return "prerouting";
        case BaseChain::Hook::input: return "input";
        case BaseChain::Hook::forward: return "forward";
        case BaseChain::Hook::output: return "output";
        case BaseChain::Hook::postrouting: return "postrouting";
    }
    return "input";
}

void render_set(std::string& out, const Set& set) {
    out += fmt::format("\t{} {} {{\n", set.is_map() ? "map" : "set", set.name);
    std::vector<std::string> key_types;
    for (DataType t : set.key) key_types.push_back(type_name(t));
    if (!set.raw_key.empty())
        out += "\t\ttypeof " + render_raw_key(set.raw_key);
    else
        out += "\t\ttype " + join(key_types, " . ");
    if (set.is_map()) {
        std::vector<std::string> data_types;
        for (DataType t : set.data) data_types.push_back(type_name(t));
        out += " : " + join(data_types, " . ");
    }
    out += "\n";
    std::vector<std::string> flags;
    if (set.flags.dynamic) flags.emplace_back("dynamic");
    if (set.flags.interval) flags.emplace_back("interval");
    if (set.flags.timeout) flags.emplace_back("timeout");
    if (!flags.empty()) out += "\t\tflags " + join(flags, ",") + "\n";
    if (set.timeout_seconds && *set.timeout_seconds > 0)
        out += "\t\ttimeout " + render_duration(*set.timeout_seconds) + "\n";
    if (set.counted) out += "\t\tcounter\n";
    if (!set.elements.empty()) {
        out += "\t\telements = {\n";
        for (std::size_t i = 0; i < set.elements.size(); ++i) {
            out += "\t\t\t" + render_element(set, set.elements[i]);
            out += i + 1 < set.elements.size() ? ",\n" : "\n";
        }
        out += "\t\t}\n";
    }
    out += "\t}\n";
}

}  // namespace

const Set* Table::find_set(const std::string& wanted) const {
    for (const auto& set : sets)
        if (set.name == wanted) return &set;
    return nullptr;
}

const Chain* Table::find_chain(const std::string& wanted) const {
    for (const auto& chain : chains)
        if (chain.name == wanted) return &chain;
    return nullptr;
}

std::string render_field(Field field) {
    switch (field) {
        case Field::meta_nfproto: return "meta nfproto";
        case Field::meta_l4proto: return "meta l4proto";
        case Field::iifname: return "iifname";
        case Field::oifname: return "oifname";
        case Field::ip_saddr: return "ip saddr";
        case Field::ip_daddr: return "ip daddr";
        case Field::ip6_saddr: return "ip6 saddr";
        case Field::ip6_daddr: return "ip6 daddr";
        case Field::ip6_hoplimit: return "ip6 hoplimit";
        case Field::th_dport: return "th dport";
        case Field::th_sport: return "th sport";
        case Field::ct_original_proto_dst: return "ct original proto-dst";
        case Field::icmpv6_type: return "icmpv6 type";
    }
    return "meta l4proto";
}

std::string render_proto(Proto proto) {
    switch (proto.number) {
        case 6: return "tcp";
        case 17: return "udp";
        case 47: return "gre";
        case 50: return "esp";
        case 51: return "ah";
        case 58: return "ipv6-icmp";
        default: return std::to_string(proto.number);
    }
}

std::string render_duration(std::uint32_t seconds) {
    if (seconds == 0) return "0s";
    static constexpr std::array<std::pair<std::uint32_t, char>, 4> units{
        {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
    std::string out;
    for (auto [size, unit] : units) {
        if (seconds >= size) {
            out += std::to_string(seconds / size) + unit;
            seconds %= size;
        }
    }
    return out;
}

std::string render(const Value& value, DataType type) {
    return std::visit(Overloaded{
                          [&](const Prefix& p) {
                              return p.is_host() ? p.address.to_string() : p.to_string();
                          },
                          [](const Proto& p) { return render_proto(p); },
                          [](const policy::PortRange& r) {
                              return r.first == r.last ? std::to_string(r.first)
                                                       : fmt::format("{}-{}", r.first, r.last);
                          },
                          [](const IfName& n) { return quoted(n.name); },
                          [&](const Number& n) {
                              (void)type;
                              return std::to_string(n.value);
                          },
                      },
                      value);
}

std::string render(const Match& match) {
    return std::visit(
        Overloaded{
            [](const SetLookup& m) {
                return render_key(m.key) + (m.negate ? " != @" : " @") + m.set;
            },
            [](const Compare& m) {
                std::string out = render_field(m.field) + (m.negate ? " != " : " ");
                if (m.values.size() == 1) return out + render_compare_value(m.field, m.values[0]);
                std::vector<std::string> parts;
                for (const auto& v : m.values) parts.push_back(render_compare_value(m.field, v));
                return out + "{ " + join(parts, ", ") + " }";
            },
            [](const CtState& m) {
                static constexpr std::array<std::pair<std::uint8_t, const char*>, 5> names{
                    {{ct_new, "new"},
                     {ct_established, "established"},
                     {ct_related, "related"},
                     {ct_invalid, "invalid"},
                     {ct_untracked, "untracked"}}};
                std::vector<std::string> parts;
                for (auto [bit, name] : names)
                    if (m.any_of & bit) parts.emplace_back(name);
                return "ct state " + join(parts, ",");
            },
            [](const CtStatusDnat&) { return std::string("ct status dnat"); },
            [](const Secpath& m) {
                return std::string(m.exists ? "meta secpath exists" : "meta secpath missing");
            },
            [](const LimitRef& m) { return "limit name " + quoted(m.name); },
            [](const LimitRate& m) { return render_limit(m); },
            [](const RawLookup& m) {
                return render_raw_key(m.key) + (m.negate ? " != @" : " @") + m.set;
            },
            [](const Payload& m) {
                std::string out = render_raw_field({m.base, m.offset_bits, m.length_bits});
                if (m.mask) out += fmt::format(" & 0x{:x}", *m.mask);
                out += m.negate ? " != " : m.mask ? " == " : " ";
                std::vector<std::string> parts;
                for (auto v : m.values) parts.push_back(fmt::format("0x{:x}", v));
                return out + (parts.size() == 1 ? parts[0] : "{ " + join(parts, ", ") + " }");
            },
            [](const SetUpdate& m) {
                std::string out = std::string(m.op == SetUpdate::Op::add      ? "add"
                                              : m.op == SetUpdate::Op::update ? "update"
                                                                              : "delete") + " @" +
                                  m.set + " { " + render_key(m.key);
                if (m.timeout_seconds) out += " timeout " + render_duration(*m.timeout_seconds);
                if (m.limit) out += " " + render_limit(*m.limit);
                return out + " }";
            },
        },
        match);
}

std::string render(const Statement& statement) {
    return std::visit(
        Overloaded{
            [](const CounterRef& s) { return "counter name " + quoted(s.name); },
            [](const Log& s) {
                std::string out = "log";
                if (!s.prefix.empty()) out += " prefix " + quoted(s.prefix);
                return out + " group " + std::to_string(s.group);
            },
            [](const Reject& s) {
                return std::string(s.kind == Reject::Kind::tcp_reset
                                       ? "reject with tcp reset"
                                       : "reject with icmpx admin-prohibited");
            },
            [](const VerdictStmt& s) { return render_verdict(s.verdict); },
            [](const VerdictMapStmt& s) { return render_key(s.key) + " vmap @" + s.map; },
            [](const DnatMapStmt& s) {
                return std::string("dnat ") + (s.family == Family::ipv4 ? "ip" : "ip6") + " to " +
                       render_key(s.key) + " map @" + s.map;
            },
            [](const Masquerade&) { return std::string("masquerade"); },
            [](const CtHelperSet& s) { return "ct helper set " + quoted(s.helper); },
        },
        statement);
}

std::string render(const Rule& rule) {
    std::vector<std::string> parts;
    for (const auto& m : rule.matches) parts.push_back(render(m));
    for (const auto& s : rule.statements) parts.push_back(render(s));
    if (!rule.comment.empty()) parts.push_back("comment " + quoted(rule.comment));
    return join(parts, " ");
}

std::string render(const Table& table) {
    std::string out = fmt::format("table {} {} {{\n", table.family, table.name);
    bool first = true;
    auto separate = [&] {
        if (!first) out += "\n";
        first = false;
    };
    for (const auto& helper : table.ct_helpers) {
        separate();
        out += fmt::format("\tct helper {} {{\n\t\ttype {} protocol {}\n\t\tl3proto {}\n\t}}\n",
                           helper.name, quoted(helper.type), render_proto(helper.protocol),
                           helper.l3proto == Family::ipv4 ? "ip" : "ip6");
    }
    for (const auto& limit : table.limits) {
        separate();
        out += fmt::format("\tlimit {} {{\n\t\trate {}/second", limit.name, limit.rate_per_second);
        if (limit.burst_packets) out += fmt::format(" burst {} packets", limit.burst_packets);
        out += "\n\t}\n";
    }
    for (const auto& counter : table.counters) {
        separate();
        out += fmt::format("\tcounter {} {{\n\t}}\n", counter.name);
    }
    for (const auto& set : table.sets) {
        separate();
        render_set(out, set);
    }
    for (const auto& chain : table.chains) {
        separate();
        out += fmt::format("\tchain {} {{\n", chain.name);
        if (chain.base) {
            out += fmt::format("\t\ttype {} hook {} priority {}; policy {};\n",
                               chain.base->type == BaseChain::Type::nat ? "nat" : "filter",
                               hook_name(chain.base->hook), chain.base->priority,
                               chain.base->policy == Verdict::Kind::drop ? "drop" : "accept");
        }
        for (const auto& rule : chain.rules) out += "\t\t" + render(rule) + "\n";
        out += "\t}\n";
    }
    out += "}\n";
    return out;
}

std::string identifier(const std::string& prefix, const std::string& text) {
    std::string body;
    bool changed = false;
    for (char c : text) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        body += ok ? c : '_';
        changed |= !ok;
    }
    // Kernel object names are bounded (NFT_NAME_MAXLEN 256); stay far below with room for suffixes.
    constexpr std::size_t kMaxBody = 160;
    if (body.size() > kMaxBody) {
        body.resize(kMaxBody);
        changed = true;
    }
    if (changed) {
        std::uint32_t hash = 2166136261u;  // FNV-1a: stable across runs and platforms
        for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
        body += fmt::format("_{:08x}", hash);
    }
    return prefix + body;
}

}  // namespace portcullis::compile::ir
