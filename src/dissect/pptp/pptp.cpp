#include "dissect/pptp/pptp.hpp"

#include <array>

namespace portcullis::dissect::pptp {
namespace {

// Fixed length of each control message (RFC 2637 section 2), indexed by control type.
constexpr std::array<std::uint16_t, 16> kMessageLength = {0,  156, 156, 16, 16, 16, 20, 168,
                                                          32, 220, 24,  28, 16, 148, 40, 24};

}  // namespace

Parsed<Message> Message::parse(Bytes data) {
    if (data.size() < kHeaderSize) return reject(Anomaly::pptp_truncated);
    Message view;
    view.length_ = *read_be16(data, 0);
    view.message_type_ = *read_be16(data, 2);
    view.magic_ = *read_be32(data, 4);
    view.control_type_ = *read_be16(data, 8);
    if (view.magic_ != kMagicCookie) return reject(Anomaly::pptp_bad_magic);
    if (view.message_type_ != 1) return reject(Anomaly::pptp_bad_message_type);
    if (view.control_type_ == 0 || view.control_type_ >= kMessageLength.size())
        return reject(Anomaly::pptp_unknown_control_type);
    if (view.length_ < kMessageLength[view.control_type_]) return reject(Anomaly::pptp_bad_length);
    if (view.length_ > data.size()) return reject(Anomaly::pptp_truncated);
    view.bytes_ = data.subspan(0, view.length_);
    return view;
}

std::optional<std::uint16_t> Message::call_id() const {
    switch (control_type_) {
    case control::kOcrq:
    case control::kOcrp:
    case control::kIcrq:
    case control::kIcrp:
    case control::kCcrq:
    case control::kCdn: return read_be16(bytes_, 12);
    }
    return std::nullopt;
}

std::optional<std::uint16_t> Message::peer_call_id() const {
    switch (control_type_) {
    case control::kOcrp:
    case control::kIcrp: return read_be16(bytes_, 14);
    case control::kIccn:
    case control::kWen:
    case control::kSli: return read_be16(bytes_, 12);
    }
    return std::nullopt;
}

namespace {

std::optional<std::size_t> result_offset(std::uint16_t control_type) {
    switch (control_type) {
    case control::kSccrp: return 14;
    case control::kStopCcrp: return 12;
    case control::kEchoRp: return 16;
    case control::kOcrp:
    case control::kIcrp: return 16;
    case control::kCdn: return 14;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint8_t> Message::result_code() const {
    auto offset = result_offset(control_type_);
    if (!offset) return std::nullopt;
    return read_u8(bytes_, *offset);
}

std::optional<std::uint8_t> Message::error_code() const {
    auto offset = result_offset(control_type_);
    if (!offset) return std::nullopt;
    return read_u8(bytes_, *offset + 1);
}

std::optional<std::uint16_t> Message::cause_code() const {
    if (control_type_ == control::kOcrp) return read_be16(bytes_, 18);
    if (control_type_ == control::kCdn) return read_be16(bytes_, 16);
    return std::nullopt;
}

std::optional<std::uint8_t> Message::stop_reason() const {
    if (control_type_ != control::kStopCcrq) return std::nullopt;
    return read_u8(bytes_, 12);
}

std::optional<std::uint16_t> Message::protocol_version() const {
    if (control_type_ != control::kSccrq && control_type_ != control::kSccrp) return std::nullopt;
    return read_be16(bytes_, 12);
}

std::optional<std::uint32_t> Message::echo_identifier() const {
    if (control_type_ != control::kEchoRq && control_type_ != control::kEchoRp) return std::nullopt;
    return read_be32(bytes_, 12);
}

std::optional<std::uint32_t> Message::framing_capabilities() const {
    if (control_type_ != control::kSccrq && control_type_ != control::kSccrp) return std::nullopt;
    return read_be32(bytes_, 16);
}

Bytes Message::host_name() const {
    if (control_type_ != control::kSccrq && control_type_ != control::kSccrp) return {};
    auto field = slice(bytes_, 28, 64);
    if (!field) return {};
    std::size_t length = 0;
    while (length < field->size() && *read_u8(*field, length) != 0) ++length;
    return field->subspan(0, length);
}

std::optional<Message> MessageStream::next() {
    if (anomaly_ != Anomaly::none || position_ >= data_.size()) return std::nullopt;
    if (count_ == kMaxMessagesPerSegment) {
        anomaly_ = Anomaly::pptp_stream_too_long;
        return std::nullopt;
    }
    auto message = Message::parse(data_.subspan(position_));
    if (!message) {
        anomaly_ = message.error();
        return std::nullopt;
    }
    position_ += message->length();
    ++count_;
    return *message;
}

std::string_view control_type_name(std::uint16_t type) {
    switch (type) {
    case control::kSccrq: return "Start-Control-Connection-Request";
    case control::kSccrp: return "Start-Control-Connection-Reply";
    case control::kStopCcrq: return "Stop-Control-Connection-Request";
    case control::kStopCcrp: return "Stop-Control-Connection-Reply";
    case control::kEchoRq: return "Echo-Request";
    case control::kEchoRp: return "Echo-Reply";
    case control::kOcrq: return "Outgoing-Call-Request";
    case control::kOcrp: return "Outgoing-Call-Reply";
    case control::kIcrq: return "Incoming-Call-Request";
    case control::kIcrp: return "Incoming-Call-Reply";
    case control::kIccn: return "Incoming-Call-Connected";
    case control::kCcrq: return "Call-Clear-Request";
    case control::kCdn: return "Call-Disconnect-Notify";
    case control::kWen: return "WAN-Error-Notify";
    case control::kSli: return "Set-Link-Info";
    }
    return "unknown";
}

std::string_view result_code_name(std::uint16_t control_type, std::uint8_t result) {
    switch (control_type) {
    case control::kSccrp:
        switch (result) {
        case 1: return "Successful channel establishment";
        case 2: return "General error";
        case 3: return "Command channel already exists";
        case 4: return "Requester is not authorized to establish a command channel";
        case 5: return "The protocol version of the requester is not supported";
        }
        break;
    case control::kStopCcrp:
    case control::kEchoRp:
        switch (result) {
        case 1: return "OK";
        case 2: return "General error";
        }
        break;
    case control::kOcrp:
        switch (result) {
        case 1: return "Connected";
        case 2: return "General error";
        case 3: return "No carrier";
        case 4: return "Busy";
        case 5: return "No dial tone";
        case 6: return "Time-out";
        case 7: return "Do not accept";
        }
        break;
    case control::kIcrp:
        switch (result) {
        case 1: return "Connect";
        case 2: return "General error";
        case 3: return "Do not accept";
        }
        break;
    case control::kCdn:
        switch (result) {
        case 1: return "Lost carrier";
        case 2: return "General error";
        case 3: return "Administrative shutdown";
        case 4: return "Request";
        }
        break;
    }
    return "unknown";
}

std::string_view error_code_name(std::uint8_t error) {
    switch (error) {
    case 0: return "None";
    case 1: return "Not-Connected";
    case 2: return "Bad-Format";
    case 3: return "Bad-Value";
    case 4: return "No-Resource";
    case 5: return "Bad-Call ID";
    case 6: return "PAC-Error";
    }
    return "unknown";
}

}  // namespace portcullis::dissect::pptp
