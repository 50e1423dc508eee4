#pragma once
// GRE (RFC 2784/2890, RFC 1701 routing) and PPTP's enhanced GRE (RFC 2637: version 1, key =
// payload length << 16 | call ID, optional sequence and acknowledgment numbers).
#include <cstdint>
#include <optional>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::gre {

inline constexpr std::uint16_t kProtocolPpp = 0x880b;
inline constexpr std::size_t kMaxRoutingEntries = 32;

class Packet {
public:
    static Parsed<Packet> parse(Bytes data);
    static bool valid(Bytes data) { return parse(data).has_value(); }

    std::uint8_t version() const { return version_; }
    bool is_enhanced() const { return version_ == 1; }
    std::uint16_t protocol_type() const { return protocol_type_; }
    bool checksum_present() const { return (flags_ & 0x8000) != 0; }
    bool routing_present() const { return (flags_ & 0x4000) != 0; }
    bool key_present() const { return (flags_ & 0x2000) != 0; }
    bool sequence_present() const { return (flags_ & 0x1000) != 0; }
    bool strict_source_route() const { return (flags_ & 0x0800) != 0; }
    std::uint8_t recursion() const { return static_cast<std::uint8_t>((flags_ >> 8) & 0x7); }
    bool ack_present() const { return (flags_ & 0x0080) != 0; }  // version 1 only
    std::uint16_t flags_version() const { return flags_; }
    std::optional<std::uint16_t> checksum() const { return checksum_; }
    std::optional<std::uint32_t> key() const { return key_; }
    std::optional<std::uint32_t> sequence() const { return sequence_; }
    std::optional<std::uint32_t> acknowledgment() const { return acknowledgment_; }
    // Enhanced GRE view of the key.
    std::optional<std::uint16_t> payload_length() const;
    std::optional<std::uint16_t> call_id() const;
    Bytes payload() const { return payload_; }

private:
    std::uint16_t flags_ = 0, protocol_type_ = 0;
    std::uint8_t version_ = 0;
    std::optional<std::uint16_t> checksum_;
    std::optional<std::uint32_t> key_, sequence_, acknowledgment_;
    Bytes payload_;
};

}  // namespace portcullis::dissect::gre
