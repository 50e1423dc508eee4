#pragma once
// The SPA thread. The sender of an SPA packet waits for its grant, so the path from the packet to
// the grant in the kernel runs on a thread of its own that does nothing else: it owns the SPA
// NFLOG socket (unbatched), the SpaIntake (verifier and replay cache) and a netlink socket of its
// own for the grant sets. It verifies (HMAC before decryption, replay cache checked before and
// stored after), writes the grant and only then hands the rest to the loop thread through a
// bounded queue and an eventfd: the event lines, the grant bookkeeping (grant_opened) and the
// replay entries to persist (the loop writes them to the state file right away, after the grant,
// as before). Everything else stays on the single-threaded loop.
//
// Scheduling: with [spa] priority = "realtime" (the default) the thread asks for SCHED_FIFO at the
// lowest real-time priority (1), so a busy normal task on its CPU cannot hold the wake-up back
// for a time slice. If the kernel refuses (EPERM: no CAP_SYS_NICE and RLIMIT_RTPRIO 0, or
// systemd's RestrictRealtime=yes) it runs at the normal policy and says so once (event
// spa_priority). Its work is bounded: it blocks in poll() (never spins), and the table limits SPA
// packets per source and in total before they reach NFLOG.
//
// Threads and data: the loop thread publishes new settings on reload (SettingsSlot: an immutable
// snapshot swapped whole, picked up before the next packet); the counters it reads for metrics
// are atomics; the replay cache belongs to the SPA thread alone (the loop keeps a copy built from
// the `remembered` notes for the state file).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/spa_crypto.hpp"
#include "common/net.hpp"
#include "common/result.hpp"
#include "daemon/spa_intake.hpp"
#include "intake/nflog_reader.hpp"
#include "kernel/netlink_set_writer.hpp"

namespace portcullis::daemon {

namespace event {
inline constexpr const char* kSpaPriority = "spa_priority";
}  // namespace event

// What the SPA thread hands to the loop thread.
struct SpaNote {
    enum class Kind : std::uint8_t {
        event,         // emit `type` with `fields`
        grant_opened,  // the kernel took a grant: record it (and emit grant_opened)
        remembered,    // the replay cache remembers `digest` until `expires_at`: persist it
    };
    Kind kind = Kind::event;
    std::string type;
    nlohmann::json fields;
    Address address;
    std::string service;
    std::uint32_t seconds = 0;
    auth::Sha256 digest{};
    std::int64_t expires_at = 0;
};

// A bounded queue from one producer thread to the loop, which polls fd() (an eventfd). push()
// holds a mutex only for an append; take() only for a swap. Full (the loop is stuck): the note is
// dropped and counted, the producer never waits — except replay-cache entries (`remembered`), which
// are always queued (fail closed: a lost one would make a replay acceptable again).
class SpaHandoff {
public:
    static Result<std::unique_ptr<SpaHandoff>> create(std::size_t capacity = 65536);
    ~SpaHandoff();
    SpaHandoff(const SpaHandoff&) = delete;
    SpaHandoff& operator=(const SpaHandoff&) = delete;

    bool push(SpaNote note);
    // Everything queued, oldest first. Clears the eventfd first, so a note pushed meanwhile
    // either comes with this batch or makes fd() readable again.
    std::vector<SpaNote> take();
    int fd() const { return fd_; }
    std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
    SpaHandoff(int fd, std::size_t capacity) : fd_(fd), capacity_(capacity) {}
    int fd_ = -1;
    std::size_t capacity_;
    std::mutex mutex_;
    std::vector<SpaNote> queue_;
    std::atomic<std::uint64_t> dropped_{0};
};

// The newest settings: published by the loop thread, read by the SPA thread. The reader's check
// is one atomic load; the lock is taken only when the version changed (a reload).
class SettingsSlot {
public:
    void publish(std::shared_ptr<const SpaSettings> settings);
    // The settings if they changed since `seen` (updated), else nullopt.
    std::optional<std::shared_ptr<const SpaSettings>> changed(std::uint64_t& seen) const;
    std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const SpaSettings> settings_;
    std::atomic<std::uint64_t> version_{0};
};

class SpaWorker {
public:
    using Clock = SpaIntake::Clock;

    // Opens the SPA NFLOG group of `settings` (errors are reported here, on the calling thread).
    // `writer` is the thread's own netlink socket for the grant sets.
    static Result<std::unique_ptr<SpaWorker>> open(std::shared_ptr<const SpaSettings> settings,
                                                   std::unique_ptr<kernel::SetElementWriter> writer,
                                                   Clock clock);
    ~SpaWorker();  // stop()
    SpaWorker(const SpaWorker&) = delete;
    SpaWorker& operator=(const SpaWorker&) = delete;

    // Before start(): the replay cache as saved.
    Result<void> load_replay(std::string_view json, std::int64_t now) { return intake_.load_replay(json, now); }
    void start();
    // Stops and joins the thread; notes it queued stay for take_notes().
    void stop();
    // Reload: the thread uses `settings` from its next packet on. The group and priority must be
    // the ones it was opened with (the daemon opens a new worker when they change).
    void publish(std::shared_ptr<const SpaSettings> settings) { slot_.publish(std::move(settings)); }

    int notes_fd() const { return handoff_->fd(); }
    std::vector<SpaNote> take_notes() { return handoff_->take(); }

    std::uint16_t group() const { return group_; }
    bool realtime_requested() const { return realtime_; }
    // "fifo" or "normal" once the thread runs; "" before.
    std::string scheduling() const;
    const SpaIntake& intake() const { return intake_; }
    std::uint64_t nflog_packets() const { return nflog_packets_.load(std::memory_order_relaxed); }
    std::uint64_t nflog_overruns() const { return nflog_overruns_.load(std::memory_order_relaxed); }
    std::uint64_t dropped_notes() const { return handoff_->dropped(); }

private:
    struct PendingGrant {
        kernel::ElementChange change;
        std::function<void(const std::string*)> done;
        Address address;
        std::string service;
        std::uint32_t seconds = 0;
    };
    SpaWorker(std::unique_ptr<intake::NflogReader> reader, std::unique_ptr<kernel::SetElementWriter> writer,
              std::unique_ptr<SpaHandoff> handoff, int stop_fd, std::shared_ptr<const SpaSettings> settings,
              Clock clock);
    void run();
    void set_scheduling();
    void refresh_settings();
    Result<void> grant(const Address& address, const std::string& service, std::uint32_t seconds,
                       std::function<void(const std::string*)> done);
    void send_grants();
    void emit(std::string_view type, nlohmann::json fields);

    std::unique_ptr<intake::NflogReader> reader_;
    std::unique_ptr<kernel::SetElementWriter> writer_;
    std::unique_ptr<SpaHandoff> handoff_;
    int stop_fd_ = -1;
    std::uint16_t group_ = 0;
    bool realtime_ = true;
    SettingsSlot slot_;
    std::uint64_t seen_version_ = 0;
    std::shared_ptr<const SpaSettings> settings_;  // SPA thread only (after start)
    SpaIntake intake_;                              // SPA thread only, but for its atomic counters
    std::vector<PendingGrant> pending_;             // SPA thread only
    std::atomic<int> scheduling_{-1};               // -1 not started, else the policy
    std::atomic<std::uint64_t> nflog_packets_{0};
    std::atomic<std::uint64_t> nflog_overruns_{0};
    std::thread thread_;
};

}  // namespace portcullis::daemon
