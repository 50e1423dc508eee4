#pragma once
// The validated policy: what the parser produces and every later stage (compile, check report,
// daemon, simulate) consumes. Plain data; invariants are established by policy::load().
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/net.hpp"

namespace portcullis::policy {

// Where something was written, so later stages can point back at the policy file.
struct Location {
    std::string file;
    std::uint32_t line = 0;    // 1-based; 0 = unknown
    std::uint32_t column = 0;  // 1-based; 0 = unknown
};

enum class Severity { error, warning };

struct Diagnostic {
    Severity severity = Severity::error;
    Location where;
    std::string message;  // says what was found and what was expected
};

enum class Mode { gateway, host };
enum class DefaultAction { drop, reject };

// IP protocol numbers the policy can name.
enum class IpProtocol : std::uint8_t { tcp = 6, udp = 17, gre = 47, esp = 50, ah = 51 };

struct PortRange {
    std::uint16_t first = 0;
    std::uint16_t last = 0;  // == first for a single port
    bool operator==(const PortRange&) const = default;
};

// One thing a service exposes: "tcp/22", "udp/40000-40100", or a portless protocol ("esp", "gre").
struct PortSpec {
    IpProtocol protocol = IpProtocol::tcp;
    std::optional<PortRange> ports;  // empty for portless protocols
    Location where;
    bool operator==(const PortSpec& other) const {
        return protocol == other.protocol && ports == other.ports;
    }
};

struct ForwardTarget {
    Address address;
    std::optional<std::uint16_t> port;  // empty: keep the original destination port
};

// How a service is guarded beyond allow_from. `grant`: closed to everyone until the runtime
// adds the source to the service's grant set (by `portcullis grants add`, later knock or SPA).
enum class Guard { none, grant, knock, spa };

// One knock of a sequence: a single TCP or UDP port.
// A per-source packet rate limit enforced in the kernel with a dynamic set per service and family
// (issue 5, flood control); over-limit packets are dropped, counted and logged at a low rate.
struct FloodLimit {
    bool enabled = true;
    std::uint32_t per_source_per_second = 5;
    std::uint32_t burst_packets = 10;
    std::optional<std::uint32_t> global_per_second;  // all sources together; empty: none
    std::uint32_t global_burst_packets = 0;          // the global limit's burst (0: burst_packets)
};

// Default global (all sources together) caps, set well above what a deployment sees in normal use
// (documented in docs/policy.md, "Flood control"): they bound a spoofed-source flood, not users.
inline constexpr std::uint32_t kDefaultControlGlobalPerSecond = 100, kDefaultControlGlobalBurst = 200;
inline constexpr std::uint32_t kDefaultKnockGlobalPerSecond = 200, kDefaultKnockGlobalBurst = 400;
inline constexpr std::uint32_t kDefaultSpaGlobalPerSecond = 100, kDefaultSpaGlobalBurst = 200;

struct KnockStep {
    IpProtocol protocol = IpProtocol::tcp;
    std::uint16_t port = 0;
    Location where;
    bool operator==(const KnockStep& other) const { return protocol == other.protocol && port == other.port; }
};

// `guard = "knock"`: a port-knock sequence evaluated entirely in the kernel (issue 4). Knocking is
// obscurity, not authentication: anyone who sees the packets can replay the sequence.
struct Knock {
    std::vector<KnockStep> sequence;          // >= 2 distinct steps
    std::uint32_t step_timeout_seconds = 5;   // how long each stage waits for the next knock
    std::uint32_t open_for_seconds = 30;      // grant timeout after the last knock
    bool tcp_syn_only = true;                 // TCP knocks count only as bare SYNs (no ACK/RST/FIN)
    std::optional<std::uint16_t> log_group;   // NFLOG group for success; empty: firewall.log_drops
    // Knock packets per source (any step, right or wrong) before they are dropped unseen by the
    // stage rules: a sequence is a handful of packets plus retransmissions, a flood is not.
    FloodLimit rate{true, 10, 20, kDefaultKnockGlobalPerSecond, kDefaultKnockGlobalBurst};
    Location where;
};

struct Service {
    std::string name;                   // [a-z0-9_-], unique; used in set/chain/counter names
    std::optional<std::string> preset;  // e.g. "ikev2"
    std::string explanation;            // one line shown by `check` (from the preset, or generic)
    std::vector<PortSpec> ports;        // expanded: preset bundle plus explicit ports
    std::optional<ForwardTarget> forward_to;
    bool allow_any = false;         // allow_from contained "any"
    std::vector<Prefix> allow_from;  // empty when allow_any
    Guard guard = Guard::none;
    std::optional<Knock> knock;  // set exactly when guard == knock
    // New IKE_SA_INIT requests (responder SPI 0, exchange 34, initiator flag) to udp/500 and, after
    // the non-ESP marker, udp/4500: applies when the service exposes those ports.
    FloodLimit ike_init;
    // New control connections: PPTP (TCP SYN to 1723) and L2TPv2 SCCRQ (control message with tunnel
    // ID 0 and message type 1) to udp/1701, when the service exposes those ports; plus a global
    // limit per port (all sources together), on by default.
    FloodLimit control{true, 5, 10, kDefaultControlGlobalPerSecond, kDefaultControlGlobalBurst};
    // Protocol conformance on exposed udp/500 and udp/4500 (issue 5): malformed IKE / NAT-T dropped
    // in the kernel and counted per reason. Optional: IKEv1 aggressive mode (exchange 4) dropped.
    bool conformance = true;
    bool drop_ikev1_aggressive = false;
    bool trusted = false;  // sources are never banned by detectors (issue: detection)
    // Preset-derived behaviour the compiler must honour:
    bool l2tp_only_inside_ipsec = false;  // l2tp-ipsec: UDP 1701 only with `meta secpath exists`
    bool pptp_helper = false;             // assign ct helper "pptp" to TCP 1723
    Location where;
};

struct Management {
    std::vector<Prefix> sources;  // always reachable from these...
    std::vector<PortSpec> ports;  // ...on these ports (anti-lockout), before any drop
    Location where;
};

struct Logging {
    std::optional<std::uint16_t> drop_group;  // NFLOG group for dropped inbound packets
    std::uint32_t drop_rate_per_second = 10;  // log rate limit so floods cannot flood the log
};

// `guard = "spa"` (issue 4): who may open which SPA-guarded services. Key bytes are decoded at load
// time (inline base64 or a 0600 key file in fwknop's rc syntax), so a bad key is a policy error.
struct SpaKeyConfig {
    std::string name;                     // [a-z0-9_-]; appears in events and metrics
    std::vector<std::uint8_t> key;        // Rijndael key, 1-32 bytes
    std::vector<std::uint8_t> hmac_key;   // HMAC-SHA256 key, 16-128 bytes
    std::optional<std::string> key_file;  // where the keys came from, when not inline
    std::vector<std::string> services;    // SPA-guarded services this key may open
    std::vector<Location> service_where;  // parallel to services
    std::uint32_t max_open_seconds = 3600;  // a client's requested timeout is capped by this
    bool allow_embedded_address = false;  // grant the address inside the packet, not its source
    std::vector<Prefix> sources;          // packets only from these; empty = from anywhere
    Location where;
};

// [spa]: SPA packets arrive on one UDP port, are copied whole to an NFLOG group and dropped in the
// kernel (never answered), after a per-source rate limit; the daemon verifies them from NFLOG.
struct Spa {
    std::uint16_t port = 62201;                // fwknop's default
    std::uint32_t window_seconds = 120;        // |now - packet timestamp| allowed, both directions
    std::uint32_t per_source_per_second = 5;   // packets per second per source reaching the log
    std::uint32_t burst_packets = 10;
    // All sources together (what passed the per-source limit); empty: "off". Also bounds the CPU
    // time of the daemon's SPA thread, which runs real-time, under a flood from many addresses.
    std::optional<std::uint32_t> global_per_second = kDefaultSpaGlobalPerSecond;
    std::uint32_t global_burst_packets = kDefaultSpaGlobalBurst;
    std::uint16_t log_group = 62201;           // NFLOG group for SPA packets (dedicated)
    // The daemon's SPA thread asks for SCHED_FIFO (lowest real-time priority) unless "normal".
    bool realtime = true;
    std::vector<SpaKeyConfig> keys;
    Location where;
    Location port_where;  // the port line, or the [spa] header when the default is used
};

struct Runtime {
    std::uint32_t default_grant_seconds = 3600;  // grant timeout when none is given
    std::uint32_t default_ban_seconds = 3600;
};

// `[detect]`: scan detection in the daemon (issue 5). Failed first contacts come from the logged
// drops (firewall.log_drops), successes from conntrack's new-connection events.
struct Detect {
    bool enabled = false;                  // on when a [detect] section exists, unless enabled = false
    double theta0 = 0.8;                   // P(first contact succeeds | benign)
    double theta1 = 0.2;                   // P(first contact succeeds | scanner)
    double detection_probability = 0.99;   // P_D
    double false_positive_probability = 0.01;  // P_F
    std::uint16_t window_ports = 20;       // second opinion: distinct failed ports...
    std::uint32_t window_seconds = 60;     // ...inside this window
    std::uint32_t ban_base_seconds = 3600; // first offence; doubles per repeat offence
    std::uint32_t ban_cap_seconds = 7 * 24 * 3600;
    double jitter = 0.10;                  // ± fraction applied to every ban duration
    std::uint8_t ipv6_prefix = 128;        // 64: track and ban IPv6 sources per /64
    std::uint32_t max_sources = 1u << 20;  // tracked sources before LRU eviction
    Location where;
};

struct Policy {
    std::string source_path;
    Mode mode = Mode::host;
    std::vector<std::string> wan_interfaces;     // at least one
    std::optional<std::string> lan_interface;    // gateway mode
    std::vector<Address> wan_addresses;          // DNAT only for these destinations (empty: any)
    DefaultAction default_action = DefaultAction::drop;
    bool masquerade_lan = false;  // gateway: masquerade LAN → WAN egress
    Logging logging;
    Runtime runtime;
    Detect detect;
    Management management;
    std::vector<Service> services;
    std::optional<Spa> spa;  // the [spa] section, when written
    std::vector<Diagnostic> warnings;  // non-fatal findings, shown by `check`
};

}  // namespace portcullis::policy
