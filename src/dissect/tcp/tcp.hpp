#pragma once
#include <cstdint>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::tcp {

inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                              kUrg = 0x20, kEce = 0x40, kCwr = 0x80;

class Segment {
public:
    static Parsed<Segment> parse(Bytes segment);
    static bool valid(Bytes segment) { return parse(segment).has_value(); }

    std::uint16_t source_port() const { return source_port_; }
    std::uint16_t destination_port() const { return destination_port_; }
    std::uint32_t sequence() const { return sequence_; }
    std::uint32_t acknowledgment() const { return acknowledgment_; }
    std::uint8_t header_length() const { return header_length_; }
    std::uint8_t flags() const { return flags_; }
    bool fin() const { return (flags_ & kFin) != 0; }
    bool syn() const { return (flags_ & kSyn) != 0; }
    bool rst() const { return (flags_ & kRst) != 0; }
    bool psh() const { return (flags_ & kPsh) != 0; }
    bool ack() const { return (flags_ & kAck) != 0; }
    bool urg() const { return (flags_ & kUrg) != 0; }
    bool ece() const { return (flags_ & kEce) != 0; }
    bool cwr() const { return (flags_ & kCwr) != 0; }
    std::uint16_t window() const { return window_; }
    std::uint16_t checksum() const { return checksum_; }
    std::uint16_t urgent_pointer() const { return urgent_pointer_; }
    Bytes options() const { return options_; }
    Bytes payload() const { return payload_; }
    bool has_port(std::uint16_t port) const {
        return source_port_ == port || destination_port_ == port;
    }

private:
    std::uint16_t source_port_ = 0, destination_port_ = 0, window_ = 0, checksum_ = 0;
    std::uint16_t urgent_pointer_ = 0;
    std::uint32_t sequence_ = 0, acknowledgment_ = 0;
    std::uint8_t header_length_ = 0, flags_ = 0;
    Bytes options_, payload_;
};

}  // namespace portcullis::dissect::tcp
