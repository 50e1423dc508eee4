// Load-time check of a compiled table: every node must be one the evaluator gives a meaning to,
// and every name it references must exist. A table the simulator cannot model is refused here,
// loudly, instead of being half-evaluated.
#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>
#include <type_traits>

#include "common/overloaded.hpp"
#include "simulate/simulator.hpp"

namespace portcullis::simulate {

namespace ir = compile::ir;

namespace {

bool field_known(ir::Field field) {
    switch (field) {
        case ir::Field::meta_nfproto:
        case ir::Field::meta_l4proto:
        case ir::Field::iifname:
        case ir::Field::oifname:
        case ir::Field::ip_saddr:
        case ir::Field::ip_daddr:
        case ir::Field::ip6_saddr:
        case ir::Field::ip6_daddr:
        case ir::Field::ip6_hoplimit:
        case ir::Field::th_dport:
        case ir::Field::th_sport:
        case ir::Field::ct_original_proto_dst:
        case ir::Field::icmpv6_type: return true;
        default: return false;  // a field added to the IR later: the table is refused at load
    }
}

class Checker {
public:
    explicit Checker(const ir::Table& table) : table_(table) {
        for (const auto& c : table.counters) counters_.insert(c.name);
        for (const auto& l : table.limits) limits_.insert(l.name);
        for (const auto& h : table.ct_helpers) helpers_.insert(h.name);
    }

    Result<void> run() {
        for (const auto& helper : table_.ct_helpers)
            if (helper.type != "pptp")
                return fail(fmt::format("ct helper {} has type \"{}\": simulate models only the pptp helper",
                                        helper.name, helper.type));
        for (const auto& set : table_.sets)
            for (const auto& element : set.elements)
                if (const std::size_t parts = set.raw_key.empty() ? set.key.size() : set.raw_key.size();
                    !element.key.empty() && element.key.size() != parts)
                    return fail(fmt::format("set {}: an element has {} key parts, the set's type has {}",
                                            set.name, element.key.size(), parts));
        for (const auto& chain : table_.chains) {
            if (chain.base) {
                if (chain.base->hook != ir::BaseChain::Hook::prerouting &&
                    chain.base->hook != ir::BaseChain::Hook::input &&
                    chain.base->hook != ir::BaseChain::Hook::forward &&
                    chain.base->hook != ir::BaseChain::Hook::output &&
                    chain.base->hook != ir::BaseChain::Hook::postrouting)
                    return fail(where(chain, 0) + "unknown hook");
                if (!priority_known(chain.base->priority))
                    return fail(where(chain, 0) + "priority \"" + chain.base->priority + "\" is not one simulate knows");
                if (chain.base->policy != ir::Verdict::Kind::accept &&
                    chain.base->policy != ir::Verdict::Kind::drop)
                    return fail(where(chain, 0) + "a base chain policy must be accept or drop");
            }
            for (std::size_t i = 0; i < chain.rules.size(); ++i) {
                const auto& rule = chain.rules[i];
                for (const auto& match : rule.matches)
                    if (auto r = check_match(match); !r)
                        return fail(where(chain, i + 1) + r.error().message + " in `" + ir::render(rule) + "`");
                for (const auto& statement : rule.statements)
                    if (auto r = check_statement(statement, chain); !r)
                        return fail(where(chain, i + 1) + r.error().message + " in `" + ir::render(rule) + "`");
            }
        }
        return check_loops();
    }

private:
    static std::string where(const ir::Chain& chain, std::size_t rule) {
        return rule ? fmt::format("chain {} rule {}: ", chain.name, rule)
                    : fmt::format("chain {}: ", chain.name);
    }

    static bool priority_known(const std::string& text);

    Result<void> fields(const std::vector<ir::Field>& key) {
        if (key.empty()) return fail("an empty key");
        for (auto f : key)
            if (!field_known(f)) return fail(fmt::format("field #{} is not modelled", static_cast<int>(f)));
        return {};
    }

