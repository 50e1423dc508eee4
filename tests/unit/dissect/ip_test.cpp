#include <gtest/gtest.h>

#include "dissect/ip/ip.hpp"
#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

TEST(Ipv4, HeaderFields) {
    PacketBuilder::Ipv4Options options;
    options.id = 0xbeef;
    options.ttl = 17;
    Frame frame(PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", options).udp(500, 4500));
    auto ip = ip::Ipv4::parse(frame.bytes());
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->header_length(), 20);
    EXPECT_EQ(ip->total_length(), 28);
    EXPECT_EQ(ip->id(), 0xbeef);
    EXPECT_EQ(ip->ttl(), 17);
    EXPECT_EQ(ip->protocol(), ip::kProtoUdp);
    EXPECT_EQ(ip->source_address().to_string(), "192.0.2.1");
    EXPECT_EQ(ip->destination_address().to_string(), "198.51.100.2");
    EXPECT_FALSE(ip->is_fragment());
    EXPECT_FALSE(ip->fragment());
    EXPECT_EQ(ip->payload().size(), 8u);
    EXPECT_FALSE(ip->truncated());
}

TEST(Ipv4, OptionsAndEthernetPaddingIgnored) {
    PacketBuilder::Ipv4Options options;
    options.options = {1, 1, 0x94, 4, 0, 0, 1, 0};  // NOP NOP RouterAlert EOL...
    Buffer bytes = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", options).udp(1, 2).bytes();
    put(bytes, Buffer(10, 0));  // trailer beyond total length
    Frame frame(bytes);
    auto ip = ip::Ipv4::parse(frame.bytes());
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->header_length(), 28);
    EXPECT_EQ(ip->options().size(), 8u);
    EXPECT_EQ(ip->payload().size(), 8u);
}

TEST(Ipv4, FragmentsExposeOffsetFlagsAndId) {
    PacketBuilder::Ipv4Options first;
    first.id = 77;
    first.more_fragments = true;
    Frame a(PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", first).udp(4500, 4500));
    auto ip = ip::Ipv4::parse(a.bytes());
    ASSERT_TRUE(ip);
    ASSERT_TRUE(ip->fragment());
    EXPECT_EQ(ip->fragment()->id, 77u);
    EXPECT_TRUE(ip->fragment()->more_fragments);
    EXPECT_TRUE(ip->fragment()->is_first());

    PacketBuilder::Ipv4Options later;
    later.id = 77;
    later.fragment_offset_bytes = 1480;
    later.protocol = ip::kProtoUdp;
    Frame b(PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", later).raw(repeat(0xaa, 100)));
    auto second = ip::Ipv4::parse(b.bytes());
    ASSERT_TRUE(second);
    ASSERT_TRUE(second->fragment());
    EXPECT_EQ(second->fragment()->offset_bytes, 1480);
    EXPECT_FALSE(second->fragment()->more_fragments);
}

struct Ipv4Bad {
    const char* name;
    Buffer bytes;
    Anomaly expected;
};

TEST(Ipv4, MalformedHeaders) {
    Buffer good = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(1, 2).bytes();
    Buffer bad_ihl = good;
    bad_ihl[0] = 0x44;
    Buffer bad_total = good;
    set16(bad_total, 2, 12);
    Buffer long_total = good;
    set16(long_total, 2, 2000);
    PacketBuilder::Ipv4Options options;
    options.options = {7, 0, 0, 0};  // record route with length 0
    Buffer bad_options = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2", options).bytes();
    std::vector<Ipv4Bad> cases = {
        {"empty", {}, Anomaly::ipv4_truncated},
        {"short", Buffer(good.begin(), good.begin() + 19), Anomaly::ipv4_truncated},
        {"ihl", bad_ihl, Anomaly::ipv4_bad_header_length},
        {"total", bad_total, Anomaly::ipv4_bad_total_length},
        {"options", bad_options, Anomaly::ipv4_bad_options},
        {"version", Buffer{0x65, 0, 0, 0}, Anomaly::ip_unknown_version},
    };
    for (const auto& c : cases) {
        Frame frame(c.bytes);
        auto ip = ip::Ipv4::parse(frame.bytes());
        ASSERT_FALSE(ip) << c.name;
        EXPECT_EQ(ip.error(), c.expected) << c.name;
    }
    Frame frame(long_total);
    auto ip = ip::Ipv4::parse(frame.bytes());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->truncated());
    EXPECT_EQ(ip->payload().size(), 8u);
}

TEST(Ipv6, ExtensionChainWalkedToUpperLayer) {
    Frame frame(PacketBuilder()
                    .ipv6("2001:db8::1", "2001:db8::2", 9)
                    .ipv6_extension(0)
                    .ipv6_extension(43, 1)
                    .ipv6_extension(60, 2)
                    .udp(500, 500));
    auto ip = ip::Ipv6::parse(frame.bytes());
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->first_next_header(), 0);
    EXPECT_EQ(ip->protocol(), ip::kProtoUdp);
    EXPECT_EQ(ip->extension_count(), 3);
    EXPECT_EQ(ip->hop_limit(), 9);
    EXPECT_EQ(ip->payload().size(), 8u);
    EXPECT_EQ(ip->source_address().to_string(), "2001:db8::1");
    EXPECT_FALSE(ip->is_fragment());
}

