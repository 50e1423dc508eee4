#include "dissect/natt/natt.hpp"

namespace portcullis::dissect::natt {

Parsed<Demux> demux(Bytes udp_payload) {
    if (udp_payload.empty()) return reject(Anomaly::natt_empty);
    if (udp_payload.size() == 1 && *read_u8(udp_payload, 0) == 0xff)
        return Demux{Kind::keepalive, {}};
    auto marker = read_be32(udp_payload, 0);
    if (marker && *marker == 0) return Demux{Kind::ike, udp_payload.subspan(4)};
    // Anything else is ESP (parsed, and validated, by esp::Packet).
    return Demux{Kind::esp, udp_payload};
}

}  // namespace portcullis::dissect::natt
