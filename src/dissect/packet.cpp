#include "dissect/packet.hpp"

namespace portcullis::dissect {

VpnKind vpn_kind(const VpnLayer& layer) {
    return static_cast<VpnKind>(layer.index());
}

bool PacketSummary::has_anomaly(Anomaly anomaly) const {
    for (std::size_t i = 0; i < anomaly_count; ++i) {
        if (anomalies[i] == anomaly) return true;
    }
    return false;
}

void PacketSummary::note(Anomaly anomaly) {
    if (anomaly == Anomaly::none || anomaly_count == kMaxRecordedAnomalies) return;
    anomalies[anomaly_count++] = anomaly;
}

namespace {

class Walker {
public:
    Walker(PacketSummary& summary, AnomalyCounters* counters)
        : summary_(summary), counters_(counters) {}

    void note(Anomaly anomaly) {
        if (anomaly == Anomaly::none) return;
        summary_.note(anomaly);
        if (counters_) counters_->add(anomaly);
    }

    void ip(Bytes packet) {
        auto first = read_u8(packet, 0);
        if (!first) return note(Anomaly::ipv4_truncated);
        if ((*first >> 4) == 4) return ipv4(packet);
        if ((*first >> 4) == 6) return ipv6(packet);
        note(Anomaly::ip_unknown_version);
    }

private:
    void ipv4(Bytes packet) {
        auto view = ip::Ipv4::parse(packet);
        if (!view) return note(view.error());
        summary_.ip_version = 4;
        summary_.source = view->source_address();
        summary_.destination = view->destination_address();
        summary_.protocol = view->protocol();
        summary_.ttl = view->ttl();
        summary_.ip_length = view->total_length();
        summary_.fragment = view->fragment();
        if (view->truncated()) note(Anomaly::ipv4_total_length_exceeds_capture);
        if (view->fragment_offset_bytes() != 0) return;  // no transport header in here
        transport(view->protocol(), view->payload(), false, view->more_fragments());
    }

    void ipv6(Bytes packet) {
        auto view = ip::Ipv6::parse(packet);
        if (!view) return note(view.error());
        summary_.ip_version = 6;
        summary_.source = view->source_address();
        summary_.destination = view->destination_address();
        summary_.protocol = view->protocol();
        summary_.ttl = view->hop_limit();
        summary_.ip_length = 40u + view->payload_length();
        if (view->is_fragment()) summary_.fragment = view->fragment();
        if (view->truncated()) note(Anomaly::ipv6_payload_length_exceeds_capture);
        if (summary_.later_fragment()) return;
        transport(view->protocol(), view->payload(), true,
                  summary_.fragment && summary_.fragment->more_fragments);
    }

    // `partial`: a first fragment, so upper layers legitimately end early.
    void transport(std::uint8_t protocol, Bytes payload, bool v6, bool partial) {
        switch (protocol) {
        case ip::kProtoUdp: return udp(payload, partial);
        case ip::kProtoTcp: return tcp(payload);
        case ip::kProtoIcmp:
            if (!v6) icmp(icmp::Message::parse_v4(payload));
            return;
        case ip::kProtoIcmpv6:
            if (v6) icmp(icmp::Message::parse_v6(payload));
            return;
        case ip::kProtoGre: {
            auto view = gre::Packet::parse(payload);
            if (!view) return note(view.error());
            summary_.vpn = *view;
            return;
        }
        case ip::kProtoEsp: return esp(payload);
        case ip::kProtoAh: return ah(payload, v6, partial);
        default: return;
        }
    }

    // AH (RFC 4302) authenticates but does not hide what follows: step over it once.
    void ah(Bytes payload, bool v6, bool partial) {
        auto next = read_u8(payload, 0);
        auto units = read_u8(payload, 1);
        auto spi = read_be32(payload, 4);
        if (!next || !units || !spi) return note(Anomaly::ah_truncated);
        std::size_t length = (std::size_t{*units} + 2) * 4;
        if (length < 12 || length > payload.size()) return note(Anomaly::ah_truncated);
        summary_.ah_spi = *spi;
        summary_.protocol = *next;
        if (*next == ip::kProtoAh) return;  // AH in AH: stop rather than recurse
        transport(*next, payload.subspan(length), v6, partial);
    }

    void esp(Bytes payload) {
        auto view = esp::Packet::parse(payload);
        if (!view) return note(view.error());
        summary_.vpn = *view;
    }

    void ike(Bytes payload, bool partial) {
        auto view = ike::Message::parse(payload);
        if (!view) return note(view.error());
        if (!partial) note(view->validate());
        summary_.vpn = *view;
    }

