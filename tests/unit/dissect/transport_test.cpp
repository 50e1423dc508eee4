#include <gtest/gtest.h>

#include "dissect/esp/esp.hpp"
#include "dissect/gre/gre.hpp"
#include "dissect/icmp/icmp.hpp"
#include "dissect/natt/natt.hpp"
#include "dissect/tcp/tcp.hpp"
#include "dissect/udp/udp.hpp"
#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

TEST(Udp, Fields) {
    Frame frame(PacketBuilder().udp(500, 4500).raw({1, 2, 3}));
    auto udp = udp::Datagram::parse(frame.bytes());
    ASSERT_TRUE(udp);
    EXPECT_EQ(udp->source_port(), 500);
    EXPECT_EQ(udp->destination_port(), 4500);
    EXPECT_EQ(udp->length(), 11);
    EXPECT_EQ(udp->payload().size(), 3u);
    EXPECT_TRUE(udp->has_port(4500));
    EXPECT_FALSE(udp->has_port(1701));
    EXPECT_FALSE(udp->truncated());
}

TEST(Udp, LengthBeyondDataIsClippedAndFlagged) {
    Frame frame(PacketBuilder().udp(500, 500, 400).raw({1, 2, 3}));
    auto udp = udp::Datagram::parse(frame.bytes());
    ASSERT_TRUE(udp);
    EXPECT_TRUE(udp->truncated());
    EXPECT_EQ(udp->payload().size(), 3u);
}

TEST(Udp, Malformed) {
    Frame short_frame(Buffer{0, 1, 0, 2});
    EXPECT_EQ(udp::Datagram::parse(short_frame.bytes()).error(), Anomaly::udp_truncated);
    Frame bad(PacketBuilder().udp(1, 2, 7));
    EXPECT_EQ(udp::Datagram::parse(bad.bytes()).error(), Anomaly::udp_bad_length);
}

TEST(Tcp, FlagsPortsSequenceAndHeaderLength) {
    Frame frame(PacketBuilder().tcp(40000, 1723, tcp::kSyn | tcp::kAck, 11, 22, {2, 4, 5, 0xb4})
                    .raw({9, 9}));
    auto tcp = tcp::Segment::parse(frame.bytes());
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->source_port(), 40000);
    EXPECT_EQ(tcp->destination_port(), 1723);
    EXPECT_EQ(tcp->sequence(), 11u);
    EXPECT_EQ(tcp->acknowledgment(), 22u);
    EXPECT_EQ(tcp->header_length(), 24);
    EXPECT_TRUE(tcp->syn());
    EXPECT_TRUE(tcp->ack());
    EXPECT_FALSE(tcp->rst());
    EXPECT_FALSE(tcp->fin());
    EXPECT_FALSE(tcp->psh());
    EXPECT_EQ(tcp->options().size(), 4u);
    EXPECT_EQ(tcp->payload().size(), 2u);
    Frame rst(PacketBuilder().tcp(1723, 40000, tcp::kRst | tcp::kFin | tcp::kUrg | tcp::kEce | tcp::kCwr | tcp::kPsh));
    auto r = tcp::Segment::parse(rst.bytes());
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->rst() && r->fin() && r->urg() && r->ece() && r->cwr() && r->psh());
}

TEST(Tcp, Malformed) {
    Buffer bytes = PacketBuilder().tcp(1, 2).bytes();
    Frame short_frame(Buffer(bytes.begin(), bytes.begin() + 19));
    EXPECT_EQ(tcp::Segment::parse(short_frame.bytes()).error(), Anomaly::tcp_truncated);
    Buffer offset4 = bytes;
    offset4[12] = 0x40;
    Frame bad(offset4);
    EXPECT_EQ(tcp::Segment::parse(bad.bytes()).error(), Anomaly::tcp_bad_data_offset);
    Buffer offset15 = bytes;
    offset15[12] = 0xf0;
    Frame longer(offset15);
    EXPECT_EQ(tcp::Segment::parse(longer.bytes()).error(), Anomaly::tcp_options_truncated);
}

