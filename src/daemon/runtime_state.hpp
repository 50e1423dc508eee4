#pragma once
// The daemon's view of runtime state: grants (source → guarded service) and bans (prefix, with
// escalation history). The kernel sets are the truth for what is enforced and they expire
// elements themselves; this keeps just what the kernel cannot: who was granted when (to report
// expiry), and the history (offence count, last duration) of the bans this daemon made, for
// escalation and the state file. Bans found in the kernel without a history are not mirrored
// (a million of them would cost the daemon ~100 MB for nothing it needs): only their expiry times
// are kept, to count them; `bans list` asks the kernel for them. Every change goes to the kernel through the SetBatcher; events are emitted only once the
// kernel has accepted the change.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/net.hpp"
#include "common/result.hpp"
#include "daemon/ban_listing.hpp"
#include "daemon/events.hpp"
#include "daemon/set_batcher.hpp"
#include "daemon/state_file.hpp"
#include "kernel/netlink_set_writer.hpp"

namespace portcullis::daemon {

struct PrefixHash {
    std::size_t operator()(const Prefix& prefix) const noexcept;
};

// History is forgotten this long after a ban ended (detectors escalate only on recent repeats).
inline constexpr std::int64_t kBanHistorySeconds = 30LL * 24 * 3600;

struct RuntimeConfig {
    std::set<std::string> guarded_services;  // services with grant4_/grant6_ sets
    // The table has the host hash sets banh4/banh6 besides the interval sets ban4/ban6 (split ban
    // layout, compile.hpp): hosts go to the hash sets, prefixes to the interval sets.
    bool split_ban_sets = false;
    std::uint32_t default_grant_seconds = 3600;
    std::uint32_t default_ban_seconds = 3600;
};

class RuntimeState {
public:
    using Clock = std::function<std::int64_t()>;  // unix seconds
    // Called once per change with nullptr on success or the reason it failed.
    using Done = std::function<void(const std::string* error)>;

    RuntimeState(SetBatcher& batcher, EventLog& events, Clock clock);

    void configure(RuntimeConfig config);
    const RuntimeConfig& config() const { return config_; }

    // Validation errors return immediately; kernel outcomes arrive through `done` on flush.
    Result<void> add_grant(const Address& source, const std::string& service,
                           std::optional<std::uint32_t> seconds, Done done = {});
    // A grant another thread already wrote to the kernel (the SPA thread): remembered for expiry
    // reports, and grant_opened is emitted, exactly as add_grant's completion does.
    void record_grant(const Address& source, const std::string& service, std::uint32_t seconds);
    Result<void> revoke_grant(const Address& source, const std::string& service, Done done = {});
    Result<void> add_ban(const Prefix& prefix, std::optional<std::uint32_t> seconds,
                         const std::string& reason, Done done = {});
    Result<void> remove_ban(const Prefix& prefix, Done done = {});

    // Start-up: take in what the kernel already holds and what the state file remembers.
    // Kernel elements win (they are what is enforced); state bans the kernel lacks are re-added
    // with the time they have left; kernel bans without a saved history are counted, not kept.
    // Returns how many bans were re-added.
    struct KernelView {
        std::vector<kernel::ListedElement> bans;  // every ban set (ban_sets())
        std::map<std::string, std::vector<kernel::ListedElement>> grants;  // by service
    };
    std::size_t restore(const DaemonState& saved, const KernelView& kernel);

    // Periodic: grants the kernel no longer holds have expired (emits grant_expired); bans past
    // their time end (emits ban_removed reason "expired"); old history is pruned.
    void reconcile_grants(const std::map<std::string, std::vector<kernel::ListedElement>>& kernel);
    void expire_bans();

    DaemonState export_state() const;
    bool state_dirty() const { return dirty_; }
    void mark_saved() { dirty_ = false; }

    // Escalation input for detectors: how often `prefix` was banned (history kept for
    // kBanHistorySeconds after a ban ends, and in the state file); 0 when never.
    std::uint32_t ban_offences(const Prefix& prefix) const;
    // When the live ban of exactly `prefix` was placed; nullopt when it is not banned now.
    std::optional<std::int64_t> live_ban_since(const Prefix& prefix) const;
    // Active bans counted by the reason they were placed for ("manual", "scan", ...).
    std::map<std::string, std::size_t> active_bans_by_reason() const;

