#pragma once
// One control-socket request from a CLI subcommand: send it, print the reply (JSON with --json,
// otherwise through `print`), and map failures to kDaemonError.
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace portcullis::cli {

int send_and_report(const std::string& control, const nlohmann::json& request, bool as_json,
                    const std::function<void(const nlohmann::json&)>& print);

}  // namespace portcullis::cli
