#pragma once
// Shared by the subcommands that read a policy: load it, print every diagnostic as
// `file:line:col: error: ...` on stderr, and hand back the policy when it has no error.
#include <optional>
#include <string>

#include "policy/load.hpp"

namespace portcullis::cli {

// nullopt when the policy has errors (all of them printed). Warnings are printed too unless
// `quiet_warnings`.
std::optional<policy::Policy> load_policy(const std::string& path, bool quiet_warnings = false);

// The absolute path of the running binary (to re-execute it as the rollback waiter).
std::string self_executable();

}  // namespace portcullis::cli
