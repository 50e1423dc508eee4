#include "diagnose/report.hpp"

#include <algorithm>

namespace portcullis::diagnose {

std::string Endpoint::to_string() const {
    std::string text = address.to_string();
    if (port == 0) return text;
    if (address.family == Family::ipv6) return "[" + text + "]:" + std::to_string(port);
    return text + ":" + std::to_string(port);
}

std::string_view outcome_name(Outcome outcome) {
    switch (outcome) {
        case Outcome::established: return "established";
        case Outcome::failed: return "failed";
        case Outcome::incomplete: return "incomplete";
        case Outcome::recovered: return "recovered";
    }
    return "unknown";
}

std::string_view severity_name(Severity severity) {
    switch (severity) {
        case Severity::info: return "info";
        case Severity::warning: return "warning";
        case Severity::failure: return "failure";
    }
    return "unknown";
}

const Finding* Session::finding(std::string_view code) const {
    for (const Finding& candidate : findings) {
        if (candidate.code == code) return &candidate;
    }
    return nullptr;
}

bool Session::has_finding(std::string_view code) const { return finding(code) != nullptr; }

bool Report::any_failure() const {
    return std::any_of(sessions.begin(), sessions.end(),
                       [](const Session& session) { return session.outcome == Outcome::failed; });
}

namespace {

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    return out;
}

std::string frame_list(const Finding& finding) {
    std::string text;
    for (std::size_t i = 0; i < finding.frames.size(); ++i) {
        if (i != 0) text += ", ";
        text += std::to_string(finding.frames[i]);
    }
    if (finding.frames_omitted != 0) text += " and " + std::to_string(finding.frames_omitted) + " more";
    return text;
}

}  // namespace

std::string render_text(const Report& report) {
    std::string out;
    out += "capture " + report.capture + " (" + report.link_type + "): " + std::to_string(report.frames) +
           " frames, " + std::to_string(report.vpn_frames) + " VPN-related, " +
           std::to_string(report.sessions.size()) + " session" + (report.sessions.size() == 1 ? "" : "s") + "\n";
    if (!report.read_error.empty()) out += "warning: reading stopped early: " + report.read_error + "\n";
    if (report.session_cap_hit) {
        out += "warning: session limit reached; " + std::to_string(report.sessions_not_tracked) +
               " further sessions were not tracked\n";
    }
    if (report.sessions.empty()) out += "\nno IKE, ESP, L2TP or PPTP sessions found\n";
    for (const Session& session : report.sessions) {
        out += "\n" + session.protocol + " " + session.id + "  " + session.initiator.to_string() + " → " +
               session.responder.to_string() + "  " + upper(outcome_name(session.outcome)) + "\n";
        out += "  frames " + std::to_string(session.first_frame) + "–" + std::to_string(session.last_frame) +
               ", " + std::to_string(session.packets) + " packets\n";
        out += "  cause: " + session.cause + "\n";
        for (const Finding& finding : session.findings) {
            out += "  [" + std::string(severity_name(finding.severity)) + "] " + finding.code + ": " +
                   finding.summary + "\n";
            if (!finding.frames.empty()) out += "      frames: " + frame_list(finding) + "\n";
            if (!finding.advice.empty() && finding.severity != Severity::info) {
                out += "      advice: " + finding.advice + "\n";
            }
        }
    }
    if (!report.anomalies.empty()) {
        out += "\nmalformed input (" + std::to_string(report.malformed) + " frames):";
        for (const auto& [name, count] : report.anomalies) out += " " + name + "=" + std::to_string(count);
        out += "\n";
    }
    return out;
}

}  // namespace portcullis::diagnose
