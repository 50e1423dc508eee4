#pragma once
// Events as JSON lines: {"ts":"2026-01-02T03:04:05.678Z","type":"ban_added",...fields}. Written
// to stdout (journald captures it) and optionally appended to a file; counted by type for the
// metrics. Noisy sources (drops) are summarised by the caller per interval, never one per packet.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace portcullis::daemon {

// The event types this daemon emits (docs/daemon.md lists their fields).
namespace event {
inline constexpr const char* kApplied = "applied";
inline constexpr const char* kReloaded = "reloaded";
inline constexpr const char* kReloadFailed = "reload_failed";
inline constexpr const char* kGrantOpened = "grant_opened";
inline constexpr const char* kGrantExpired = "grant_expired";
inline constexpr const char* kGrantRevoked = "grant_revoked";
inline constexpr const char* kBanAdded = "ban_added";
inline constexpr const char* kBanRemoved = "ban_removed";
inline constexpr const char* kScanDetected = "scan_detected";
inline constexpr const char* kConfigError = "config_error";
inline constexpr const char* kStateError = "state_error";
inline constexpr const char* kNflogOverrun = "nflog_overrun";
inline constexpr const char* kDrops = "drops";
inline constexpr const char* kKernelError = "kernel_error";
inline constexpr const char* kStarted = "started";
inline constexpr const char* kStopping = "stopping";
}  // namespace event

// "2026-01-02T03:04:05.678Z"
std::string format_timestamp(std::chrono::system_clock::time_point when);

// One event line without the trailing newline. `fields` must be an object (or null).
std::string format_event(std::string_view type, const nlohmann::json& fields,
                         std::chrono::system_clock::time_point when);

class EventLog {
public:
    EventLog() = default;
    ~EventLog();
    EventLog(const EventLog&) = delete;
    EventLog& operator=(const EventLog&) = delete;

    void set_stdout(std::FILE* out) { stdout_ = out; }
    Result<void> open_file(const std::string& path);  // appended to, line-buffered

    void emit(std::string_view type, const nlohmann::json& fields = nlohmann::json::object());

    const std::map<std::string, std::uint64_t>& counts() const { return counts_; }

private:
    std::FILE* stdout_ = nullptr;
    std::FILE* file_ = nullptr;
    std::map<std::string, std::uint64_t> counts_;
};

}  // namespace portcullis::daemon
