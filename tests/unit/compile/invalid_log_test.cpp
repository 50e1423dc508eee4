// Conntrack-invalid packets (FIN, NULL, XMAS, ACK probes without a flow) are logged for scan
// detection before the invalid drop, only when drops are logged; with [detect] every drop log is
// metered per source before the shared drop_log limiter.
#include <gtest/gtest.h>

#include <string>

#include "compile/compile.hpp"
#include "policy/load.hpp"

namespace {

std::string compiled(const std::string& firewall_extra, const std::string& rest = "[detect]\n") {
    auto loaded = portcullis::policy::load_string(
        "[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nlan = \"eth1\"\n" + firewall_extra +
            "\n[[service]]\nname = \"web\"\nports = [\"tcp/443\"]\nforward_to = \"192.0.2.10\"\nallow_from = [\"any\"]\n" +
            rest,
        "t.toml");
    EXPECT_TRUE(loaded.ok());
    return loaded.ok() ? portcullis::compile::compile(*loaded.policy).table_text : std::string();
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(InvalidLog, LoggedBeforeTheInvalidDropInInputAndForward) {
    const std::string text = compiled("log_drops = 4");
    const std::string log_rule =
        "ct state invalid meta nfproto ipv4 update @droplog4 { ip saddr limit rate 2/second burst 5 packets } "
        "limit name \"drop_log\" log prefix \"portcullis drop=invalid \" group 4";
    EXPECT_EQ(occurrences(text, log_rule), 2u) << text;  // input_filter and forward_filter
    EXPECT_EQ(occurrences(text, "update @droplog6 { ip6 saddr limit rate 2/second burst 5 packets }"), 4u) << text;
    const auto log_at = text.find(log_rule);
    const auto drop_at = text.find("ct state invalid counter name \"invalid\" drop");
    ASSERT_NE(drop_at, std::string::npos) << text;
    EXPECT_LT(log_at, drop_at);
}

TEST(InvalidLog, EveryLoggedDropIsMeteredPerSourceBeforeTheSharedLimiter) {
    const std::string text = compiled("log_drops = 4");
    // deny_closed and deny_service, one rule per family each; plus the two invalid rules.
    EXPECT_EQ(occurrences(text, "update @droplog4 { ip saddr limit rate 2/second burst 5 packets } limit name \"drop_log\" log"), 4u) << text;
    EXPECT_NE(text.find("set droplog4 {"), std::string::npos) << text;
    EXPECT_EQ(text.find("\t\tlimit name \"drop_log\""), std::string::npos) << "an unmetered log rule:\n" << text;
}

TEST(InvalidLog, WithoutDetectionTheSharedLimiterAloneAsBefore) {
    const std::string text = compiled("log_drops = 4", "");
    EXPECT_EQ(text.find("droplog"), std::string::npos) << text;
    EXPECT_NE(text.find("\t\tlimit name \"drop_log\" log prefix \"portcullis drop=closed \" group 4"), std::string::npos) << text;
    EXPECT_NE(text.find("\t\tct state invalid limit name \"drop_log\" log prefix \"portcullis drop=invalid \" group 4"),
              std::string::npos) << text;
}

TEST(InvalidLog, NothingLoggedWithoutLogDrops) {
    const std::string text = compiled("", "[detect]\nenabled = false\n");
    EXPECT_EQ(text.find("drop=invalid"), std::string::npos) << text;
    EXPECT_EQ(text.find("droplog"), std::string::npos) << text;
    EXPECT_NE(text.find("ct state invalid counter name \"invalid\" drop"), std::string::npos) << text;
}

}  // namespace
