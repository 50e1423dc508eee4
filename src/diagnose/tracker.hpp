#pragma once
// Session tracker: reconstructs IKE SAs, ESP flows, L2TP tunnels and PPTP control connections
// from per-frame facts and, at the end, applies the diagnosis rules. Memory is bounded: at most
// `max_sessions` sessions of all kinds are tracked, and each keeps a capped evidence list.
#include <cstdint>
#include <memory>

#include "diagnose/facts.hpp"
#include "diagnose/report.hpp"

namespace portcullis::diagnose {

struct TrackerLimits {
    std::size_t max_sessions = 200000;
    std::size_t max_fragments = 4096;      // IP datagrams whose fragments are being matched
    std::size_t max_icmp_errors = 4096;
};

class Tracker {
public:
    explicit Tracker(TrackerLimits limits = {});
    ~Tracker();
    Tracker(Tracker&&) noexcept;
    Tracker& operator=(Tracker&&) noexcept;

    void observe(const PacketFacts& packet);
    // Applies the rules and returns the sessions; the tracker is empty afterwards.
    std::vector<Session> finish();
    bool cap_hit() const;
    std::uint64_t sessions_not_tracked() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace portcullis::diagnose
