// dissect_packet end to end: every layer combination the diagnose stage relies on.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

TEST(DissectPacket, IkeOnUdp500) {
    Frame frame(PacketBuilder().ethernet(10).ipv4("192.0.2.1", "198.51.100.2")
                    .udp(500, 500).ike(IkeBuilder::v2(34, 0x1234).nonce()));
    auto summary = dissect_packet(kEthernet, frame.bytes());
    EXPECT_EQ(summary.first_anomaly(), Anomaly::none);
    EXPECT_EQ(summary.vlan_id, 10);
    EXPECT_EQ(summary.ip_version, 4);
    EXPECT_EQ(summary.source.to_string(), "192.0.2.1");
    EXPECT_EQ(summary.destination.to_string(), "198.51.100.2");
    EXPECT_EQ(summary.protocol, 17);
    EXPECT_EQ(summary.source_port, 500);
    EXPECT_EQ(summary.destination_port, 500);
    EXPECT_EQ(summary.kind(), VpnKind::ike);
    ASSERT_TRUE(summary.ike());
    EXPECT_EQ(summary.ike()->header().initiator_spi, 0x1234u);
    EXPECT_FALSE(summary.udp_encapsulated);
}

TEST(DissectPacket, NatTDemuxOn4500) {
    Frame ike(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(4500, 4500)
                  .non_esp_marker().ike(IkeBuilder::v2(35, 7, 8)));
    auto a = dissect_packet(kEthernet, ike.bytes());
    EXPECT_EQ(a.kind(), VpnKind::ike);
    EXPECT_TRUE(a.udp_encapsulated);
    EXPECT_EQ(a.ike()->header().responder_spi, 8u);

    Frame esp(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(4500, 4500).esp(0xabc, 9));
    auto b = dissect_packet(kEthernet, esp.bytes());
    EXPECT_EQ(b.kind(), VpnKind::esp);
    EXPECT_TRUE(b.udp_encapsulated);
    EXPECT_EQ(b.esp()->spi(), 0xabcu);
    EXPECT_EQ(b.esp()->sequence(), 9u);

    Frame keepalive(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(4500, 4500).raw({0xff}));
    auto c = dissect_packet(kEthernet, keepalive.bytes());
    EXPECT_EQ(c.kind(), VpnKind::natt_keepalive);
    EXPECT_EQ(c.first_anomaly(), Anomaly::none);
}

