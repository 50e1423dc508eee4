#pragma once
// A small model of nf_conntrack, enough for what rules ask of it (`ct state`, `ct status dnat`,
// `ct original proto-dst`, helpers):
//   * connections keyed by 5-tuples (ports; ICMP echo identifier; GRE key for PPTP's enhanced
//     GRE), with an original and a reply tuple — the reply tuple carries the DNAT;
//   * new until a packet was seen in the reply direction, established after; a new connection is
//     only inserted when its first packet is accepted (the kernel confirms on accept);
//   * related: ICMP errors quoting a known connection, and GRE matching a PPTP expectation;
//   * invalid: TCP whose first packet is not a SYN (nf_conntrack_tcp_loose=0; with `tcp_loose`,
//     a bare ACK picks the connection up as the kernel's default does), ICMP errors quoting no
//     known connection, ICMP replies/informational types that cannot start a connection;
//   * untracked: ICMPv6 neighbour discovery and MLD, as nf_conntrack_icmpv6 leaves them;
//   * timeouts in packet time (kernel defaults: TCP SYN_SENT 120 s, ESTABLISHED 5 d, FIN 120 s,
//     CLOSE 10 s; UDP 30 s unreplied / 120 s replied; ICMP 30 s; GRE 30 s / 180 s; other 600 s).
// Not modelled: TCP window tracking (liberal), sequence checks, zone/mark, NAT port clashes.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/net.hpp"

namespace portcullis::simulate {

struct Tuple {
    Address source, destination;
    std::uint8_t protocol = 0;
    std::uint16_t source_port = 0, destination_port = 0;  // ports, ICMP id/kind, GRE keys
    auto operator<=>(const Tuple&) const = default;
};
Tuple inverse(const Tuple& tuple);
std::string tuple_text(const Tuple& tuple);

enum class TcpState : std::uint8_t { none, syn_sent, syn_recv, established, fin_wait, close };

struct Connection {
    std::uint64_t id = 0;
    Tuple original;  // as the first packet arrived (before DNAT)
    Tuple reply;     // as replies travel (after DNAT: from the new destination)
    bool seen_reply = false;
    bool dnat = false;
    bool related = false;  // created through an expectation
    bool inbound_origin = false;  // the first packet arrived on a WAN interface
    bool forwarded = false;       // the first packet was forwarded (not delivered locally)
    // Masquerade (postrouting srcnat): the source became the outgoing interface's address. The
    // reply tuple's destination carries it when the gateway's WAN address is known.
    bool snat = false;
    std::optional<Address> snat_address;
    // nf_conntrack_pptp's incoming-call state: the PAC's call ID from its ICRQ, then the PNS's
    // call ID from an accepting ICRP; the PAC's ICCN naming it opens GRE.
    std::optional<std::uint16_t> pptp_in_pac_call, pptp_in_pns_call;
    std::optional<std::string> helper;  // helper type ("pptp")
    TcpState tcp = TcpState::none;
    double expires = 0;
    std::uint64_t first_frame = 0;
    std::uint64_t packets = 0;
};

// What a PPTP call lets through: GRE with this tuple (source port ignored) becomes related.
struct Expectation {
    Tuple tuple;  // source, destination, protocol 47, destination_port = GRE key (call ID)
    std::uint64_t master = 0;
    double expires = 0;
};

class Conntrack {
public:
    struct Found {
        Connection* connection = nullptr;
        bool reply = false;  // the packet travels in the reply direction
    };
    Found find(const Tuple& tuple, double now);
    const Connection* get(std::uint64_t id) const;
    Connection* get(std::uint64_t id);

    // Inserts a confirmed connection (its id is assigned here) and returns it.
    Connection& insert(Connection connection);
    void remove(std::uint64_t id);

    void expect(Expectation expectation);
    std::optional<Expectation> take_expectation(const Tuple& tuple, double now);

    // PPTP GRE key map: the helper tells conntrack which source key goes with a destination key.
    void map_gre_key(const Tuple& tuple_without_source_key, std::uint16_t source_key);
    std::uint16_t gre_source_key(const Tuple& tuple_without_source_key) const;

    std::size_t size() const { return connections_.size(); }
    const std::map<std::uint64_t, Connection>& connections() const { return connections_; }

private:
    void index(const Connection& connection);
    void unindex(const Connection& connection);

    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, Connection> connections_;
    std::map<Tuple, std::pair<std::uint64_t, bool>> by_tuple_;
    std::vector<Expectation> expectations_;
    std::map<Tuple, std::uint16_t> gre_keys_;
};

// Timeouts (seconds) applied after a packet of the connection was seen.
double conntrack_timeout(const Connection& connection);

}  // namespace portcullis::simulate
