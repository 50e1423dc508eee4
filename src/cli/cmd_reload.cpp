#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/daemon_request.hpp"
#include "daemon/control_server.hpp"

namespace portcullis::cli {

void register_reload(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("reload", "make the running daemon re-read and re-apply its policy (like SIGHUP)");
    auto control = std::make_shared<std::string>(daemon::kDefaultControlPath);
    sub->add_option("--control", *control, "control socket path")->capture_default_str();
    sub->footer("A policy with errors is refused: the daemon keeps the running one and this prints why.\n"
                "Grants and bans survive a reload.");
    sub->callback([&action, control] {
        action = [control] {
            return send_and_report(*control, {{"cmd", "reload"}}, false, [](const nlohmann::json& r) {
                fmt::print("reloaded: policy generation {}\n", r.value("generation", 0));
            });
        };
    });
}

}  // namespace portcullis::cli
