#include <chrono>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/core.h>

#include "cli/command.hpp"
#include "kernel/confirm.hpp"

namespace portcullis::cli {
namespace {

struct WaiterOptions {
    std::string run_dir;
    std::string id;
    std::int64_t after_ms = 0;
};

int run_waiter_command(const WaiterOptions& options) {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + std::chrono::milliseconds(options.after_ms);
    kernel::ConfirmStore store(options.run_dir);
    kernel::WaiterClock clock{[] { return Clock::now(); },
                              [](std::chrono::milliseconds step) { std::this_thread::sleep_for(step); }};
    auto rollback = [&]() -> Result<std::string> {
        auto previous = store.previous_table(options.id);
        if (!previous) return fail(previous.error().message);
        auto nft = kernel::make_libnftables();
        if (!nft) return fail(nft.error().message);
        return kernel::restore_previous(**nft, *previous);
    };
    kernel::WaiterEnd end = kernel::run_waiter(store, options.id, deadline, clock, rollback);
    auto stamp = fmt::format("{:%Y-%m-%dT%H:%M:%S}", fmt::gmtime(std::time(nullptr)));
    switch (end) {
        case kernel::WaiterEnd::confirmed_or_cancelled:
            fmt::print(stderr, "{} confirm {}: confirmed or withdrawn; nothing to roll back\n", stamp, options.id);
            return kOk;
        case kernel::WaiterEnd::rolled_back:
            fmt::print(stderr, "{} confirm {}: not confirmed in time; previous table restored\n", stamp, options.id);
            return kOk;
        case kernel::WaiterEnd::rollback_failed:
            fmt::print(stderr, "{} confirm {}: not confirmed in time; ROLLBACK FAILED (see rolledback.{})\n", stamp,
                       options.id, options.id);
            return kKernelError;
    }
    return kKernelError;
}

}  // namespace

// Internal: started detached by `apply --confirm`; not listed in --help.
void register_rollback_waiter(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("rollback-waiter", "restore the previous table unless confirmed (internal)");
    sub->group("");  // hidden from --help
    auto options = std::make_shared<WaiterOptions>();
    sub->add_option("--run-dir", options->run_dir)->required();
    sub->add_option("--id", options->id)->required();
    sub->add_option("--after-ms", options->after_ms)->required();
    sub->callback([&action, options] {
        action = [options] { return run_waiter_command(*options); };
    });
}

}  // namespace portcullis::cli
