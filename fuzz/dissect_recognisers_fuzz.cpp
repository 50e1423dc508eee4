// Input: a selector byte (OpenVPN over UDP, over TCP, WireGuard), then the payload.
#include "dissect/openvpn/openvpn.hpp"
#include "dissect/wireguard/wireguard.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    Bytes payload = fuzz::input(data + 1, size - 1);
    if (data[0] % 3 == 2) {
        if (auto m = wireguard::Message::parse(payload)) {
            fuzz::use(static_cast<int>(m->type()));
            fuzz::use(m->sender_index());
            fuzz::use(m->receiver_index());
            fuzz::use(m->counter());
        }
        return 0;
    }
    auto packet = data[0] % 3 == 0 ? openvpn::Packet::parse_udp(payload) : openvpn::Packet::parse_tcp(payload);
    if (packet) {
        fuzz::use(packet->opcode() + packet->key_id() + packet->is_control() + packet->is_hard_reset_client());
        fuzz::use(packet->session_id());
        fuzz::use(packet->body());
    }
    return 0;
}
