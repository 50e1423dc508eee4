#pragma once
// Link layers a capture or NFLOG can hand us, reduced to "which network protocol, which bytes".
#include <cstdint>
#include <optional>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::link {

// pcap LINKTYPE_* values we understand.
enum class LinkType : std::uint32_t {
    null_loopback = 0,  // BSD loopback: 4-byte host-order address family
    ethernet = 1,
    raw_ip_legacy = 12,  // DLT_RAW on some BSDs
    raw_ip_legacy14 = 14,
    raw_ip = 101,
    linux_sll = 113,
    ipv4 = 228,
    ipv6 = 229,
    nflog = 239,
    linux_sll2 = 276,
};

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;
inline constexpr std::size_t kMaxVlanTags = 4;

struct Frame {
    std::uint16_t ethertype = 0;            // kEtherTypeIpv4/Ipv6, or whatever the frame said
    Bytes payload;                          // the network-layer packet
    std::optional<std::uint16_t> vlan_id;   // outermost VLAN tag, if any
    std::uint8_t vlan_depth = 0;
    std::optional<std::uint16_t> nflog_group;  // NFLOG resource id (the log group)
    std::optional<std::uint16_t> sll_packet_type;  // SLL/SLL2: 0 to us, 4 outgoing, ...
};

Parsed<Frame> parse_ethernet(Bytes frame);
Parsed<Frame> parse_sll(Bytes frame);
Parsed<Frame> parse_sll2(Bytes frame);
Parsed<Frame> parse_raw_ip(Bytes frame);  // ethertype from the IP version nibble
Parsed<Frame> parse_null(Bytes frame);
// NFLOG TLVs are in the capturing host's byte order; pass big_endian for captures from BE hosts.
Parsed<Frame> parse_nflog(Bytes frame, bool big_endian = false);

// Dispatch on a pcap link type; unknown types give link_unsupported_type.
Parsed<Frame> parse(std::uint32_t link_type, Bytes frame);

}  // namespace portcullis::dissect::link
