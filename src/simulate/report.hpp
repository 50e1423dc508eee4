#pragma once
// Reading simulate's inputs (capture, --grant/--ban) and printing its outcomes (text, JSON lines).
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "simulate/simulator.hpp"

namespace portcullis::simulate {

// "SVC=ADDR[:SECONDS]" (IPv6 with seconds: "SVC=[2001:db8::1]:600"); seconds may carry s/m/h/d.
Result<InitialGrant> parse_grant(const std::string& text);
// "PREFIX[:SECONDS]" (IPv6 with seconds: "[2001:db8::/48]:600").
Result<InitialBan> parse_ban(const std::string& text);

// One line per packet (plus the explanation lines with `explain`).
std::string render_text(const Outcome& outcome, bool explain);
nlohmann::json to_json(const Outcome& outcome, bool explain);
std::string render_summary(const Summary& summary);
nlohmann::json to_json(const Summary& summary);

struct CaptureRun {
    std::uint64_t frames = 0;
    std::string read_error;  // set when reading stopped early
};
// Streams every frame of a capture through the simulator, handing each outcome to `sink` (in
// decision order: fragments come out when their datagram completes).
Result<CaptureRun> run_capture(Simulator& simulator, const std::string& path,
                               const std::function<void(const Outcome&)>& sink);

}  // namespace portcullis::simulate
