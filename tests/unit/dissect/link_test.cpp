#include <gtest/gtest.h>

#include "dissect/link/link.hpp"
#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

Buffer ipv4_udp() { return PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(500, 500).bytes(); }

TEST(Link, EthernetIpv4) {
    Frame frame(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(1, 2));
    auto parsed = link::parse(kEthernet, frame.bytes());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->ethertype, link::kEtherTypeIpv4);
    EXPECT_EQ(parsed->payload.size(), 28u);
    EXPECT_FALSE(parsed->vlan_id);
}

TEST(Link, EthernetVlanIpv6) {
    Frame frame(PacketBuilder().ethernet(42).ipv6("2001:db8::1", "2001:db8::2").udp(1, 2));
    auto parsed = link::parse_ethernet(frame.bytes());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->ethertype, link::kEtherTypeIpv6);
    EXPECT_EQ(parsed->vlan_id, 42);
    EXPECT_EQ(parsed->vlan_depth, 1);
    EXPECT_EQ(parsed->payload.size(), 48u);
}

TEST(Link, QinQStackTooDeepIsAnAnomaly) {
    Buffer frame = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    for (int i = 0; i < 5; ++i) put(frame, {0x81, 0x00, 0x00, 0x05});
    put(frame, {0x08, 0x00});
    put(frame, ipv4_udp());
    Frame f(frame);
    auto parsed = link::parse_ethernet(f.bytes());
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), Anomaly::vlan_too_deep);
}

TEST(Link, LinuxCookedV1AndV2) {
    Frame v1(PacketBuilder().sll().ipv4("192.0.2.1", "198.51.100.2").udp(1, 2));
    auto a = link::parse(113, v1.bytes());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->ethertype, link::kEtherTypeIpv4);
    EXPECT_EQ(a->sll_packet_type, 0);
    EXPECT_EQ(a->payload.size(), 28u);
    Frame v2(PacketBuilder().sll2().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2));
    auto b = link::parse(276, v2.bytes());
    ASSERT_TRUE(b);
    EXPECT_EQ(b->ethertype, link::kEtherTypeIpv6);
    EXPECT_EQ(b->sll_packet_type, 4);
    EXPECT_EQ(b->payload.size(), 48u);
}

TEST(Link, RawIpPicksFamilyFromVersionNibble) {
    Frame v4(ipv4_udp());
    auto a = link::parse(kRaw, v4.bytes());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->ethertype, link::kEtherTypeIpv4);
    for (std::uint32_t type : {228u, 229u, 12u, 14u}) EXPECT_TRUE(link::parse(type, v4.bytes()));
    Frame junk(Buffer{0x50, 0, 0});
    auto b = link::parse(kRaw, junk.bytes());
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error(), Anomaly::ip_unknown_version);
}

TEST(Link, NullLoopback) {
    Frame frame(PacketBuilder().null_loopback().ipv4("192.0.2.1", "198.51.100.2").udp(1, 2));
    auto parsed = link::parse(0, frame.bytes());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->ethertype, link::kEtherTypeIpv4);
    Buffer v6 = {30, 0, 0, 0};  // AF_INET6 on macOS
    put(v6, PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).bytes());
    Frame f6(v6);
    auto parsed6 = link::parse(0, f6.bytes());
    ASSERT_TRUE(parsed6);
    EXPECT_EQ(parsed6->ethertype, link::kEtherTypeIpv6);
}

TEST(Link, NflogFindsPayloadTlvAfterOthers) {
    Frame frame(PacketBuilder().nflog(7).ipv4("192.0.2.1", "198.51.100.2").udp(1, 2));
    auto parsed = link::parse(239, frame.bytes());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->nflog_group, 7);
    EXPECT_EQ(parsed->ethertype, link::kEtherTypeIpv4);
    EXPECT_EQ(parsed->payload.size(), 28u);
}

TEST(Link, NflogWithoutPayloadTlv) {
    Frame frame(Buffer{2, 0, 0, 5, 8, 0, 10, 0, 'p', 'c', 0, 0});
    auto parsed = link::parse_nflog(frame.bytes());
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), Anomaly::nflog_no_payload);
}

TEST(Link, UnknownLinkType) {
    Frame frame(ipv4_udp());
    auto parsed = link::parse(147, frame.bytes());
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error(), Anomaly::link_unsupported_type);
}

TEST(Link, ShortEthernet) {
    for (std::size_t n = 0; n < 14; ++n) {
        Frame frame(Buffer(n, 0));
        auto parsed = link::parse_ethernet(frame.bytes());
        ASSERT_FALSE(parsed) << n;
        EXPECT_EQ(parsed.error(), Anomaly::link_truncated);
    }
}

}  // namespace
}  // namespace portcullis::dissect::testing