    void udp(Bytes segment, bool partial) {
        auto view = udp::Datagram::parse(segment);
        if (!view) return note(view.error());
        summary_.udp = *view;
        summary_.source_port = view->source_port();
        summary_.destination_port = view->destination_port();
        if (view->truncated() && !partial) note(Anomaly::udp_length_exceeds_data);
        partial = partial || view->truncated();
        Bytes payload = view->payload();
        if (view->has_port(natt::kPort)) {
            auto demuxed = natt::demux(payload);
            if (!demuxed) return note(demuxed.error());
            summary_.udp_encapsulated = true;
            switch (demuxed->kind) {
            case natt::Kind::keepalive: summary_.vpn = NattKeepalive{}; return;
            case natt::Kind::ike: return ike(demuxed->payload, partial);
            case natt::Kind::esp: return esp(demuxed->payload);
            }
            return;
        }
        if (view->has_port(ike::kPort)) return ike(payload, partial);
        if (view->has_port(l2tp::kPort)) {
            auto message = l2tp::Message::parse(payload);
            if (!message) return note(message.error());
            if (!partial) note(message->validate());
            summary_.vpn = *message;
            return;
        }
        if (view->has_port(openvpn::kPort)) {
            auto packet = openvpn::Packet::parse_udp(payload);
            if (!packet) return note(packet.error());
            summary_.vpn = *packet;
            return;
        }
        if (view->has_port(wireguard::kPort)) {
            auto message = wireguard::Message::parse(payload);
            if (!message) return note(message.error());
            summary_.vpn = *message;
            return;
        }
        // WireGuard runs on any port; its exact sizes and zero bytes make a strict match rare
        // by accident, so recognise it silently (no anomaly when it does not match). Off its
        // port, data messages must also show the usual 16-byte padding.
        if (auto message = wireguard::Message::parse(payload)) {
            if (message->type() != wireguard::Type::transport || payload.size() % 16 == 0)
                summary_.vpn = *message;
        }
    }

    void tcp(Bytes segment) {
        auto view = tcp::Segment::parse(segment);
        if (!view) return note(view.error());
        summary_.tcp = *view;
        summary_.source_port = view->source_port();
        summary_.destination_port = view->destination_port();
        Bytes payload = view->payload();
        if (payload.empty()) return;
        if (view->has_port(pptp::kPort)) {
            pptp::MessageStream stream(payload);
            auto first = stream.next();
            if (first) summary_.vpn = *first;
            while (stream.next()) {
            }
            note(stream.anomaly());
            return;
        }
        if (view->has_port(openvpn::kPort)) {
            auto packet = openvpn::Packet::parse_tcp(payload);
            if (!packet) return note(packet.error());
            summary_.vpn = *packet;
        }
    }

    void icmp(Parsed<icmp::Message> view) {
        if (!view) return note(view.error());
        summary_.icmp = *view;
        if (!view->is_error()) return;
        summary_.quoted = dissect_quoted(view->quoted());
        if (!summary_.quoted) note(Anomaly::icmp_quoted_truncated);
    }

    PacketSummary& summary_;
    AnomalyCounters* counters_;
};

}  // namespace

PacketSummary dissect_ip(Bytes packet, AnomalyCounters* counters) {
    PacketSummary summary;
    Walker walker(summary, counters);
    walker.ip(packet);
    return summary;
}

PacketSummary dissect_packet(std::uint32_t link_type, Bytes frame, AnomalyCounters* counters) {
    PacketSummary summary;
    Walker walker(summary, counters);
    auto link_frame = link::parse(link_type, frame);
    if (!link_frame) {
        walker.note(link_frame.error());
        return summary;
    }
    summary.ethertype = link_frame->ethertype;
    summary.vlan_id = link_frame->vlan_id;
    if (link_frame->ethertype != link::kEtherTypeIpv4 &&
        link_frame->ethertype != link::kEtherTypeIpv6) {
        // ARP and friends are normal traffic, not malformed: nothing to note.
        return summary;
    }
    walker.ip(link_frame->payload);
    return summary;
}

std::optional<QuotedPacket> dissect_quoted(Bytes quoted) {
    QuotedPacket result;
    Bytes transport;
    auto first = read_u8(quoted, 0);
    if (!first) return std::nullopt;
    if ((*first >> 4) == 4) {
        auto view = ip::Ipv4::parse(quoted);
        if (!view) return std::nullopt;
        result.ip_version = 4;
        result.source = view->source_address();
        result.destination = view->destination_address();
        result.protocol = view->protocol();
        if (view->fragment_offset_bytes() != 0) return result;
        transport = view->payload();
    } else if ((*first >> 4) == 6) {
        auto view = ip::Ipv6::parse(quoted);
        if (!view) return std::nullopt;
        result.ip_version = 6;
        result.source = view->source_address();
        result.destination = view->destination_address();
        result.protocol = view->protocol();
        if (view->fragment() && view->fragment()->offset_bytes != 0) return result;
        transport = view->payload();
    } else {
        return std::nullopt;
    }
    if (result.protocol == ip::kProtoUdp || result.protocol == ip::kProtoTcp) {
        result.source_port = read_be16(transport, 0);
        result.destination_port = read_be16(transport, 2);
    }
    if (result.protocol == ip::kProtoEsp) {
        result.esp_spi = read_be32(transport, 0);
    } else if (result.protocol == ip::kProtoUdp && result.source_port &&
               result.destination_port) {
        auto has = [&](std::uint16_t port) {
            return *result.source_port == port || *result.destination_port == port;
        };
        if (has(natt::kPort)) {
            auto marker = read_be32(transport, 8);
            if (marker && *marker == 0) {
                result.ike_initiator_spi = read_be64(transport, 12);
            } else if (marker && transport.size() > 9) {
                result.esp_spi = marker;
            }
        } else if (has(ike::kPort)) {
            result.ike_initiator_spi = read_be64(transport, 8);
        }
    }
    return result;
}

}  // namespace portcullis::dissect
