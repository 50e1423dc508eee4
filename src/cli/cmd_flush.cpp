#include <fmt/core.h>

#include "cli/command.hpp"
#include "compile/compile.hpp"
#include "kernel/confirm.hpp"
#include "kernel/transaction.hpp"

namespace portcullis::cli {

void register_flush(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("flush", "remove the portcullis table (and its bans and grants)");
    sub->footer(
        "Deletes `table inet portcullis` in one transaction; other tables are not touched. Says so\n"
        "when the table was absent (exit 0 either way). A pending `apply --confirm` is withdrawn so\n"
        "its rollback cannot bring the table back. Example:\n  portcullis flush");
    sub->callback([&action] {
        action = [] {
            auto nft = kernel::make_libnftables();
            if (!nft) {
                fmt::print(stderr, "error: {}\n", nft.error().message);
                return static_cast<int>(kKernelError);
            }
            auto removed = kernel::delete_table(**nft);
            if (!removed) {
                fmt::print(stderr, "error: {}\n", removed.error().message);
                return static_cast<int>(kKernelError);
            }
            kernel::ConfirmStore store(kernel::ConfirmStore::default_directory());
            auto pending = store.pending();
            if (pending && *pending && store.cancel((*pending)->id))
                fmt::print("withdrew the pending `apply --confirm` (its rollback will not run)\n");
            if (*removed)
                fmt::print("removed table {} {}\n", compile::kTableFamily, compile::kTableName);
            else
                fmt::print("table {} {} was not present; nothing to do\n", compile::kTableFamily, compile::kTableName);
            return static_cast<int>(kOk);
        };
    });
}

}  // namespace portcullis::cli
