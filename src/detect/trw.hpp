#pragma once
// Threshold Random Walk scan detection (Jung, Paxson, Berger, Balakrishnan, IEEE S&P 2004).
//
// Every first contact of a source with a distinct (protocol, port) of ours is a Bernoulli trial:
// success when the port is an exposed service, failure when it is closed or guarded. The walk
// multiplies the likelihood ratio by θ1/θ0 on success and (1−θ1)/(1−θ0) on failure and decides
// "scanner" at η1 = P_D/P_F or "benign" at η0 = (1−P_D)/(1−P_F). With the defaults four straight
// failures flag a scanner (4^4 = 256 ≥ 99, 4^3 = 64 < 99).
//
// A second, plain opinion counts distinct failed ports per source inside a sliding window.
// State per tracked source is bounded (see kBytesPerSource) and the table evicts least-recently
// seen sources when full, so a spoofed flood cannot grow memory.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/net.hpp"

namespace portcullis::detect {

struct TrwSettings {
    double theta0 = 0.8;   // P(success | benign)
    double theta1 = 0.2;   // P(success | scanner)
    double detection_probability = 0.99;    // P_D
    double false_positive_probability = 0.01;  // P_F
    std::uint16_t window_distinct_ports = 20;  // second opinion: this many distinct failures...
    std::uint32_t window_seconds = 60;         // ...inside this window flags a scanner
    std::size_t max_sources = 1 << 20;         // tracked sources before LRU eviction
};

enum class Outcome : std::uint8_t { success, failure };

// How a probe looked on the wire; nmap's scan types leave these fingerprints.
enum class ProbeKind : std::uint8_t { tcp_syn, tcp_fin, tcp_null, tcp_xmas, tcp_ack, tcp_other, udp, other };

// Labels a TCP probe from its flags byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20).
ProbeKind classify_tcp_flags(std::uint8_t flags);
const char* to_string(ProbeKind kind);

struct Contact {
    Address source;
    std::uint8_t protocol = 0;  // IP protocol number
    std::uint16_t port = 0;     // destination port (0 for portless protocols)
    Outcome outcome = Outcome::failure;
    ProbeKind kind = ProbeKind::other;
    std::uint32_t now_seconds = 0;  // monotonic seconds; the caller's clock
};

enum class Verdict : std::uint8_t { pending, scanner, benign };

// A (protocol, port) first contact as remembered by the detector.
struct ContactKey {
    std::uint8_t protocol = 0;
    std::uint16_t port = 0;
    bool operator==(const ContactKey&) const = default;
};

struct Detection {
    Address source;
    const char* reason;          // "trw" or "distinct-ports"
    std::uint16_t failed_probes;  // distinct failed first contacts counted for this source
    ProbeKind dominant_kind;      // the most frequent probe kind seen from this source
    // The most recent distinct failed first contacts, oldest first (at most kRememberedPorts).
    std::vector<ContactKey> failed_ports;
};

struct TrwStats {
    std::uint64_t contacts = 0;
    std::uint64_t repeated_contacts = 0;  // same (protocol, port) again: not a new trial
    std::uint64_t detections = 0;
    std::uint64_t evictions = 0;
    std::size_t tracked = 0;
};

class TrwDetector {
public:
    explicit TrwDetector(TrwSettings settings = {});

    // Feeds one first contact. Returns a detection the first time a source is judged a scanner;
    // after that the source is forgotten (the caller bans it), so a later return is a new offence.
    std::optional<Detection> observe(const Contact& contact);

    // Drops a source's walk (e.g. after a ban was placed).
    void forget(const Address& source);

    const TrwStats& stats() const { return stats_; }
    double log_upper_threshold() const { return log_eta1_; }

    static constexpr std::size_t kRememberedPorts = 14;
    static std::size_t bytes_per_source();

private:
    static constexpr std::uint32_t kNoSlot = 0xffffffffu;
    // Kept deliberately small: 1M tracked sources must fit in 128 MiB with the index.
    struct Source {
        std::array<std::uint8_t, 16> address{};
        std::uint8_t family = 0;
        std::uint8_t in_use = 0;
        std::uint16_t failures = 0;  // distinct failed first contacts since the walk began
        float log_ratio = 0.0f;
        std::uint32_t window_start = 0;
        std::uint16_t window_failures = 0;
        std::uint16_t remembered_next = 0;  // ring position in `contacts`
        std::uint32_t prev = kNoSlot;
        std::uint32_t next = kNoSlot;
        std::uint32_t last_seen = 0;
        // (protocol << 16 | port) + 1, bit 31 set for a failure; 0 = empty.
        std::array<std::uint32_t, kRememberedPorts> contacts{};
        std::array<std::uint8_t, 8> kind_counts{};
    };

    std::uint32_t find(const Address& source) const;
    std::uint32_t insert(const Address& source);
    void unlink(std::uint32_t slot);
    void push_front(std::uint32_t slot);
    void erase(std::uint32_t slot);
    void index_remove(std::uint32_t slot);

    TrwSettings settings_;
    double log_success_step_;
    double log_failure_step_;
    double log_eta1_;
    double log_eta0_;
    std::vector<Source> slots_;
    std::vector<std::uint32_t> index_;  // open addressing, values are slot+1 (0 = empty)
    std::vector<std::uint32_t> free_;
    std::uint32_t lru_head_;
    std::uint32_t lru_tail_;
    TrwStats stats_;
};

}  // namespace portcullis::detect
