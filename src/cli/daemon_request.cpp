#include "cli/daemon_request.hpp"

#include <fmt/core.h>

#include "cli/command.hpp"
#include "daemon/control_client.hpp"

namespace portcullis::cli {

int send_and_report(const std::string& control, const nlohmann::json& request, bool as_json,
                    const std::function<void(const nlohmann::json&)>& print) {
    auto reply = daemon::control_call(control, request);
    if (!reply) {
        fmt::print(stderr, "error: {}\n", reply.error().message);
        return kDaemonError;
    }
    if (as_json) {
        fmt::print("{}\n", reply->dump(2));
    } else {
        print(*reply);
    }
    return kOk;
}

}  // namespace portcullis::cli
