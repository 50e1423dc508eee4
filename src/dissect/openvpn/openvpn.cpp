#include "dissect/openvpn/openvpn.hpp"

namespace portcullis::dissect::openvpn {

bool Packet::is_control() const {
    return opcode_ != opcode::kDataV1 && opcode_ != opcode::kDataV2;
}

bool Packet::is_hard_reset_client() const {
    return opcode_ == opcode::kControlHardResetClientV1 ||
           opcode_ == opcode::kControlHardResetClientV2 ||
           opcode_ == opcode::kControlHardResetClientV3;
}

Parsed<Packet> Packet::parse_packet(Bytes packet) {
    auto first = read_u8(packet, 0);
    if (!first) return reject(Anomaly::openvpn_truncated);
    Packet view;
    view.opcode_ = static_cast<std::uint8_t>(*first >> 3);
    view.key_id_ = static_cast<std::uint8_t>(*first & 0x7);
    if (view.opcode_ < 1 || view.opcode_ > opcode::kControlWkcV1)
        return reject(Anomaly::openvpn_bad_opcode);
    view.body_ = packet.subspan(1);
    if (view.is_control()) {
        // Control packets start with the sender's 8-byte session ID; a hard reset also carries
        // at least a packet-id array length byte and a packet ID.
        auto session = read_be64(packet, 1);
        if (!session) return reject(Anomaly::openvpn_truncated);
        view.session_id_ = *session;
        if (view.is_hard_reset_client() && view.key_id_ != 0)
            return reject(Anomaly::openvpn_bad_opcode);
    } else if (view.opcode_ == opcode::kDataV2 && packet.size() < 4) {
        return reject(Anomaly::openvpn_truncated);  // opcode + 3-byte peer ID
    }
    return view;
}

Parsed<Packet> Packet::parse_udp(Bytes data) { return parse_packet(data); }

Parsed<Packet> Packet::parse_tcp(Bytes data) {
    auto length = read_be16(data, 0);
    if (!length) return reject(Anomaly::openvpn_truncated);
    if (*length == 0) return reject(Anomaly::openvpn_truncated);
    std::size_t available = data.size() - 2;
    std::size_t size = *length < available ? *length : available;
    return parse_packet(data.subspan(2, size));
}

}  // namespace portcullis::dissect::openvpn
