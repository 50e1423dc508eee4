#pragma once
// SPA from NFLOG: the compiled table copies every packet reaching the [spa] port (after a
// per-source rate limit) to a dedicated NFLOG group and drops it. This observer takes those
// packets, reads the source address and UDP payload from the IP/UDP headers, runs the verifier
// (HMAC before decryption, replay cache, time window, key → services) and asks for the grants.
// Every outcome is counted by name and reported as an event (rejections rate-limited). The replay
// cache outlives reloads and, through the state file, restarts.
//
// Threads: in the daemon this runs on the SPA thread (spa_worker.hpp), which owns it; the loop
// thread only reads the counters (atomics) and publishes new SpaSettings on reload. Events leave
// through the Emit sink (the worker queues them for the loop, which owns the EventLog).
#include <array>
#include <atomic>
#include <memory>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "auth/replay_cache.hpp"
#include "auth/spa_verifier.hpp"
#include "common/net.hpp"
#include "common/result.hpp"
#include "daemon/events.hpp"
#include "intake/nflog_reader.hpp"
#include "policy/model.hpp"

namespace portcullis::daemon {

namespace event {
inline constexpr const char* kSpaAccepted = "spa_accepted";
inline constexpr const char* kSpaRejected = "spa_rejected";
inline constexpr const char* kSpaGrantFailed = "spa_grant_failed";
}  // namespace event

// Outcome names besides the verifier's Reject names (auth::to_string(Reject)).
inline constexpr const char* kSpaOutcomeGranted = "granted";
inline constexpr const char* kSpaOutcomeBadPacket = "bad_packet";  // IP/UDP headers unusable

// Where a logged packet came from and what it carried, or why it cannot be used.
struct SpaDatagram {
    Address source;
    std::string payload;  // the UDP payload (copied: at most one datagram, verified as text)
};
// Reads an IPv4 or IPv6 packet carrying UDP (no fragments, no IPv6 extension headers).
std::optional<SpaDatagram> spa_datagram(Bytes packet);

// What the verifier is built from: immutable once made (on the loop thread, from the policy), so
// one snapshot can be handed to the SPA thread and swapped whole on reload.
struct SpaSettings {
    std::vector<auth::SpaKey> keys;
    std::vector<auth::ServiceSpec> catalog;
    auth::VerifierConfig verifier;
    std::uint16_t group = 0;
    bool realtime = true;  // [spa] priority
    // Services that have grant sets in the applied table (the daemon fills this in; the SPA
    // thread writes grants only to these).
    std::set<std::string> grant_services;
};

class SpaIntake : public intake::PacketObserver {
public:
    // Asks for one grant; the result arrives later through `done` (nullptr = opened).
    using GrantFn = std::function<Result<void>(const Address& address, const std::string& service,
                                               std::uint32_t seconds, std::function<void(const std::string*)> done)>;
    using Clock = std::function<std::int64_t()>;  // unix seconds
    using Emit = std::function<void(std::string_view type, nlohmann::json fields)>;
    // Told about every packet the replay cache starts remembering (digest, expiry in unix seconds),
    // so the loop thread can persist it without touching this cache.
    using Remembered = std::function<void(const auth::Sha256& digest, std::int64_t expires_at)>;

    SpaIntake(EventLog& events, GrantFn grant, Clock clock);
    SpaIntake(Emit emit, GrantFn grant, Clock clock);

    // The settings for this policy's [spa] keys and SPA-guarded services, checked (a verifier is
    // built from them once); nullptr without [spa] or SPA services. Any thread.
    static Result<std::shared_ptr<SpaSettings>> settings_for(const policy::Policy& policy);
    // Builds the verifier from `settings` (nullptr: disabled). Keeps the replay cache.
    void apply(std::shared_ptr<const SpaSettings> settings);
    // settings_for + apply. Without [spa] or SPA services the intake ignores everything.
    Result<void> configure(const policy::Policy& policy);
    void set_remembered(Remembered remembered) { remembered_ = std::move(remembered); }
    bool enabled() const { return verifier_.has_value(); }
    std::optional<std::uint16_t> group() const { return enabled() ? std::optional(group_) : std::nullopt; }

    void on_packet(const intake::NflogPacket& packet) override;
    // The same path without NFLOG framing (tests, and the packet check above it).
    void handle(Bytes ip_packet);

    // Replay cache persistence (embedded in the daemon's state file).
    std::string replay_json() const { return cache_.to_json(); }
    Result<void> load_replay(std::string_view json, std::int64_t now);
    bool replay_dirty() const { return replay_dirty_; }
    void mark_saved() { replay_dirty_ = false; }
    // Counters below are atomics: the loop thread reads them while the SPA thread counts.
    std::size_t replay_entries() const { return replay_entries_.load(std::memory_order_relaxed); }

    // Outcome name → packets; includes "granted", every Reject name and "bad_packet" (zeroes too).
    std::map<std::string, std::uint64_t> outcomes() const;
    std::uint64_t suppressed_events() const { return suppressed_events_.load(std::memory_order_relaxed); }
    std::uint64_t grant_failures() const { return grant_failures_.load(std::memory_order_relaxed); }
    // True once after packets asked for grants: the daemon then flushes at once instead of
    // waiting out the coalescing delay (the sender is waiting to connect).
    bool take_granted() { return std::exchange(granted_, false); }
    // Sends the requested grants to the kernel at once. When set, handle() calls it right after
    // asking for the grants and only then formats and writes the spa_accepted event: the sender
    // waits for the grant, nobody waits for the event line.
    void set_send_grants(std::function<void()> send) { send_grants_ = std::move(send); }

    // Latency trace, off unless the environment has PORTCULLIS_SPA_TRACE=1 at start: per packet,
    // CLOCK_MONOTONIC nanoseconds at each stage, one line on stderr once the packet is handled
    // (bench/spa_latency.sh lines them up with the probe's send and connect times).
    void trace_flushed() { if (trace_ && trace_.flushed == 0) trace_.flushed = monotonic_ns(); }
    void trace_finish();
    static std::int64_t monotonic_ns();

private:
    void count(const std::string& outcome);
    void rejected(const std::string& reason, const Address* source);
    void grant_failed(const std::string& key, const Address& address, const std::string& service,
                      const std::string& error);

    Emit emit_;
    GrantFn grant_;
    Clock clock_;
    std::function<void()> send_grants_;
    Remembered remembered_;
    auth::ReplayCache cache_;
    std::optional<auth::SpaVerifier> verifier_;
    std::uint16_t group_ = 0;
    bool replay_dirty_ = false;
    std::atomic<std::size_t> replay_entries_{0};
    // Every outcome name is inserted by the constructor, never after: only the counts change.
    std::map<std::string, std::atomic<std::uint64_t>, std::less<>> outcomes_;
    // Rejection events: at most kRejectEventsPerSecond, the rest only counted.
    static constexpr std::uint32_t kRejectEventsPerSecond = 20;
    std::int64_t event_second_ = 0;
    std::uint32_t events_this_second_ = 0;
    std::atomic<std::uint64_t> suppressed_events_{0};
    std::atomic<std::uint64_t> grant_failures_{0};
    bool granted_ = false;
    struct Trace {
        bool on = false;
        std::int64_t received = 0, verified = 0, requested = 0, flushed = 0;
        explicit operator bool() const { return on; }
    } trace_;
};

}  // namespace portcullis::daemon
