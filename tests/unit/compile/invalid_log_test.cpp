// Conntrack-invalid packets (FIN, NULL, XMAS, ACK probes without a flow) are logged for scan
// detection before the invalid drop, through the shared drop_log limiter, only when drops are logged.
#include <gtest/gtest.h>

#include <string>

#include "compile/compile.hpp"
#include "policy/load.hpp"

namespace {

std::string compiled(const std::string& firewall_extra) {
    auto loaded = portcullis::policy::load_string(
        "[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nlan = \"eth1\"\n" + firewall_extra +
            "\n[[service]]\nname = \"web\"\nports = [\"tcp/443\"]\nforward_to = \"192.0.2.10\"\nallow_from = [\"any\"]\n",
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
        "ct state invalid limit name \"drop_log\" log prefix \"portcullis drop=invalid \" group 4";
    EXPECT_EQ(occurrences(text, log_rule), 2u) << text;  // input_filter and forward_filter
    const auto log_at = text.find(log_rule);
    const auto drop_at = text.find("ct state invalid counter name \"invalid\" drop");
    ASSERT_NE(drop_at, std::string::npos) << text;
    EXPECT_LT(log_at, drop_at);
}

TEST(InvalidLog, NothingLoggedWithoutLogDrops) {
    const std::string text = compiled("");
    EXPECT_EQ(text.find("drop=invalid"), std::string::npos) << text;
    EXPECT_NE(text.find("ct state invalid counter name \"invalid\" drop"), std::string::npos) << text;
}

}  // namespace
