#include <fmt/core.h>

#include "cli/apply_support.hpp"
#include "cli/command.hpp"
#include "daemon/control_server.hpp"
#include "daemon/daemon.hpp"
#include "daemon/metrics.hpp"
#include "kernel/conntrack_cleanup.hpp"

namespace portcullis::cli {

void register_run(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("run", "apply POLICY and run the daemon (runtime sets, control socket, events, metrics)");
    auto options = std::make_shared<daemon::DaemonOptions>();
    options->control_path = daemon::kDefaultControlPath;
    options->metrics_address = daemon::kDefaultMetricsAddress;
    options->state_file = daemon::kDefaultStateFile;
    auto events_file = std::make_shared<std::string>();
    sub->add_option("policy", options->policy_path, "policy file (TOML)")->required();
    sub->add_option("--control", options->control_path, "control socket path")->capture_default_str();
    sub->add_option("--metrics", options->metrics_address, "Prometheus metrics address (ADDR:PORT, [V6]:PORT, or off)")
        ->capture_default_str();
    sub->add_option("--events-file", *events_file, "also append events (JSON lines) to this file");
    sub->add_option("--state-file", options->state_file, "state file (bans and their history)")->capture_default_str();
    sub->add_flag("--flush-on-exit", options->flush_on_exit,
                  "remove the table on SIGTERM (default: leave it, the gateway stays closed)");
    sub->footer(
        "Events go to stdout as JSON lines; diagnostics to stderr. SIGHUP or `portcullis reload`\n"
        "re-reads the policy (a broken one is refused and the running one stays). SIGTERM exits\n"
        "leaving the table in place: grants expire by themselves, nothing opens. See docs/daemon.md.");
    sub->callback([&action, options, events_file] {
        action = [options, events_file] {
            daemon::DaemonOptions run_options = *options;
            if (!events_file->empty()) run_options.events_file = *events_file;
            run_options.fit_policy = [](policy::Policy& policy, kernel::Nftables& nft) {
                return fit_to_kernel(policy, nft);
            };
            run_options.after_apply = [](const policy::Policy& policy) {
                auto spec = stale_flow_spec(policy);
                if (spec.forwarded.empty()) return;
                auto cleaned = kernel::delete_stale_unnatted(spec);
                if (!cleaned)
                    fmt::print(stderr, "warning: stale conntrack entries were not cleaned: {}\n",
                               cleaned.error().message);
            };
            return daemon::run_daemon(run_options);
        };
    });
}

}  // namespace portcullis::cli
