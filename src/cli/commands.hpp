#pragma once
// The subcommand table, in the order `--help` lists them. Add one line per new subcommand.
#include <vector>

#include "cli/command.hpp"

namespace portcullis::cli {

std::vector<Registration> all_commands();

}  // namespace portcullis::cli
