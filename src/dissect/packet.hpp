#pragma once
// One call that walks a captured frame from the link layer to the VPN protocol and returns what
// the diagnose and simulate stages need. Views inside the summary point into the frame: the
// summary is only valid while the frame's bytes are.
#include <array>
#include <cstdint>
#include <optional>
#include <variant>

#include "common/net.hpp"
#include "dissect/anomaly.hpp"
#include "dissect/esp/esp.hpp"
#include "dissect/gre/gre.hpp"
#include "dissect/icmp/icmp.hpp"
#include "dissect/ike/ike.hpp"
#include "dissect/ip/ip.hpp"
#include "dissect/l2tp/l2tp.hpp"
#include "dissect/link/link.hpp"
#include "dissect/natt/natt.hpp"
#include "dissect/openvpn/openvpn.hpp"
#include "dissect/pptp/pptp.hpp"
#include "dissect/tcp/tcp.hpp"
#include "dissect/udp/udp.hpp"
#include "dissect/wireguard/wireguard.hpp"

namespace portcullis::dissect {

struct NattKeepalive {};

// The VPN-layer view found in the packet, if any.
using VpnLayer = std::variant<std::monostate, ike::Message, esp::Packet, NattKeepalive,
                              l2tp::Message, pptp::Message, gre::Packet, openvpn::Packet,
                              wireguard::Message>;

enum class VpnKind : std::uint8_t {
    none, ike, esp, natt_keepalive, l2tp, pptp, gre, openvpn, wireguard
};
VpnKind vpn_kind(const VpnLayer& layer);  // the variant index as a name

// The packet an ICMP error quotes (usually truncated to the IP header + 8 bytes, so only the
// first bytes of the inner transport are known).
struct QuotedPacket {
    std::uint8_t ip_version = 0;
    Address source, destination;
    std::uint8_t protocol = 0;
    std::optional<std::uint16_t> source_port, destination_port;
    std::optional<std::uint32_t> esp_spi;            // ESP, or ESP-in-UDP on 4500
    std::optional<std::uint64_t> ike_initiator_spi;  // when enough of the IKE header is quoted
};

inline constexpr std::size_t kMaxRecordedAnomalies = 4;

struct PacketSummary {
    // Link
    std::uint16_t ethertype = 0;
    std::optional<std::uint16_t> vlan_id;

    // Network (ip_version 0: no IP layer was found)
    std::uint8_t ip_version = 0;
    Address source, destination;
    std::uint8_t protocol = 0;   // upper-layer protocol (after IPv6 extension headers)
    std::uint8_t ttl = 0;        // TTL / hop limit
    std::uint32_t ip_length = 0; // IP packet length as the header states it
    std::optional<ip::Fragment> fragment;  // set when the packet is an IP fragment
    bool later_fragment() const { return fragment && fragment->offset_bytes != 0; }

    // Transport (not parsed for non-first fragments)
    std::optional<std::uint16_t> source_port, destination_port;
    std::optional<tcp::Segment> tcp;
    std::optional<udp::Datagram> udp;
    std::optional<icmp::Message> icmp;
    std::optional<QuotedPacket> quoted;  // ICMP errors
    std::optional<std::uint32_t> ah_spi;  // an AH header was stepped over (protocol: what it carried)

    // VPN layer
    bool udp_encapsulated = false;  // IKE or ESP arrived inside UDP 4500 (NAT-T)
    VpnLayer vpn;
    VpnKind kind() const { return vpn_kind(vpn); }
    const ike::Message* ike() const { return std::get_if<ike::Message>(&vpn); }
    const esp::Packet* esp() const { return std::get_if<esp::Packet>(&vpn); }
    const l2tp::Message* l2tp() const { return std::get_if<l2tp::Message>(&vpn); }
    const pptp::Message* pptp() const { return std::get_if<pptp::Message>(&vpn); }
    const gre::Packet* gre() const { return std::get_if<gre::Packet>(&vpn); }

    // Anomalies met on the way, first ones first (all of them are also added to the counters).
    std::array<Anomaly, kMaxRecordedAnomalies> anomalies{};
    std::uint8_t anomaly_count = 0;
    Anomaly first_anomaly() const { return anomaly_count ? anomalies[0] : Anomaly::none; }
    bool has_anomaly(Anomaly anomaly) const;
    void note(Anomaly anomaly);
};

// Walks link → IP → transport → VPN protocol. Never fails: what could not be parsed is recorded
// as anomalies (and counted in `counters` when given). Port heuristics: UDP 500 → IKE,
// UDP 4500 → NAT-T demux, UDP 1701 → L2TP, TCP 1723 → PPTP (first message), IP 47 → GRE,
// IP 50 → ESP (IP 51 AH is stepped over), UDP/TCP 1194 → OpenVPN, UDP 51820 → WireGuard; any other UDP payload that
// matches a WireGuard message exactly is recognised as WireGuard.
PacketSummary dissect_packet(std::uint32_t link_type, Bytes frame,
                             AnomalyCounters* counters = nullptr);

// Same, starting at an IP header (raw IP); used for ICMP-quoted packets and NFLOG payloads.
PacketSummary dissect_ip(Bytes packet, AnomalyCounters* counters = nullptr);

// Best-effort parse of an ICMP-quoted packet (tolerates the truncation quoting implies).
std::optional<QuotedPacket> dissect_quoted(Bytes quoted);

}  // namespace portcullis::dissect
