#pragma once
// L2TPv2 (RFC 2661) and L2TPv3 over UDP (RFC 3931), both on UDP 1701.
#include <cstdint>
#include <optional>
#include <string_view>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::l2tp {

inline constexpr std::uint16_t kPort = 1701;
inline constexpr std::size_t kMaxAvps = 128;

namespace message {
inline constexpr std::uint16_t kSccrq = 1, kSccrp = 2, kScccn = 3, kStopCcn = 4, kHello = 6,
                               kOcrq = 7, kOcrp = 8, kOccn = 9, kIcrq = 10, kIcrp = 11,
                               kIccn = 12, kCdn = 14, kWen = 15, kSli = 16, kV3Ack = 20;
}  // namespace message

namespace avp {
inline constexpr std::uint16_t kMessageType = 0, kResultCode = 1, kProtocolVersion = 2,
                               kHostName = 7, kAssignedTunnelId = 9, kAssignedSessionId = 14,
                               kCallSerialNumber = 15, kV3AssignedConnectionId = 61,
                               kV3LocalSessionId = 63, kV3RemoteSessionId = 64;
}  // namespace avp

struct Avp {
    bool mandatory = false;
    bool hidden = false;
    std::uint16_t length = 0;  // including the 6-byte header
    std::uint16_t vendor_id = 0;
    std::uint16_t type = 0;
    Bytes value;
    std::optional<std::uint16_t> value16() const;
    std::optional<std::uint32_t> value32() const;
};

class AvpChain {
public:
    explicit AvpChain(Bytes area) : area_(area) {}
    std::optional<Avp> next();
    Anomaly anomaly() const { return anomaly_; }

private:
    Bytes area_;
    std::size_t position_ = 0, count_ = 0;
    Anomaly anomaly_ = Anomaly::none;
};

struct ResultCode {
    std::uint16_t result = 0;
    std::optional<std::uint16_t> error;
    Bytes message;  // optional human-readable text
};

class Message {
public:
    static Parsed<Message> parse(Bytes udp_payload);
    static bool valid(Bytes data) { return parse(data).has_value(); }

    std::uint8_t version() const { return version_; }  // 2 or 3
    bool is_control() const { return (flags_ & 0x8000) != 0; }
    bool has_length() const { return (flags_ & 0x4000) != 0; }
    bool has_sequence() const { return (flags_ & 0x0800) != 0; }
    bool has_offset() const { return (flags_ & 0x0200) != 0; }
    bool priority() const { return (flags_ & 0x0100) != 0; }
    std::uint16_t flags_version() const { return flags_; }
    std::optional<std::uint16_t> length() const { return length_; }
    // v2: 16-bit tunnel ID; v3 control: 32-bit control connection ID.
    std::uint32_t tunnel_id() const { return tunnel_id_; }
    // v2: 16-bit session ID; v3 data: 32-bit session ID.
    std::uint32_t session_id() const { return session_id_; }
    std::optional<std::uint16_t> ns() const { return ns_; }
    std::optional<std::uint16_t> nr() const { return nr_; }
    // Control: the AVP area; data: the PPP frame (v2) or session payload (v3).
    Bytes body() const { return body_; }
    bool truncated() const { return truncated_; }

    // Control messages only.
    bool is_zlb() const { return is_control() && body_.empty(); }  // zero-length ack
    AvpChain avps() const { return AvpChain(is_control() ? body_ : Bytes{}); }
    // From the first AVP (must be Message Type, not hidden); nullopt for ZLB/data/malformed.
    std::optional<std::uint16_t> message_type() const;
    std::optional<ResultCode> result_code() const;
    std::optional<Avp> find_avp(std::uint16_t type, std::uint16_t vendor_id = 0) const;
    // Walks the AVP chain; first anomaly or none (a control message without a leading
    // Message Type AVP is l2tp_message_type_missing, a hidden one l2tp_message_type_hidden).
    Anomaly validate() const;

private:
    std::uint16_t flags_ = 0;
    std::uint8_t version_ = 0;
    std::optional<std::uint16_t> length_, ns_, nr_;
    std::uint32_t tunnel_id_ = 0, session_id_ = 0;
    Bytes body_;
    bool truncated_ = false;
};

std::string_view message_type_name(std::uint16_t type);  // "SCCRQ", "StopCCN", ...

}  // namespace portcullis::dissect::l2tp
