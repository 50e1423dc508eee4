#pragma once
// `portcullis run`: apply the policy, reconcile with what the kernel and the state file hold,
// then serve one epoll loop — control socket, set-element batches, NFLOG, metrics, timers,
// signals — until SIGTERM. Exiting leaves the table in place (fail-closed) unless asked.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernel/nft_kernel.hpp"
#include "policy/model.hpp"

namespace portcullis::daemon {

inline constexpr const char* kDefaultStateFile = "/var/lib/portcullis/state.json";

struct DaemonOptions {
    std::string policy_path;
    std::string control_path;                // default kDefaultControlPath
    std::string metrics_address;             // default kDefaultMetricsAddress; "off" disables
    std::optional<std::string> events_file;  // events also appended here
    std::string state_file;                  // default kDefaultStateFile
    bool flush_on_exit = false;
    std::chrono::milliseconds coalesce{5};
    std::chrono::milliseconds reconcile_period{1000};
    std::chrono::milliseconds drop_summary_period{10000};
    std::chrono::milliseconds state_save_period{2000};
    // Hooks the CLI supplies (they live with `apply`): adapt the policy to this kernel's features
    // (returns warnings), and clean conntrack after a table was applied.
    std::function<std::vector<std::string>(policy::Policy&, kernel::Nftables&)> fit_policy;
    std::function<void(const policy::Policy&)> after_apply;
};

// Runs until SIGTERM/SIGINT; returns a cli::ExitCode value.
int run_daemon(const DaemonOptions& options);

}  // namespace portcullis::daemon