TEST(DissectPacket, RawEspAndGreAndIpv6) {
    Frame esp(PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").esp(0x55, 1));
    auto a = dissect_packet(kRaw, esp.bytes());
    EXPECT_EQ(a.kind(), VpnKind::esp);
    EXPECT_FALSE(a.udp_encapsulated);
    EXPECT_FALSE(a.source_port);

    Frame gre(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").gre_enhanced(0x99, 1)
                  .raw({0xff, 0x03, 0xc0, 0x21}));
    auto b = dissect_packet(kEthernet, gre.bytes());
    EXPECT_EQ(b.kind(), VpnKind::gre);
    EXPECT_EQ(b.gre()->call_id(), 0x99);

    Frame v6(PacketBuilder().sll2().ipv6("2001:db8::1", "2001:db8::2").ipv6_extension(0)
                 .udp(500, 500).ike(IkeBuilder::v1(2)));
    auto c = dissect_packet(276, v6.bytes());
    EXPECT_EQ(c.ip_version, 6);
    EXPECT_EQ(c.protocol, 17);
    EXPECT_EQ(c.kind(), VpnKind::ike);
    EXPECT_EQ(c.first_anomaly(), Anomaly::none);
}

TEST(DissectPacket, AhIsSteppedOver) {
    // AH: next header ESP, length 4 (= 24 bytes), SPI 0x101, sequence 1, 12-byte ICV.
    Buffer ah = {50, 4, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1};
    put(ah, repeat(0x1c, 12));
    Ipv4Options options;
    options.protocol = 51;
    Frame frame(PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", options).raw(ah).esp(0x202, 3));
    auto summary = dissect_packet(kRaw, frame.bytes());
    EXPECT_EQ(summary.first_anomaly(), Anomaly::none);
    EXPECT_EQ(summary.ah_spi, 0x101u);
    EXPECT_EQ(summary.protocol, 50);
    ASSERT_TRUE(summary.esp());
    EXPECT_EQ(summary.esp()->spi(), 0x202u);
}

TEST(DissectPacket, L2tpPptpOpenVpnWireGuard) {
    Frame l2tp(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(1701, 1701)
                   .l2tp(L2tpBuilder::control(0).message_type(1)));
    auto a = dissect_packet(kEthernet, l2tp.bytes());
    EXPECT_EQ(a.kind(), VpnKind::l2tp);
    EXPECT_EQ(a.l2tp()->message_type(), 1);

    Frame pptp(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").tcp(40000, 1723)
                   .raw(pptp_message(pptp::control::kOcrq, {{12, 0x4242}})));
    auto b = dissect_packet(kEthernet, pptp.bytes());
    EXPECT_EQ(b.kind(), VpnKind::pptp);
    EXPECT_EQ(b.pptp()->call_id(), 0x4242);
    EXPECT_TRUE(b.tcp->psh());

    Frame syn(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").tcp(40000, 1723, tcp::kSyn));
    auto c = dissect_packet(kEthernet, syn.bytes());
    EXPECT_EQ(c.kind(), VpnKind::none);
    EXPECT_TRUE(c.tcp->syn());
    EXPECT_EQ(c.first_anomaly(), Anomaly::none);

    Frame ovpn(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(50000, 1194)
                   .raw({0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0}));
    EXPECT_EQ(dissect_packet(kEthernet, ovpn.bytes()).kind(), VpnKind::openvpn);

    Buffer wg(148, 0);
    wg[0] = 1;
    Frame on_other_port(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(40000, 41000).raw(wg));
    EXPECT_EQ(dissect_packet(kEthernet, on_other_port.bytes()).kind(), VpnKind::wireguard);
    Frame not_wg(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(40000, 53).raw({1, 2, 3}));
    auto d = dissect_packet(kEthernet, not_wg.bytes());
    EXPECT_EQ(d.kind(), VpnKind::none);
    EXPECT_EQ(d.first_anomaly(), Anomaly::none);
}

TEST(DissectPacket, IcmpUnreachableQuotingIke) {
    Buffer inner = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(500, 500)
                       .ike(IkeBuilder::v2(34, 0x0102030405060708ull)).bytes();
    inner.resize(20 + 8 + 8);  // routers quote the IP header plus 8 bytes (here plus 8 more)
    Frame frame(PacketBuilder().ethernet().ipv4("198.51.100.254", "192.0.2.1").icmp(3, 3).raw(inner));
    auto summary = dissect_packet(kEthernet, frame.bytes());
    ASSERT_TRUE(summary.icmp);
    EXPECT_TRUE(summary.icmp->is_unreachable());
    ASSERT_TRUE(summary.quoted);
    EXPECT_EQ(summary.quoted->source.to_string(), "192.0.2.1");
    EXPECT_EQ(summary.quoted->destination.to_string(), "198.51.100.2");
    EXPECT_EQ(summary.quoted->protocol, 17);
    EXPECT_EQ(summary.quoted->destination_port, 500);
    EXPECT_EQ(summary.quoted->ike_initiator_spi, 0x0102030405060708ull);
    EXPECT_EQ(summary.first_anomaly(), Anomaly::none);

    Buffer esp_inner = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(4500, 4500).esp(0x77, 1).bytes();
    esp_inner.resize(20 + 8 + 8);
    Frame esp_frame(PacketBuilder().ipv4("198.51.100.254", "192.0.2.1").icmp(3, 1).raw(esp_inner));
    auto esp_summary = dissect_packet(kRaw, esp_frame.bytes());
    ASSERT_TRUE(esp_summary.quoted);
    EXPECT_EQ(esp_summary.quoted->esp_spi, 0x77u);

    Buffer v6_inner = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").esp(0x88, 1).bytes();
    Frame v6(PacketBuilder().ipv6("2001:db8::fe", "2001:db8::1").icmpv6(1, 3).raw(v6_inner));
    auto v6_summary = dissect_packet(kRaw, v6.bytes());
    ASSERT_TRUE(v6_summary.quoted);
    EXPECT_EQ(v6_summary.quoted->ip_version, 6);
    EXPECT_EQ(v6_summary.quoted->esp_spi, 0x88u);
}

TEST(DissectPacket, FragmentsKeepIkeHeaderButSkipLaterFragments) {
    Ipv4Options first;
    first.more_fragments = true;
    first.id = 99;
    // First fragment of a large IKE_AUTH on 4500: UDP and IKE lengths exceed the fragment.
    IkeBuilder big = IkeBuilder::v2(35, 1, 2);
    big.encrypted_v2(35, 3000);
    Buffer whole = PacketBuilder().udp(4500, 4500).non_esp_marker().ike(big).bytes();
    Buffer head(whole.begin(), whole.begin() + 1472);
    Frame frame(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2", [&] {
        Ipv4Options o = first;
        o.protocol = 17;
        return o;
    }()).raw(head));
    auto summary = dissect_packet(kEthernet, frame.bytes());
    ASSERT_TRUE(summary.fragment);
    EXPECT_EQ(summary.fragment->id, 99u);
    EXPECT_FALSE(summary.later_fragment());
    EXPECT_EQ(summary.kind(), VpnKind::ike);
    EXPECT_TRUE(summary.ike()->truncated());
    EXPECT_EQ(summary.first_anomaly(), Anomaly::none);  // fragmentation is not malformation

    Ipv4Options later;
    later.fragment_offset_bytes = 1472;
    later.id = 99;
    later.protocol = 17;
    Frame second(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2", later)
                     .raw(Buffer(whole.begin() + 1472, whole.end())));
    auto s2 = dissect_packet(kEthernet, second.bytes());
    ASSERT_TRUE(s2.fragment);
    EXPECT_TRUE(s2.later_fragment());
    EXPECT_FALSE(s2.udp);
    EXPECT_EQ(s2.kind(), VpnKind::none);
    EXPECT_EQ(s2.first_anomaly(), Anomaly::none);
}

TEST(DissectPacket, NonIpFramesAreNotAnomalies) {
    Buffer arp = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1};
    Frame frame(arp);
    auto summary = dissect_packet(kEthernet, frame.bytes());
    EXPECT_EQ(summary.ethertype, 0x0806);
    EXPECT_EQ(summary.ip_version, 0);
    EXPECT_EQ(summary.first_anomaly(), Anomaly::none);
}

TEST(DissectPacket, CountersAndSummaryAgree) {
    AnomalyCounters counters;
    Frame bad(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(500, 500)
                  .ike(IkeBuilder::v2(34).length_override(10)));
    auto summary = dissect_packet(kEthernet, bad.bytes(), &counters);
    EXPECT_EQ(summary.first_anomaly(), Anomaly::ike_bad_length);
    EXPECT_TRUE(summary.has_anomaly(Anomaly::ike_bad_length));
    EXPECT_EQ(counters[Anomaly::ike_bad_length], 1u);
    EXPECT_EQ(counters.total(), 1u);
    dissect_packet(kEthernet, bad.bytes(), &counters);
    EXPECT_EQ(counters[Anomaly::ike_bad_length], 2u);
    AnomalyCounters sum;
    sum += counters;
    sum += counters;
    EXPECT_EQ(sum.total(), 4u);
    EXPECT_EQ(anomaly_name(Anomaly::ike_bad_length), "ike_bad_length");
    EXPECT_EQ(anomaly_name(Anomaly::none), "none");
}

}  // namespace
}  // namespace portcullis::dissect::testing
