// simulate models the per-source flood limits (issue 5): PPTP SYNs to 1723 and L2TP SCCRQs to
// udp/1701 above `control_limit` (default 5/s, burst 10), and knock packets above the knock's
// `rate_limit` (default 10/s, burst 20), end in flood_drop.
#include <gtest/gtest.h>

#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

using dissect::testing::L2tpBuilder;

const std::string kServer = "203.0.113.1";

PacketBuilder sccrq(const std::string& source) {
    return PacketBuilder().ethernet().ipv4(source, kServer).udp(1701, 1701).raw(
        L2tpBuilder::control(0).message_type(1).bytes());
}

TEST(SimulateControlFlood, SccrqOverTheBurstIsDroppedPerSource) {
    auto sim = make("tests/unit/simulate/policies/host-l2tp-raw.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(feed(sccrq("198.51.100.7"), 100).verdict, Verdict::accept) << i;
    auto over = feed(sccrq("198.51.100.7"), 100);
    EXPECT_EQ(over.verdict, Verdict::drop);
    EXPECT_EQ(over.decided_by.chain, "flood_drop") << over.decided_by.text;
    EXPECT_EQ(feed(sccrq("198.51.100.8"), 100).verdict, Verdict::accept);  // its own budget
    // Other control messages (a tunnel ID is assigned) are not new tunnels: never limited here.
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(feed(PacketBuilder().ethernet().ipv4("198.51.100.7", kServer).udp(1701, 1701).raw(
                           L2tpBuilder::control(7).message_type(3).bytes()),
                       100)
                      .verdict,
                  Verdict::accept);
    EXPECT_EQ(feed(sccrq("198.51.100.7"), 100.25).verdict, Verdict::accept);  // 5/s: a token back
    EXPECT_EQ(sim->counter("flood_lns_l2tp_sccrq").packets, 1u);
}

TEST(SimulateControlFlood, PptpSynsOverTheBurstAreDropped) {
    auto sim = make("tests/unit/simulate/policies/host-pptp.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    auto syn = [](int port) {
        return PacketBuilder().ethernet().ipv4("198.51.100.7", kServer).tcp(static_cast<std::uint16_t>(port), 1723, kSyn);
    };
    for (int i = 0; i < 10; ++i) EXPECT_EQ(feed(syn(40000 + i), 100).verdict, Verdict::accept) << i;
    auto over = feed(syn(40010), 100);
    EXPECT_EQ(over.verdict, Verdict::drop);
    EXPECT_EQ(over.decided_by.chain, "flood_drop") << over.decided_by.text;
    EXPECT_EQ(sim->counter("flood_pptp_pptp_new").packets, 1u);
}

TEST(SimulateControlFlood, KnocksOverTheLimitNeitherAdvanceNorOpen) {
    auto sim = make("tests/unit/simulate/policies/host-knock.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    auto knock = [](const std::string& source, std::uint16_t port) {
        return PacketBuilder().ethernet().ipv4(source, kServer).udp(40000, port);
    };
    // A flooding source spends its burst of 20 on wrong ports; its 21st knock is over the limit.
    for (int i = 0; i < 20; ++i) EXPECT_EQ(feed(knock("198.51.100.9", 17301), 100).verdict, Verdict::drop);
    auto over = feed(knock("198.51.100.9", 17301), 100);
    EXPECT_EQ(over.decided_by.chain, "flood_drop") << over.decided_by.text;
    EXPECT_EQ(sim->counter("flood_ssh_knock").packets, 1u);
    // Over its limit, the rest of the right sequence does not advance it: tcp/22 stays shut.
    EXPECT_EQ(feed(knock("198.51.100.9", 28113), 100).decided_by.chain, "flood_drop");
    EXPECT_EQ(feed(knock("198.51.100.9", 11923), 100).decided_by.chain, "flood_drop");
    EXPECT_EQ(feed(PacketBuilder().ethernet().ipv4("198.51.100.9", kServer).tcp(40002, 22, kSyn), 100.1).verdict,
              Verdict::drop);
    EXPECT_EQ(sim->counter("flood_ssh_knock").packets, 3u);
    // A right sequence from another source still opens tcp/22 for it.
    for (std::uint16_t port : {17301, 28113, 11923}) feed(knock("198.51.100.7", port), 100);
    EXPECT_EQ(feed(PacketBuilder().ethernet().ipv4("198.51.100.7", kServer).tcp(40001, 22, kSyn), 100.1).verdict,
              Verdict::accept);
    EXPECT_EQ(sim->counter("flood_ssh_knock").packets, 3u);
}

}  // namespace
}  // namespace portcullis::simulate::testing
