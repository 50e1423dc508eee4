#pragma once
// Policy → the one `table inet portcullis`. The output is deterministic (same policy, same bytes)
// so it can be golden-tested and diffed by admins.
#include <string>
#include <vector>

#include "compile/ir.hpp"
#include "policy/model.hpp"

namespace portcullis::compile {

inline constexpr const char* kTableFamily = "inet";
inline constexpr const char* kTableName = "portcullis";

// Names of the sets the runtime fills. They are part of the contract between the compiler, the
// kernel adapter (which keeps their elements across re-applies) and the daemon (which writes them).
inline constexpr const char* kBanSetV4 = "ban4";  // ipv4_addr, flags interval,timeout
inline constexpr const char* kBanSetV6 = "ban6";  // ipv6_addr, flags interval,timeout
// Split ban layout: single addresses go to hash sets (the kernel fills a hash set ~3-4x faster
// than an interval set), prefixes stay in ban4/ban6, which also keep any host an older version put
// there (a re-apply keeps runtime sets as they are, so renaming ban4 would drop its bans). A
// source in either set is dropped. The daemon switches to this layout when these are runtime sets.
inline constexpr const char* kBanHostSetV4 = "banh4";  // ipv4_addr, flags timeout
inline constexpr const char* kBanHostSetV6 = "banh6";  // ipv6_addr, flags timeout
// Grant sets exist for every guarded service (guard != none): flags dynamic,timeout (dynamic so
// in-kernel knock rules can add to them), default timeout = runtime.grant_timeout. Names are the
// service name made into an nft identifier (unchanged for names the policy accepts).
std::string grant_set_v4(const std::string& service_name);  // "grant4_<service>"
std::string grant_set_v6(const std::string& service_name);  // "grant6_<service>"

// Every named object the table text defines, so the kernel adapter can replace the old table's
// objects in one transaction while keeping the runtime sets (and their elements) in place.
struct TableManifest {
    std::vector<std::string> chains;
    std::vector<std::string> sets;          // non-runtime sets and maps, recreated on apply
    std::vector<std::string> runtime_sets;  // kept across applies (elements survive)
    std::vector<std::string> counters;      // named counters (kept when still defined)
    std::vector<std::string> ct_helpers;
    std::vector<std::string> limits;        // named limiters (drop logging rate)
    std::vector<std::string> counted_sets;  // sets whose elements count (per-service counters)
};

struct Compiled {
    std::string table_text;  // "table inet portcullis { ... }\n", loadable by nft -f
    TableManifest manifest;
    // The sets and maps of table_text as data (empty when the Compiled was not made by compile(),
    // e.g. a saved snapshot): what apply encodes for the kernel directly instead of as text.
    std::vector<ir::Set> sets{};
};

Compiled compile(const policy::Policy& policy);

// The same table as structured data: what compile() renders, and what `simulate` evaluates.
ir::Table compile_ir(const policy::Policy& policy);
TableManifest manifest_of(const ir::Table& table);

// Named counters the metrics read (`nft list counter inet portcullis NAME`).
inline constexpr const char* kCounterManagementAccepted = "management_accepted";
inline constexpr const char* kCounterBanned = "banned";    // dropped because the source is banned
inline constexpr const char* kCounterInvalid = "invalid";  // ct state invalid
inline constexpr const char* kCounterDefaultDropped = "default_dropped";  // no service matched
std::string accepted_counter(const std::string& service_name);  // "svc_<service>_accepted"
std::string dropped_counter(const std::string& service_name);   // "svc_<service>_dropped"
std::string service_chain(const std::string& service_name);     // "svc_<service>"

// NFLOG prefixes of logged drops (policy `log_drops`), so intake can tell why a packet died:
// "closed" = no service claims the port; "service" = a service's allow_from or guard refused it.
inline constexpr const char* kLogPrefixClosed = "portcullis drop=closed ";
inline constexpr const char* kLogPrefixService = "portcullis drop=service ";
inline constexpr const char* kDropLogLimit = "drop_log";
// "invalid" = conntrack found no connection for a packet that cannot start one (TCP FIN, NULL,
// XMAS or ACK probes without a flow): logged too, so scan detection sees those scan types.
inline constexpr const char* kLogPrefixInvalid = "portcullis drop=invalid ";
// With [detect] enabled: per-source drop-log meters (dynamic sets, flags dynamic,timeout) in front
// of the shared drop_log limiter, so one noisy source cannot spend the log budget and hide a scanner.
inline constexpr const char* kDropLogMeterV4 = "droplog4";
inline constexpr const char* kDropLogMeterV6 = "droplog6";
inline constexpr std::uint32_t kDropLogPerSourcePerSecond = 2;
inline constexpr std::uint32_t kDropLogPerSourceBurst = 5;  // TRW's four probes fit in one burst

// Knock sequences (guard = "knock"), all in the kernel: the chain a service's knock ports jump to,
// its stage sets (stage k = sources that completed k steps, k = 1..steps-1, flags dynamic,timeout),
// counters "knock_<svc>_step|reset|granted", and the NFLOG prefix logged when a sequence completes
// ("portcullis knock=<service> ", group = knock.log_group or firewall.log_drops).
inline constexpr const char* kLogPrefixKnock = "portcullis knock=";
std::string knock_chain(const std::string& service_name);  // "knock_<service>"
std::string knock_stage_set(Family family, const std::string& service_name, std::size_t stage);
std::string knock_counter(const std::string& service_name, const std::string& what);
std::string knock_log_prefix(const std::string& service_name);

// SPA (guard = "spa"): the [spa] UDP port jumps to chain "spa_intake", which rate-limits per source
// (limiter sets "spa4_rate"/"spa6_rate", flags dynamic,timeout; over-limit counted in
// "spa_rate_limited"), then counts ("spa_received"), logs the whole packet to [spa] log_group with
// this prefix, and drops it. The daemon reads SPA from that group; the port never answers.
inline constexpr const char* kChainSpaIntake = "spa_intake";
inline constexpr const char* kCounterSpaReceived = "spa_received";
inline constexpr const char* kCounterSpaRateLimited = "spa_rate_limited";
inline constexpr const char* kCounterSpaGlobalLimited = "spa_global_limited";  // over [spa] global_limit
inline constexpr const char* kLogPrefixSpa = "portcullis spa ";
std::string spa_rate_set(Family family);

// Flood control (issue 5): per-source limiter sets "flood4_<svc>_<what>" / "flood6_<svc>_<what>"
// (flags dynamic,timeout), counters "flood_<svc>_<what>" (what: ike_init, pptp_new, l2tp_sccrq,
// knock, each also with "_global" for the all-sources limit);
// over-limit packets go to chain "flood_drop", logged (limiter "flood_log") with this prefix.
inline constexpr const char* kLogPrefixFlood = "portcullis drop=flood ";
inline constexpr const char* kFloodLogLimit = "flood_log";
std::string flood_set(Family family, const std::string& service_name, const std::string& what);
std::string flood_counter(const std::string& service_name, const std::string& what);

// Protocol conformance (issue 5): drops on exposed udp/500 and udp/4500, counted per reason.
inline constexpr const char* kConformIkeShort = "conform_ike_short";        // < 28-byte IKE header
inline constexpr const char* kConformIkeVersion = "conform_ike_version";    // not 0x10 / 0x20
inline constexpr const char* kConformIkeExchange = "conform_ike_exchange";  // unknown exchange type
inline constexpr const char* kConformIkeLength = "conform_ike_length";      // length >= 64 KiB
// IKE length field not equal to the UDP payload length (checked as byte pairs in the sets below).
inline constexpr const char* kConformIkeLengthMismatch = "conform_ike_length_mismatch";
inline constexpr const char* kConformIkeAggressive = "conform_ike_aggressive";  // IKEv1 exchange 4 (opt-in)
inline constexpr const char* kConformNattShort = "conform_natt_short";      // not keepalive, < 8 bytes, or short IKE
inline constexpr const char* kConformNattVersion = "conform_natt_version";
inline constexpr const char* kConformNattExchange = "conform_natt_exchange";
inline constexpr const char* kConformNattLength = "conform_natt_length";
// Behind the non-ESP marker: IKE length not equal to the UDP payload length - 4.
inline constexpr const char* kConformNattLengthMismatch = "conform_natt_length_mismatch";
inline constexpr const char* kConformNattSpi = "conform_natt_spi";  // ESP with a reserved SPI 1-255
// L2TP on an exposed udp/1701 (RFC 2661 v2, RFC 3931 v3 over UDP) and PPTP's enhanced GRE
// (RFC 2637 section 4.1; IPv4, with or without options, and IPv6).
inline constexpr const char* kConformL2tpShort = "conform_l2tp_short";      // < 6 bytes, or a control message < 12
inline constexpr const char* kConformL2tpVersion = "conform_l2tp_version";  // version not 2 or 3
inline constexpr const char* kConformL2tpControl = "conform_l2tp_control";  // control without L and S, or v2 with O
inline constexpr const char* kConformGreShort = "conform_gre_short";        // < 8 bytes (no room for the key)
inline constexpr const char* kConformGreVersion = "conform_gre_version";    // version not 1
inline constexpr const char* kConformGreProtocol = "conform_gre_protocol";  // protocol type not 0x880B (PPP)
inline constexpr const char* kConformGreKey = "conform_gre_key";            // key flag clear
inline constexpr const char* kConformGreFlags = "conform_gre_flags";        // checksum, routing, strict route, recursion or reserved flags

}  // namespace portcullis::compile
