#pragma once
// Entry point of the diagnose stage: feed frames in capture order, then ask for the report.
// Streaming: nothing but the tracker's bounded state is kept between frames.
#include <cstdint>
#include <string>

#include "common/bytes.hpp"
#include "diagnose/report.hpp"
#include "diagnose/tracker.hpp"
#include "dissect/anomaly.hpp"

namespace portcullis::diagnose {

class Diagnoser {
public:
    explicit Diagnoser(TrackerLimits limits = {});

    // `link_type` is the capture's LINKTYPE_* value; `time` in seconds since the epoch.
    void add_frame(std::uint64_t number, double time, int link_type, Bytes frame);
    // Feed already-extracted facts (tests, other front ends).
    void add_facts(const PacketFacts& facts);

    Report finish(std::string capture_name, std::string link_type_name);

    std::uint64_t frames() const { return frames_; }

private:
    Tracker tracker_;
    dissect::AnomalyCounters anomalies_;
    PacketFacts scratch_;
    std::uint64_t frames_ = 0;
    std::uint64_t vpn_frames_ = 0;
    std::uint64_t malformed_ = 0;
};

}  // namespace portcullis::diagnose
