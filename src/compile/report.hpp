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

// The same content as data. Keys (stable; additions only):
//   policy, mode ("gateway"|"host"), wan [names], lan (name|null), wan_addresses [addr],
//   default_action ("drop"|"reject"), masquerade (bool),
//   logging ({nflog_group, rate_per_second}|null),
//   runtime {grant_timeout_seconds, ban_timeout_seconds, ban_sets [names]},
//   management {sources [cidr], ports ["tcp/22"], active (bool: both given)},
//   services [ {name, preset (string|null), explanation, guard ("none"|"grant"|"knock"|"spa"),
//              trusted, sources (["any"] or [cidr]), forward_to ("addr[:port]"|null),
//              exposures [ {port ("udp/500"), protocol, ports ({first,last}|null),
//                           delivery ("local"|"forwarded"|"pptp_expectation"|
//                                     "local_inside_ipsec"|"inside_esp_not_forwarded"),
//                           destination, families (["ipv4","ipv6"] that can reach it), note} ],
//              counters {accepted, dropped}, grant_sets [names], notes [text]} ]  (sorted by name)
//   warnings [ {file, line, column, message, text ("file:line:col: warning: ...")} ]
nlohmann::json render_report_json(const policy::Policy& policy);

// "tcp/22", "udp/40000-40100", "esp".
std::string format_port(policy::IpProtocol protocol, const std::optional<policy::PortRange>& ports);

}  // namespace portcullis::compile
