#pragma once
// OpenVPN recogniser: opcode/key-id byte, session ID of control packets. Good enough to tell
// OpenVPN from noise for presets and conformance checks; the TLS inside is not parsed.
#include <cstdint>
#include <optional>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::openvpn {

inline constexpr std::uint16_t kPort = 1194;

namespace opcode {
inline constexpr std::uint8_t kControlHardResetClientV1 = 1, kControlHardResetServerV1 = 2,
                              kControlSoftResetV1 = 3, kControlV1 = 4, kAckV1 = 5, kDataV1 = 6,
                              kControlHardResetClientV2 = 7, kControlHardResetServerV2 = 8,
                              kDataV2 = 9, kControlHardResetClientV3 = 10,
                              kControlWkcV1 = 11;
}  // namespace opcode

class Packet {
public:
    static Parsed<Packet> parse_udp(Bytes data);
    // TCP: a 2-byte length prefix precedes each packet.
    static Parsed<Packet> parse_tcp(Bytes data);

    std::uint8_t opcode() const { return opcode_; }
    std::uint8_t key_id() const { return key_id_; }
    bool is_control() const;
    bool is_hard_reset_client() const;
    std::optional<std::uint64_t> session_id() const { return session_id_; }
    Bytes body() const { return body_; }  // after the opcode byte

private:
    static Parsed<Packet> parse_packet(Bytes packet);
    std::uint8_t opcode_ = 0, key_id_ = 0;
    std::optional<std::uint64_t> session_id_;
    Bytes body_;
};

}  // namespace portcullis::dissect::openvpn
