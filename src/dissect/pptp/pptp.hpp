#pragma once
// PPTP control connection messages (RFC 2637) on TCP 1723.
#include <cstdint>
#include <optional>
#include <string_view>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::pptp {

inline constexpr std::uint16_t kPort = 1723;
inline constexpr std::uint32_t kMagicCookie = 0x1a2b3c4d;
inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxMessagesPerSegment = 64;

namespace control {
inline constexpr std::uint16_t kSccrq = 1, kSccrp = 2, kStopCcrq = 3, kStopCcrp = 4,
                               kEchoRq = 5, kEchoRp = 6, kOcrq = 7, kOcrp = 8, kIcrq = 9,
                               kIcrp = 10, kIccn = 11, kCcrq = 12, kCdn = 13, kWen = 14,
                               kSli = 15;
}  // namespace control

class Message {
public:
    // One message at the start of `data` (a TCP payload may hold several: see MessageStream).
    static Parsed<Message> parse(Bytes data);
    static bool valid(Bytes data) { return parse(data).has_value(); }

    std::uint16_t length() const { return length_; }
    std::uint16_t message_type() const { return message_type_; }  // 1 = control
    std::uint32_t magic_cookie() const { return magic_; }
    std::uint16_t control_type() const { return control_type_; }
    // Field accessors return nullopt for message types that lack the field.
    std::optional<std::uint16_t> call_id() const;       // OCRQ, OCRP, ICRQ, ICRP, CCRQ, CDN
    std::optional<std::uint16_t> peer_call_id() const;  // OCRP, ICRP, ICCN, WEN, SLI
    std::optional<std::uint8_t> result_code() const;   // SCCRP, StopCCRP, EchoRP, OCRP, ICRP, CDN
    std::optional<std::uint8_t> error_code() const;     // same set as result_code
    std::optional<std::uint16_t> cause_code() const;    // OCRP, CDN
    std::optional<std::uint8_t> stop_reason() const;    // StopCCRQ
    std::optional<std::uint16_t> protocol_version() const;  // SCCRQ, SCCRP
    std::optional<std::uint32_t> echo_identifier() const;   // EchoRQ, EchoRP
    std::optional<std::uint32_t> framing_capabilities() const;  // SCCRQ, SCCRP
    Bytes host_name() const;  // SCCRQ/SCCRP, NUL padding removed
    Bytes bytes() const { return bytes_; }

private:
    std::uint16_t length_ = 0, message_type_ = 0, control_type_ = 0;
    std::uint32_t magic_ = 0;
    Bytes bytes_;
};

// Splits a TCP payload into consecutive PPTP messages.
class MessageStream {
public:
    explicit MessageStream(Bytes tcp_payload) : data_(tcp_payload) {}
    std::optional<Message> next();
    Anomaly anomaly() const { return anomaly_; }

private:
    Bytes data_;
    std::size_t position_ = 0, count_ = 0;
    Anomaly anomaly_ = Anomaly::none;
};

std::string_view control_type_name(std::uint16_t type);  // "SCCRQ", ..., "SLI"
// Meaning of a result code for a given control message type (codes differ per message).
std::string_view result_code_name(std::uint16_t control_type, std::uint8_t result);
std::string_view error_code_name(std::uint8_t error);

}  // namespace portcullis::dissect::pptp
