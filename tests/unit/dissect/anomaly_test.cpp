// Every anomaly kind, produced through dissect_packet from a built frame; the table must cover
// the whole enum, so a new anomaly kind cannot be added without a test that triggers it.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

struct Case {
    Anomaly expected;
    std::uint32_t link_type;
    Buffer frame;
};

PacketBuilder eth4() { return std::move(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2")); }

Buffer ike_patched(IkeBuilder builder, std::size_t offset, std::uint16_t value) {
    Buffer ike = builder.bytes();
    set16(ike, offset, value);
    return eth4().udp(500, 500).raw(ike).bytes();
}

Buffer udp_to(std::uint16_t port, const Buffer& payload) {
    return eth4().udp(40000, port).raw(payload).bytes();
}

Buffer tcp_to(std::uint16_t port, const Buffer& payload) {
    return eth4().tcp(40000, port).raw(payload).bytes();
}

Buffer raw_ipv4(std::uint8_t protocol, const Buffer& payload) {
    Ipv4Options options;
    options.protocol = protocol;
    return PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", options).raw(payload).bytes();
}

IkeBuilder sa_with(const Buffer& proposals_area) {
    return std::move(IkeBuilder::v2(34).payload(33, proposals_area));
}

Buffer v2_proposal(std::uint16_t length, const Buffer& transforms, std::uint8_t more = 0) {
    Buffer p;
    put8(p, more);
    put8(p, 0);
    put16(p, length);
    put(p, {1, 1, 0, 1});
    put(p, transforms);
    return p;
}

Buffer v2_transform(std::uint16_t length, const Buffer& attributes, std::uint8_t more = 0) {
    Buffer t;
    put8(t, more);
    put8(t, 0);
    put16(t, length);
    put(t, {1, 0, 0, 12});
    put(t, attributes);
    return t;
}

Buffer l2tp_control(const Buffer& avps) {
    return udp_to(1701, L2tpBuilder::control(1).raw(avps).bytes());
}

std::vector<Case> cases() {
    std::vector<Case> out;
    auto add = [&](Anomaly a, Buffer frame, std::uint32_t link = kEthernet) {
        out.push_back({a, link, std::move(frame)});
    };
    Buffer ipv4_udp = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(1, 2).bytes();
    // link
    add(Anomaly::link_truncated, {1, 2, 3, 4, 5});
    add(Anomaly::link_unsupported_type, ipv4_udp, 147);
    add(Anomaly::link_unsupported_ethertype, Buffer{99, 0, 0, 0, 0x45}, 0);
    {
        Buffer f = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
        for (int i = 0; i < 5; ++i) put(f, {0x81, 0x00, 0x00, 0x01});
        put(f, {0x08, 0x00});
        put(f, ipv4_udp);
        add(Anomaly::vlan_too_deep, f);
    }
    add(Anomaly::nflog_bad_version, {2, 1, 0, 0, 8, 0, 9, 0, 0x45, 0, 0, 0}, 239);
    add(Anomaly::nflog_bad_tlv, {2, 0, 0, 0, 2, 0, 9, 0}, 239);
    add(Anomaly::nflog_no_payload, {2, 0, 0, 0, 8, 0, 10, 0, 'p', 'c', 0, 0}, 239);
    // IP
    add(Anomaly::ip_unknown_version, {0x50, 0, 0, 0}, kRaw);
    add(Anomaly::ipv4_truncated, {0x45, 0, 0, 20, 0, 0}, kRaw);
    {
        Buffer f = ipv4_udp;
        f[0] = 0x43;
        add(Anomaly::ipv4_bad_header_length, f, kRaw);
        Buffer g = ipv4_udp;
        set16(g, 2, 19);
        add(Anomaly::ipv4_bad_total_length, g, kRaw);
        Buffer h = ipv4_udp;
        set16(h, 2, 60);
        add(Anomaly::ipv4_total_length_exceeds_capture, h, kRaw);
        Ipv4Options options;
        options.options = {0x83, 1, 0, 0};
        add(Anomaly::ipv4_bad_options, PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", options).udp(1, 2).bytes(), kRaw);
    }
    add(Anomaly::ipv6_truncated, {0x60, 0, 0, 0, 0, 8}, kRaw);
    {
        Buffer f = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).bytes();
        f.pop_back();
        add(Anomaly::ipv6_payload_length_exceeds_capture, f, kRaw);
        Buffer g = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_extension(0).udp(1, 2).bytes();
        g[41] = 9;
        add(Anomaly::ipv6_extension_truncated, g, kRaw);
        PacketBuilder chain;
        chain.ipv6("2001:db8::1", "2001:db8::2");
        for (int i = 0; i < 20; ++i) chain.ipv6_extension(60);
        add(Anomaly::ipv6_extension_chain_too_long, chain.udp(1, 2).bytes(), kRaw);
    }
    // transport
    add(Anomaly::udp_truncated, raw_ipv4(17, {0, 1, 0, 2}), kRaw);
    add(Anomaly::udp_bad_length, eth4().udp(1, 2, 5).bytes());
    add(Anomaly::udp_length_exceeds_data, eth4().udp(1, 2, 30).raw({1}).bytes());
    add(Anomaly::tcp_truncated, raw_ipv4(6, Buffer(19, 0)), kRaw);
    {
        Buffer t = PacketBuilder().tcp(1, 2).bytes();
        t[12] = 0x30;
        add(Anomaly::tcp_bad_data_offset, raw_ipv4(6, t), kRaw);
        t[12] = 0xf0;
        add(Anomaly::tcp_options_truncated, raw_ipv4(6, t), kRaw);
    }
    add(Anomaly::icmp_truncated, raw_ipv4(1, {3, 3, 0, 0}), kRaw);
    add(Anomaly::icmp_quoted_truncated, eth4().icmp(3, 3).raw({0x00, 0x01}).bytes());
    // tunnels
    add(Anomaly::gre_truncated, raw_ipv4(47, {0, 0, 8}), kRaw);
    add(Anomaly::gre_bad_version, raw_ipv4(47, {0, 5, 8, 0}), kRaw);
    add(Anomaly::gre_bad_enhanced_header, raw_ipv4(47, {0x20, 1, 8, 0, 0, 0, 0, 0}), kRaw);
    add(Anomaly::gre_routing_truncated, raw_ipv4(47, {0x40, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 50}), kRaw);
    {
        Buffer sres = {0x40, 0, 8, 0, 0, 0, 0, 0};
        for (int i = 0; i < 33; ++i) put(sres, {0, 1, 0, 0});
        add(Anomaly::gre_routing_too_long, raw_ipv4(47, sres), kRaw);
    }
    add(Anomaly::esp_truncated, raw_ipv4(50, {1, 2, 3, 4}), kRaw);
    add(Anomaly::esp_zero_spi, raw_ipv4(50, Buffer(16, 0)), kRaw);
    add(Anomaly::natt_empty, udp_to(4500, {}));
    add(Anomaly::ah_truncated, raw_ipv4(51, {50, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}), kRaw);
    // IKE
    add(Anomaly::ike_truncated, udp_to(500, Buffer(20, 1)));
    {
        Buffer v = IkeBuilder::v2(34).bytes();
        v[17] = 0x30;
        add(Anomaly::ike_bad_version, udp_to(500, v));
    }
    add(Anomaly::ike_bad_length, udp_to(500, IkeBuilder::v2(34).length_override(8).bytes()));
    add(Anomaly::ike_length_exceeds_data, udp_to(500, IkeBuilder::v2(34).length_override(100).bytes()));
    add(Anomaly::ike_payload_truncated, udp_to(500, IkeBuilder::v2(34).next_payload_override(40).bytes()));
    add(Anomaly::ike_payload_bad_length, ike_patched(IkeBuilder::v2(34).nonce(), 30, 3));
    {
        IkeBuilder many = IkeBuilder::v2(34);
        for (int i = 0; i < 70; ++i) many.vendor({});
        add(Anomaly::ike_payload_chain_too_long, udp_to(500, many.bytes()));
    }
    add(Anomaly::ike_payload_body_truncated, udp_to(500, IkeBuilder::v2(34).payload(41, {0, 0}).bytes()));
    add(Anomaly::ike_proposal_truncated, udp_to(500, sa_with({0, 0, 0, 8}).bytes()));
    add(Anomaly::ike_proposal_bad_length, udp_to(500, sa_with(v2_proposal(6, {})).bytes()));
    {
        Buffer proposals;
        for (int i = 0; i < 70; ++i) put(proposals, v2_proposal(8, {}, 2));
        add(Anomaly::ike_proposal_chain_too_long, udp_to(500, sa_with(proposals).bytes()));
    }
    add(Anomaly::ike_transform_truncated, udp_to(500, sa_with(v2_proposal(12, {3, 0, 0, 8})).bytes()));
    add(Anomaly::ike_transform_bad_length,
        udp_to(500, sa_with(v2_proposal(16, v2_transform(4, {}))).bytes()));
    {
        Buffer transforms;
        for (int i = 0; i < 130; ++i) put(transforms, v2_transform(8, {}, 3));
        add(Anomaly::ike_transform_chain_too_long,
            udp_to(500, sa_with(v2_proposal(static_cast<std::uint16_t>(8 + transforms.size()), transforms)).bytes()));
        Buffer attributes;
        for (int i = 0; i < 70; ++i) put(attributes, {0x80, 14, 0, 128});
        Buffer t = v2_transform(static_cast<std::uint16_t>(8 + attributes.size()), attributes);
        add(Anomaly::ike_attribute_chain_too_long,
            udp_to(500, sa_with(v2_proposal(static_cast<std::uint16_t>(8 + t.size()), t)).bytes()));
        Buffer bad_attr = v2_transform(11, {0x00, 14, 0});
        add(Anomaly::ike_attribute_truncated,
            udp_to(500, sa_with(v2_proposal(static_cast<std::uint16_t>(8 + bad_attr.size()), bad_attr)).bytes()));
    }
    // L2TP
    add(Anomaly::l2tp_truncated, udp_to(1701, {0xc8}));
    add(Anomaly::l2tp_bad_version, udp_to(1701, {0xc8, 0x04, 0, 12}));
    add(Anomaly::l2tp_bad_length, udp_to(1701, {0xc8, 0x02, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0}));
    add(Anomaly::l2tp_control_missing_fields, udp_to(1701, {0x80, 0x02, 0, 0, 0, 0}));
    add(Anomaly::l2tp_bad_offset, udp_to(1701, {0x02, 0x02, 0, 1, 0, 1, 0, 50}));
    add(Anomaly::l2tp_avp_truncated, l2tp_control({0x80, 0x08, 0, 0, 0, 0, 0, 1, 0x80, 0x20, 0, 0, 0, 1}));
    add(Anomaly::l2tp_avp_bad_length, l2tp_control({0x80, 0x08, 0, 0, 0, 0, 0, 1, 0x80, 0x02, 0, 0, 0, 1}));
    {
        L2tpBuilder many = L2tpBuilder::control(1).message_type(6);
        for (int i = 0; i < 130; ++i) many.avp(7, {});
        add(Anomaly::l2tp_avp_chain_too_long, udp_to(1701, many.bytes()));
    }
    add(Anomaly::l2tp_message_type_missing, udp_to(1701, L2tpBuilder::control(1).avp(7, {'x'}).bytes()));
    add(Anomaly::l2tp_message_type_hidden, udp_to(1701, L2tpBuilder::control(1).avp(0, {0, 1}, true, true).bytes()));
    add(Anomaly::l2tp_result_code_truncated,
        udp_to(1701, L2tpBuilder::control(1).message_type(4).avp(1, {0}).bytes()));
    // PPTP
    add(Anomaly::pptp_truncated, tcp_to(1723, Buffer(8, 0)));
    {
        Buffer bad_length = pptp_message(1);
        set16(bad_length, 0, 40);
        add(Anomaly::pptp_bad_length, tcp_to(1723, bad_length));
        Buffer bad_magic = pptp_message(1);
        bad_magic[4] = 0;
        add(Anomaly::pptp_bad_magic, tcp_to(1723, bad_magic));
        Buffer mgmt = pptp_message(1);
        set16(mgmt, 2, 2);
        add(Anomaly::pptp_bad_message_type, tcp_to(1723, mgmt));
        Buffer unknown = pptp_message(5);
        set16(unknown, 8, 0);
        add(Anomaly::pptp_unknown_control_type, tcp_to(1723, unknown));
        Buffer many;
        for (int i = 0; i < 70; ++i) put(many, pptp_message(5));
        add(Anomaly::pptp_stream_too_long, tcp_to(1723, many));
    }
    // recognisers
    add(Anomaly::openvpn_truncated, udp_to(1194, {0x38, 1, 2}));
    add(Anomaly::openvpn_bad_opcode, udp_to(1194, {0x00, 1, 2}));
    add(Anomaly::wireguard_truncated, udp_to(51820, {1, 0}));
    add(Anomaly::wireguard_bad_type, udp_to(51820, {9, 0, 0, 0}));
    add(Anomaly::wireguard_bad_length, udp_to(51820, {1, 0, 0, 0, 5}));
    return out;
}

TEST(Anomalies, EveryKindIsProducedByAMalformedFrame) {
    AnomalyCounters counters;
    std::set<Anomaly> seen;
    for (const auto& c : cases()) {
        Frame frame(c.frame);
        auto summary = dissect_packet(c.link_type, frame.bytes(), &counters);
        EXPECT_EQ(summary.first_anomaly(), c.expected)
            << "expected " << anomaly_name(c.expected) << ", got "
            << anomaly_name(summary.first_anomaly());
        seen.insert(c.expected);
    }
    for (std::size_t i = 1; i < kAnomalyKinds; ++i) {
        auto kind = static_cast<Anomaly>(i);
        EXPECT_TRUE(seen.count(kind)) << "no test case for " << anomaly_name(kind);
        EXPECT_GE(counters[kind], 1u) << anomaly_name(kind);
    }
}

TEST(Anomalies, NamesAreUniqueAndSnakeCase) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < kAnomalyKinds; ++i) {
        std::string name(anomaly_name(static_cast<Anomaly>(i)));
        EXPECT_TRUE(names.insert(name).second) << name;
        for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
    }
}

}  // namespace
}  // namespace portcullis::dissect::testing
