#include <fmt/core.h>

#include "cli/command.hpp"
#include "kernel/confirm.hpp"

namespace portcullis::cli {

void register_confirm(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("confirm", "keep the table of a pending `apply --confirm`");
    sub->footer(
        "Cancels the pending rollback so the applied table stays. Exits 6 when nothing was pending\n"
        "or when the rollback had already started (\"too late\"); it then says what the rollback did.\n"
        "The state lives in /run/portcullis (override with PORTCULLIS_RUN_DIR). Example:\n"
        "  portcullis apply policy.toml --confirm 60s && ssh admin@gateway true && portcullis confirm");
    sub->callback([&action] {
        action = [] {
            kernel::ConfirmStore store(kernel::ConfirmStore::default_directory());
            auto report = store.confirm();
            if (!report) {
                fmt::print(stderr, "error: {}\n", report.error().message);
                return static_cast<int>(kConfirmState);
            }
            switch (report->outcome) {
                case kernel::ConfirmOutcome::confirmed:
                    fmt::print("confirmed: the applied table stays; the rollback is cancelled\n");
                    return static_cast<int>(kOk);
                case kernel::ConfirmOutcome::too_late: {
                    std::string result = report->rollback_result;
                    while (!result.empty() && result.back() == '\n') result.pop_back();
                    fmt::print(stderr, "too late: the deadline passed and the rollback {}\n",
                               result.empty() ? "is running now" : "already ran (" + result + ")");
                    return static_cast<int>(kConfirmState);
                }
                case kernel::ConfirmOutcome::nothing_pending:
                    fmt::print(stderr, "nothing to confirm: no `apply --confirm` is pending\n");
                    return static_cast<int>(kConfirmState);
            }
            return static_cast<int>(kConfirmState);
        };
    });
}

}  // namespace portcullis::cli
