#include <fmt/core.h>

#include "cli/command.hpp"
#include "daemon/control_client.hpp"
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
            auto reply = daemon::control_request(*control, {{"cmd", "reload"}});
            if (!reply) {
                fmt::print(stderr, "error: {}\n", reply.error().message);
                return static_cast<int>(kDaemonError);
            }
            if (!reply->value("ok", false)) {
                fmt::print(stderr, "error: {}\n", reply->value("error", std::string("daemon error")));
                return static_cast<int>(kDaemonError);
            }
            fmt::print("reloaded: policy generation {}\n", reply->value("generation", 0));
            return static_cast<int>(kOk);
        };
    });
}

}  // namespace portcullis::cli