TEST(Ipv6, FragmentHeader) {
    Frame first(PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_fragment(0xabcdef, 0, true).udp(4500, 4500));
    auto a = ip::Ipv6::parse(first.bytes());
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->fragment());
    EXPECT_EQ(a->fragment()->id, 0xabcdefu);
    EXPECT_TRUE(a->fragment()->more_fragments);
    EXPECT_TRUE(a->is_fragment());
    EXPECT_EQ(a->protocol(), ip::kProtoUdp);

    Frame later(PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_fragment(5, 1232, false)
                    .ipv6_extension(60).raw(repeat(1, 40)));
    auto b = ip::Ipv6::parse(later.bytes());
    ASSERT_TRUE(b);
    EXPECT_EQ(b->fragment()->offset_bytes, 1232);
    // Not walked into the continuation: the header after the fragment header is reported as-is.
    EXPECT_EQ(b->protocol(), 60);
    EXPECT_EQ(b->extension_count(), 1);
}

TEST(Ipv6, ChainLoopProtection) {
    PacketBuilder builder;
    builder.ipv6("2001:db8::1", "2001:db8::2");
    for (int i = 0; i < 17; ++i) builder.ipv6_extension(60);
    builder.udp(1, 2);
    Frame frame(builder);
    auto ip = ip::Ipv6::parse(frame.bytes());
    ASSERT_FALSE(ip);
    EXPECT_EQ(ip.error(), Anomaly::ipv6_extension_chain_too_long);
}

TEST(Ipv6, ExtensionLongerThanPacket) {
    Buffer bytes = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_extension(0).bytes();
    bytes[41] = 10;  // claims 88 bytes
    Frame frame(bytes);
    auto ip = ip::Ipv6::parse(frame.bytes());
    ASSERT_FALSE(ip);
    EXPECT_EQ(ip.error(), Anomaly::ipv6_extension_truncated);
}

TEST(Ipv6, PayloadLengthBeyondCapture) {
    Buffer bytes = PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").udp(1, 2).bytes();
    bytes.resize(bytes.size() - 3);
    Frame frame(bytes);
    auto ip = ip::Ipv6::parse(frame.bytes());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->truncated());
    EXPECT_EQ(ip->payload().size(), 5u);
    Frame short_frame(Buffer(bytes.begin(), bytes.begin() + 39));
    auto none = ip::Ipv6::parse(short_frame.bytes());
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error(), Anomaly::ipv6_truncated);
}

}  // namespace
}  // namespace portcullis::dissect::testing
