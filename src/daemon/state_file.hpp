#pragma once
// What must outlive the daemon and a reboot: bans with their escalation history (how often a
// source was banned and for how long last time — the detectors escalate from it). The kernel
// holds the live elements; this file lets a rebooted box (empty sets) put them back with the time
// they had left. Written atomically: temp file, fsync, rename, fsync of the directory.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net.hpp"
#include "common/result.hpp"

namespace portcullis::daemon {

struct BanRecord {
    Prefix prefix;
    std::int64_t banned_at = 0;      // unix seconds of the latest ban
    std::int64_t expires_at = 0;     // unix seconds; <= now means history only (not banned)
    std::uint32_t offences = 0;      // how many times this prefix was banned
    std::uint32_t last_duration = 0; // seconds of the latest ban
    std::string reason;              // "manual", "scan", ...
};

struct DaemonState {
    std::vector<BanRecord> bans;
    // The SPA replay cache (auth::ReplayCache::to_json() text), stored as a JSON object under
    // "spa_replay" so a restart does not reopen the window for captured packets. Empty: none.
    std::optional<std::string> spa_replay;
};

inline constexpr int kStateVersion = 1;

std::string serialize_state(const DaemonState& state);
// Errors say what is wrong and where ("bans[3].prefix: ...").
Result<DaemonState> parse_state(std::string_view text);

struct StateLoad {
    DaemonState state;
    bool existed = false;
    std::optional<std::string> problem;      // the file was unreadable/corrupt: why
    std::optional<std::string> kept_aside;   // where the bad file was moved
};
// A missing file is an empty state; a corrupt one is moved to PATH.corrupt-<unix seconds> and
// reported, and an empty state is returned so the daemon keeps running.
StateLoad load_state_file(const std::string& path, std::int64_t now);

Result<void> save_state_file(const std::string& path, const DaemonState& state);
// The write half of save_state_file: serialize_state() text to PATH, atomically.
Result<void> write_state_text(const std::string& path, const std::string& text);

}  // namespace portcullis::daemon
