#pragma once
// The whole SPA acceptance path for one UDP payload, in the order that keeps it cheap and safe:
//   precheck (size, alphabet, prefix) -> replay lookup -> keys allowed for the source
//   -> HMAC (constant time, before any decryption) -> decrypt + digest + fields
//   -> timestamp window (both directions) -> remember in the replay cache -> decide.
// Each refusal is a named Reject and a counter; nothing on this path throws.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "auth/replay_cache.hpp"
#include "auth/spa_decision.hpp"
#include "auth/spa_keys.hpp"
#include "auth/spa_types.hpp"
#include "common/result.hpp"

namespace portcullis::auth {

struct VerifierConfig {
    std::int64_t window_seconds = 120;  // |now - packet timestamp| must not exceed this
    // How long an accepted packet is remembered; raised to at least 2 x window.
    std::int64_t replay_retention_seconds = 0;
};

struct Verdict {
    Decision decision;
    SpaMessage message;
};

class SpaVerifier {
public:
    // Resolves each key's service names against `catalog` (the guarded services of the policy);
    // an unknown name or a bad window is a configuration error.
    static Result<SpaVerifier> create(std::vector<SpaKey> keys, std::vector<ServiceSpec> catalog,
                                      VerifierConfig config, ReplayCache& cache);

    // `now` is Unix seconds (injected so tests and replays of captures control the clock).
    tl::expected<Verdict, Reject> verify(std::string_view wire, const Address& source, std::int64_t now);

    std::uint64_t accepted() const { return accepted_; }
    std::uint64_t rejected(Reject reason) const { return rejected_[static_cast<std::size_t>(reason)]; }
    std::int64_t retention_seconds() const { return retention_; }

private:
    struct Entry {
        SpaKey key;
        std::vector<ServiceSpec> services;
    };
    SpaVerifier(std::vector<Entry> entries, VerifierConfig config, ReplayCache& cache);
    tl::expected<Verdict, Reject> refuse(Reject reason);

    std::vector<Entry> entries_;
    VerifierConfig config_;
    std::int64_t retention_;
    ReplayCache* cache_;
    std::uint64_t accepted_ = 0;
    std::array<std::uint64_t, kRejectCount> rejected_{};
};

}  // namespace portcullis::auth
