#include <gtest/gtest.h>

#include "daemon/control_protocol.hpp"

namespace portcullis::daemon {
namespace {

TEST(ParseRequest, KnownCommandsParse) {
    EXPECT_TRUE(std::holds_alternative<request::Status>(*parse_request(R"({"cmd":"status"})")));
    EXPECT_TRUE(std::holds_alternative<request::Reload>(*parse_request(R"({"cmd":"reload","id":7})")));
    auto grant = parse_request(R"({"cmd":"grants.add","source":"203.0.113.5","service":"vpn","seconds":60})");
    ASSERT_TRUE(grant) << grant.error().message;
    const auto& add = std::get<request::GrantAdd>(*grant);
    EXPECT_EQ(add.source.to_string(), "203.0.113.5");
    EXPECT_EQ(add.service, "vpn");
    EXPECT_EQ(add.seconds, 60u);
    auto ban = parse_request(R"({"cmd":"bans.add","prefix":"2001:db8::/48","reason":"scan"})");
    ASSERT_TRUE(ban);
    EXPECT_EQ(std::get<request::BanAdd>(*ban).prefix.to_string(), "2001:db8::/48");
    EXPECT_FALSE(std::get<request::BanAdd>(*ban).seconds.has_value());
    EXPECT_EQ(std::get<request::BanAdd>(*ban).reason, "scan");
    EXPECT_TRUE(std::holds_alternative<request::BanRemove>(*parse_request(R"({"cmd":"bans.remove","prefix":"192.0.2.1"})")));
}

struct BadCase {
    const char* line;
    const char* expected;  // a piece of the error message
};

class ParseRequestRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseRequestRejects, WithAClearMessage) {
    auto result = parse_request(GetParam().line);
    ASSERT_FALSE(result) << GetParam().line;
    EXPECT_NE(result.error().message.find(GetParam().expected), std::string::npos)
        << "got: " << result.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, ParseRequestRejects,
    ::testing::Values(BadCase{"", "not valid JSON"}, BadCase{"garbage", "not valid JSON"},
                      BadCase{"{\"cmd\":", "not valid JSON"}, BadCase{"[1,2]", "JSON object"},
                      BadCase{"\"status\"", "JSON object"}, BadCase{"{}", "missing field \"cmd\""},
                      BadCase{R"({"cmd":5})", "must be a string"},
                      BadCase{R"({"cmd":"explode"})", "unknown command \"explode\""},
                      BadCase{R"({"cmd":"status","extra":1})", "unknown field \"extra\""},
                      BadCase{R"({"cmd":"grants.add","service":"vpn"})", "missing field \"source\""},
                      BadCase{R"({"cmd":"grants.add","source":"nope","service":"vpn"})", "field \"source\""},
                      BadCase{R"({"cmd":"grants.add","source":"192.0.2.1","service":"Bad Name"})", "not a service name"},
                      BadCase{R"({"cmd":"grants.add","source":"192.0.2.1","service":"vpn","seconds":0})", "between 1 and"},
                      BadCase{R"({"cmd":"grants.add","source":"192.0.2.1","service":"vpn","seconds":-5})", "between 1 and"},
                      BadCase{R"({"cmd":"grants.add","source":"192.0.2.1","service":"vpn","seconds":"60"})", "positive integer"},
                      BadCase{R"({"cmd":"bans.add","prefix":"192.0.2.1/24"})", "host bits"},
                      BadCase{R"({"cmd":"bans.add","prefix":"192.0.2.0/33"})", "prefix length"},
                      BadCase{R"({"cmd":"bans.add","prefix":"192.0.2.1","reason":7})", "reason"},
                      BadCase{R"({"cmd":"bans.remove","prefix":"192.0.2.1","seconds":5})", "unknown field"}));

TEST(ParseRequest, OversizedLineIsRefusedBeforeParsing) {
    std::string line = R"({"cmd":"status","pad":")" + std::string(kMaxRequestBytes, 'x') + "\"}";
    auto result = parse_request(line);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("too large"), std::string::npos);
}

TEST(Replies, AreSingleLineJson) {
    auto error = nlohmann::json::parse(error_reply("bad \"thing\"\nhere"));
    EXPECT_EQ(error["ok"], false);
    EXPECT_EQ(error["error"], "bad \"thing\"\nhere");
    EXPECT_EQ(error_reply("x\ny").find('\n'), std::string::npos);
    auto ok = nlohmann::json::parse(ok_reply({{"generation", 3}}));
    EXPECT_EQ(ok["ok"], true);
    EXPECT_EQ(ok["generation"], 3);
}

TEST(LineFramer, JoinsLinesSplitAcrossReads) {
    LineFramer framer;
    EXPECT_TRUE(framer.feed("{\"cmd\":").empty());
    auto lines = framer.feed("\"status\"}\r\n{\"cmd\":\"reload\"}\npartial");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].text, "{\"cmd\":\"status\"}");
    EXPECT_EQ(lines[1].text, "{\"cmd\":\"reload\"}");
    EXPECT_EQ(framer.buffered(), 7u);
}

TEST(LineFramer, OversizedLineIsReportedOnceAndTheNextLineStillWorks) {
    LineFramer framer(16);
    auto first = framer.feed(std::string(10, 'a'));
    EXPECT_TRUE(first.empty());
    auto second = framer.feed(std::string(100, 'b'));  // crosses the limit without a newline
    ASSERT_EQ(second.size(), 1u);
    EXPECT_TRUE(second[0].oversized);
    EXPECT_EQ(framer.buffered(), 0u);  // nothing piles up while discarding
    auto third = framer.feed(std::string(1000, 'c') + "\nok\n");
    ASSERT_EQ(third.size(), 1u);
    EXPECT_FALSE(third[0].oversized);
    EXPECT_EQ(third[0].text, "ok");
}

TEST(LineFramer, OversizedCompleteLineInOneRead) {
    LineFramer framer(4);
    auto lines = framer.feed("0123456789\nabc\n");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(lines[0].oversized);
    EXPECT_EQ(lines[1].text, "abc");
}

}  // namespace
}  // namespace portcullis::daemon
