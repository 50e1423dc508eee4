#include <fmt/core.h>

#include "cli/command.hpp"
#include "kernel/features.hpp"

namespace portcullis::cli {

void register_version(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("version", "print the version and the kernel features found");
    sub->footer(
        "Each feature is probed with a check-only transaction on a throwaway table (nothing changes).\n"
        "Missing features make `apply` degrade with a warning: no pptp helper keeps PPTP's GRE\n"
        "closed, no `meta secpath` keeps L2TP's UDP 1701 closed.");
    sub->callback([&action] {
        action = [] {
            fmt::print("portcullis 0.1.0\n");
            auto nft = kernel::make_libnftables();
            if (!nft) {
                fmt::print("kernel features: unknown ({})\n", nft.error().message);
                return static_cast<int>(kOk);
            }
            fmt::print("kernel features (probed with nft check-only transactions):\n");
            for (const auto& probe : kernel::probe_features(**nft).probes)
                fmt::print("  {:<20} {:<4} used for: {}\n", probe.name, probe.available ? "yes" : "no", probe.why);
            return static_cast<int>(kOk);
        };
    });
}

}  // namespace portcullis::cli
