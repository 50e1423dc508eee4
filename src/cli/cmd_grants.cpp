#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/daemon_request.hpp"
#include "daemon/control_client.hpp"
#include "daemon/control_server.hpp"
#include "policy/values.hpp"

namespace portcullis::cli {

void register_grants(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("grants", "list, add or revoke grants (a source may reach a guarded service for a while)");
    sub->require_subcommand(1);
    struct Args {
        std::string control = daemon::kDefaultControlPath;
        std::string source, service, duration;
        bool as_json = false;
    };
    auto args = std::make_shared<Args>();

    auto* list = sub->add_subcommand("list", "grants the daemon knows to be open");
    list->add_option("--control", args->control, "control socket path")->capture_default_str();
    list->add_flag("--json", args->as_json, "print JSON");
    list->callback([&action, args] {
        action = [args] {
            return send_and_report(args->control, {{"cmd", "grants.list"}}, args->as_json, [](const nlohmann::json& r) {
                const auto& grants = r["grants"];
                if (grants.empty()) fmt::print("no open grants\n");
                for (const auto& g : grants)
                    fmt::print("{:<40} {:<20} {} s left\n", g.value("source", ""), g.value("service", ""),
                               g.value("remaining", 0));
            });
        };
    });

    auto* add = sub->add_subcommand("add", "open SERVICE to SOURCE for a while (the kernel closes it again)");
    add->add_option("--control", args->control, "control socket path")->capture_default_str();
    add->add_option("source", args->source, "source IPv4/IPv6 address")->required();
    add->add_option("service", args->service, "a guarded service of the policy")->required();
    add->add_option("--for,--seconds", args->duration, "how long: seconds or 30s/5m/1h/7d (default: the policy's grant_timeout)");
    add->callback([&action, args] {
        action = [args] {
            nlohmann::json request = {{"cmd", "grants.add"}, {"source", args->source}, {"service", args->service}};
            if (!args->duration.empty()) {
                auto seconds = policy::parse_duration(args->duration);
                if (!seconds) {
                    fmt::print(stderr, "error: --for: {}\n", seconds.error().message);
                    return static_cast<int>(kUsage);
                }
                request["seconds"] = *seconds;
            }
            return send_and_report(args->control, request, false, [](const nlohmann::json& r) {
                fmt::print("granted: {} may reach {} for {} s\n", r.value("source", ""), r.value("service", ""),
                           r.value("seconds", 0));
            });
        };
    });

    auto* revoke = sub->add_subcommand("revoke", "close SERVICE to SOURCE now (established connections stay)");
    revoke->add_option("--control", args->control, "control socket path")->capture_default_str();
    revoke->add_option("source", args->source, "source IPv4/IPv6 address")->required();
    revoke->add_option("service", args->service, "the guarded service")->required();
    revoke->callback([&action, args] {
        action = [args] {
            nlohmann::json request = {{"cmd", "grants.revoke"}, {"source", args->source}, {"service", args->service}};
            return send_and_report(args->control, request, false, [](const nlohmann::json& r) {
                fmt::print("revoked: {} no longer reaches {}\n", r.value("source", ""), r.value("service", ""));
            });
        };
    });
}

}  // namespace portcullis::cli
