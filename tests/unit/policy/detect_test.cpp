// [detect]: scan detection settings, defaults and one test per diagnostic.
#include <gtest/gtest.h>

#include "helpers.hpp"

namespace portcullis::policy {
namespace {

using testing::dump;
using testing::load;

constexpr const char* kHead = R"([firewall]
mode = "host"
wan = "eth0"
log_drops = 5

)";

LoadResult with_detect(const std::string& detect) { return load(std::string(kHead) + detect); }

TEST(PolicyDetect, AbsentSectionLeavesDetectionOff) {
    auto result = load(kHead);
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_FALSE(result.policy->detect.enabled);
}

TEST(PolicyDetect, EmptySectionEnablesThePaperDefaults) {
    auto result = with_detect("[detect]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    const Detect& d = result.policy->detect;
    EXPECT_TRUE(d.enabled);
    EXPECT_DOUBLE_EQ(d.theta0, 0.8);
    EXPECT_DOUBLE_EQ(d.theta1, 0.2);
    EXPECT_DOUBLE_EQ(d.detection_probability, 0.99);
    EXPECT_DOUBLE_EQ(d.false_positive_probability, 0.01);
    EXPECT_EQ(d.ban_base_seconds, 3600u);
    EXPECT_EQ(d.ban_cap_seconds, 7u * 24 * 3600);
    EXPECT_DOUBLE_EQ(d.jitter, 0.1);
    EXPECT_EQ(d.ipv6_prefix, 128);
    EXPECT_EQ(d.where.line, 6u);
}

TEST(PolicyDetect, EveryKeyIsRead) {
    auto result = with_detect(R"([detect]
enabled = true
theta0 = 0.9
theta1 = 0.3
p_d = 0.95
p_f = 0.02
window_ports = 8
window = "2m"
ban_base = "10s"
ban_cap = "1h"
jitter = 0
ipv6_prefix = 64
max_sources = 1000
)");
    ASSERT_TRUE(result.ok()) << dump(result);
    const Detect& d = result.policy->detect;
    EXPECT_DOUBLE_EQ(d.theta0, 0.9);
    EXPECT_DOUBLE_EQ(d.theta1, 0.3);
    EXPECT_DOUBLE_EQ(d.detection_probability, 0.95);
    EXPECT_DOUBLE_EQ(d.false_positive_probability, 0.02);
    EXPECT_EQ(d.window_ports, 8);
    EXPECT_EQ(d.window_seconds, 120u);
    EXPECT_EQ(d.ban_base_seconds, 10u);
    EXPECT_EQ(d.ban_cap_seconds, 3600u);
    EXPECT_DOUBLE_EQ(d.jitter, 0.0);
    EXPECT_EQ(d.ipv6_prefix, 64);
    EXPECT_EQ(d.max_sources, 1000u);
}

TEST(PolicyDetect, DisabledSectionNeedsNoLogging) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n\n[detect]\nenabled = false\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_FALSE(result.policy->detect.enabled);
}

TEST(PolicyDetect, EnabledWithoutLoggedDropsIsAnError) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n\n[detect]\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "set log_drops", 5, 1);
}

TEST(PolicyDetect, MisspeltKeyGetsDidYouMean) {
    auto result = with_detect("[detect]\nban_bse = \"1h\"\n");
    EXPECT_FALSE(result.ok());
    auto diagnostic = testing::find(result, Severity::error, "unknown key \"ban_bse\" in [detect]");
    EXPECT_NE(diagnostic.message.find("did you mean \"ban_base\""), std::string::npos) << diagnostic.message;
    EXPECT_EQ(diagnostic.where.line, 7u);
}

TEST(PolicyDetect, MisspeltSectionGetsDidYouMean) {
    auto result = load(std::string(kHead) + "[detec]\n");
    EXPECT_FALSE(result.ok());
    auto diagnostic = testing::find(result, Severity::error, "unknown key \"detec\"");
    EXPECT_NE(diagnostic.message.find("did you mean [detect]"), std::string::npos) << diagnostic.message;
}

TEST(PolicyDetect, DetectKeyInTheWrongSectionSaysWhereItBelongs) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlog_drops = 5\nipv6_prefix = 64\n");
    EXPECT_FALSE(result.ok());
    auto diagnostic = testing::find(result, Severity::error, "unknown key \"ipv6_prefix\" in [firewall]");
    EXPECT_NE(diagnostic.message.find("belongs in [detect]"), std::string::npos) << diagnostic.message;
}

TEST(PolicyDetect, ProbabilityOutOfRange) {
    auto result = with_detect("[detect]\ntheta0 = 1.5\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "theta0 is number 1.5, out of range", 7, 10);
}

TEST(PolicyDetect, ProbabilityOfTheWrongType) {
    auto result = with_detect("[detect]\np_d = \"high\"\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "p_d is string \"high\"; expected a number above 0", 7, 7);
}

TEST(PolicyDetect, Theta1MustBeBelowTheta0) {
    auto result = with_detect("[detect]\ntheta0 = 0.3\ntheta1 = 0.5\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "theta1 must be below theta0", 8, 10);
}

TEST(PolicyDetect, FalsePositiveRateMustBeBelowDetectionRate) {
    auto result = with_detect("[detect]\np_f = 0.995\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "p_f must be below p_d", 7, 7);
}

TEST(PolicyDetect, WindowPortsOutOfRange) {
    auto result = with_detect("[detect]\nwindow_ports = 1\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "window_ports is 1, out of range; expected 2-65535", 7, 16);
}

TEST(PolicyDetect, BadDuration) {
    auto result = with_detect("[detect]\nban_base = \"soon\"\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "ban_base:", 7, 12);
}

TEST(PolicyDetect, CapShorterThanBase) {
    auto result = with_detect("[detect]\nban_base = \"2h\"\nban_cap = \"1h\"\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "ban_cap (3600s) is shorter than ban_base (7200s)", 8, 11);
}

TEST(PolicyDetect, JitterAboveHalf) {
    auto result = with_detect("[detect]\njitter = 0.7\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "jitter is number 0.7, out of range; expected a number from 0 to 0.5", 7, 10);
}

TEST(PolicyDetect, Ipv6PrefixOtherThan64Or128) {
    auto result = with_detect("[detect]\nipv6_prefix = 96\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "ipv6_prefix is 96; expected 64 or 128", 7, 15);
}

TEST(PolicyDetect, EnabledMustBeABoolean) {
    auto result = with_detect("[detect]\nenabled = \"yes\"\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "enabled is string \"yes\"; expected true or false", 7, 11);
}

TEST(PolicyDetect, SectionMustBeATable) {
    auto result = load("detect = true\n" + std::string(kHead));
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "\"detect\" is boolean true; expected a table", 1, 10);
}

}  // namespace
}  // namespace portcullis::policy
