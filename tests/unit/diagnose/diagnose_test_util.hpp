#pragma once
// Helpers for the diagnose tests: run a capture file or a list of hand-built frames through the
// diagnoser and look up sessions and findings.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diagnose/diagnose.hpp"
#include "intake/capture_reader.hpp"
#include "unit/dissect/packet_builder.hpp"

namespace portcullis::diagnose::testing {

inline std::string shared_capture(const std::string& relative) {
    return std::string(PC_SHARED_ROOT) + "/captures/" + relative;
}

inline Report diagnose_file(const std::string& path, TrackerLimits limits = {}) {
    auto reader = intake::CaptureReader::open(path);
    EXPECT_TRUE(reader.has_value()) << (reader ? "" : reader.error().message);
    if (!reader) return {};
    Diagnoser diagnoser(limits);
    while (auto frame = (*reader)->next()) {
        diagnoser.add_frame(frame->number, static_cast<double>(frame->seconds) + frame->nanoseconds * 1e-9,
                            frame->link_type, frame->data);
    }
    EXPECT_FALSE((*reader)->error().has_value()) << (*reader)->error()->message;
    return diagnoser.finish(path, (*reader)->link_type_name());
}

// Frames built in order; raw IP link type so the builder needs no link layer.
class Scenario {
public:
    explicit Scenario(TrackerLimits limits = {}) : limits_(limits) {}
    Scenario& add(const dissect::testing::PacketBuilder& packet) {
        frames_.push_back(packet.frame());
        return *this;
    }
    Scenario& repeat(const dissect::testing::PacketBuilder& packet, int times) {
        for (int i = 0; i < times; ++i) add(packet);
        return *this;
    }
    Report run() const {
        Diagnoser diagnoser(limits_);
        std::uint64_t number = 0;
        for (const auto& frame : frames_) {
            ++number;
            diagnoser.add_frame(number, static_cast<double>(number), intake::linktype::kRaw,
                                Bytes(frame.data(), frame.size()));
        }
        return diagnoser.finish("scenario", "RAW");
    }
    std::size_t size() const { return frames_.size(); }

private:
    TrackerLimits limits_;
    std::vector<std::vector<std::byte>> frames_;
};

inline const Session* find_session(const Report& report, const std::string& protocol, std::size_t nth = 0) {
    for (const Session& session : report.sessions) {
        if (session.protocol == protocol && nth-- == 0) return &session;
    }
    return nullptr;
}

inline bool contains(const std::vector<std::uint64_t>& frames, std::uint64_t frame) {
    for (std::uint64_t candidate : frames) {
        if (candidate == frame) return true;
    }
    return false;
}

}  // namespace portcullis::diagnose::testing
