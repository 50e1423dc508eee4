#pragma once
#include <cstdint>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::udp {

class Datagram {
public:
    // Fails only when the 8-byte header is missing or its length field is below 8. A length
    // beyond the data (a first IP fragment, or a short capture) clips the payload and sets truncated().
    static Parsed<Datagram> parse(Bytes segment);
    static bool valid(Bytes segment) { return parse(segment).has_value(); }

    std::uint16_t source_port() const { return source_port_; }
    std::uint16_t destination_port() const { return destination_port_; }
    std::uint16_t length() const { return length_; }
    std::uint16_t checksum() const { return checksum_; }
    Bytes payload() const { return payload_; }
    bool truncated() const { return truncated_; }
    bool has_port(std::uint16_t port) const {
        return source_port_ == port || destination_port_ == port;
    }

private:
    std::uint16_t source_port_ = 0, destination_port_ = 0, length_ = 0, checksum_ = 0;
    Bytes payload_;
    bool truncated_ = false;
};

}  // namespace portcullis::dissect::udp
