#pragma once
// IPv4 and IPv6 headers. Payloads are clipped to the header's own length (Ethernet padding
// removed) and to what was captured; `truncated()` says the capture held less than the header claims.
#include <array>
#include <cstdint>
#include <optional>

#include "common/net.hpp"
#include "dissect/anomaly.hpp"

namespace portcullis::dissect::ip {

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIpv6 = 41;
inline constexpr std::uint8_t kProtoGre = 47;
inline constexpr std::uint8_t kProtoEsp = 50;
inline constexpr std::uint8_t kProtoAh = 51;
inline constexpr std::uint8_t kProtoIcmpv6 = 58;
inline constexpr std::uint8_t kProtoNoNext = 59;
inline constexpr std::uint8_t kProtoL2tpv3 = 115;

struct Fragment {
    std::uint32_t id = 0;           // IPv4: 16-bit identification; IPv6: 32-bit
    std::uint16_t offset_bytes = 0; // offset of this fragment's data, in bytes
    bool more_fragments = false;
    bool is_first() const { return offset_bytes == 0; }
};

class Ipv4 {
public:
    static Parsed<Ipv4> parse(Bytes packet);
    static bool valid(Bytes packet) { return parse(packet).has_value(); }

    std::uint8_t header_length() const { return header_length_; }
    std::uint16_t total_length() const { return total_length_; }
    std::uint8_t tos() const { return tos_; }
    std::uint16_t id() const { return id_; }
    bool dont_fragment() const { return (flags_offset_ & 0x4000) != 0; }
    bool more_fragments() const { return (flags_offset_ & 0x2000) != 0; }
    std::uint16_t fragment_offset_bytes() const {
        return static_cast<std::uint16_t>((flags_offset_ & 0x1fff) * 8);
    }
    bool is_fragment() const { return more_fragments() || fragment_offset_bytes() != 0; }
    std::optional<Fragment> fragment() const;
    std::uint8_t ttl() const { return ttl_; }
    std::uint8_t protocol() const { return protocol_; }
    std::uint16_t checksum() const { return checksum_; }
    std::array<std::uint8_t, 4> source() const { return source_; }
    std::array<std::uint8_t, 4> destination() const { return destination_; }
    Address source_address() const;
    Address destination_address() const;
    Bytes options() const { return options_; }
    Bytes payload() const { return payload_; }
    bool truncated() const { return truncated_; }

private:
    std::uint8_t header_length_ = 0, tos_ = 0, ttl_ = 0, protocol_ = 0;
    std::uint16_t total_length_ = 0, id_ = 0, flags_offset_ = 0, checksum_ = 0;
    std::array<std::uint8_t, 4> source_{}, destination_{};
    Bytes options_, payload_;
    bool truncated_ = false;
};

inline constexpr std::size_t kMaxIpv6ExtensionHeaders = 16;

class Ipv6 {
public:
    // Walks hop-by-hop, routing, fragment and destination-options headers (at most
    // kMaxIpv6ExtensionHeaders) and stops at the first upper-layer protocol (incl. ESP and AH).
    static Parsed<Ipv6> parse(Bytes packet);
    static bool valid(Bytes packet) { return parse(packet).has_value(); }

    std::uint8_t traffic_class() const { return traffic_class_; }
    std::uint32_t flow_label() const { return flow_label_; }
    std::uint16_t payload_length() const { return payload_length_; }
    std::uint8_t hop_limit() const { return hop_limit_; }
    std::uint8_t first_next_header() const { return first_next_header_; }
    std::uint8_t protocol() const { return protocol_; }  // after the extension chain
    std::uint8_t extension_count() const { return extension_count_; }
    std::array<std::uint8_t, 16> source() const { return source_; }
    std::array<std::uint8_t, 16> destination() const { return destination_; }
    Address source_address() const;
    Address destination_address() const;
    std::optional<Fragment> fragment() const { return fragment_; }
    bool is_fragment() const {
        return fragment_ && (fragment_->more_fragments || fragment_->offset_bytes != 0);
    }
    Bytes payload() const { return payload_; }  // upper-layer bytes after the extension chain
    bool truncated() const { return truncated_; }

private:
    std::uint8_t traffic_class_ = 0, hop_limit_ = 0, first_next_header_ = 0, protocol_ = 0;
    std::uint8_t extension_count_ = 0;
    std::uint32_t flow_label_ = 0;
    std::uint16_t payload_length_ = 0;
    std::array<std::uint8_t, 16> source_{}, destination_{};
    std::optional<Fragment> fragment_;
    Bytes payload_;
    bool truncated_ = false;
};

}  // namespace portcullis::dissect::ip
