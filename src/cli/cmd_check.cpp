#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "compile/report.hpp"
#include "policy/load.hpp"

namespace portcullis::cli {
namespace {

struct CheckOptions {
    std::string policy_path;
    bool json = false;
};

nlohmann::json diagnostic_json(const policy::Diagnostic& diagnostic) {
    return {{"severity", diagnostic.severity == policy::Severity::error ? "error" : "warning"},
            {"file", diagnostic.where.file},
            {"line", diagnostic.where.line},
            {"column", diagnostic.where.column},
            {"message", diagnostic.message}};
}

int run_check(const CheckOptions& options) {
    policy::LoadResult loaded = policy::load_file(options.policy_path);
    if (options.json) {
        nlohmann::json out{{"policy", options.policy_path},
                           {"ok", loaded.ok()},
                           {"diagnostics", nlohmann::json::array()},
                           {"report", nullptr}};
        for (const auto& diagnostic : loaded.diagnostics) out["diagnostics"].push_back(diagnostic_json(diagnostic));
        if (loaded.ok()) out["report"] = compile::render_report_json(*loaded.policy);
        fmt::print("{}\n", out.dump(2));
        return loaded.ok() ? kOk : kPolicyInvalid;
    }
    std::size_t errors = 0;
    std::size_t warnings = 0;
    // A valid policy's warnings are part of the report; an invalid one gets every diagnostic.
    for (const auto& diagnostic : loaded.diagnostics) {
        (diagnostic.severity == policy::Severity::error ? errors : warnings)++;
        if (!loaded.ok()) fmt::print(stderr, "{}\n", policy::format(diagnostic));
    }
    if (!loaded.ok()) {
        fmt::print(stderr, "{}: {} error{}, {} warning{}; nothing was applied\n", options.policy_path, errors,
                   errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
        return kPolicyInvalid;
    }
    fmt::print("{}", compile::render_report_text(*loaded.policy));
    fmt::print("{}: valid ({} service{}, {} warning{})\n", options.policy_path, loaded.policy->services.size(),
               loaded.policy->services.size() == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    return kOk;
}

}  // namespace

void register_check(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("check", "validate a policy and print what it exposes");
    sub->footer(
        "Reports every problem at once as file:line:col: error|warning: message, then an exposure\n"
        "report: per service what is reachable on which protocol/port, from which sources,\n"
        "forwarded where, under which guard, with the warnings (the periodic port review).\n"
        "Touches nothing in the kernel. Exit 1 when the policy has errors. Examples:\n"
        "  portcullis check policy.toml\n  portcullis check policy.toml --json | jq .diagnostics");
    auto options = std::make_shared<CheckOptions>();
    sub->add_option("POLICY", options->policy_path, "policy file (TOML)")->required();
    sub->add_flag("--json", options->json,
                  "print {policy, ok, diagnostics[], report} as JSON (report: see compile/report.hpp; null on errors)");
    sub->callback([&action, options] {
        action = [options] { return run_check(*options); };
    });
}

}  // namespace portcullis::cli