TEST(Icmp, UnreachableQuotesInnerPacket) {
    Buffer inner = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(500, 500).bytes();
    Frame frame(PacketBuilder().icmp(3, 3).raw(inner));
    auto icmp = icmp::Message::parse_v4(frame.bytes());
    ASSERT_TRUE(icmp);
    EXPECT_TRUE(icmp->is_error());
    EXPECT_TRUE(icmp->is_unreachable());
    EXPECT_EQ(icmp->code(), 3);
    EXPECT_EQ(icmp->quoted().size(), inner.size());
    EXPECT_FALSE(icmp->mtu());

    Frame frag_needed(PacketBuilder().icmp(3, 4, 1400).raw(inner));
    EXPECT_EQ(icmp::Message::parse_v4(frag_needed.bytes())->mtu(), 1400u);

    Frame echo(PacketBuilder().icmp(8, 0, 0x00010002).raw({1, 2, 3}));
    auto e = icmp::Message::parse_v4(echo.bytes());
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->is_echo());
    EXPECT_FALSE(e->is_error());
    EXPECT_TRUE(e->quoted().empty());
    EXPECT_EQ(e->body().size(), 3u);
}

TEST(Icmp, V6ErrorsAndPacketTooBig) {
    Frame too_big(PacketBuilder().icmpv6(2, 0, 1280).raw(repeat(0x60, 48)));
    auto icmp = icmp::Message::parse_v6(too_big.bytes());
    ASSERT_TRUE(icmp);
    EXPECT_TRUE(icmp->is_v6());
    EXPECT_TRUE(icmp->is_error());
    EXPECT_FALSE(icmp->is_unreachable());
    EXPECT_EQ(icmp->mtu(), 1280u);
    EXPECT_EQ(icmp->quoted().size(), 48u);
    Frame unreachable(PacketBuilder().icmpv6(1, 4));
    EXPECT_TRUE(icmp::Message::parse_v6(unreachable.bytes())->is_unreachable());
    Frame echo(PacketBuilder().icmpv6(128, 0));
    EXPECT_TRUE(icmp::Message::parse_v6(echo.bytes())->is_echo());
    Frame short_frame(Buffer{3, 3, 0});
    EXPECT_EQ(icmp::Message::parse_v6(short_frame.bytes()).error(), Anomaly::icmp_truncated);
}

TEST(Gre, PlainWithKey) {
    Frame frame(PacketBuilder().gre(0x0800, 0x01020304).raw({0x45}));
    auto gre = gre::Packet::parse(frame.bytes());
    ASSERT_TRUE(gre);
    EXPECT_EQ(gre->version(), 0);
    EXPECT_FALSE(gre->is_enhanced());
    EXPECT_EQ(gre->protocol_type(), 0x0800);
    EXPECT_EQ(gre->key(), 0x01020304u);
    EXPECT_FALSE(gre->call_id());
    EXPECT_EQ(gre->payload().size(), 1u);
}

TEST(Gre, EnhancedKeyIsLengthAndCallId) {
    Frame frame(PacketBuilder().gre_enhanced(0x4242, 7, 6).raw(repeat(0xff, 10)));
    auto gre = gre::Packet::parse(frame.bytes());
    ASSERT_TRUE(gre);
    EXPECT_TRUE(gre->is_enhanced());
    EXPECT_EQ(gre->protocol_type(), gre::kProtocolPpp);
    EXPECT_EQ(gre->call_id(), 0x4242);
    EXPECT_EQ(gre->payload_length(), 10);
    EXPECT_EQ(gre->sequence(), 7u);
    EXPECT_EQ(gre->acknowledgment(), 6u);
    EXPECT_EQ(gre->payload().size(), 10u);
    Frame ack_only(PacketBuilder().gre_enhanced(9, -1, 3));
    auto a = gre::Packet::parse(ack_only.bytes());
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->sequence());
    EXPECT_EQ(a->acknowledgment(), 3u);
    EXPECT_EQ(a->payload_length(), 0);
}

