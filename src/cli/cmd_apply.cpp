#include <chrono>

#include <fmt/core.h>

#include "cli/apply_support.hpp"
#include "cli/command.hpp"
#include "cli/policy_input.hpp"
#include "compile/compile.hpp"
#include "kernel/confirm.hpp"
#include "kernel/transaction.hpp"
#include "policy/values.hpp"

namespace portcullis::cli {
namespace {

struct ApplyOptions {
    std::string policy_path;
    std::string confirm;  // duration text; empty: no commit-confirm
    bool dry_run = false;
};

std::int64_t unix_ms_now() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void print_transaction_notes(const kernel::Transaction& tx) {
    if (!tx.kept_runtime_sets.empty()) {
        std::string names;
        for (const auto& name : tx.kept_runtime_sets) names += (names.empty() ? "" : ", ") + name;
        fmt::print("kept runtime sets with their elements: {}\n", names);
    }
    for (const auto& warning : tx.warnings) fmt::print(stderr, "warning: {}\n", warning);
}

int run_apply(const ApplyOptions& options) {
    std::optional<std::uint32_t> confirm_seconds;
    if (!options.confirm.empty()) {
        auto parsed = policy::parse_duration(options.confirm);
        if (!parsed) {
            fmt::print(stderr, "error: --confirm {}: {}\n", options.confirm, parsed.error().message);
            return kUsage;
        }
        confirm_seconds = *parsed;
    }

    auto policy = load_policy(options.policy_path);
    if (!policy) return kPolicyInvalid;

    auto nft = kernel::make_libnftables();
    if (!nft) {
        fmt::print(stderr, "error: {}\n", nft.error().message);
        return kKernelError;
    }
    for (const auto& message : fit_to_kernel(*policy, **nft)) fmt::print(stderr, "warning: {}\n", message);
    compile::Compiled compiled = compile::compile(*policy);

    if (options.dry_run) {
        auto checked = kernel::apply_table(**nft, compiled, /*dry_run_only=*/true);
        if (!checked) {
            fmt::print(stderr, "error: {}\n", checked.error().message);
            return kKernelError;
        }
        print_transaction_notes(checked->transaction);
        fmt::print("dry run: the kernel accepts the new table; nothing was changed\n");
        return kOk;
    }

    // Applying over a pending commit-confirm would let its rollback undo this apply later.
    kernel::ConfirmStore store(kernel::ConfirmStore::default_directory());
    auto pending = store.pending();
    if (pending && *pending) {
        std::int64_t left = std::max<std::int64_t>(0, ((*pending)->deadline_unix_ms - unix_ms_now() + 999) / 1000);
        fmt::print(stderr,
                   "error: an earlier `apply --confirm` is waiting for confirmation (rollback in {} s).\n"
                   "Run `portcullis confirm` to keep it, or wait for the rollback, then apply again.\n", left);
        return kConfirmState;
    }

    std::optional<kernel::PendingConfirm> confirm;
    if (confirm_seconds) {
        auto snapshot = (*nft)->list_table_text(kernel::Detail::full);
        if (!snapshot) {
            fmt::print(stderr, "error: cannot save the current table: {}\n", snapshot.error().message);
            return kKernelError;
        }
        std::int64_t now = unix_ms_now();
        auto begun = store.begin(*snapshot, now, now + std::int64_t{*confirm_seconds} * 1000);
        if (!begun) {
            fmt::print(stderr, "error: {}\n", begun.error().message);
            return kConfirmState;
        }
        confirm = *begun;
        // The waiter starts before the commit: if this process dies right after committing, the
        // rollback still happens.
        auto waiter = kernel::spawn_detached(
            {self_executable(), "rollback-waiter", "--run-dir", store.directory(), "--id", confirm->id, "--after-ms",
             std::to_string(std::int64_t{*confirm_seconds} * 1000)},
            store.directory() + "/waiter.log");
        if (!waiter) {
            (void)store.cancel(confirm->id);
            fmt::print(stderr, "error: cannot start the rollback waiter: {}; nothing was changed\n",
                       waiter.error().message);
            return kKernelError;
        }
        (void)store.set_waiter_pid(confirm->id, *waiter);
    }

    auto applied = kernel::apply_table(**nft, compiled);
    if (!applied) {
        if (confirm) (void)store.cancel(confirm->id);
        fmt::print(stderr, "error: {}\n", applied.error().message);
        return kKernelError;
    }
    print_transaction_notes(applied->transaction);
    fmt::print("applied {}: table {} {} {}\n", options.policy_path, compile::kTableFamily, compile::kTableName,
               applied->table_existed ? "replaced atomically" : "created");

    auto spec = stale_flow_spec(*policy);
    if (!spec.forwarded.empty()) {
        auto cleaned = kernel::delete_stale_unnatted(spec);
        if (!cleaned) {
            fmt::print(stderr, "warning: stale conntrack entries were not cleaned: {}\n", cleaned.error().message);
        } else if (cleaned->deleted > 0) {
            fmt::print("deleted {} stale conntrack entr{} for forwarded ports (created before the forward existed)\n",
                       cleaned->deleted, cleaned->deleted == 1 ? "y" : "ies");
        }
    }

    if (confirm) {
        fmt::print("run `portcullis confirm` within {} s to keep it; otherwise the previous {} is restored\n",
                   *confirm_seconds, confirm->previous_absent ? "state (no table)" : "table");
    }
    return kOk;
}

}  // namespace

void register_apply(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("apply", "check a policy with the kernel, then replace the table atomically");
    sub->footer(
        "The kernel validates the whole transaction first (like `nft -c`); only then is the table\n"
        "replaced, in one transaction. Bans and grants (the runtime sets) keep their elements.\n"
        "A failed apply changes nothing and prints nft's error with the line of the compiled table\n"
        "(see `portcullis compile`). After apply, conntrack entries that reached forwarded ports\n"
        "before the forward existed are deleted so the flows take the new DNAT.\n"
        "With --confirm, the previous table comes back after DURATION unless `portcullis confirm`\n"
        "runs first, even if this process is killed. Examples:\n"
        "  portcullis apply policy.toml --dry-run\n"
        "  portcullis apply policy.toml --confirm 2m && portcullis confirm");
    auto options = std::make_shared<ApplyOptions>();
    sub->add_option("POLICY", options->policy_path, "policy file (TOML)")->required();
    sub->add_option("--confirm", options->confirm,
                    "roll back unless `portcullis confirm` arrives within DURATION (e.g. 30s, 2m)")
        ->type_name("DURATION");
    sub->add_flag("--dry-run", options->dry_run, "let the kernel check the transaction, change nothing");
    sub->callback([&action, options] {
        action = [options] { return run_apply(*options); };
    });
}

}  // namespace portcullis::cli
