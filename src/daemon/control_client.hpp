#pragma once
// The CLI side of the control socket: one request line out, one reply line back.
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace portcullis::daemon {

// Sends `request` (a JSON object) and returns the parsed reply object. Fails when no daemon
// answers (with a hint), on a timeout, or on an unreadable reply. An {"ok":false} reply is
// returned as a value: the caller prints its "error".
Result<nlohmann::json> control_request(const std::string& socket_path, const nlohmann::json& request,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace portcullis::daemon

namespace portcullis::daemon {
// Like control_request, but an {"ok":false} reply becomes an error carrying the daemon's message.
Result<nlohmann::json> control_call(const std::string& socket_path, const nlohmann::json& request,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
}  // namespace portcullis::daemon
