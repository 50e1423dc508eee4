#include "simulate/packet.hpp"

#include <fmt/format.h>

#include "dissect/link/link.hpp"

namespace portcullis::simulate {

namespace {

std::size_t offset_in(Bytes whole, Bytes part) {
    return static_cast<std::size_t>(part.data() - whole.data());
}

void read_transport(Packet& packet, const dissect::PacketSummary& summary) {
    packet.source_port = summary.source_port;
    packet.destination_port = summary.destination_port;
    if (summary.tcp) {
        packet.tcp_flags = summary.tcp->flags();
        if (packet.transport_offset)
            packet.inner_offset = *packet.transport_offset + summary.tcp->header_length();
        // Every PPTP message in the segment: the helper reads them all, not only the first.
        if (summary.tcp->has_port(dissect::pptp::kPort)) {
            dissect::pptp::MessageStream stream(summary.tcp->payload());
            while (auto message = stream.next()) {
                if (message->message_type() != 1) continue;
                packet.pptp.push_back({message->control_type(), message->call_id(),
                                       message->peer_call_id(), message->result_code()});
            }
        }
    } else if (summary.udp && packet.transport_offset) {
        packet.inner_offset = *packet.transport_offset + 8;
    }
    if (summary.icmp) {
        packet.icmp_type = summary.icmp->type();
        packet.icmp_code = summary.icmp->code();
        if (summary.icmp->is_echo())
            packet.icmp_id = static_cast<std::uint16_t>(summary.icmp->rest_of_header() >> 16);
        packet.quoted = summary.quoted;
    }
    if (const auto* gre = summary.gre()) {
        packet.gre_version = gre->version();
        if (gre->is_enhanced()) packet.gre_call_id = gre->call_id();
    } else if (packet.l4proto == dissect::ip::kProtoGre && packet.transport_offset) {
        Bytes all(packet.bytes.data(), packet.bytes.size());
        if (auto flags = read_be16(all, *packet.transport_offset))
            packet.gre_version = static_cast<std::uint8_t>(*flags & 0x7);
    }
}

}  // namespace

Packet decode_ip(std::uint64_t frame, double time, Bytes ip_packet) {
    Packet packet;
    packet.frame = frame;
    packet.time = time;
    auto first = read_u8(ip_packet, 0);
    if (!first) {
        packet.family = 4;
        packet.malformed = "empty IP packet";
        return packet;
    }
    const unsigned version = *first >> 4;
    if (version == 4) {
        packet.family = 4;
        auto view = dissect::ip::Ipv4::parse(ip_packet);
        if (!view) {
            packet.malformed = std::string(dissect::anomaly_name(view.error()));
            return packet;
        }
        // Keep the header and what the header says is the packet (Ethernet padding removed).
        std::size_t end = std::min<std::size_t>(ip_packet.size(), view->total_length());
        packet.bytes.assign(ip_packet.begin(), ip_packet.begin() + static_cast<long>(end));
        packet.source = view->source_address();
        packet.destination = view->destination_address();
        packet.l4proto = view->protocol();
        packet.hop_limit = view->ttl();
        packet.length = view->total_length();
        packet.ip_id = view->id();
        if (view->is_fragment()) {
            packet.fragment = view->fragment();
            packet.fragment_data_length =
                static_cast<std::uint32_t>(view->total_length() - view->header_length());
        }
        if (view->fragment_offset_bytes() == 0) packet.transport_offset = view->header_length();
    } else if (version == 6) {
        packet.family = 6;
        auto view = dissect::ip::Ipv6::parse(ip_packet);
        if (!view) {
            packet.malformed = std::string(dissect::anomaly_name(view.error()));
            return packet;
        }
        std::size_t end = std::min<std::size_t>(ip_packet.size(), 40u + view->payload_length());
        packet.bytes.assign(ip_packet.begin(), ip_packet.begin() + static_cast<long>(end));
        packet.source = view->source_address();
        packet.destination = view->destination_address();
        packet.l4proto = view->protocol();
        packet.hop_limit = view->hop_limit();
        packet.length = 40u + view->payload_length();
        std::size_t payload_offset = offset_in(ip_packet, view->payload());
        if (view->is_fragment()) {
            packet.fragment = view->fragment();
            packet.fragment_data_length = static_cast<std::uint32_t>(
                packet.length > payload_offset ? packet.length - payload_offset : 0);
        }
        if (!view->is_fragment() || view->fragment()->offset_bytes == 0)
            packet.transport_offset = payload_offset;
    } else {
        packet.family = 4;
        packet.malformed = "unknown IP version";
        return packet;
    }
    if (packet.transport_offset && *packet.transport_offset > packet.bytes.size())
        packet.transport_offset.reset();
    Bytes all(packet.bytes.data(), packet.bytes.size());
    dissect::PacketSummary summary = dissect::dissect_ip(all);
    read_transport(packet, summary);
    return packet;
}

Packet decode_frame(std::uint64_t frame, double time, std::uint32_t link_type, Bytes data) {
    auto link = dissect::link::parse(link_type, data);
    if (!link || (link->ethertype != dissect::link::kEtherTypeIpv4 &&
                  link->ethertype != dissect::link::kEtherTypeIpv6)) {
        Packet packet;
        packet.frame = frame;
        packet.time = time;
        return packet;  // family 0: not IP
    }
    return decode_ip(frame, time, link->payload);
}

std::string protocol_name(std::uint8_t protocol) {
    switch (protocol) {
        case 1: return "icmp";
        case 6: return "tcp";
        case 17: return "udp";
        case 47: return "gre";
        case 50: return "esp";
        case 51: return "ah";
        case 58: return "icmpv6";
        case 132: return "sctp";
        default: return "proto-" + std::to_string(protocol);
    }
}

std::string summary_text(const Packet& packet) {
    if (packet.family == 0) return "non-IP frame";
    auto endpoint = [&](const Address& address, const std::optional<std::uint16_t>& port) {
        std::string text = address.to_string();
        if (!port) return text;
        if (address.family == Family::ipv6) text = "[" + text + "]";
        return text + ":" + std::to_string(*port);
    };
    std::string out = endpoint(packet.source, packet.source_port) + " → " +
                      endpoint(packet.destination, packet.destination_port) + " " +
                      protocol_name(packet.l4proto);
    if (packet.icmp_type)
        out += fmt::format(" type {} code {}", *packet.icmp_type, packet.icmp_code.value_or(0));
    if (packet.tcp_flags) {
        static constexpr const char* kNames[] = {"F", "S", "R", "P", "A", "U", "E", "C"};
        std::string flags;
        for (int bit = 0; bit < 8; ++bit)
            if (*packet.tcp_flags & (1u << bit)) flags += kNames[bit];
        out += " [" + flags + "]";
    }
    if (packet.fragment)
        out += fmt::format(" frag@{}{}", packet.fragment->offset_bytes,
                           packet.fragment->more_fragments ? "+" : "");
    return out;
}

}  // namespace portcullis::simulate
