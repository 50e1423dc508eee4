// guard = "spa" in the simulator: the compiled SPA intake chain (per-source limit, NFLOG copy,
// drop) and the SPA-guarded services, evaluated on examples/host-ssh-spa.toml.
#include <gtest/gtest.h>

#include "compile/compile.hpp"
#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

PacketBuilder spa4(const std::string& source, std::uint16_t sport = 40000) {
    return PacketBuilder().ethernet().ipv4(source, "203.0.113.1").udp(sport, 62201).raw(Buffer(200, 0x41));
}
PacketBuilder spa6(const std::string& source) {
    return PacketBuilder().ethernet().ipv6(source, "2001:db8::1").udp(40000, 62201).raw(Buffer(200, 0x41));
}
PacketBuilder ssh4(const std::string& source, std::uint16_t sport) {
    return PacketBuilder().ethernet().ipv4(source, "203.0.113.1").tcp(sport, 22, kSyn);
}

TEST(SimulateSpa, SpaPacketsAreLoggedToTheirGroupAndDropped) {
    auto sim = make("examples/host-ssh-spa.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    for (const auto& packet : {spa4("198.51.100.7"), spa6("2001:db8:9::7")}) {
        Outcome o = feed(packet, 1000);
        EXPECT_EQ(o.verdict, Verdict::drop);
        EXPECT_EQ(o.decided_by.chain, compile::kChainSpaIntake);
        EXPECT_NE(o.decided_by.text.find("log prefix \"portcullis spa \" group 62201"), std::string::npos)
            << o.decided_by.text;
        ASSERT_EQ(o.logs.size(), 1u);
        EXPECT_NE(o.logs[0].find("62201"), std::string::npos) << o.logs[0];
    }
    EXPECT_EQ(sim->counter(compile::kCounterSpaReceived).packets, 2u);
}

TEST(SimulateSpa, PerSourceRateLimitBeforeTheLog) {
    auto sim = make("examples/host-ssh-spa.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    // rate_limit 5/s, burst 10: ten pass at once, the eleventh is over and never logged.
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(feed(spa4("198.51.100.7", static_cast<std::uint16_t>(40000 + i)), 1000).logs.size(), 1u) << i;
    Outcome over = feed(spa4("198.51.100.7", 40100), 1000);
    EXPECT_EQ(over.verdict, Verdict::drop);
    EXPECT_TRUE(over.logs.empty());
    EXPECT_EQ(over.decided_by.chain, compile::kChainSpaIntake);
    EXPECT_NE(over.decided_by.text.find("update @spa4_rate"), std::string::npos) << over.decided_by.text;
    EXPECT_EQ(sim->counter(compile::kCounterSpaRateLimited).packets, 1u);
    // Another source has its own budget.
    EXPECT_EQ(feed(spa4("198.51.100.8"), 1000).logs.size(), 1u);
}

TEST(SimulateSpa, GuardedServiceOpensOnlyThroughItsGrant) {
    auto sim = make("examples/host-ssh-spa.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    EXPECT_EQ(feed(ssh4("198.51.100.7", 40000), 1000).verdict, Verdict::drop);
    // What the daemon does for a verified packet: a grant for the packet's source.
    ASSERT_TRUE(sim->grant("ssh", addr("198.51.100.7"), 1001, 600));
    EXPECT_EQ(feed(ssh4("198.51.100.7", 40001), 1002).verdict, Verdict::accept);
    EXPECT_EQ(feed(ssh4("198.51.100.8", 40002), 1002).verdict, Verdict::drop);
    EXPECT_EQ(feed(ssh4("198.51.100.7", 40003), 1602).verdict, Verdict::drop);  // expired
}

}  // namespace
}  // namespace portcullis::simulate::testing
