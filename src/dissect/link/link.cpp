#include "dissect/link/link.hpp"

namespace portcullis::dissect::link {
namespace {

// Skips 802.1Q / 802.1ad tags starting at `offset` (where the ethertype field sits).
Parsed<Frame> finish_with_vlans(Bytes frame, std::size_t ethertype_offset, Frame result) {
    std::size_t offset = ethertype_offset;
    auto type = read_be16(frame, offset);
    if (!type) return reject(Anomaly::link_truncated);
    while (*type == kEtherTypeVlan || *type == kEtherTypeQinQ) {
        if (result.vlan_depth == kMaxVlanTags) return reject(Anomaly::vlan_too_deep);
        auto tci = read_be16(frame, offset + 2);
        auto inner = read_be16(frame, offset + 4);
        if (!tci || !inner) return reject(Anomaly::link_truncated);
        if (result.vlan_depth == 0) result.vlan_id = static_cast<std::uint16_t>(*tci & 0x0fff);
        ++result.vlan_depth;
        offset += 4;
        type = inner;
    }
    result.ethertype = *type;
    result.payload = frame.subspan(offset + 2);
    return result;
}

}  // namespace

Parsed<Frame> parse_ethernet(Bytes frame) {
    if (frame.size() < 14) return reject(Anomaly::link_truncated);
    return finish_with_vlans(frame, 12, Frame{});
}

Parsed<Frame> parse_sll(Bytes frame) {
    // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
    if (frame.size() < 16) return reject(Anomaly::link_truncated);
    Frame result;
    result.sll_packet_type = read_be16(frame, 0);
    return finish_with_vlans(frame, 14, result);
}

Parsed<Frame> parse_sll2(Bytes frame) {
    // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
    if (frame.size() < 20) return reject(Anomaly::link_truncated);
    Frame result;
    result.sll_packet_type = *read_u8(frame, 10);
    result.ethertype = *read_be16(frame, 0);
    result.payload = frame.subspan(20);
    return result;
}

Parsed<Frame> parse_raw_ip(Bytes frame) {
    auto first = read_u8(frame, 0);
    if (!first) return reject(Anomaly::link_truncated);
    Frame result;
    switch (*first >> 4) {
    case 4: result.ethertype = kEtherTypeIpv4; break;
    case 6: result.ethertype = kEtherTypeIpv6; break;
    default: return reject(Anomaly::ip_unknown_version);
    }
    result.payload = frame;
    return result;
}

Parsed<Frame> parse_null(Bytes frame) {
    auto family = read_le32(frame, 0);
    if (!family) return reject(Anomaly::link_truncated);
    // AF_INET is 2 everywhere; AF_INET6 is 24/28/30 on the BSDs and macOS. The header is in the
    // capturing host's byte order, so accept either order.
    std::uint32_t value = *family;
    if (value > 0xffff) value = *read_be32(frame, 0);
    Frame result;
    if (value == 2) {
        result.ethertype = kEtherTypeIpv4;
    } else if (value == 24 || value == 28 || value == 30 || value == 10) {
        result.ethertype = kEtherTypeIpv6;
    } else {
        return reject(Anomaly::link_unsupported_ethertype);
    }
    result.payload = frame.subspan(4);
    return result;
}

Parsed<Frame> parse_nflog(Bytes frame, bool big_endian) {
    // family(1) version(1) resource id(2, network order), then TLVs: length(2) type(2) value,
    // each padded to 4 bytes. NFULA_PAYLOAD (9) holds the packet.
    auto family = read_u8(frame, 0);
    auto version = read_u8(frame, 1);
    auto group = read_be16(frame, 2);
    if (!family || !version || !group) return reject(Anomaly::link_truncated);
    if (*version != 0) return reject(Anomaly::nflog_bad_version);
    Frame result;
    result.nflog_group = *group;
    std::size_t offset = 4;
    while (offset < frame.size()) {
        auto length = big_endian ? read_be16(frame, offset) : read_le16(frame, offset);
        auto type = big_endian ? read_be16(frame, offset + 2) : read_le16(frame, offset + 2);
        if (!length || !type) return reject(Anomaly::nflog_bad_tlv);
        if (*length < 4 || *length > frame.size() - offset) return reject(Anomaly::nflog_bad_tlv);
        if ((*type & 0x7fff) == 9) {
            result.payload = frame.subspan(offset + 4, *length - 4u);
            auto ip = parse_raw_ip(result.payload);
            if (ip) {
                result.ethertype = ip->ethertype;
            } else {
                result.ethertype = *family == 10 ? kEtherTypeIpv6 : kEtherTypeIpv4;
            }
            return result;
        }
        std::size_t padded = (static_cast<std::size_t>(*length) + 3) & ~std::size_t{3};
        offset += padded;
    }
    return reject(Anomaly::nflog_no_payload);
}

Parsed<Frame> parse(std::uint32_t link_type, Bytes frame) {
    switch (static_cast<LinkType>(link_type)) {
    case LinkType::ethernet: return parse_ethernet(frame);
    case LinkType::linux_sll: return parse_sll(frame);
    case LinkType::linux_sll2: return parse_sll2(frame);
    case LinkType::raw_ip:
    case LinkType::raw_ip_legacy:
    case LinkType::raw_ip_legacy14: return parse_raw_ip(frame);
    case LinkType::ipv4:
    case LinkType::ipv6: return parse_raw_ip(frame);
    case LinkType::null_loopback: return parse_null(frame);
    case LinkType::nflog: return parse_nflog(frame);
    }
    return reject(Anomaly::link_unsupported_type);
}

}  // namespace portcullis::dissect::link
