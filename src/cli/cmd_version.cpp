#include <fmt/core.h>

#include "cli/command.hpp"

namespace portcullis::cli {

void register_version(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("version", "print the version and the kernel features found");
    sub->callback([&action] {
        action = [] {
            fmt::print("portcullis 0.1.0\n");
            return static_cast<int>(kOk);
        };
    });
}

}  // namespace portcullis::cli