    Result<const ir::Set*> set_named(const std::string& name, std::size_t key_size) {
        const auto* set = table_.find_set(name);
        if (!set) return fail("set @" + name + " does not exist");
        if (set->key.size() != key_size)
            return fail(fmt::format("@{} has a {}-part key but the rule builds {} parts", name,
                                    set->key.size(), key_size));
        return set;
    }

    Result<void> check_verdict(const ir::Verdict& v) {
        if ((v.kind == ir::Verdict::Kind::jump || v.kind == ir::Verdict::Kind::go_to)) {
            const auto* target = table_.find_chain(v.chain);
            if (!target) return fail("chain " + v.chain + " does not exist");
            if (target->base) return fail("cannot jump to base chain " + v.chain);
        }
        return {};
    }

    Result<void> check_match(const ir::Match& match) {
        return std::visit(
            Overloaded{
                [&](const ir::SetLookup& m) -> Result<void> {
                    if (auto r = fields(m.key); !r) return r;
                    auto set = set_named(m.set, m.key.size());
                    if (!set) return tl::unexpected(set.error());
                    return {};
                },
                [&](const ir::Compare& m) -> Result<void> {
                    if (!field_known(m.field)) return fail("unknown field");
                    if (m.values.empty()) return fail("a comparison with no value");
                    return {};
                },
                [&](const ir::CtState& m) -> Result<void> {
                    if (m.any_of == 0 || (m.any_of & ~0x1fu)) return fail("ct state bits out of range");
                    return {};
                },
                [&](const ir::CtStatusDnat&) -> Result<void> { return {}; },
                [&](const ir::Secpath&) -> Result<void> { return {}; },
                [&](const ir::LimitRef& m) -> Result<void> {
                    if (!limits_.count(m.name)) return fail("limit " + m.name + " does not exist");
                    return {};
                },
                [&](const ir::LimitRate& m) -> Result<void> {
                    if (m.rate_per_second == 0) return fail("a limit of 0/second");
                    return {};
                },
                [&](const ir::Payload& m) -> Result<void> {
                    if (m.length_bits == 0 || m.length_bits > 32) return fail("payload length not in 1..32 bits");
                    if (m.values.empty()) return fail("payload match with no value");
                    if (m.base != ir::Payload::Base::network && m.base != ir::Payload::Base::transport &&
                        m.base != ir::Payload::Base::inner)
                        return fail("unknown payload base");
                    return {};
                },
                [&](const ir::RawLookup& m) -> Result<void> {
                    const auto* set = table_.find_set(m.set);
                    if (!set) return fail("set @" + m.set + " does not exist");
                    if (set->raw_key != m.key) return fail("@" + m.set + " is not keyed on the rule's raw fields");
                    for (const auto& f : m.key)
                        if (f.length_bits == 0 || f.length_bits > 32) return fail("raw field length not in 1..32 bits");
                    return {};
                },
                [&](const ir::SetUpdate& m) -> Result<void> {
                    if (auto r = fields(m.key); !r) return r;
                    auto set = set_named(m.set, m.key.size());
                    if (!set) return tl::unexpected(set.error());
                    if ((*set)->is_map()) return fail("add/update into a map is not modelled");
                    if (m.op != ir::SetUpdate::Op::add && m.op != ir::SetUpdate::Op::update &&
                        m.op != ir::SetUpdate::Op::remove)
                        return fail("unknown set operation");
                    return {};
                },
                // A node added to the IR after this evaluator was written: refuse the table.
                [&](const auto& unknown) -> Result<void> {
                    (void)unknown;
                    return fail("match `" + ir::render(match) + "` is not modelled by simulate");
                },
            },
            match);
    }

