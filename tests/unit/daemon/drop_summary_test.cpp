#include <gtest/gtest.h>

#include <vector>

#include "daemon/drop_summary.hpp"

namespace portcullis::daemon {
namespace {

std::vector<std::byte> ipv4_from(std::uint8_t last) {
    std::vector<std::byte> packet(20, std::byte{0});
    packet[0] = std::byte{0x45};
    packet[12] = std::byte{198};
    packet[13] = std::byte{51};
    packet[14] = std::byte{100};
    packet[15] = std::byte{last};
    return packet;
}

TEST(PacketSource, ReadsV4AndV6AndRefusesShortOrOtherPackets) {
    auto v4 = ipv4_from(7);
    EXPECT_EQ(packet_source(v4)->to_string(), "198.51.100.7");
    std::vector<std::byte> v6(40, std::byte{0});
    v6[0] = std::byte{0x60};
    v6[8] = std::byte{0x20};
    v6[9] = std::byte{0x01};
    v6[10] = std::byte{0x0d};
    v6[11] = std::byte{0xb8};
    v6[23] = std::byte{1};
    EXPECT_EQ(packet_source(v6)->to_string(), "2001:db8::1");
    EXPECT_FALSE(packet_source(std::span<const std::byte>(v4).first(15)));
    EXPECT_FALSE(packet_source(std::span<const std::byte>(v6).first(23)));
    std::vector<std::byte> other(40, std::byte{0x11});
    EXPECT_FALSE(packet_source(other));
    EXPECT_FALSE(packet_source({}));
}

intake::NflogPacket logged(std::string_view prefix, Bytes payload) {
    intake::NflogPacket packet;
    packet.prefix = prefix;
    packet.payload = payload;
    return packet;
}

TEST(DropSummary, SummarisesAndResetsPerInterval) {
    DropSummary summary;
    EXPECT_FALSE(summary.take(10));
    auto a = ipv4_from(1), b = ipv4_from(2);
    for (int i = 0; i < 5; ++i) summary.on_packet(logged("portcullis drop=closed ", a));
    summary.on_packet(logged("portcullis drop=service ", b));
    summary.on_packet(logged("", {}));  // unreadable: counted, no source
    auto taken = summary.take(10);
    ASSERT_TRUE(taken);
    EXPECT_EQ((*taken)["packets"], 7);
    EXPECT_EQ((*taken)["distinct_sources"], 2);
    EXPECT_EQ((*taken)["top_sources"][0]["source"], "198.51.100.1");
    EXPECT_EQ((*taken)["top_sources"][0]["packets"], 5);
    EXPECT_EQ((*taken)["by_prefix"]["portcullis drop=closed "], 5);
    EXPECT_FALSE(summary.take(10));  // reset
    EXPECT_EQ(summary.total_packets(), 7u);
}

TEST(DropSummary, TrackedSourcesAreBounded) {
    DropSummary summary;
    std::vector<std::byte> packet = ipv4_from(0);
    for (std::uint32_t i = 0; i < DropSummary::kMaxTrackedSources + 100; ++i) {
        packet[13] = std::byte(static_cast<std::uint8_t>(i >> 8));
        packet[14] = std::byte(static_cast<std::uint8_t>(i >> 16));
        packet[15] = std::byte(static_cast<std::uint8_t>(i));
        summary.on_packet(logged("", packet));
    }
    auto taken = summary.take(1);
    ASSERT_TRUE(taken);
    EXPECT_EQ((*taken)["distinct_sources"], DropSummary::kMaxTrackedSources);
    EXPECT_EQ((*taken)["untracked_packets"], 100);
}

}  // namespace
}  // namespace portcullis::daemon