TEST(Gre, ChecksumAndRouting) {
    // C and R set: checksum+offset, then SREs: family 0x0800, offset 0, length 4, data; end.
    Buffer bytes = {0xc0, 0x00, 0x08, 0x00, 0x12, 0x34, 0x00, 0x00,
                    0x08, 0x00, 0x00, 0x04, 192, 0, 2, 1, 0, 0, 0, 0, 0x45};
    Frame frame(bytes);
    auto gre = gre::Packet::parse(frame.bytes());
    ASSERT_TRUE(gre);
    EXPECT_EQ(gre->checksum(), 0x1234);
    EXPECT_TRUE(gre->routing_present());
    EXPECT_EQ(gre->payload().size(), 1u);
}

TEST(Gre, Malformed) {
    Frame short_frame(Buffer{0x20, 0x01, 0x88});
    EXPECT_EQ(gre::Packet::parse(short_frame.bytes()).error(), Anomaly::gre_truncated);
    Frame v2(Buffer{0x00, 0x02, 0x08, 0x00});
    EXPECT_EQ(gre::Packet::parse(v2.bytes()).error(), Anomaly::gre_bad_version);
    Frame v1_no_key(Buffer{0x00, 0x01, 0x88, 0x0b, 0, 0, 0, 0});
    EXPECT_EQ(gre::Packet::parse(v1_no_key.bytes()).error(), Anomaly::gre_bad_enhanced_header);
    Frame v1_key_missing(Buffer{0x20, 0x01, 0x88, 0x0b, 0, 0});
    EXPECT_EQ(gre::Packet::parse(v1_key_missing.bytes()).error(), Anomaly::gre_truncated);
    Frame sre_long(Buffer{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x08, 0x00, 0x00, 0xff, 1});
    EXPECT_EQ(gre::Packet::parse(sre_long.bytes()).error(), Anomaly::gre_routing_truncated);
    Buffer many = {0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0};
    for (int i = 0; i < 40; ++i) put(many, {0x08, 0x00, 0x00, 0x00});
    Frame loop(many);
    EXPECT_EQ(gre::Packet::parse(loop.bytes()).error(), Anomaly::gre_routing_too_long);
}

TEST(Esp, SpiSequence) {
    Frame frame(PacketBuilder().esp(0xc0ffee01, 42, 16));
    auto esp = esp::Packet::parse(frame.bytes());
    ASSERT_TRUE(esp);
    EXPECT_EQ(esp->spi(), 0xc0ffee01u);
    EXPECT_EQ(esp->sequence(), 42u);
    EXPECT_EQ(esp->encrypted().size(), 16u);
    Frame zero(PacketBuilder().esp(0, 1));
    EXPECT_EQ(esp::Packet::parse(zero.bytes()).error(), Anomaly::esp_zero_spi);
    Frame short_frame(Buffer{1, 2, 3, 4, 5, 6, 7});
    EXPECT_EQ(esp::Packet::parse(short_frame.bytes()).error(), Anomaly::esp_truncated);
}

TEST(NatT, Demux) {
    Frame keepalive(Buffer{0xff});
    auto k = natt::demux(keepalive.bytes());
    ASSERT_TRUE(k);
    EXPECT_EQ(k->kind, natt::Kind::keepalive);
    Frame ike(PacketBuilder().non_esp_marker().ike(IkeBuilder::v2(34)));
    auto i = natt::demux(ike.bytes());
    ASSERT_TRUE(i);
    EXPECT_EQ(i->kind, natt::Kind::ike);
    EXPECT_EQ(i->payload.size(), 28u);
    Frame esp(PacketBuilder().esp(0x100, 1));
    auto e = natt::demux(esp.bytes());
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, natt::Kind::esp);
    EXPECT_EQ(e->payload.size(), esp.data.size());
    Frame empty(Buffer{});
    EXPECT_EQ(natt::demux(empty.bytes()).error(), Anomaly::natt_empty);
}

}  // namespace
}  // namespace portcullis::dissect::testing
