#include "diagnose/diagnose.hpp"

#include "diagnose/extract.hpp"
#include "dissect/packet.hpp"

namespace portcullis::diagnose {

Diagnoser::Diagnoser(TrackerLimits limits) : tracker_(limits) {}

void Diagnoser::add_frame(std::uint64_t number, double time, int link_type, Bytes frame) {
    ++frames_;
    dissect::PacketSummary summary =
        dissect::dissect_packet(static_cast<std::uint32_t>(link_type), frame, &anomalies_);
    if (summary.anomaly_count != 0) ++malformed_;
    if (extract_facts(summary, number, time, scratch_)) {
        if (scratch_.kind != Kind::other) ++vpn_frames_;
        tracker_.observe(scratch_);
    }
}

void Diagnoser::add_facts(const PacketFacts& facts) {
    ++frames_;
    if (facts.kind != Kind::other) ++vpn_frames_;
    tracker_.observe(facts);
}

Report Diagnoser::finish(std::string capture_name, std::string link_type_name) {
    Report report;
    report.capture = std::move(capture_name);
    report.link_type = std::move(link_type_name);
    report.frames = frames_;
    report.vpn_frames = vpn_frames_;
    report.malformed = malformed_;
    for (std::size_t i = 1; i < dissect::kAnomalyKinds; ++i) {
        if (anomalies_.counts[i] != 0) {
            report.anomalies.emplace_back(
                std::string(dissect::anomaly_name(static_cast<dissect::Anomaly>(i))), anomalies_.counts[i]);
        }
    }
    report.session_cap_hit = tracker_.cap_hit();
    report.sessions_not_tracked = tracker_.sessions_not_tracked();
    report.sessions = tracker_.finish();
    return report;
}

}  // namespace portcullis::diagnose
