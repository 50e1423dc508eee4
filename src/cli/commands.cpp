#include "cli/commands.hpp"

namespace portcullis::cli {

// Each register_* is defined in its own cmd_<name>.cpp.
void register_version(CLI::App& app, Action& action);
void register_diagnose(CLI::App& app, Action& action);
void register_spa(CLI::App& app, Action& action);
void register_knock(CLI::App& app, Action& action);

std::vector<Registration> all_commands() {
    return {
        register_version,
        register_diagnose,
        register_spa,
        register_knock,
    };
}

}  // namespace portcullis::cli
