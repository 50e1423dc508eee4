#include "kernel/transaction.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>

#include <fmt/core.h>
#include <fmt/format.h>

namespace portcullis::kernel {
namespace {

std::string table_ref() { return fmt::format("{} {}", compile::kTableFamily, compile::kTableName); }

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string describe(const SetShape& shape) {
    std::string out = shape.key.empty() ? std::string("(no type)") : shape.key;
    if (!shape.flags.empty()) {
        out += "; flags ";
        for (std::size_t i = 0; i < shape.flags.size(); ++i) out += (i ? "," : "") + shape.flags[i];
    }
    return out;
}

bool key_comparable(const SetShape& a, const SetShape& b) {
    auto form = [](const SetShape& s) { return s.key.substr(0, s.key.find(' ')); };
    return form(a) == form(b);
}

std::size_t count_lines(std::string_view text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// For a static set or map the new table declares with the same shape: the keys of the live
// elements the new table no longer has (possibly none). nullopt when the set cannot be kept
// (absent or reshaped in the new table, or its live elements cannot be listed).
struct ElementDiff {
    std::vector<std::string> delete_keys;  // live elements the new table does not have
    std::vector<std::string> add_texts;    // new elements the live set does not have
};

std::optional<ElementDiff> element_diff(const TableObject& live, const TableText& next,
                                        const SetLister& list_set) {
    const TableObject* wanted = next.find(live.kind, live.name);
    if (wanted == nullptr || !list_set) return std::nullopt;
    if (set_shape(live) != set_shape(*wanted)) return std::nullopt;
    auto listing = list_set(live.kind, live.name);
    if (!listing) return std::nullopt;
    auto listed = scan_table(*listing);
    if (!listed) return std::nullopt;
    const TableObject* current = listed->find(live.kind, live.name);
    if (current == nullptr) return std::nullopt;
    auto next_elements = set_elements_with_text(*wanted);
    auto live_elements = set_elements(*current);
    std::vector<std::string> next_identities;
    for (const auto& e : next_elements) next_identities.push_back(e.identity);
    std::sort(next_identities.begin(), next_identities.end());
    std::sort(live_elements.begin(), live_elements.end());
    ElementDiff diff;
    for (const auto& element : live_elements)
        if (!std::binary_search(next_identities.begin(), next_identities.end(), element))
            diff.delete_keys.push_back(element_key(element));
    for (const auto& element : next_elements)
        if (!std::binary_search(live_elements.begin(), live_elements.end(), element.identity))
            diff.add_texts.push_back(element.text);
    return diff;
}

}  // namespace

Result<Transaction> build_replace(const std::optional<std::string>& live, const compile::Compiled& next,
                                  const SetLister& list_set) {
    auto next_table = scan_table(next.table_text);
    if (!next_table) return fail("the compiled table text cannot be read: " + next_table.error().message);

    const std::string ref = table_ref();
    Transaction tx;
    std::string& s = tx.script;
    std::map<std::string, std::vector<std::string>> additions;  // kept set → elements it lacks
    s += fmt::format("add table {}\n", ref);

    if (live) {
        auto live_table = scan_table(*live);
        if (!live_table) return fail("the kernel's listing of the table cannot be read: " + live_table.error().message);

        std::vector<std::string> element_deletes;
        std::vector<std::string> set_deletes;
        std::vector<std::string> object_deletes;
        std::vector<std::string> chain_deletes;
        for (const auto& object : live_table->objects) {
            if (object.kind == "chain") {
                s += fmt::format("flush chain {} {}\n", ref, object.name);
                // A chain the new table still has (same hook, for base chains) is kept and only
                // its rules are replaced: verdict-map elements that jump to it stay valid, and a
                // base chain's hook is never unregistered and registered again.
                const TableObject* wanted = next_table->find("chain", object.name);
                if (wanted == nullptr || base_chain_header(*wanted) != base_chain_header(object))
                    chain_deletes.push_back(fmt::format("delete chain {} {}\n", ref, object.name));
                continue;
            }
            if (object.kind == "set" || object.kind == "map") {
                bool runtime = object.kind == "set" &&
                               (is_runtime_set_name(object.name) || contains(next.manifest.runtime_sets, object.name));
                if (!runtime) {
                    if (auto diff = element_diff(object, *next_table, list_set)) {
                        // Kept: only the elements that differ are deleted and added; the rest are
                        // never touched (and not even sent again). Re-creating an interval set
                        // instead leaves it empty to packets for a moment after the commit
                        // (measured: datagrams of a flow lost on re-apply).
                        if (!diff->delete_keys.empty())
                            element_deletes.push_back(fmt::format("delete element {} {} {{ {} }}\n", ref,
                                                                  object.name, fmt::join(diff->delete_keys, ", ")));
                        // Additions stay in the set's declaration: an `add element` (or `delete
                        // element`) command makes nft 1.0.6 fetch every element of every set in the
                        // table first (4 s with 200k bans), a declaration does not.
                        tx.kept_elements_deleted += diff->delete_keys.size();
                        tx.kept_elements_added += diff->add_texts.size();
                        additions[object.name] = std::move(diff->add_texts);
                        tx.kept_static_sets.push_back(object.name);
                        continue;
                    }
                    set_deletes.push_back(fmt::format("delete {} {} {}\n", object.kind, ref, object.name));
                    continue;
                }
                const TableObject* wanted = next_table->find("set", object.name);
                if (wanted == nullptr) {
                    tx.kept_runtime_sets.push_back(object.name);
                    tx.warnings.push_back(fmt::format(
                        "runtime set {} is no longer used by the policy; it is kept with its elements "
                        "(`portcullis flush` removes it)", object.name));
                    continue;
                }
                SetShape have = set_shape(object);
                SetShape want = set_shape(*wanted);
                bool incompatible = have.flags != want.flags || (key_comparable(have, want) && have.key != want.key);
                if (incompatible) {
                    set_deletes.push_back(fmt::format("delete set {} {}\n", ref, object.name));
                    tx.recreated_runtime_sets.push_back(object.name);
                    tx.warnings.push_back(fmt::format(
                        "runtime set {} changed incompatibly (kernel: {}; policy: {}): it is recreated "
                        "and its current elements are dropped", object.name, describe(have), describe(want)));
                    continue;
                }
                if (have.default_timeout != want.default_timeout) {
                    // Kernel 6.18 updates the default in place; older kernels may keep the old one
                    // until a flush. Either way the elements already present keep their expiry.
                    tx.warnings.push_back(fmt::format(
                        "runtime set {}: default timeout changes from {} to {}; elements already in it keep "
                        "their own expiry (some older kernels keep the old default until `portcullis flush`)",
                        object.name, have.default_timeout.value_or("none"), want.default_timeout.value_or("none")));
                }
                tx.kept_runtime_sets.push_back(object.name);
                continue;
            }
            if (object.kind == "counter" && next_table->find("counter", object.name) != nullptr) {
                continue;  // kept: `add counter` leaves the packet and byte values as they are
            }
            // ct helpers (re-adding keeps the old definition), counters no longer defined,
            // quotas, limits and any other stateful object: removed, re-added by the new text.
            object_deletes.push_back(fmt::format("delete {} {} {}\n", object.kind, ref, object.name));
        }
        // Maps may refer to chains (jump/goto verdicts) and objects; rules to everything. Rules
        // went first (flush), then maps and sets, objects, and chains last.
        // Before the table text, whose declarations add the new elements: a map element whose
        // data changes is deleted and added again.
        for (const auto& line : element_deletes) s += line;
        for (const auto& line : set_deletes) s += line;
        for (const auto& line : object_deletes) s += line;
        for (const auto& line : chain_deletes) s += line;
    }
    tx.prelude_lines = count_lines(s);
    // Kept sets: their element lists shrink to the elements the live set lacks (blank when none;
    // padded to the same line count, so error locations stay those of the compiled text), so a
    // large, unchanged policy is not sent again.
    s += additions.empty() ? next.table_text : replace_set_elements(next.table_text, additions);
    if (!s.empty() && s.back() != '\n') s += '\n';
    return tx;
}

std::string build_delete() { return fmt::format("delete table {}\n", table_ref()); }

std::string relocate_error(std::string_view nft_error, std::size_t prelude_lines) {
    const std::string marker_text = std::string(kScriptLocation) + ":";
    const std::string_view kMarker = marker_text;
    std::string out;
    std::size_t at = 0;
    while (true) {
        std::size_t hit = nft_error.find(kMarker, at);
        if (hit == std::string_view::npos) break;
        out.append(nft_error.substr(at, hit - at));
        std::size_t number_begin = hit + kMarker.size();
        std::size_t number_end = number_begin;
        while (number_end < nft_error.size() && nft_error[number_end] >= '0' && nft_error[number_end] <= '9')
            ++number_end;
        std::size_t line = 0;
        auto parsed = std::from_chars(nft_error.data() + number_begin, nft_error.data() + number_end, line);
        if (parsed.ec == std::errc() && number_end > number_begin && line > prelude_lines) {
            out += fmt::format("table:{}", line - prelude_lines);
        } else {
            out.append(nft_error.substr(hit, number_end - hit));
        }
        at = number_end;
    }
    out.append(nft_error.substr(at));
    return out;
}

namespace {

// PORTCULLIS_APPLY_TIMING=1 prints where an apply spends its time (stderr), for bench/apply_bench.sh.
class PhaseClock {
public:
    PhaseClock() : enabled_(std::getenv("PORTCULLIS_APPLY_TIMING") != nullptr), last_(std::chrono::steady_clock::now()) {}
    void mark(const std::string& phase) {
        if (!enabled_) return;
        auto now = std::chrono::steady_clock::now();
        fmt::print(stderr, "apply phase {:<44} {:8.1f} ms\n", phase,
                   std::chrono::duration<double, std::milli>(now - last_).count());
        last_ = now;
    }

private:
    bool enabled_;
    std::chrono::steady_clock::time_point last_;
};

}  // namespace

std::vector<WireSet> staged_sets(const compile::Compiled& next) {
    std::vector<WireSet> out;
    for (const auto& set : next.sets) {
        if (set.elements.empty()) continue;
        if (auto wire = encode_static_set(set)) out.push_back(std::move(*wire));
    }
    return out;
}

std::string blank_chains(std::string_view text) {
    auto table = scan_table(text);
    if (!table) return std::string(text);
    std::string out;
    std::size_t at = 0;
    for (const auto& object : table->objects) {
        if (object.kind != "chain") continue;
        out.append(text.substr(at, object.begin - at));
        auto body = text.substr(object.begin, object.end - object.begin);
        out.append(static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')), '\n');
        at = object.end;
    }
    out.append(text.substr(at));
    return out;
}

namespace {

// A first apply whose static sets hold elements: (1) one nft transaction creates the table with
// every set, map, counter and object but no chain, and without the elements of the sets written
// over netlink; (2) those elements go in over netlink; (3) a second nft transaction adds the
// chains (and re-declares the rest, which changes nothing). Until (3) commits the table has no
// chain, so no packet is judged by a half-built table; (3) adds every rule at once. When (2) or
// (3) fails, the table is deleted again: the kernel is as before (there was no table).
Result<ApplyOutcome> create_staged(Nftables& nft, const compile::Compiled& next, std::vector<WireSet> staged,
                                   PhaseClock& clock) {
    std::map<std::string, std::vector<std::string>> without_elements;
    std::size_t element_count = 0;
    for (const auto& set : staged) {
        without_elements[set.name] = {};
        element_count += set.elements.size();
    }
    const std::string head = fmt::format("add table {}\n", table_ref());
    const std::string text = replace_set_elements(next.table_text, without_elements);
    ApplyOutcome outcome;
    outcome.table_existed = false;
    outcome.transaction.prelude_lines = count_lines(head);
    outcome.transaction.script = head + text;
    if (!outcome.transaction.script.empty() && outcome.transaction.script.back() != '\n')
        outcome.transaction.script += '\n';
    auto explain = [&](const Error& error) {
        std::string out = relocate_error(error.message, outcome.transaction.prelude_lines);
        if (out.find("File exists") != std::string::npos)
            out += "\nhint: an object of that name already exists in the kernel with a different definition";
        return out;
    };
    clock.mark(fmt::format("staged plan ({} sets, {} kernel elements)", staged.size(), element_count));

    // Verdict maps jump to chains, which step 1 does not create: their elements wait for step 3.
    std::map<std::string, std::vector<std::string>> verdict_maps;
    for (const auto& set : next.sets)
        if (!set.data.empty() && set.data.front() == compile::ir::DataType::verdict && !set.elements.empty())
            verdict_maps[set.name] = {};
    const std::string step1 = blank_chains(verdict_maps.empty() ? text : replace_set_elements(text, verdict_maps));
    // `create`, not `add`: if another writer made the table since we looked, step 1 fails as a whole
    // instead of merging into that table, so the clean-up below never deletes a table not ours.
    const std::string create_head = fmt::format("create table {}\n", table_ref());
    auto sets_only = nft.run(create_head + step1, RunMode::commit);
    clock.mark("commit 1: table without chains");
    if (!sets_only) return fail("the kernel rejected the new table; nothing was changed.\n" + explain(sets_only.error()));

    auto undo = [&](const std::string& why) -> Error {
        auto removed = nft.run(build_delete(), RunMode::commit);
        if (!removed)
            return Error{why + "\nremoving the partly created table failed too (" + removed.error().message +
                         "); it has no chains, so it does not act on packets; `portcullis flush` removes it"};
        return Error{why};
    };
    auto written = nft.write_set_elements(staged);
    clock.mark("set elements over netlink");
    if (!written)
        return tl::unexpected(undo("the kernel rejected the elements of the new table; nothing was changed.\n" +
                                   written.error().message));

    auto committed = nft.run(outcome.transaction.script, RunMode::commit);
    clock.mark("commit 2: chains");
    if (!committed)
        return tl::unexpected(
            undo("the kernel rejected the new table; nothing was changed.\n" + explain(committed.error())));
    return outcome;
}

}  // namespace

Result<ApplyOutcome> apply_table(Nftables& nft, const compile::Compiled& next, bool dry_run_only) {
    PhaseClock clock;
    auto live = nft.list_table_skeleton();
    if (!live) return fail("cannot read the current table from the kernel: " + live.error().message);
    clock.mark("skeleton");
    if (!*live && !dry_run_only && nft.writes_set_elements()) {
        auto staged = staged_sets(next);
        if (!staged.empty()) return create_staged(nft, next, std::move(staged), clock);
    }
    double listing_ms = 0;
    if (*live) {
        // Static sets and maps the new table declares again are the ones the plan lists.
        if (auto skeleton = scan_table(**live)) {
            std::vector<std::pair<std::string, std::string>> wanted;
            for (const auto& object : skeleton->objects) {
                if (object.kind != "set" && object.kind != "map") continue;
                if (object.kind == "set" && (is_runtime_set_name(object.name) ||
                                             contains(next.manifest.runtime_sets, object.name)))
                    continue;
                if (contains(next.manifest.sets, object.name)) wanted.emplace_back(object.kind, object.name);
            }
            auto started = std::chrono::steady_clock::now();
            nft.prefetch_sets(wanted);
            listing_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        }
    }
    auto tx = build_replace(*live, next, [&nft, &listing_ms](const std::string& kind, const std::string& name) {
        auto started = std::chrono::steady_clock::now();
        auto listed = nft.list_set_text(kind, name);
        listing_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        return listed;
    });
    nft.prefetch_sets({});  // drop listings the plan did not use: they must not outlive this apply
    if (!tx) return fail(tx.error().message);
    clock.mark(fmt::format("plan (kept {} sets listed in {:.1f} ms, -{} +{} elements)", tx->kept_static_sets.size(),
                           listing_ms, tx->kept_elements_deleted, tx->kept_elements_added));

    ApplyOutcome outcome{std::move(*tx), live->has_value()};
    auto explain = [&](const Error& error) {
        std::string text = relocate_error(error.message, outcome.transaction.prelude_lines);
        if (text.find("File exists") != std::string::npos)
            text += "\nhint: an object of that name already exists in the kernel with a different definition";
        for (const auto& name : outcome.transaction.kept_runtime_sets) {
            if (text.find("@" + name) == std::string::npos) continue;
            text += fmt::format(
                "\nhint: runtime set {} is kept from the kernel's current table, and its definition there does "
                "not fit the new rules; `nft list set {} {}` shows it. `portcullis flush` removes it (and the "
                "bans and grants it holds), then apply again",
                name, table_ref(), name);
        }
        return text;
    };
    if (dry_run_only) {
        auto checked = nft.run(outcome.transaction.script, RunMode::check);
        clock.mark("check");
        if (!checked)
            return fail("the kernel rejected the new table; nothing was changed.\n" + explain(checked.error()));
        return outcome;
    }
    // No separate check first: the commit is one transaction, and everything a check would catch
    // (nft's parse and evaluation, and every kernel refusal) fails the commit before anything
    // changes; nft sends nothing when parsing or evaluation fails, and the kernel aborts the whole
    // batch on any refused message. A check first cost a second parse of the whole text (~200 ms
    // of a 10k-service first apply). tests/lab/apply_safety_test.sh compares the ruleset after
    // a failed apply byte for byte.
    auto committed = nft.run(outcome.transaction.script, RunMode::commit);
    clock.mark("commit");
    if (!committed)
        return fail("the kernel rejected the new table; nothing was changed.\n" + explain(committed.error()));
    return outcome;
}

Result<bool> delete_table(Nftables& nft) {
    auto live = nft.list_table_skeleton();
    if (!live) return fail("cannot read the current table from the kernel: " + live.error().message);
    if (!*live) return false;
    auto deleted = nft.run(build_delete(), RunMode::commit);
    if (!deleted) return fail("the kernel refused to delete the table: " + deleted.error().message);
    return true;
}

}  // namespace portcullis::kernel
