#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/daemon_request.hpp"
#include "daemon/control_client.hpp"
#include "daemon/control_server.hpp"
#include "policy/values.hpp"

namespace portcullis::cli {

void register_bans(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("bans", "list, add or remove bans (addresses or prefixes, IPv4/IPv6, with a timeout)");
    sub->require_subcommand(1);
    struct Args {
        std::string control = daemon::kDefaultControlPath;
        std::string prefix, duration, reason;
        bool as_json = false;
    };
    auto args = std::make_shared<Args>();

    auto* list = sub->add_subcommand("list", "active bans with their history");
    list->add_option("--control", args->control, "control socket path")->capture_default_str();
    list->add_flag("--json", args->as_json, "print JSON");
    list->callback([&action, args] {
        action = [args] {
            return send_and_report(args->control, {{"cmd", "bans.list"}}, args->as_json, [](const nlohmann::json& r) {
                const auto& bans = r["bans"];
                if (bans.empty()) fmt::print("no active bans\n");
                for (const auto& b : bans)
                    fmt::print("{:<44} {:>8} s left  offences {}  ({})\n", b.value("prefix", ""), b.value("remaining", 0),
                               b.value("offences", 0), b.value("reason", ""));
            });
        };
    });

    auto* add = sub->add_subcommand("add", "drop everything from PREFIX for a while");
    add->add_option("--control", args->control, "control socket path")->capture_default_str();
    add->add_option("prefix", args->prefix, "address or prefix, e.g. 198.51.100.7 or 2001:db8::/48")->required();
    add->add_option("--for,--seconds", args->duration, "how long: seconds or 30s/5m/1h/7d (default: the policy's ban_timeout)");
    add->add_option("--reason", args->reason, "a word for the record (default: manual)");
    add->callback([&action, args] {
        action = [args] {
            nlohmann::json request = {{"cmd", "bans.add"}, {"prefix", args->prefix}};
            if (!args->duration.empty()) {
                auto seconds = policy::parse_duration(args->duration);
                if (!seconds) {
                    fmt::print(stderr, "error: --for: {}\n", seconds.error().message);
                    return static_cast<int>(kUsage);
                }
                request["seconds"] = *seconds;
            }
            if (!args->reason.empty()) request["reason"] = args->reason;
            return send_and_report(args->control, request, false, [](const nlohmann::json& r) {
                fmt::print("banned: {} for {} s\n", r.value("prefix", ""), r.value("seconds", 0));
            });
        };
    });

    auto* remove = sub->add_subcommand("remove", "lift the ban on PREFIX now");
    remove->add_option("--control", args->control, "control socket path")->capture_default_str();
    remove->add_option("prefix", args->prefix, "the banned address or prefix, exactly as banned")->required();
    remove->callback([&action, args] {
        action = [args] {
            return send_and_report(args->control, {{"cmd", "bans.remove"}, {"prefix", args->prefix}}, false,
                                   [](const nlohmann::json& r) { fmt::print("unbanned: {}\n", r.value("prefix", "")); });
        };
    });
}

}  // namespace portcullis::cli