    Result<void> check_statement(const ir::Statement& statement, const ir::Chain& chain) {
        return std::visit(
            Overloaded{
                [&](const ir::CounterRef& s) -> Result<void> {
                    if (!counters_.count(s.name)) return fail("counter " + s.name + " does not exist");
                    return {};
                },
                [&](const ir::Log&) -> Result<void> { return {}; },
                [&](const ir::Reject& s) -> Result<void> {
                    if (s.kind != ir::Reject::Kind::tcp_reset &&
                        s.kind != ir::Reject::Kind::icmpx_admin_prohibited)
                        return fail("unknown reject kind");
                    return {};
                },
                [&](const ir::VerdictStmt& s) -> Result<void> { return check_verdict(s.verdict); },
                [&](const ir::VerdictMapStmt& s) -> Result<void> {
                    if (auto r = fields(s.key); !r) return r;
                    auto set = set_named(s.map, s.key.size());
                    if (!set) return tl::unexpected(set.error());
                    if ((*set)->data != std::vector<ir::DataType>{ir::DataType::verdict})
                        return fail("@" + s.map + " is not a verdict map");
                    for (const auto& e : (*set)->elements) {
                        const auto* v = std::get_if<ir::Verdict>(&e.data);
                        if (!v) return fail("@" + s.map + " has an element without a verdict");
                        if (auto r = check_verdict(*v); !r) return r;
                    }
                    return {};
                },
                [&](const ir::DnatMapStmt& s) -> Result<void> {
                    if (!chain.base || chain.base->type != ir::BaseChain::Type::nat)
                        return fail("dnat outside a nat chain");
                    if (auto r = fields(s.key); !r) return r;
                    auto set = set_named(s.map, s.key.size());
                    if (!set) return tl::unexpected(set.error());
                    for (const auto& e : (*set)->elements)
                        if (!std::holds_alternative<ir::NatTarget>(e.data))
                            return fail("@" + s.map + " has an element without a NAT target");
                    return {};
                },
                [&](const ir::Masquerade&) -> Result<void> {
                    if (!chain.base || chain.base->type != ir::BaseChain::Type::nat)
                        return fail("masquerade outside a nat chain");
                    return {};
                },
                [&](const ir::CtHelperSet& s) -> Result<void> {
                    if (!helpers_.count(s.helper)) return fail("ct helper " + s.helper + " does not exist");
                    return {};
                },
                [&](const auto& unknown) -> Result<void> {
                    (void)unknown;
                    return fail("statement `" + ir::render(statement) + "` is not modelled by simulate");
                },
            },
            statement);
    }

    // nft refuses jump loops at load time; so do we (the evaluator never has to guard depth).
    Result<void> check_loops() {
        std::map<std::string, int> state;  // 0 unvisited, 1 on stack, 2 done
        std::function<Result<void>(const ir::Chain&)> visit = [&](const ir::Chain& chain) -> Result<void> {
            state[chain.name] = 1;
            for (const auto& target : targets(chain)) {
                const auto* next = table_.find_chain(target);
                if (!next) continue;
                if (state[target] == 1) return fail("jump loop through chain " + target);
                if (state[target] == 0)
                    if (auto r = visit(*next); !r) return r;
            }
            state[chain.name] = 2;
            return {};
        };
        for (const auto& chain : table_.chains)
            if (state[chain.name] == 0)
                if (auto r = visit(chain); !r) return r;
        return {};
    }

    std::vector<std::string> targets(const ir::Chain& chain) const {
        std::vector<std::string> out;
        auto add = [&](const ir::Verdict& v) {
            if (v.kind == ir::Verdict::Kind::jump || v.kind == ir::Verdict::Kind::go_to) out.push_back(v.chain);
        };
        for (const auto& rule : chain.rules)
            for (const auto& s : rule.statements) {
                if (const auto* v = std::get_if<ir::VerdictStmt>(&s)) add(v->verdict);
                if (const auto* m = std::get_if<ir::VerdictMapStmt>(&s))
                    if (const auto* set = table_.find_set(m->map))
                        for (const auto& e : set->elements)
                            if (const auto* v = std::get_if<ir::Verdict>(&e.data)) add(*v);
            }
        return out;
    }

    const ir::Table& table_;
    std::set<std::string> counters_, limits_, helpers_;
};

}  // namespace

int priority_value(const std::string& text, bool* ok);

bool Checker::priority_known(const std::string& text) {
    bool ok = false;
    priority_value(text, &ok);
    return ok;
}

Result<void> validate(const ir::Table& table) { return Checker(table).run(); }

}  // namespace portcullis::simulate
