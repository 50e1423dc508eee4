#pragma once
// The one door to nftables for everything except the daemon's hot set-element path (that goes
// over netlink_*). Two implementations: libnftables for real, and RecordingNftables, a fake that
// records every script and answers listings from canned text, for unit tests without root.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "kernel/netlink_static_sets.hpp"

namespace portcullis::kernel {

// check: the kernel validates the whole transaction (nft -c) and then aborts it; nothing changes.
// commit: the transaction is applied atomically, or not at all.
enum class RunMode { check, commit };

// How nft error messages name the script they refer to: "transaction:LINE:COLUMN: Error: ...".
inline constexpr const char* kScriptLocation = "transaction";

// How a listing prints. `terse` leaves out set elements (cheap with large ban sets); `full`
// includes them (what a rollback snapshot needs).
enum class Detail { terse, full };

class Nftables {
public:
    virtual ~Nftables() = default;

    // Runs an nft script as one transaction. On failure the error is nft's own message, located
    // as "transaction:LINE:COLUMN" in the script, with the line and a caret under the culprit.
    virtual Result<void> run(std::string_view script, RunMode mode) = 0;

    // `nft -j list table inet portcullis`; nullopt when the table does not exist.
    virtual Result<std::optional<nlohmann::json>> list_table_json(Detail detail) = 0;

    // `nft list table inet portcullis`; nullopt when the table does not exist.
    virtual Result<std::optional<std::string>> list_table_text(Detail detail) = 0;

    // `nft list ruleset` — everything, every table (used for before/after comparisons).
    virtual Result<std::string> list_ruleset_text() = 0;

    // The table's objects without rules or set elements (chains with their hooks, sets and maps
    // with their declarations, counters, limits, quotas, ct helpers): what apply needs to plan a
    // replacement. Unlike `list table`, this never fetches set elements, so it stays fast when
    // the ban sets hold a million addresses. nullopt when the table does not exist.
    virtual Result<std::optional<std::string>> list_table_skeleton() = 0;

    // `nft list KIND inet portcullis NAME` (KIND: set or map) with its elements; fails when absent.
    virtual Result<std::string> list_set_text(const std::string& kind, const std::string& name) = 0;

    // A hint that list_set_text will be asked for these (kind, name) pairs next: an adapter may
    // list them now, in parallel, and answer the later calls from what it fetched (once each).
    virtual void prefetch_sets(const std::vector<std::pair<std::string, std::string>>& /*sets*/) {}

    // Adds the elements of existing sets of our table over netlink (netlink_static_sets.hpp), in
    // NFNL batches of at most 4 MiB, each its own transaction. On failure the error names the set
    // and the kernel's reason; batches before the failing one have landed. An adapter that cannot
    // write elements this way answers false to writes_set_elements() and is never asked.
    virtual bool writes_set_elements() const { return false; }
    virtual Result<void> write_set_elements(std::span<const WireSet> /*sets*/) {
        return fail("this adapter does not write set elements over netlink");
    }
};

// The real adapter over libnftables. Fails only if libnftables cannot allocate a context.
Result<std::unique_ptr<Nftables>> make_libnftables();

// Test fake: records every run() call; answers listings from the canned fields below, which a
// test may change between calls. `fail_when_script_contains` makes run() fail the way nft does.
class RecordingNftables final : public Nftables {
public:
    struct Call {
        std::string script;
        RunMode mode;
    };
    std::vector<Call> calls;

    std::optional<nlohmann::json> table_json;  // nullopt: table absent
    std::optional<std::string> table_text;     // nullopt: table absent
    std::string ruleset_text;
    // Listings of single sets/maps by name (absent name: the listing fails).
    std::map<std::string, std::string> set_texts;

    // When a script contains this text, run() fails with `failure_message` (nothing recorded as
    // committed: the fake mirrors the kernel, where a failed transaction changes nothing).
    std::optional<std::string> fail_when_script_contains;
    std::string failure_message = "Error: Could not process rule: File exists";

    // Commits that succeeded, in order (check runs are not here).
    std::vector<std::string> committed;

    // write_set_elements: answered only when `netlink_elements` is true; every call is recorded
    // in `element_writes` (also a failing one); `fail_element_writes` makes it fail with that text.
    bool netlink_elements = false;
    std::vector<std::vector<WireSet>> element_writes;
    std::optional<std::string> fail_element_writes;
    // Every call in order: "run:check", "run:commit" (also failed ones) and "elements".
    std::vector<std::string> sequence;

    Result<void> run(std::string_view script, RunMode mode) override;
    Result<std::optional<nlohmann::json>> list_table_json(Detail detail) override;
    Result<std::optional<std::string>> list_table_text(Detail detail) override;
    Result<std::string> list_ruleset_text() override;
    Result<std::string> list_set_text(const std::string& kind, const std::string& name) override;
    Result<std::optional<std::string>> list_table_skeleton() override;  // answers table_text
    bool writes_set_elements() const override { return netlink_elements; }
    Result<void> write_set_elements(std::span<const WireSet> sets) override;
};

}  // namespace portcullis::kernel
