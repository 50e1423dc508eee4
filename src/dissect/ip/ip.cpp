#include "dissect/ip/ip.hpp"

#include <algorithm>
#include <cstring>

namespace portcullis::dissect::ip {
namespace {

// Callers have checked the fixed header fits; slice() checks again, and a miss leaves zeros.
template <std::size_t N>
std::array<std::uint8_t, N> copy_address(Bytes data, std::size_t offset) {
    std::array<std::uint8_t, N> out{};
    if (auto field = slice(data, offset, N)) std::memcpy(out.data(), field->data(), N);
    return out;
}

template <std::size_t N>
Address to_address(const std::array<std::uint8_t, N>& raw) {
    Address address;
    address.family = N == 4 ? Family::ipv4 : Family::ipv6;
    std::copy(raw.begin(), raw.end(), address.bytes.begin());
    return address;
}

bool is_ipv6_extension(std::uint8_t next) {
    return next == 0 || next == 43 || next == 44 || next == 60;
}

}  // namespace

Parsed<Ipv4> Ipv4::parse(Bytes packet) {
    auto first = read_u8(packet, 0);
    if (!first) return reject(Anomaly::ipv4_truncated);
    if ((*first >> 4) != 4) return reject(Anomaly::ip_unknown_version);
    if (packet.size() < 20) return reject(Anomaly::ipv4_truncated);
    Ipv4 view;
    view.header_length_ = static_cast<std::uint8_t>((*first & 0x0f) * 4);
    if (view.header_length_ < 20) return reject(Anomaly::ipv4_bad_header_length);
    if (packet.size() < view.header_length_) return reject(Anomaly::ipv4_truncated);
    view.tos_ = *read_u8(packet, 1);
    view.total_length_ = *read_be16(packet, 2);
    view.id_ = *read_be16(packet, 4);
    view.flags_offset_ = *read_be16(packet, 6);
    view.ttl_ = *read_u8(packet, 8);
    view.protocol_ = *read_u8(packet, 9);
    view.checksum_ = *read_be16(packet, 10);
    view.source_ = copy_address<4>(packet, 12);
    view.destination_ = copy_address<4>(packet, 16);
    // TSO-captured packets carry total length 0; treat that as "the rest of the capture".
    std::size_t total = view.total_length_ == 0 ? packet.size() : view.total_length_;
    if (total < view.header_length_) return reject(Anomaly::ipv4_bad_total_length);
    // Options: walk them so a malformed option list is noticed (EOL=0, NOP=1, else TLV).
    Bytes options = packet.subspan(20, view.header_length_ - 20u);
    for (std::size_t i = 0; i < options.size();) {
        auto kind = *read_u8(options, i);
        if (kind == 0) break;
        if (kind == 1) { ++i; continue; }
        auto length = read_u8(options, i + 1);
        if (!length || *length < 2 || *length > options.size() - i)
            return reject(Anomaly::ipv4_bad_options);
        i += *length;
    }
    view.options_ = options;
    if (total > packet.size()) {
        view.truncated_ = true;
        total = packet.size();
    }
    view.payload_ = packet.subspan(view.header_length_, total - view.header_length_);
    return view;
}

std::optional<Fragment> Ipv4::fragment() const {
    if (!is_fragment()) return std::nullopt;
    return Fragment{id_, fragment_offset_bytes(), more_fragments()};
}

Address Ipv4::source_address() const { return to_address(source_); }
Address Ipv4::destination_address() const { return to_address(destination_); }

Parsed<Ipv6> Ipv6::parse(Bytes packet) {
    auto first = read_u8(packet, 0);
    if (!first) return reject(Anomaly::ipv6_truncated);
    if ((*first >> 4) != 6) return reject(Anomaly::ip_unknown_version);
    if (packet.size() < 40) return reject(Anomaly::ipv6_truncated);
    Ipv6 view;
    auto word = *read_be32(packet, 0);
    view.traffic_class_ = static_cast<std::uint8_t>((word >> 20) & 0xff);
    view.flow_label_ = word & 0xfffff;
    view.payload_length_ = *read_be16(packet, 4);
    view.first_next_header_ = *read_u8(packet, 6);
    view.hop_limit_ = *read_u8(packet, 7);
    view.source_ = copy_address<16>(packet, 8);
    view.destination_ = copy_address<16>(packet, 24);
    std::size_t available = packet.size() - 40;
    std::size_t length = view.payload_length_;
    if (length > available) {
        view.truncated_ = true;
        length = available;
    }
    Bytes rest = packet.subspan(40, length);
    std::uint8_t next = view.first_next_header_;
    std::size_t offset = 0;
    while (is_ipv6_extension(next)) {
        if (view.extension_count_ == kMaxIpv6ExtensionHeaders)
            return reject(Anomaly::ipv6_extension_chain_too_long);
        auto following = read_u8(rest, offset);
        auto units = read_u8(rest, offset + 1);
        if (!following || !units) return reject(Anomaly::ipv6_extension_truncated);
        std::size_t header_length = next == 44 ? 8 : (static_cast<std::size_t>(*units) + 1) * 8;
        if (header_length > rest.size() - offset) return reject(Anomaly::ipv6_extension_truncated);
        if (next == 44) {
            auto offset_flags = *read_be16(rest, offset + 2);
            auto id = *read_be32(rest, offset + 4);
            view.fragment_ = Fragment{id, static_cast<std::uint16_t>(offset_flags & 0xfff8),
                                      (offset_flags & 1) != 0};
        }
        ++view.extension_count_;
        offset += header_length;
        next = *following;
        // The upper layer of a non-first fragment is a continuation: stop walking.
        if (view.fragment_ && view.fragment_->offset_bytes != 0) break;
    }
    view.protocol_ = next;
    view.payload_ = rest.subspan(offset);
    return view;
}

Address Ipv6::source_address() const { return to_address(source_); }
Address Ipv6::destination_address() const { return to_address(destination_); }

}  // namespace portcullis::dissect::ip
