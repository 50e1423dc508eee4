#pragma once
// Scan detection in the daemon (issue 5): the logged drops of the compiled table are failed first
// contacts, conntrack's new-connection events are successful ones; a Threshold Random Walk per
// source (detect/trw.hpp) flags scanners, which are banned through RuntimeState with a duration
// that doubles per repeat offence (detect/escalation.hpp; offences live in the state file).
//
// Never banned: management sources and the allow_from lists of services marked `trusted`.
// Not counted as probes: ICMP, TCP segments with RST or SYN+ACK (backscatter of floods spoofed
// with our address), later IP fragments, and drops other than "drop=closed", "drop=service" and
// "drop=invalid" (conntrack-invalid FIN/NULL/XMAS/ACK probes); flood limiter drops are not scans.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "daemon/events.hpp"
#include "daemon/metrics.hpp"
#include "daemon/runtime_state.hpp"
#include "detect/escalation.hpp"
#include "detect/trw.hpp"
#include "intake/nflog_reader.hpp"
#include "policy/model.hpp"

namespace portcullis::daemon {

inline constexpr const char* kScanBanReason = "scan";
// A source flagged again this soon after its ban landed is a probe that was already in flight
// (queued in NFLOG before the ban): not a new offence.
inline constexpr std::int64_t kScanRebanGraceSeconds = 10;

struct ScanDetectionConfig {
    bool enabled = false;
    detect::TrwSettings trw;
    detect::EscalationSettings escalation;
    bool aggregate_ipv6 = false;  // track and ban IPv6 sources per /64
    std::vector<Prefix> trusted;  // never banned
};

ScanDetectionConfig scan_detection_config(const policy::Policy& policy);

struct ScanCounters {
    std::uint64_t logged_packets = 0;  // NFLOG packets seen by the detector
    std::uint64_t failures = 0;        // fed to the walk as failed first contacts
    std::uint64_t successes = 0;       // new connections fed as successful first contacts
    std::uint64_t not_a_probe = 0;     // other log prefixes, ICMP, later fragments
    std::uint64_t backscatter = 0;     // TCP RST or SYN+ACK
    std::uint64_t undecodable = 0;     // no IP header the dissector could read
    std::uint64_t trusted = 0;         // probes from never-banned sources
    std::uint64_t already_banned = 0;  // flagged again while its ban was pending or just placed
    std::uint64_t bans_placed = 0;
    std::uint64_t ban_failures = 0;
    std::map<std::string, std::uint64_t> detections;  // by reason: "trw", "distinct-ports"
    std::map<std::string, std::uint64_t> scan_types;  // by label: "tcp-syn", "udp", ...
};

class ScanDetection final : public intake::PacketObserver {
public:
    using Clock = std::function<std::int64_t()>;  // unix seconds
    using Uniform = std::function<double()>;      // [0, 1), for the ban jitter

    ScanDetection(RuntimeState& runtime, EventLog& events, Clock clock, Uniform uniform);

    // Applies a (re)loaded policy. The walks survive a reload unless the TRW settings changed.
    void configure(ScanDetectionConfig config);
    bool enabled() const { return config_.enabled; }

    void on_packet(const intake::NflogPacket& packet) override;
    // A connection the kernel accepted (conntrack NEW): a successful first contact.
    void on_new_connection(const Address& source, std::uint8_t protocol, std::uint16_t port);

    const ScanCounters& counters() const { return counters_; }
    detect::TrwStats trw_stats() const;
    void write_metrics(MetricsText& text) const;

private:
    void observe(const Address& source, std::uint8_t protocol, std::uint16_t port, detect::Outcome outcome,
                 detect::ProbeKind kind);
    void act_on(const Address& source, const detect::Detection& detection);
    Address tracking_key(const Address& source) const;
    bool trusted(const Address& source) const;
    bool just_banned(const Address& source) const;  // ban pending, or placed within the grace

    RuntimeState& runtime_;
    EventLog& events_;
    Clock clock_;
    Uniform uniform_;
    ScanDetectionConfig config_;
    std::unique_ptr<detect::TrwDetector> trw_;
    std::set<Prefix> pending_;  // bans enqueued, not yet confirmed by the kernel
    ScanCounters counters_;
};

}  // namespace portcullis::daemon
