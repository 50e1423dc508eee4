#pragma once
// What the session tracker needs to know about one frame, extracted from the dissectors' views.
// Keeping this separate from the views lets the rules be tested on hand-made facts and keeps the
// tracker independent of how the bytes were parsed. Only IKE packets carry heap data; the
// per-packet cost for bulk traffic (ESP, GRE) is a few scalar copies.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/net.hpp"

namespace portcullis::diagnose {

struct Endpoint {
    Address address;
    std::uint16_t port = 0;
    auto operator<=>(const Endpoint&) const = default;
    std::string to_string() const;
};

enum class HashAlgorithm : std::uint8_t { unknown, md5, sha1, sha2_256, sha2_384, sha2_512 };

struct IkeNotify {
    std::uint16_t type = 0;
    std::vector<std::uint8_t> data;  // kept only for the types the rules read (NAT-D, INVALID_KE)
};

struct IkeFacts {
    std::uint8_t major_version = 0;  // 1 (ISAKMP) or 2
    std::uint64_t spi_initiator = 0;
    std::uint64_t spi_responder = 0;
    std::uint8_t exchange = 0;
    std::uint8_t flags = 0;
    std::uint32_t message_id = 0;
    std::uint32_t length = 0;          // from the IKE header
    bool encrypted = false;            // IKEv1 E flag, or IKEv2 SK/SKF payload
    bool header_only = false;          // payloads not visible (first IP fragment, truncation)
    bool ike_fragment = false;         // IKEv2 SKF or IKEv1 fragment payload
    std::vector<IkeNotify> notifies;
    // The SA payload (generic header included), described only when the tracker needs it:
    // valid while the frame is being observed.
    std::optional<Bytes> sa_payload;
    std::optional<HashAlgorithm> v1_hash;     // IKEv1: hash of the first transform (chosen one in replies)
    std::optional<std::uint16_t> ke_group;
    std::vector<std::vector<std::uint8_t>> v1_nat_d;  // IKEv1 NAT-D hashes in payload order
    bool vendor_nat_t = false;          // IKEv1 RFC 3947 / draft NAT-T vendor ID
    bool vendor_fragmentation = false;  // IKEv1 fragmentation vendor ID

    void reset() {
        std::vector<IkeNotify> keep_notifies = std::move(notifies);
        std::vector<std::vector<std::uint8_t>> keep_nat_d = std::move(v1_nat_d);
        keep_notifies.clear();
        keep_nat_d.clear();
        *this = IkeFacts{};
        notifies = std::move(keep_notifies);
        v1_nat_d = std::move(keep_nat_d);
    }
    bool is_v2_response() const { return (flags & 0x20) != 0; }
    bool is_v2_initiator() const { return (flags & 0x08) != 0; }
};

struct EspFacts {
    std::uint32_t spi = 0;
    std::uint32_t sequence = 0;
};

enum class L2tpMessage : std::uint16_t {
    none = 0, sccrq = 1, sccrp = 2, scccn = 3, stopccn = 4, hello = 6, ocrq = 7, ocrp = 8,
    occn = 9, icrq = 10, icrp = 11, iccn = 12, cdn = 14, wen = 15, sli = 16,
};

struct L2tpFacts {
    std::uint8_t version = 2;
    bool control = false;
    std::uint32_t tunnel_id = 0;   // from the header (v3: control connection ID)
    std::uint32_t session_id = 0;
    std::uint16_t message_type = 0;  // 0 when a data message or ZLB ack
    std::optional<std::uint32_t> assigned_tunnel_id;
    std::optional<std::uint32_t> assigned_session_id;
    std::optional<std::uint16_t> result_code;
    std::optional<std::uint16_t> error_code;
    std::string error_message;
};

struct PptpFacts {
    std::uint16_t control_type = 0;  // 1..15
    std::optional<std::uint16_t> call_id;
    std::optional<std::uint16_t> peer_call_id;
    std::optional<std::uint8_t> result_code;
    std::optional<std::uint8_t> error_code;
};

struct GreFacts {
    std::uint8_t version = 0;
    std::optional<std::uint16_t> call_id;  // enhanced GRE (v1) key low half
    std::uint16_t protocol = 0;
};

// A quoted packet inside an ICMP error.
struct IcmpErrorFacts {
    bool ipv6 = false;
    std::uint8_t type = 0;
    std::uint8_t code = 0;
    std::optional<std::uint16_t> mtu;
    Address quoted_source;
    Address quoted_destination;
    std::uint8_t quoted_protocol = 0;
    std::uint16_t quoted_source_port = 0;
    std::uint16_t quoted_destination_port = 0;
};

struct TcpFacts {
    std::uint8_t flags = 0;  // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10
    std::uint32_t payload_length = 0;
    bool syn() const { return (flags & 0x02) != 0; }
    bool ack() const { return (flags & 0x10) != 0; }
    bool rst() const { return (flags & 0x04) != 0; }
    bool fin() const { return (flags & 0x01) != 0; }
};

struct IpFragmentFacts {
    std::uint32_t identification = 0;
    std::uint16_t offset = 0;  // bytes
    bool more_fragments = false;
};

enum class Kind : std::uint8_t {
    other, ike, esp, natt_keepalive, l2tp, pptp, tcp_other, gre, icmp_error, ip_fragment,
};

struct PacketFacts {
    std::uint64_t frame = 0;
    double time = 0;
    Kind kind = Kind::other;
    Endpoint source;
    Endpoint destination;
    std::uint8_t ip_protocol = 0;
    std::uint32_t ip_length = 0;           // IP datagram length on the wire (whole datagram)
    bool esp_in_udp = false;               // ESP or IKE reached over UDP 4500 encapsulation
    std::optional<IpFragmentFacts> fragment;  // set for any IP fragment (first one too)

    IkeFacts ike;
    EspFacts esp;
    L2tpFacts l2tp;
    std::vector<PptpFacts> pptp;           // a TCP segment can carry several control messages
    TcpFacts tcp;
    GreFacts gre;
    IcmpErrorFacts icmp;

    // Back to the empty state, keeping allocated capacity (this runs once per frame).
    // Only the members the previous frame's kind filled are cleared.
    void reset() {
        switch (kind) {
            case Kind::ike: ike.reset(); break;
            case Kind::l2tp: l2tp = L2tpFacts{}; break;
            case Kind::pptp:
                pptp.clear();
                tcp = TcpFacts{};
                break;
            case Kind::gre: gre = GreFacts{}; break;
            case Kind::icmp_error: icmp = IcmpErrorFacts{}; break;
            default: break;
        }
        frame = 0;
        time = 0;
        kind = Kind::other;
        source = Endpoint{};
        destination = Endpoint{};
        ip_protocol = 0;
        ip_length = 0;
        esp_in_udp = false;
        fragment.reset();
        esp = EspFacts{};
    }
};

}  // namespace portcullis::diagnose
