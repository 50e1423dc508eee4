#include <gtest/gtest.h>

#include "common/bytes.hpp"
#include "common/net.hpp"

namespace portcullis {
namespace {

TEST(Prefix, ParsesIpv4AndIpv6) {
    auto v4 = Prefix::parse("192.0.2.0/24");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->to_string(), "192.0.2.0/24");
    auto v6 = Prefix::parse("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->address.family, Family::ipv6);
    EXPECT_EQ(v6->to_string(), "2001:db8::/32");
    auto host = Prefix::parse("203.0.113.7");
    ASSERT_TRUE(host);
    EXPECT_TRUE(host->is_host());
}

TEST(Prefix, RejectsHostBitsAndBadLengths) {
    auto host_bits = Prefix::parse("192.0.2.1/24");
    ASSERT_FALSE(host_bits);
    EXPECT_NE(host_bits.error().message.find("192.0.2.0/24"), std::string::npos);
    EXPECT_FALSE(Prefix::parse("192.0.2.0/33"));
    EXPECT_FALSE(Prefix::parse("192.0.2.0/"));
    EXPECT_FALSE(Prefix::parse("2001:db8::/129"));
    EXPECT_FALSE(Prefix::parse("300.0.0.1"));
    EXPECT_FALSE(Prefix::parse("any"));
}

TEST(Prefix, Contains) {
    auto net = *Prefix::parse("198.51.100.0/24");
    EXPECT_TRUE(net.contains(*Address::parse("198.51.100.200")));
    EXPECT_FALSE(net.contains(*Address::parse("198.51.101.1")));
    EXPECT_FALSE(net.contains(*Address::parse("2001:db8::1")));
}

TEST(Bytes, BigEndianReadersAreBoundsChecked) {
    const unsigned char raw[] = {0x12, 0x34, 0x56, 0x78, 0x9a};
    auto data = as_bytes(raw, sizeof raw);
    EXPECT_EQ(read_be16(data, 0), 0x1234);
    EXPECT_EQ(read_be32(data, 1), 0x3456789au);
    EXPECT_FALSE(read_be32(data, 2));
    EXPECT_FALSE(read_be16(data, 4));
    EXPECT_FALSE(read_u8(data, 5));
    EXPECT_FALSE(slice(data, 3, 3));
    EXPECT_EQ(slice(data, 3, 2)->size(), 2u);
}

}  // namespace
}  // namespace portcullis
