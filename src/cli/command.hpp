#pragma once
// The subcommand table. Each subcommand lives in its own cli/cmd_<name>.cpp and exposes one
// registration function; commands.cpp lists them in order. A registration adds a CLI11
// subcommand and stores the action to run when that subcommand is chosen.
#include <functional>

#include <CLI/CLI.hpp>

namespace portcullis::cli {

// Documented exit codes (docs/cli.md "Exit codes"); every subcommand uses these.
enum ExitCode : int {
    kOk = 0,
    kPolicyInvalid = 1,   // the policy (or another input file) has errors
    kUsage = 2,           // bad command line
    kKernelError = 3,     // the kernel refused or could not be reached; nothing changed
    kDaemonError = 4,     // no daemon answered on the control socket, or it returned an error
    kFindings = 5,        // the command ran and found problems to report (e.g. diagnose failures)
    kConfirmState = 6,    // commit-confirm: one is already pending (apply), or none / too late (confirm)
};

using Action = std::function<int()>;

// Registers one subcommand on `app`; sets `action` to what runs when it is selected.
using Registration = void (*)(CLI::App& app, Action& action);

}  // namespace portcullis::cli
