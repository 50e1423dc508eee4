#include "dissect/wireguard/wireguard.hpp"

namespace portcullis::dissect::wireguard {
namespace {

// WireGuard puts its integers on the wire little-endian.
std::optional<std::uint64_t> read_le64(Bytes data, std::size_t offset) {
    auto low = read_le32(data, offset);
    auto high = read_le32(data, offset + 4);
    if (!low || !high) return std::nullopt;
    return (std::uint64_t{*high} << 32) | *low;
}

}  // namespace

Parsed<Message> Message::parse(Bytes data) {
    auto header = read_be32(data, 0);
    if (!header) return reject(Anomaly::wireguard_truncated);
    std::uint32_t type = *header >> 24;
    if ((*header & 0x00ffffff) != 0 || type < 1 || type > 4)
        return reject(Anomaly::wireguard_bad_type);
    Message view;
    view.type_ = static_cast<Type>(type);
    switch (view.type_) {
    case Type::initiation:
        if (data.size() != kInitiationSize) return reject(Anomaly::wireguard_bad_length);
        view.sender_ = read_le32(data, 4);
        break;
    case Type::response:
        if (data.size() != kResponseSize) return reject(Anomaly::wireguard_bad_length);
        view.sender_ = read_le32(data, 4);
        view.receiver_ = read_le32(data, 8);
        break;
    case Type::cookie_reply:
        if (data.size() != kCookieReplySize) return reject(Anomaly::wireguard_bad_length);
        view.receiver_ = read_le32(data, 4);
        break;
    case Type::transport:
        // header(16) + encrypted packet + tag(16). The packet is padded to a multiple of 16
        // only while that stays under the MTU, so any size from 32 up is legal.
        if (data.size() < kTransportMinSize) return reject(Anomaly::wireguard_bad_length);
        view.receiver_ = read_le32(data, 4);
        view.counter_ = read_le64(data, 8);
        break;
    }
    return view;
}

}  // namespace portcullis::dissect::wireguard
