#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/policy_input.hpp"
#include "compile/compile.hpp"

namespace portcullis::cli {

void register_compile(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("compile", "print the nftables table a policy compiles to");
    sub->footer(
        "The output is what `apply` loads (one `table inet portcullis`), byte-identical for the same\n"
        "policy, and loadable with `nft -f`. Errors in the policy are printed as file:line:col and\n"
        "exit with 1. Example:\n  portcullis compile /etc/portcullis/policy.toml > table.nft");
    auto path = std::make_shared<std::string>();
    sub->add_option("POLICY", *path, "policy file (TOML)")->required();
    sub->callback([&action, path] {
        action = [path] {
            auto policy = load_policy(*path, /*quiet_warnings=*/true);
            if (!policy) return static_cast<int>(kPolicyInvalid);
            fmt::print("{}", compile::compile(*policy).table_text);
            return static_cast<int>(kOk);
        };
    });
}

}  // namespace portcullis::cli