    std::size_t active_grants() const { return grants_.size(); }
    // Bans with a history that are live, plus kernel bans without one that have not run out.
    std::size_t active_bans() const;
    std::size_t ban_records() const { return bans_.size(); }
    std::size_t adopted_bans() const;  // in the kernel at start, no history, still running
    // Ban-set changes this daemon has queued so far (adds, removes, re-adds). A kernel dump of the
    // ban sets that overlaps a change can skip elements without the kernel saying so (the set's
    // walk restarts for every reply), so a listing compares this before and after its dump.
    std::uint64_t ban_writes() const { return ban_writes_; }
    // Of those, the ones the kernel has answered (taken or refused). While the two differ, a change
    // is queued or in flight and may land in the kernel at any moment.
    std::uint64_t ban_writes_done() const { return ban_writes_done_; }
    nlohmann::json grants_json() const;
    // Live bans with their history; with `kernel` (every ban set as listed now), kernel elements
    // without a history are listed too (reason "adopted"), once each even if two sets hold one.
    nlohmann::json bans_json(const std::vector<kernel::ListedElement>* kernel = nullptr) const;
    // The same bans as a snapshot for paging (sorted by prefix, distinct), and one of them
    // rendered now: nullopt when it has ended since the snapshot (expired or removed).
    // `kernel_sorted`: `kernel` is already sort_distinct (the listing thread did it): merged in
    // one pass instead of sorted again on the loop.
    std::vector<BanListEntry> ban_list_entries(const std::vector<kernel::ListedElement>* kernel = nullptr,
                                               bool kernel_sorted = false) const;
    std::optional<nlohmann::json> ban_entry_json(const BanListEntry& entry) const;
    // Live bans with a history, by the set that holds them (hosts and prefixes, v4 and v6).
    std::map<std::string, std::size_t> live_bans_by_set() const;

    // Where a ban goes: ban4/ban6 (interval) — or, with split_ban_sets, hosts to the hash sets
    // banh4/banh6 and prefixes to ban4/ban6.
    struct BanSet {
        std::string name;
        bool interval = true;
    };
    BanSet set_for_ban(const Prefix& prefix) const;
    // Where a ban may be found: a host may also sit in ban4/ban6, put there by a version without
    // the split layout (runtime sets keep their elements across an upgrade), so removal asks both.
    std::vector<BanSet> sets_holding(const Prefix& prefix) const;
    std::vector<BanSet> ban_sets() const;  // every ban set of the current layout
    static std::string set_for_grant(const Address& source, const std::string& service);

private:
    std::uint64_t ban_writes_ = 0;
    std::uint64_t ban_writes_done_ = 0;
    struct GrantEntry {
        std::int64_t opened_at = 0;
        std::int64_t expires_at = 0;
    };
    struct BanEntry {
        std::int64_t banned_at = 0;
        std::int64_t expires_at = 0;
        std::uint32_t offences = 0;
        std::uint32_t last_duration = 0;
        std::uint16_t reason = 0;  // index into reasons_
        bool live = false;         // in the kernel now (false: history only)
    };
    std::uint16_t intern_reason(const std::string& reason);
    std::optional<std::string> kernel_error_text(const std::string& error, const Prefix& prefix) const;
    void finish_ban_removal(const Prefix& prefix, const std::string* error, const Done& done);

    SetBatcher& batcher_;
    EventLog& events_;
    Clock clock_;
    RuntimeConfig config_;
    std::map<std::pair<std::string, Address>, GrantEntry> grants_;
    std::unordered_map<Prefix, BanEntry, PrefixHash> bans_;
    std::vector<std::string> reasons_;
    std::vector<std::int64_t> adopted_expiry_;  // sorted; kernel bans without a history
    bool dirty_ = false;
    std::int64_t next_expiry_check_ = 0;
};

}  // namespace portcullis::daemon
