#include <fmt/core.h>

#include "cli/command.hpp"
#include "compile/compile.hpp"
#include "kernel/nft_kernel.hpp"

namespace portcullis::cli {

void register_list(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("list", "print the live portcullis table as the kernel holds it");
    sub->footer(
        "Prints `nft list table inet portcullis`: rules with their counters, and the runtime sets\n"
        "with their elements (bans, grants) and expiry. --terse leaves set elements out, --json\n"
        "prints nft's JSON. Exit 0 with a message on stderr when the table is absent. Example:\n"
        "  portcullis list --terse");
    auto json = std::make_shared<bool>(false);
    auto terse = std::make_shared<bool>(false);
    sub->add_flag("--json", *json, "print nft's JSON listing");
    sub->add_flag("--terse", *terse, "leave out set elements");
    sub->callback([&action, json, terse] {
        action = [json, terse] {
            auto nft = kernel::make_libnftables();
            if (!nft) {
                fmt::print(stderr, "error: {}\n", nft.error().message);
                return static_cast<int>(kKernelError);
            }
            kernel::Detail detail = *terse ? kernel::Detail::terse : kernel::Detail::full;
            std::optional<std::string> text;
            if (*json) {
                auto listed = (*nft)->list_table_json(detail);
                if (!listed) {
                    fmt::print(stderr, "error: {}\n", listed.error().message);
                    return static_cast<int>(kKernelError);
                }
                if (*listed) text = (*listed)->dump(2) + "\n";
            } else {
                auto listed = (*nft)->list_table_text(detail);
                if (!listed) {
                    fmt::print(stderr, "error: {}\n", listed.error().message);
                    return static_cast<int>(kKernelError);
                }
                text = *listed;
            }
            if (!text) {
                fmt::print(stderr, "table {} {} is not present\n", compile::kTableFamily, compile::kTableName);
                return static_cast<int>(kOk);
            }
            fmt::print("{}", *text);
            return static_cast<int>(kOk);
        };
    });
}

}  // namespace portcullis::cli
