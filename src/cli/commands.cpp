#include "cli/commands.hpp"

namespace portcullis::cli {

// Each register_* is defined in its own cmd_<name>.cpp.
void register_check(CLI::App& app, Action& action);
void register_compile(CLI::App& app, Action& action);
void register_apply(CLI::App& app, Action& action);
void register_confirm(CLI::App& app, Action& action);
void register_list(CLI::App& app, Action& action);
void register_flush(CLI::App& app, Action& action);
void register_version(CLI::App& app, Action& action);
void register_spa(CLI::App& app, Action& action);
void register_knock(CLI::App& app, Action& action);
void register_diagnose(CLI::App& app, Action& action);
void register_rollback_waiter(CLI::App& app, Action& action);
void register_run(CLI::App& app, Action& action);
void register_status(CLI::App& app, Action& action);
void register_grants(CLI::App& app, Action& action);
void register_bans(CLI::App& app, Action& action);
void register_reload(CLI::App& app, Action& action);
void register_simulate(CLI::App& app, Action& action);

std::vector<Registration> all_commands() {
    return {
        register_check,
        register_compile,
        register_apply,
        register_confirm,
        register_list,
        register_flush,
        register_version,
        register_spa,
        register_knock,
        register_diagnose,
        register_rollback_waiter,
        register_run,
        register_status,
        register_grants,
        register_bans,
        register_reload,
        register_simulate,
    };
}

}  // namespace portcullis::cli
