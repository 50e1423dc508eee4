#include "kernel/netlink_set_listing.hpp"

#include <gtest/gtest.h>

namespace portcullis::kernel {
namespace {

using Bytes = std::vector<std::uint8_t>;

TEST(NetlinkSetListing, SplitsConcatenatedTypesFirstFieldFirst) {
    EXPECT_EQ(split_concat_type((kTypeIpv4 << 6) | kTypeInetService),
              (std::vector<std::uint32_t>{kTypeIpv4, kTypeInetService}));
    EXPECT_EQ(split_concat_type(kTypeInetService), (std::vector<std::uint32_t>{kTypeInetService}));
    EXPECT_TRUE(split_concat_type(9).empty());                       // ether_addr: not printed here
    EXPECT_TRUE(split_concat_type((kTypeIpv4 << 6) | 4).empty());    // one unknown field spoils it
}

TEST(NetlinkSetListing, PrintsConcatenatedRangesAsTheCompilerWritesThem) {
    std::vector<std::uint32_t> fields{kTypeIpv4, kTypeInetService};
    // Each field of a concatenation is padded to 4 bytes; ports are big-endian.
    Bytes first{198, 51, 100, 0, 0x9c, 0x40, 0, 0};
    Bytes last{198, 51, 100, 255, 0x9c, 0xa4, 0, 0};
    EXPECT_EQ(print_value(fields, first, &last), "198.51.100.0/24 . 40000-40100");
    Bytes host_first{203, 0, 113, 10, 0, 22, 0, 0};
    EXPECT_EQ(print_value(fields, host_first, &host_first), "203.0.113.10 . 22");
    Bytes any_first{0, 0, 0, 0, 0x01, 0xf4, 0, 0};
    Bytes any_last{255, 255, 255, 255, 0x01, 0xf4, 0, 0};
    EXPECT_EQ(print_value(fields, any_first, &any_last), "0.0.0.0/0 . 500");
    // A range that is no prefix is printed as a range, never widened into one.
    Bytes odd_last{198, 51, 100, 6, 0x9c, 0x40, 0, 0};
    Bytes odd_first{198, 51, 100, 1, 0x9c, 0x40, 0, 0};
    EXPECT_EQ(print_value(fields, odd_first, &odd_last), "198.51.100.1-198.51.100.6 . 40000");
    // Wrong lengths are refused (the caller then lists with libnftables).
    EXPECT_FALSE(print_value(fields, Bytes{1, 2, 3}, nullptr));
}

TEST(NetlinkSetListing, PrintsSingleFieldsAndProtocolNames) {
    EXPECT_EQ(print_value({kTypeInetService}, Bytes{0x06, 0xbb}, nullptr), "1723");
    Bytes v6(16, 0);
    v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = 0xb8;
    Bytes v6_last = v6;
    for (std::size_t i = 4; i < 16; ++i) v6_last[i] = 0xff;
    EXPECT_EQ(print_value({kTypeIpv6}, v6, &v6_last), "2001:db8::/32");
    EXPECT_EQ(print_value({kTypeInetProto, kTypeInetService}, Bytes{6, 0, 0, 0, 0, 22, 0, 0}, nullptr), "tcp . 22");
    Bytes esp_last{255, 255, 255, 255, 50, 0, 0, 0};
    EXPECT_EQ(print_value({kTypeIpv4, kTypeInetProto}, Bytes{0, 0, 0, 0, 50, 0, 0, 0}, &esp_last), "0.0.0.0/0 . esp");
}

}  // namespace
}  // namespace portcullis::kernel
