#include "dissect/gre/gre.hpp"

namespace portcullis::dissect::gre {

Parsed<Packet> Packet::parse(Bytes data) {
    auto flags = read_be16(data, 0);
    auto protocol = read_be16(data, 2);
    if (!flags || !protocol) return reject(Anomaly::gre_truncated);
    Packet view;
    view.flags_ = *flags;
    view.protocol_type_ = *protocol;
    view.version_ = static_cast<std::uint8_t>(*flags & 0x7);
    if (view.version_ > 1) return reject(Anomaly::gre_bad_version);
    std::size_t offset = 4;
    auto take32 = [&](std::optional<std::uint32_t>& field) {
        field = read_be32(data, offset);
        offset += 4;
        return field.has_value();
    };
    if (view.version_ == 1) {
        // RFC 2637: key present, no checksum/routing, protocol PPP.
        if (!view.key_present() || view.checksum_present() || view.routing_present() ||
            view.protocol_type_ != kProtocolPpp)
            return reject(Anomaly::gre_bad_enhanced_header);
        if (!take32(view.key_)) return reject(Anomaly::gre_truncated);
        if (view.sequence_present() && !take32(view.sequence_)) return reject(Anomaly::gre_truncated);
        if (view.ack_present() && !take32(view.acknowledgment_)) return reject(Anomaly::gre_truncated);
        view.payload_ = data.subspan(offset);
        return view;
    }
    if (view.checksum_present() || view.routing_present()) {
        view.checksum_ = read_be16(data, offset);
        if (!view.checksum_ || !read_be16(data, offset + 2)) return reject(Anomaly::gre_truncated);
        offset += 4;  // checksum + offset (present when either C or R is set)
    }
    if (view.key_present() && !take32(view.key_)) return reject(Anomaly::gre_truncated);
    if (view.sequence_present() && !take32(view.sequence_)) return reject(Anomaly::gre_truncated);
    if (view.routing_present()) {
        // RFC 1701 source route entries: family(2) offset(1) length(1) data; ends with length 0.
        for (std::size_t entries = 0;; ++entries) {
            if (entries == kMaxRoutingEntries) return reject(Anomaly::gre_routing_too_long);
            auto family = read_be16(data, offset);
            auto length = read_u8(data, offset + 3);
            if (!family || !length) return reject(Anomaly::gre_routing_truncated);
            offset += 4;
            if (*family == 0 && *length == 0) break;
            if (*length > data.size() - offset) return reject(Anomaly::gre_routing_truncated);
            offset += *length;
        }
    }
    view.payload_ = data.subspan(offset);
    return view;
}

std::optional<std::uint16_t> Packet::payload_length() const {
    if (!is_enhanced() || !key_) return std::nullopt;
    return static_cast<std::uint16_t>(*key_ >> 16);
}

std::optional<std::uint16_t> Packet::call_id() const {
    if (!is_enhanced() || !key_) return std::nullopt;
    return static_cast<std::uint16_t>(*key_ & 0xffff);
}

}  // namespace portcullis::dissect::gre
