#pragma once
// WireGuard message recogniser (type byte, three zero bytes, fixed sizes per type).
#include <cstdint>
#include <optional>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::wireguard {

inline constexpr std::uint16_t kPort = 51820;

enum class Type : std::uint8_t { initiation = 1, response = 2, cookie_reply = 3, transport = 4 };

inline constexpr std::size_t kInitiationSize = 148, kResponseSize = 92, kCookieReplySize = 64,
                             kTransportMinSize = 32;

class Message {
public:
    static Parsed<Message> parse(Bytes udp_payload);
    static bool valid(Bytes data) { return parse(data).has_value(); }

    Type type() const { return type_; }
    std::optional<std::uint32_t> sender_index() const { return sender_; }      // 1, 2
    std::optional<std::uint32_t> receiver_index() const { return receiver_; }  // 2, 3, 4
    std::optional<std::uint64_t> counter() const { return counter_; }          // 4

private:
    Type type_ = Type::initiation;
    std::optional<std::uint32_t> sender_, receiver_;
    std::optional<std::uint64_t> counter_;
};

}  // namespace portcullis::dissect::wireguard
