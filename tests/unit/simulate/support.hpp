#pragma once
// Shared helpers for simulate's tests: load a policy, build packets with the dissect helper's
// builder, run them through a Simulator.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "../dissect/packet_builder.hpp"
#include "policy/load.hpp"
#include "simulate/simulator.hpp"

namespace portcullis::simulate::testing {

using dissect::testing::PacketBuilder;
using dissect::testing::Buffer;

inline policy::Policy load_policy(const std::string& relative) {
    auto loaded = policy::load_file(std::string(PC_SOURCE_ROOT) + "/" + relative);
    if (!loaded.ok()) {
        std::string all;
        for (const auto& d : loaded.diagnostics) all += policy::format(d) + "\n";
        ADD_FAILURE() << relative << " does not load:\n" << all;
        return {};
    }
    return *loaded.policy;
}

inline std::unique_ptr<Simulator> make(const std::string& relative, Options options = {}) {
    auto created = Simulator::create(load_policy(relative), std::move(options));
    if (!created) {
        ADD_FAILURE() << created.error().message;
        return nullptr;
    }
    return std::move(*created);
}

inline Address addr(const std::string& text) { return *Address::parse(text); }
inline Prefix prefix(const std::string& text) { return *Prefix::parse(text); }

// Feeds one built frame (Ethernet) at time `t`; expects exactly one outcome.
class Feeder {
public:
    explicit Feeder(Simulator& simulator) : simulator_(simulator) {}
    Outcome operator()(const PacketBuilder& builder, double t = -1,
                       const std::optional<std::string>& iif = std::nullopt) {
        if (t >= 0) time_ = t;
        auto frame = builder.frame();
        Packet packet = decode_frame(++frame_, time_, 1, frame);
        auto out = simulator_.process(packet, iif);
        EXPECT_EQ(out.size(), 1u) << "frame " << frame_;
        return out.empty() ? Outcome{} : out.front();
    }
    std::vector<Outcome> many(const PacketBuilder& builder, double t = -1) {
        if (t >= 0) time_ = t;
        auto frame = builder.frame();
        return simulator_.process(decode_frame(++frame_, time_, 1, frame));
    }
    double time() const { return time_; }

private:
    Simulator& simulator_;
    std::uint64_t frame_ = 0;
    double time_ = 1000;
};

inline constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kSynAck = 0x12, kPshAck = 0x18;

}  // namespace portcullis::simulate::testing
