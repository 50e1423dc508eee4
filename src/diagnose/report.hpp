#pragma once
// The result of diagnosing a capture: one entry per reconstructed session with its outcome, the
// findings that explain it (each with the frame numbers proving it) and advice in plain words.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "diagnose/facts.hpp"

namespace portcullis::diagnose {

enum class Outcome : std::uint8_t { established, failed, incomplete, recovered };
enum class Severity : std::uint8_t { info, warning, failure };

std::string_view outcome_name(Outcome outcome);
std::string_view severity_name(Severity severity);

struct Finding {
    std::string code;      // stable identifier, e.g. "ike-no-proposal-chosen"
    Severity severity = Severity::info;
    std::string summary;   // what the capture shows
    std::vector<std::uint64_t> frames;  // frames proving it (at most kMaxEvidenceFrames)
    std::uint64_t frames_omitted = 0;   // evidence frames beyond the cap
    std::string advice;    // what to do about it; empty for plain information
};

inline constexpr std::size_t kMaxEvidenceFrames = 24;

struct Session {
    std::string protocol;   // "IKEv1", "IKEv2", "ESP", "L2TP", "PPTP"
    std::string id;         // SPIs, tunnel IDs, call IDs ...
    Endpoint initiator;
    Endpoint responder;
    Outcome outcome = Outcome::incomplete;
    std::string cause;      // one-line root cause (or "established")
    std::uint64_t first_frame = 0;
    std::uint64_t last_frame = 0;
    std::uint64_t packets = 0;
    std::vector<Finding> findings;

    bool has_finding(std::string_view code) const;
    const Finding* finding(std::string_view code) const;
};

struct Report {
    std::string capture;
    std::string link_type;
    std::uint64_t frames = 0;
    std::uint64_t vpn_frames = 0;    // frames that belonged to a tracked protocol
    std::uint64_t malformed = 0;     // frames a dissector flagged
    std::vector<std::pair<std::string, std::uint64_t>> anomalies;  // name, count (non-zero only)
    std::vector<Session> sessions;
    bool session_cap_hit = false;
    std::uint64_t sessions_not_tracked = 0;  // new sessions refused once the cap was hit
    std::string read_error;          // set when the capture ended in a read error

    bool any_failure() const;        // a failed/incomplete session or a failure finding
};

// Human-readable report.
std::string render_text(const Report& report);

}  // namespace portcullis::diagnose
