#pragma once
// ICMP and ICMPv6. Error messages quote the offending packet; quoted() exposes it (starting at
// its IP header) so it can be re-dissected with dissect_quoted().
#include <cstdint>
#include <optional>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::icmp {

class Message {
public:
    static Parsed<Message> parse_v4(Bytes data);
    static Parsed<Message> parse_v6(Bytes data);

    bool is_v6() const { return v6_; }
    std::uint8_t type() const { return type_; }
    std::uint8_t code() const { return code_; }
    std::uint16_t checksum() const { return checksum_; }
    std::uint32_t rest_of_header() const { return rest_; }
    // Destination unreachable, time exceeded, parameter problem, (v4) source quench/redirect,
    // (v6) packet too big.
    bool is_error() const;
    bool is_unreachable() const { return v6_ ? type_ == 1 : type_ == 3; }
    bool is_echo() const;  // request or reply
    // Path MTU: v4 type 3 code 4 next-hop MTU, v6 packet too big MTU.
    std::optional<std::uint32_t> mtu() const;
    Bytes quoted() const { return quoted_; }  // empty unless is_error()
    Bytes body() const { return body_; }      // everything after the 8-byte header

private:
    bool v6_ = false;
    std::uint8_t type_ = 0, code_ = 0;
    std::uint16_t checksum_ = 0;
    std::uint32_t rest_ = 0;
    Bytes quoted_, body_;
};

}  // namespace portcullis::dissect::icmp
