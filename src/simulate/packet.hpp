#pragma once
// A captured frame reduced to what netfilter's rules and conntrack look at. The IP packet bytes
// are copied so raw payload matches (@nh/@th/@ih) can read them and so fragments can be held
// until their datagram is complete.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/net.hpp"
#include "dissect/packet.hpp"

namespace portcullis::simulate {

// A PPTP control message seen on TCP 1723 (what the pptp conntrack helper reads).
struct PptpControl {
    std::uint16_t type = 0;
    std::optional<std::uint16_t> call_id, peer_call_id;
    std::optional<std::uint8_t> result;
};

struct Packet {
    std::uint64_t frame = 0;
    double time = 0;  // seconds (capture timestamps: the simulation clock)

    // 0: not an IP packet (ARP, ...): an inet table never sees it.
    std::uint8_t family = 0;
    // Set when the kernel would drop the packet before netfilter (bad IP header or length).
    std::string malformed;
    Address source, destination;
    std::uint8_t l4proto = 0;
    std::uint8_t hop_limit = 0;
    std::uint32_t length = 0;  // IP length as the header states it
    std::optional<std::uint16_t> ip_id;  // IPv4 identification

    std::vector<std::byte> bytes;  // the IP packet as captured
    std::optional<std::size_t> transport_offset;  // absent for non-first fragments
    std::optional<std::size_t> inner_offset;      // TCP/UDP payload start (@ih)

    std::optional<std::uint16_t> source_port, destination_port;  // TCP/UDP
    std::optional<std::uint8_t> tcp_flags;
    std::optional<std::uint8_t> icmp_type, icmp_code;
    std::optional<std::uint16_t> icmp_id;  // echo identifier
    std::optional<dissect::QuotedPacket> quoted;
    std::optional<std::uint8_t> gre_version;
    std::optional<std::uint16_t> gre_call_id;  // enhanced GRE (PPTP)
    std::vector<PptpControl> pptp;

    std::optional<dissect::ip::Fragment> fragment;  // set for every fragment of a datagram
    std::uint32_t fragment_data_length = 0;

    bool is_fragment() const { return fragment.has_value(); }
};

// Decodes one captured frame. Never fails: non-IP frames have family 0, frames the kernel would
// discard get `malformed` set.
Packet decode_frame(std::uint64_t frame, double time, std::uint32_t link_type, Bytes data);
// Same, from an IP packet (raw IP).
Packet decode_ip(std::uint64_t frame, double time, Bytes ip_packet);

// "203.0.113.5:4500 → 192.0.2.1:4500 udp", "2001:db8::1 → 2001:db8::2 esp".
std::string summary_text(const Packet& packet);
std::string protocol_name(std::uint8_t protocol);

}  // namespace portcullis::simulate
