#include <malloc.h>

#include <cstdio>
#include <vector>

#include "cli/command.hpp"
#include "cli/commands.hpp"

int main(int argc, char** argv) {
    using namespace portcullis::cli;
    // No glibc fastbins: with them, the frees of a large policy's parse tree and compiled table
    // kept triggering malloc_consolidate (9% of `compile` for 10,000 services); tcache still
    // serves small allocations. Measured: 107 -> 90 ms CPU for that compile (docs/benchmarks.md).
    mallopt(M_MXFAST, 0);
    CLI::App app{"portcullis: an edge firewall for self-hosted VPNs (nftables enforces, portcullis decides)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "portcullis 0.1.0");

    Action action;
    for (Registration registration : all_commands()) registration(app, action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        int code = app.exit(error);
        return code == 0 ? kOk : kUsage;
    }
    if (!action) return kUsage;
    return action();
}
