#pragma once
// UDP encapsulation of IKE and ESP on port 4500 (RFC 3948): a 4-byte zero non-ESP marker
// precedes IKE, a single 0xFF byte is a NAT keepalive, anything else is ESP.
#include <cstdint>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::natt {

inline constexpr std::uint16_t kPort = 4500;

enum class Kind : std::uint8_t { keepalive, ike, esp };

struct Demux {
    Kind kind = Kind::esp;
    Bytes payload;  // IKE message (marker stripped) or ESP packet; empty for keepalive
};

Parsed<Demux> demux(Bytes udp_payload);

}  // namespace portcullis::dissect::natt
