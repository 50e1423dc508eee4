#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/daemon_request.hpp"
#include "daemon/control_server.hpp"

namespace portcullis::cli {

void register_status(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("status", "ask the running daemon for its state (generation, uptime, counters, set sizes)");
    auto control = std::make_shared<std::string>(daemon::kDefaultControlPath);
    auto as_json = std::make_shared<bool>(false);
    sub->add_option("--control", *control, "control socket path")->capture_default_str();
    sub->add_flag("--json", *as_json, "print the daemon's reply as JSON");
    sub->callback([&action, control, as_json] {
        action = [control, as_json] {
            return send_and_report(*control, {{"cmd", "status"}}, *as_json, [](const nlohmann::json& r) {
                fmt::print("policy      {} (generation {})\n", r.value("policy", ""), r.value("generation", 0));
                fmt::print("uptime      {} s (pid {})\n", r.value("uptime_seconds", 0), r.value("pid", 0));
                if (r.contains("last_reload_error"))
                    fmt::print("last reload FAILED: {}\n", r["last_reload_error"].get<std::string>());
                fmt::print("grants      {}\n", r.value("grants", 0));
                fmt::print("bans        {} active ({} records with history)\n", r.value("bans", 0), r.value("ban_records", 0));
                if (r.contains("netlink"))
                    fmt::print("netlink     {} elements written, {} failed, {} batches\n",
                               r["netlink"].value("elements_written", 0), r["netlink"].value("element_failures", 0),
                               r["netlink"].value("batches", 0));
                if (r.contains("nflog"))
                    fmt::print("nflog       {} packets, {} overruns, {} lost, {} malformed\n",
                               r["nflog"].value("packets", 0), r["nflog"].value("overruns", 0),
                               r["nflog"].value("lost", 0), r["nflog"].value("malformed", 0));
                if (r.contains("events") && r["events"].is_object()) {
                    std::string list;
                    for (auto it = r["events"].begin(); it != r["events"].end(); ++it)
                        list += fmt::format("{}{}={}", list.empty() ? "" : " ", it.key(), it.value().dump());
                    fmt::print("events      {}\n", list);
                }
            });
        };
    });
}

}  // namespace portcullis::cli
