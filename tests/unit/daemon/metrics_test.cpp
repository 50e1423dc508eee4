#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "daemon/metrics.hpp"

namespace portcullis::daemon {
namespace {

// Every line of the exposition is a comment (# HELP/# TYPE) or `name{labels} value`.
bool valid_exposition(const std::string& text) {
    static const std::regex sample(
        R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)");
    static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!std::regex_match(line, sample) && !std::regex_match(line, comment)) {
            ADD_FAILURE() << "bad line: " << line;
            return false;
        }
    }
    return !text.empty() && text.back() == '\n';
}

TEST(MetricsText, RendersFamiliesOnceAndSamplesWithLabels) {
    MetricsText text;
    text.family("portcullis_bans", "gauge", "Active bans");
    text.sample("portcullis_bans", 3);
    text.family("portcullis_bans", "gauge", "Active bans");  // ignored: already declared
    text.family("portcullis_service_packets_total", "counter", "Packets");
    text.sample("portcullis_service_packets_total", {{"service", "vpn"}, {"verdict", "accepted"}}, 12345678901.0);
    text.sample("portcullis_latency", 0.25);
    const std::string& out = text.text();
    EXPECT_TRUE(valid_exposition(out)) << out;
    EXPECT_NE(out.find("portcullis_bans 3\n"), std::string::npos);
    EXPECT_NE(out.find(R"(portcullis_service_packets_total{service="vpn",verdict="accepted"} 12345678901)"),
              std::string::npos);
    EXPECT_NE(out.find("portcullis_latency 0.25\n"), std::string::npos);
    EXPECT_EQ(out.find("# TYPE portcullis_bans gauge"), out.rfind("# TYPE portcullis_bans gauge"));
}

TEST(MetricsText, LabelValuesAreEscaped) {
    MetricsText text;
    text.sample("x", {{"name", "a\"b\\c\nd"}}, 1);
    EXPECT_EQ(text.text(), "x{name=\"a\\\"b\\\\c\\nd\"} 1\n");
    EXPECT_TRUE(valid_exposition(text.text()));
}

TEST(ListenAddress, ParsesV4AndV6AndRejectsNonsense) {
    auto v4 = parse_listen_address("127.0.0.1:9795");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->host, "127.0.0.1");
    EXPECT_EQ(v4->port, 9795);
    EXPECT_FALSE(v4->ipv6);
    auto v6 = parse_listen_address("[::1]:9100");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->ipv6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_FALSE(parse_listen_address("localhost:9795"));
    EXPECT_FALSE(parse_listen_address("127.0.0.1"));
    EXPECT_FALSE(parse_listen_address("127.0.0.1:0"));
    EXPECT_FALSE(parse_listen_address("127.0.0.1:70000"));
    EXPECT_FALSE(parse_listen_address("[::1]9100"));
}

TEST(HttpResponse, ServesMetricsAndRefusesEverythingElse) {
    auto body = [] { return std::string("portcullis_up 1\n"); };
    std::string ok = http_response("GET /metrics HTTP/1.1\r\nHost: x", body);
    EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
    EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(ok.find("Content-Length: 16\r\n"), std::string::npos);
    EXPECT_EQ(ok.substr(ok.size() - 16), "portcullis_up 1\n");
    EXPECT_EQ(http_response("GET /metrics?x=1 HTTP/1.0", body).rfind("HTTP/1.0 200", 0), 0u);
    std::string head = http_response("HEAD /metrics HTTP/1.0", body);
    EXPECT_EQ(head.rfind("HTTP/1.0 200", 0), 0u);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
    EXPECT_EQ(http_response("GET / HTTP/1.0", body).rfind("HTTP/1.0 404", 0), 0u);
    EXPECT_EQ(http_response("POST /metrics HTTP/1.0", body).rfind("HTTP/1.0 405", 0), 0u);
    EXPECT_EQ(http_response("garbage", body).rfind("HTTP/1.0 400", 0), 0u);
    EXPECT_EQ(http_response("", body).rfind("HTTP/1.0 400", 0), 0u);
    EXPECT_EQ(http_response("GET /metrics SMTP", body).rfind("HTTP/1.0 400", 0), 0u);
}

}  // namespace
}  // namespace portcullis::daemon
