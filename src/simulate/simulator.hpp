#pragma once
// Evaluates the compiled table (compile::ir::Table — the very structure `portcullis compile`
// renders to nft text) on packets, the way netfilter walks its hooks for a packet arriving on an
// interface: conntrack (-200), prerouting nat at dstnat (-100, new connections only), prerouting
// filter (0), the routing decision (for the gateway itself → input; else forward), then
// postrouting. Rule semantics live in the IR; this file only gives each IR node its meaning.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "common/result.hpp"
#include "compile/ir.hpp"
#include "policy/model.hpp"
#include "simulate/conntrack.hpp"
#include "simulate/packet.hpp"
#include "simulate/state.hpp"

namespace portcullis::simulate {

enum class Verdict : std::uint8_t { accept, drop, reject, skip };  // skip: not IP, never filtered
const char* verdict_name(Verdict verdict);

// Where the packet went (or would have gone).
enum class Path : std::uint8_t {
    none,     // dropped before routing, or not an IP packet
    input,    // delivered to the gateway/host itself
    forward,  // forwarded (after DNAT) towards the LAN
    output,   // sent by the gateway/host itself
    reply,    // the reply of a forwarded connection, relayed from the LAN back out
};
const char* path_name(Path path);

struct TraceStep {
    std::string chain;
    std::size_t rule = 0;  // 1-based index in the chain; 0 for chain events (entry, policy)
    std::string text;      // the rule as `portcullis compile` prints it, or the event
    std::string element;   // the set/map element the rule matched, if any
};

struct Decision {
    std::string chain;
    std::size_t rule = 0;   // 0: the chain's policy, or no rule at all (see text)
    std::string text;       // rendered rule, or what decided (policy, malformed, ...)
    std::string element;    // the set/map element that led there, if any
};

struct Outcome {
    Packet packet;
    Verdict verdict = Verdict::drop;
    std::string reject_with;  // "tcp reset" / "icmpx admin-prohibited"
    Path path = Path::none;
    std::string iif, oif;
    std::string ct_state;                   // new, established, related, invalid, untracked
    std::optional<std::uint64_t> connection;  // conntrack entry id
    std::optional<std::string> dnat;        // "192.0.2.10:500" when the destination was rewritten
    // Masquerade: "203.0.113.1" (or "<wan address>" when the gateway's address of that family is
    // not known) when the source is rewritten on the way out; on a reply, the LAN address the
    // destination was rewritten back to.
    std::optional<std::string> snat;
    std::optional<std::string> unsnat;
    Decision decided_by;
    std::vector<TraceStep> trace;  // with Options::explain
    std::vector<std::string> logs;  // NFLOG messages the packet produced
    std::optional<std::uint64_t> datagram_frame;  // fragments: the frame whose datagram decided
};

struct InitialGrant {
    std::string service;
    Address address;
    std::optional<std::uint32_t> seconds;  // default: the grant set's timeout
};
struct InitialBan {
    Prefix prefix;
    std::optional<std::uint32_t> seconds;  // default: the policy's ban timeout
};

struct Options {
    // Interface every packet arrives on. Unset: the first WAN interface, and packets that are
    // replies of known connections or come from the gateway's own addresses are taken as
    // outbound (see docs/simulate.md).
    std::optional<std::string> iif;
    std::vector<Address> gateway_addresses;  // in addition to the policy's wan_address
    bool tcp_loose = false;  // nf_conntrack_tcp_loose=1: mid-stream ACKs pick connections up
    bool secpath = false;    // packets arrived decapsulated by IPsec (`meta secpath exists`)
    bool explain = false;    // record every rule that fired
    std::vector<InitialGrant> grants;
    std::vector<InitialBan> bans;
};

// What the evaluator must know about the box beyond the table.
struct Box {
    bool gateway = false;
    std::vector<std::string> wan_interfaces;
    std::optional<std::string> lan_interface;
    std::vector<Address> own_addresses;
    std::vector<std::string> service_names;
    std::uint32_t default_ban_seconds = 3600;
};
Box box_of(const policy::Policy& policy);

struct Summary {
    std::uint64_t packets = 0;
    std::map<std::string, std::uint64_t> verdicts;  // accept/drop/reject/skip
    std::map<std::string, std::uint64_t> paths;
    std::uint64_t connections = 0;  // conntrack entries created
    std::uint64_t logged = 0;
    std::vector<std::pair<std::string, CounterValue>> counters;  // table order
};

class Simulator {
public:
    // Compiles the policy and checks that every node of the table is one the evaluator models.
    static Result<std::unique_ptr<Simulator>> create(const policy::Policy& policy, Options options);
    static Result<std::unique_ptr<Simulator>> create(compile::ir::Table table, Box box,
                                                     Options options);
    ~Simulator();

    // One packet. Usually one outcome; a fragment yields nothing until its datagram is complete,
    // then one outcome per fragment. `iif` overrides Options::iif for this packet.
    std::vector<Outcome> process(const Packet& packet,
                                 const std::optional<std::string>& iif = std::nullopt);
    // Outcomes still held (fragments of datagrams that never completed).
    std::vector<Outcome> finish();

    // Runtime operations (what `portcullis grants add` / the detectors do).
    Result<void> grant(const std::string& service, const Address& address, double now,
                       std::optional<std::uint32_t> seconds = std::nullopt);
    Result<void> ban(const Prefix& prefix, double now, std::optional<std::uint32_t> seconds = std::nullopt);

    const compile::ir::Table& table() const;
    const Conntrack& conntrack() const;
    CounterValue counter(const std::string& name) const;
    std::size_t set_size(const std::string& name, double now) const;
    Summary summary() const;

private:
    Simulator();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Checks every node of the table is modelled and every reference resolves. Errors name the
// chain, rule and node.
Result<void> validate(const compile::ir::Table& table);

}  // namespace portcullis::simulate
