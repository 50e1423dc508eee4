// guard = "knock" and [service.knock]: what the loader accepts, refuses and warns about.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "helpers.hpp"

namespace portcullis::policy {
namespace {

using testing::count;
using testing::dump;
using testing::load;

LoadResult host(std::string_view text) { return load(std::string(testing::kHostHeader) + std::string(text)); }

// Lines 7-13 of every test: a knock-guarded service; the knock table's own keys follow on line 14.
constexpr std::string_view kKnockService = R"([[service]]
name = "admin"
ports = ["tcp/8022"]
allow_from = ["any"]
guard = "knock"

[service.knock]
)";

LoadResult knock(std::string_view table) { return host(std::string(kKnockService) + std::string(table)); }

TEST(PolicyKnock, GoodSequenceLoadsWithEveryValue) {
    auto result = knock("sequence = [\"tcp/17301\", \"udp/28113\", \"tcp/11923\"]\nstep_timeout = \"8s\"\n"
                        "open_for = \"2m\"\ntcp_flags = \"any\"\nlog_group = 9\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(count(result, Severity::warning), 0u) << dump(result);
    const auto& service = result.policy->services.at(0);
    EXPECT_EQ(service.guard, Guard::knock);
    ASSERT_TRUE(service.knock);
    const auto& k = *service.knock;
    ASSERT_EQ(k.sequence.size(), 3u);
    EXPECT_EQ(k.sequence[1].protocol, IpProtocol::udp);
    EXPECT_EQ(k.sequence[1].port, 28113);
    EXPECT_EQ(k.step_timeout_seconds, 8u);
    EXPECT_EQ(k.open_for_seconds, 120u);
    EXPECT_FALSE(k.tcp_syn_only);
    EXPECT_EQ(k.log_group, std::optional<std::uint16_t>{9});
}

TEST(PolicyKnock, DefaultsAreSynOnlyFiveSecondsThirtySeconds) {
    auto result = knock("sequence = [\"tcp/17301\", \"udp/28113\", \"tcp/11923\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    const auto& k = *result.policy->services.at(0).knock;
    EXPECT_TRUE(k.tcp_syn_only);
    EXPECT_EQ(k.step_timeout_seconds, 5u);
    EXPECT_EQ(k.open_for_seconds, 30u);
    EXPECT_FALSE(k.log_group);
}

TEST(PolicyKnock, RateLimitDefaultsValuesOffAndErrors) {
    const std::string sequence = "sequence = [\"tcp/17301\", \"udp/28113\", \"tcp/11923\"]\n";
    auto defaults = knock(sequence);
    ASSERT_TRUE(defaults.ok()) << dump(defaults);
    const auto& rate = defaults.policy->services.at(0).knock->rate;
    EXPECT_TRUE(rate.enabled);
    EXPECT_EQ(rate.per_source_per_second, 10u);
    EXPECT_EQ(rate.burst_packets, 20u);
    auto set = knock(sequence + "rate_limit = \"3/s\"\nrate_burst = 6\n");
    ASSERT_TRUE(set.ok()) << dump(set);
    EXPECT_EQ(set.policy->services.at(0).knock->rate.per_source_per_second, 3u);
    EXPECT_EQ(set.policy->services.at(0).knock->rate.burst_packets, 6u);
    auto off = knock(sequence + "rate_limit = \"off\"\n");
    ASSERT_TRUE(off.ok()) << dump(off);
    EXPECT_FALSE(off.policy->services.at(0).knock->rate.enabled);
    auto bad = knock(sequence + "rate_limit = \"fast\"\nrate_burst = 0\n");
    EXPECT_ERROR_AT(bad, "rate_limit is \"fast\"; expected packets per second", 15, 14);
    EXPECT_ERROR_AT(bad, "rate_burst is 0, out of range", 16, 14);
}

TEST(PolicyKnock, GuardKnockWithoutTableIsAnError) {
    auto result = host("[[service]]\nname = \"admin\"\nports = [\"tcp/8022\"]\nallow_from = [\"any\"]\nguard = \"knock\"\n");
    EXPECT_ERROR_AT(result, "has guard = \"knock\" but no knock table", 7, 1);
}

TEST(PolicyKnock, TableWithoutGuardKnockIsAnError) {
    auto result = host("[[service]]\nname = \"admin\"\nports = [\"tcp/8022\"]\nallow_from = [\"any\"]\nguard = \"grant\"\n"
                       "knock = { sequence = [\"tcp/17301\", \"udp/28113\", \"tcp/11923\"] }\n");
    EXPECT_ERROR_AT(result, "has a knock table but guard is not \"knock\"", 12, 9);
}

TEST(PolicyKnock, RepeatedStepIsAnError) {
    auto result = knock("sequence = [\"tcp/17301\", \"udp/28113\", \"tcp/17301\"]\n");
    EXPECT_ERROR_AT(result, "knock sequence repeats tcp/17301", 14, 39);
}

TEST(PolicyKnock, RangesAndPortlessProtocolsAreRefused) {
    auto result = knock("sequence = [\"tcp/17301-17302\", \"esp\", \"tcp/11923\"]\n");
    EXPECT_ERROR_AT(result, "\"tcp/17301-17302\" is not a single TCP or UDP port", 14, 13);
    EXPECT_ERROR_AT(result, "\"esp\" is not a single TCP or UDP port", 14, 32);
}

TEST(PolicyKnock, OneStepIsAnError) {
    auto result = knock("sequence = [\"tcp/17301\"]\n");
    EXPECT_ERROR_AT(result, "needs at least 2 steps", 14, 12);
}

TEST(PolicyKnock, UnknownKeyAndBadFlagsAreErrors) {
    auto result = knock("sequence = [\"tcp/17301\", \"udp/28113\", \"tcp/11923\"]\nstep_timout = \"5s\"\ntcp_flags = \"ack\"\n");
    EXPECT_ERROR_AT(result, "unknown key \"step_timout\" in [service.knock]", 15, 1);
    EXPECT_ERROR_AT(result, "tcp_flags is \"ack\"; expected \"syn\" or \"any\"", 16, 13);
}

TEST(PolicyKnock, ShortSequenceWarns) {
    auto result = knock("sequence = [\"tcp/17301\", \"udp/11923\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "knock sequence has only 2 steps", 13, 1);
}

TEST(PolicyKnock, MonotonicPortsWarn) {
    auto ascending = knock("sequence = [\"tcp/17301\", \"udp/18113\", \"tcp/21923\"]\n");
    ASSERT_TRUE(ascending.ok()) << dump(ascending);
    EXPECT_WARNING_AT(ascending, "knock ports are ascending", 13, 1);
    auto descending = knock("sequence = [\"tcp/31301\", \"udp/28113\", \"tcp/11923\"]\n");
    EXPECT_WARNING_AT(descending, "knock ports are descending", 13, 1);
}

TEST(PolicyKnock, CommonlyScannedPortWarns) {
    auto result = knock("sequence = [\"tcp/17301\", \"tcp/8080\", \"udp/161\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "knock step tcp/8080 is among the ports scanners try first", 14, 26);
    EXPECT_WARNING_AT(result, "knock step udp/161 is among the ports scanners try first", 14, 38);
}

TEST(PolicyKnock, StepOnAServicePortIsAnError) {
    auto result = host(std::string(kKnockService) + "sequence = [\"tcp/17301\", \"udp/51820\", \"tcp/11923\"]\n\n"
                       "[[service]]\nname = \"wg\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\n");
    EXPECT_FALSE(result.ok());
    bool found = false;
    for (const auto& d : result.diagnostics)
        found = found || (d.severity == Severity::error && d.message.find("knock step") != std::string::npos &&
                          d.message.find("udp/51820") != std::string::npos);
    EXPECT_TRUE(found) << dump(result);
}

TEST(PolicyKnock, StepOnAManagementPortIsAnError) {
    auto result = knock("sequence = [\"tcp/17301\", \"tcp/22\", \"tcp/11923\"]\n");
    EXPECT_FALSE(result.ok()) << dump(result);
}

TEST(PolicyKnock, KnockTableWithGuardSpaIsAnError) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\nguard = \"spa\"\n"
                       "[service.knock]\nsequence = [\"tcp/17301\", \"udp/28113\"]\n");
    EXPECT_ERROR_AT(result, "has a knock table but guard is not \"knock\"", 12, 1);
}

}  // namespace
}  // namespace portcullis::policy

namespace portcullis::policy {
namespace {

LoadResult ike(std::string_view extra) {
    return testing::load(std::string(testing::kHostHeader) +
                         "[[service]]\nname = \"vpn\"\npreset = \"ikev2\"\nallow_from = [\"any\"]\n" +
                         std::string(extra));
}

TEST(PolicyFlood, DefaultsAreFivePerSecondBurstTen) {
    auto result = ike("");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    const auto& limit = result.policy->services.at(0).ike_init;
    EXPECT_TRUE(limit.enabled);
    EXPECT_EQ(limit.per_source_per_second, 5u);
    EXPECT_EQ(limit.burst_packets, 10u);
    EXPECT_FALSE(limit.global_per_second);
}

TEST(PolicyFlood, ValuesAndOff) {
    auto result = ike("ike_init_limit = \"20/s\"\nike_init_burst = 3\nike_init_global_limit = \"900/second\"\n");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    const auto& limit = result.policy->services.at(0).ike_init;
    EXPECT_EQ(limit.per_source_per_second, 20u);
    EXPECT_EQ(limit.burst_packets, 3u);
    EXPECT_EQ(limit.global_per_second, std::optional<std::uint32_t>{900});
    auto off = ike("ike_init_limit = \"off\"\n");
    ASSERT_TRUE(off.ok()) << testing::dump(off);
    EXPECT_FALSE(off.policy->services.at(0).ike_init.enabled);
}

TEST(PolicyFlood, ControlLimitDefaultsValuesAndErrors) {
    auto defaults = ike("");
    ASSERT_TRUE(defaults.ok()) << testing::dump(defaults);
    EXPECT_TRUE(defaults.policy->services.at(0).control.enabled);
    EXPECT_EQ(defaults.policy->services.at(0).control.per_source_per_second, 5u);
    EXPECT_EQ(defaults.policy->services.at(0).control.burst_packets, 10u);
    auto set = ike("control_limit = \"2/s\"\ncontrol_burst = 4\n");
    ASSERT_TRUE(set.ok()) << testing::dump(set);
    EXPECT_EQ(set.policy->services.at(0).control.per_source_per_second, 2u);
    EXPECT_EQ(set.policy->services.at(0).control.burst_packets, 4u);
    auto off = ike("control_limit = \"off\"\n");
    ASSERT_TRUE(off.ok()) << testing::dump(off);
    EXPECT_FALSE(off.policy->services.at(0).control.enabled);
    auto bad = ike("control_limit = \"1/h\"\ncontrol_burst = 0\n");
    EXPECT_ERROR_AT(bad, "control_limit is \"1/h\"; expected packets per second", 11, 17);
    EXPECT_ERROR_AT(bad, "control_burst is 0, out of range", 12, 17);
}

TEST(PolicyFlood, BadRatesAreErrorsWithLocation) {
    auto result = ike("ike_init_limit = \"5/minute\"\nike_init_global_limit = \"fast\"\nike_init_burst = 0\n");
    EXPECT_ERROR_AT(result, "ike_init_limit is \"5/minute\"; expected packets per second", 11, 18);
    EXPECT_ERROR_AT(result, "ike_init_global_limit is \"fast\"", 12, 25);
    EXPECT_ERROR_AT(result, "ike_init_burst is 0, out of range", 13, 18);
    auto off = ike("ike_init_global_limit = \"off\"\n");
    ASSERT_TRUE(off.ok()) << testing::dump(off);
    EXPECT_FALSE(off.policy->services.at(0).ike_init.global_per_second);
}

TEST(PolicyFlood, GlobalLimitsHaveDefaultsAndCanBeSetOrTurnedOff) {
    auto plain = ike("");
    ASSERT_TRUE(plain.ok()) << testing::dump(plain);
    const auto& control = plain.policy->services.at(0).control;
    EXPECT_EQ(control.global_per_second, kDefaultControlGlobalPerSecond);
    EXPECT_EQ(control.global_burst_packets, kDefaultControlGlobalBurst);
    auto set = ike("control_global_limit = \"40/s\"\ncontrol_global_burst = 80\n");
    ASSERT_TRUE(set.ok()) << testing::dump(set);
    EXPECT_EQ(set.policy->services.at(0).control.global_per_second, 40u);
    EXPECT_EQ(set.policy->services.at(0).control.global_burst_packets, 80u);
    auto off = ike("control_global_limit = \"off\"\n");
    ASSERT_TRUE(off.ok()) << testing::dump(off);
    EXPECT_FALSE(off.policy->services.at(0).control.global_per_second);
    auto bad = ike("control_global_limit = \"lots\"\ncontrol_global_burst = 0\n");
    EXPECT_ERROR_AT(bad, "control_global_limit is \"lots\"; expected packets per second", 11, 24);
    EXPECT_ERROR_AT(bad, "control_global_burst is 0, out of range", 12, 24);
}

}  // namespace
}  // namespace portcullis::policy
