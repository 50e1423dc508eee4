#pragma once
// The exposure report of `portcullis check`: the "periodic port review". For every service it says
// what is reachable on which protocol/port, from which sources, delivered where, under which guard,
// with the preset's explanation; then management access, the default action and the warnings.
// It is derived from the same exposure plan the compiler uses (compile/plan.hpp), so the report
// describes exactly what the compiled table enforces.
#include <string>

#include <nlohmann/json.hpp>

#include "policy/model.hpp"

namespace portcullis::compile {

// Aligned plain text for a terminal, ending in a newline.
std::string render_report_text(const policy::Policy& policy);

// The same content as data (stable keys; see docs/policy.md for the schema).
nlohmann::json render_report_json(const policy::Policy& policy);

// "tcp/22", "udp/40000-40100", "esp".
std::string format_port(policy::IpProtocol protocol, const std::optional<policy::PortRange>& ports);

}  // namespace portcullis::compile
