#pragma once
// Commit-confirm: `apply --confirm D` keeps the previous table in a state directory and leaves a
// detached waiter behind that restores it at the deadline unless `portcullis confirm` arrives.
//
// The race between a late confirm and the rollback is settled by rename(2), which is atomic:
// the token `pending.<id>` is renamed either to `confirmed.<id>` (by confirm) or to
// `rollingback.<id>` (by the waiter at the deadline); whoever renames first wins, the other sees
// ENOENT. A confirm that loses reports "too late, rolled back". Only one confirm can be pending:
// a second `apply --confirm` (or plain apply) while one is pending is refused, because the
// pending rollback would otherwise restore a table older than the one the admin just applied.
//
// Files in the state directory (default /run/portcullis, or $PORTCULLIS_RUN_DIR):
//   lock                  flock(2) held while the token changes hands
//   pending.<id>          JSON: id, deadline (unix ms), whether a previous table existed, pids
//   previous.<id>.nft     the previous table as the kernel listed it (absent: there was none)
//   confirmed.<id> | rollingback.<id> | rolledback.<id> | cancelled.<id>   what became of it
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kernel/nft_kernel.hpp"

namespace portcullis::kernel {

struct PendingConfirm {
    std::string id;
    std::int64_t applied_unix_ms = 0;
    std::int64_t deadline_unix_ms = 0;
    bool previous_absent = false;
    std::int64_t waiter_pid = 0;  // 0 until the waiter is started
};

enum class ConfirmOutcome {
    confirmed,       // the token was ours: the applied table stays
    too_late,        // the rollback had already started (or finished)
    nothing_pending  // no apply --confirm is waiting
};

struct ConfirmReport {
    ConfirmOutcome outcome = ConfirmOutcome::nothing_pending;
    std::string id;
    std::string rollback_result;  // too_late: what the rollback reported, if it finished
};

class ConfirmStore {
public:
    explicit ConfirmStore(std::string directory);

    // $PORTCULLIS_RUN_DIR if set, else /run/portcullis.
    static std::string default_directory();
    const std::string& directory() const { return directory_; }

    Result<std::optional<PendingConfirm>> pending() const;

    // Records a new pending confirm with its snapshot; fails if one is already pending.
    // `previous_table` nullopt means there was no table before.
    Result<PendingConfirm> begin(const std::optional<std::string>& previous_table,
                                 std::int64_t now_unix_ms, std::int64_t deadline_unix_ms);
    Result<void> set_waiter_pid(const std::string& id, std::int64_t pid);

    // The apply failed after begin(): withdraw the token so the waiter exits without acting.
    Result<void> cancel(const std::string& id);

    Result<ConfirmReport> confirm();

    // Waiter side. claim_rollback is true when the waiter won the token (the rollback must run).
    bool is_pending(const std::string& id) const;
    Result<bool> claim_rollback(const std::string& id);
    Result<std::optional<std::string>> previous_table(const std::string& id) const;
    Result<void> finish_rollback(const std::string& id, const std::string& result);

private:
    std::string path(const std::string& name) const;
    std::string directory_;
};

// Restores a snapshot: the previous table's chains, maps and objects come back in one
// transaction while the runtime sets keep their current elements. nullopt = delete our table.
Result<std::string> restore_previous(Nftables& nft, const std::optional<std::string>& previous_table);

// The waiter's loop, with the clock and the sleep injected so unit tests can run it instantly.
struct WaiterClock {
    std::function<std::chrono::steady_clock::time_point()> now;
    std::function<void(std::chrono::milliseconds)> sleep;
};
enum class WaiterEnd { confirmed_or_cancelled, rolled_back, rollback_failed };
WaiterEnd run_waiter(ConfirmStore& store, const std::string& id, std::chrono::steady_clock::time_point deadline,
                     const WaiterClock& clock, const std::function<Result<std::string>()>& rollback);

// Starts `argv` (argv[0] = program path) fully detached: double fork + setsid, stdin/stdout to
// /dev/null, stderr to `log_path`. Returns the detached process id once exec succeeded.
Result<std::int64_t> spawn_detached(const std::vector<std::string>& argv, const std::string& log_path);

}  // namespace portcullis::kernel
