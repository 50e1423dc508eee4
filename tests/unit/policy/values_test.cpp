// The small value languages: ports, durations, names, interfaces, forward targets, CIDRs, and the
// "did you mean" matcher.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/presets.hpp"
#include "policy/suggest.hpp"
#include "policy/values.hpp"
#include "helpers.hpp"

namespace portcullis::policy {
namespace {

using ::testing::HasSubstr;

// ---- ports ---------------------------------------------------------------------------------------

TEST(PolicyPorts, SinglePortRangeAndPortless) {
    auto ssh = parse_port_spec("tcp/22");
    ASSERT_TRUE(ssh);
    EXPECT_EQ(ssh->protocol, IpProtocol::tcp);
    EXPECT_EQ(ssh->ports, (PortRange{22, 22}));

    auto range = parse_port_spec("udp/40000-40100");
    ASSERT_TRUE(range);
    EXPECT_EQ(range->protocol, IpProtocol::udp);
    EXPECT_EQ(range->ports, (PortRange{40000, 40100}));

    for (auto [text, protocol] : {std::pair{"esp", IpProtocol::esp}, std::pair{"gre", IpProtocol::gre},
                                  std::pair{"ah", IpProtocol::ah}}) {
        auto spec = parse_port_spec(text);
        ASSERT_TRUE(spec) << text;
        EXPECT_EQ(spec->protocol, protocol);
        EXPECT_FALSE(spec->ports);
    }
}

TEST(PolicyPorts, Boundaries) {
    EXPECT_EQ(parse_port_spec("tcp/1")->ports, (PortRange{1, 1}));
    EXPECT_EQ(parse_port_spec("udp/65535")->ports, (PortRange{65535, 65535}));
    EXPECT_EQ(parse_port_spec("tcp/1-65535")->ports, (PortRange{1, 65535}));
    EXPECT_EQ(parse_port_spec("tcp/80-80")->ports, (PortRange{80, 80}));
    EXPECT_FALSE(parse_port_spec("tcp/0"));
    EXPECT_FALSE(parse_port_spec("tcp/65536"));
    EXPECT_FALSE(parse_port_spec("tcp/0-10"));
    EXPECT_FALSE(parse_port_spec("tcp/10-65536"));
    EXPECT_FALSE(parse_port_spec("tcp/99999999999999999999999"));
}

TEST(PolicyPorts, ProtocolIsCaseInsensitive) {
    auto spec = parse_port_spec("TCP/443");
    ASSERT_TRUE(spec);
    EXPECT_EQ(format_port_spec(*spec), "tcp/443");
    EXPECT_TRUE(parse_port_spec("ESP"));
}

TEST(PolicyPorts, Malformed) {
    for (const char* text : {"", "tcp", "tcp/", "tcp/-5", "tcp/5-", "tcp/ 22", "tcp/22 ", "tcp/+22", "tcp/2-3-4",
                             "tcp/1.5", "sctp/22", "icmp", "esp/1", "gre/47", "/22", "22"}) {
        EXPECT_FALSE(parse_port_spec(text)) << text;
    }
    EXPECT_THAT(parse_port_spec("tcp/9-8").error().message, HasSubstr("did you mean tcp/8-9?"));
    EXPECT_THAT(parse_port_spec("gre/47").error().message, HasSubstr("write just \"gre\""));
}

TEST(PolicyPorts, FormatRoundTrips) {
    for (const char* text : {"tcp/22", "udp/40000-40100", "esp", "gre", "ah", "udp/65535"}) {
        auto spec = parse_port_spec(text);
        ASSERT_TRUE(spec) << text;
        EXPECT_EQ(format_port_spec(*spec), text);
    }
}

TEST(PolicyPorts, Overlap) {
    auto p = [](const char* text) { return *parse_port_spec(text); };
    EXPECT_TRUE(ports_overlap(p("tcp/22"), p("tcp/22")));
    EXPECT_TRUE(ports_overlap(p("tcp/1-100"), p("tcp/100-200")));
    EXPECT_TRUE(ports_overlap(p("tcp/50"), p("tcp/1-100")));
    EXPECT_FALSE(ports_overlap(p("tcp/1-99"), p("tcp/100-200")));
    EXPECT_FALSE(ports_overlap(p("tcp/22"), p("udp/22")));
    EXPECT_TRUE(ports_overlap(p("esp"), p("esp")));
    EXPECT_FALSE(ports_overlap(p("esp"), p("gre")));
    EXPECT_FALSE(ports_overlap(p("esp"), p("udp/500")));
}

// ---- durations -----------------------------------------------------------------------------------

TEST(PolicyDurations, Units) {
    EXPECT_EQ(parse_duration("30s"), 30u);
    EXPECT_EQ(parse_duration("5m"), 300u);
    EXPECT_EQ(parse_duration("1h"), 3600u);
    EXPECT_EQ(parse_duration("7d"), 604800u);
    EXPECT_EQ(parse_duration("1h30m"), 5400u);
    EXPECT_EQ(parse_duration("1d2h3m4s"), 93784u);
    EXPECT_EQ(parse_duration("90"), 90u);
    EXPECT_EQ(parse_duration("365d"), kMaxDurationSeconds);
}

TEST(PolicyDurations, Rejected) {
    for (const char* text : {"", "0", "0s", "s", "5", "5M", "5w", "1.5h", "-5m", "5 m", "h1", "1h30", "366d",
                             "31536001", "99999999999999999999999s", "8760h1s"}) {
        if (std::string_view(text) == "5") continue;  // a bare number is seconds, accepted
        EXPECT_FALSE(parse_duration(text)) << text;
    }
    EXPECT_THAT(parse_duration("5w").error().message, HasSubstr("unknown unit 'w'"));
    EXPECT_THAT(parse_duration("0s").error().message, HasSubstr("not positive"));
}

TEST(PolicyDurations, IntegerSeconds) {
    EXPECT_EQ(check_duration_seconds(1), 1u);
    EXPECT_EQ(check_duration_seconds(kMaxDurationSeconds), kMaxDurationSeconds);
    EXPECT_FALSE(check_duration_seconds(0));
    EXPECT_FALSE(check_duration_seconds(-1));
    EXPECT_FALSE(check_duration_seconds(std::int64_t{kMaxDurationSeconds} + 1));
}

TEST(PolicyDurations, InPolicy) {
    auto result = testing::load(std::string(testing::kHostHeader) +
                                "[runtime]\ngrant_timeout = \"7d\"\nban_timeout = 45\n");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    EXPECT_EQ(result.policy->runtime.default_grant_seconds, 604800u);
    EXPECT_EQ(result.policy->runtime.default_ban_seconds, 45u);
}

// ---- names ---------------------------------------------------------------------------------------

TEST(PolicyNames, ServiceNames) {
    for (const char* good : {"a", "vpn", "ike-v2", "open_vpn", "0day"})
        EXPECT_TRUE(check_service_name(good)) << good;
    EXPECT_TRUE(check_service_name(std::string(32, 'x')));
    for (const char* bad : {"", "-a", "_a", "Vpn", "a.b", "a b", "a/b", "ä"}) EXPECT_FALSE(check_service_name(bad)) << bad;
    EXPECT_FALSE(check_service_name(std::string(33, 'x')));
}

TEST(PolicyNames, InterfaceNames) {
    for (const char* good : {"eth0", "enp3s0", "wan.100", "br-lan", "a", "veth-pc-gw0123"})
        EXPECT_TRUE(check_interface_name(good)) << good;
    EXPECT_TRUE(check_interface_name(std::string(15, 'e')));
    for (const char* bad : {"", ".", "..", "eth 0", "eth/0", "eth0:1", "eth\t0"}) EXPECT_FALSE(check_interface_name(bad)) << bad;
    EXPECT_FALSE(check_interface_name(std::string(16, 'e')));
}

// ---- forward targets -----------------------------------------------------------------------------

TEST(PolicyForwardTarget, Forms) {
    auto v4 = parse_forward_target("192.0.2.10");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->address.to_string(), "192.0.2.10");
    EXPECT_FALSE(v4->port);

    auto v4_port = parse_forward_target("192.0.2.10:8443");
    ASSERT_TRUE(v4_port);
    EXPECT_EQ(v4_port->port, 8443);

    auto v6 = parse_forward_target("2001:db8::10");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->address.family, Family::ipv6);
    EXPECT_FALSE(v6->port);

    auto v6_port = parse_forward_target("[2001:db8::10]:443");
    ASSERT_TRUE(v6_port);
    EXPECT_EQ(v6_port->address.to_string(), "2001:db8::10");
    EXPECT_EQ(v6_port->port, 443);

    auto v6_bracket = parse_forward_target("[2001:db8::10]");
    ASSERT_TRUE(v6_bracket);
    EXPECT_FALSE(v6_bracket->port);

    for (const char* text : {"192.0.2.10", "192.0.2.10:8443", "2001:db8::10", "[2001:db8::10]:443"})
        EXPECT_EQ(format_forward_target(*parse_forward_target(text)), text);
}

TEST(PolicyForwardTarget, Rejected) {
    for (const char* text : {"", "192.0.2", "192.0.2.10:", "192.0.2.10:0", "192.0.2.10:65536", "192.0.2.10:http",
                             "[192.0.2.10]:80", "[2001:db8::10", "[2001:db8::10]x", "[2001:db8::10]:", "0.0.0.0",
                             "::", "127.0.0.1", "::1", "224.0.0.1", "ff02::1", "255.255.255.255", "192.0.2.0/24",
                             "host.example"}) {
        EXPECT_FALSE(parse_forward_target(text)) << text;
    }
}

// ---- CIDRs as the loader uses them ---------------------------------------------------------------

LoadResult with_allow(std::string_view list) {
    return testing::load(std::string(testing::kHostHeader) +
                         "[[service]]\nname = \"s\"\npreset = \"wireguard\"\nallow_from = " + std::string(list) + "\n");
}

TEST(PolicyCidrs, EdgeCasesAccepted) {
    auto result = with_allow(R"(["0.0.0.0/0", "::/0", "198.51.100.7", "198.51.100.7/32", "2001:db8::1/128", "10.0.0.0/8"])");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    // 198.51.100.7 and 198.51.100.7/32 are the same; every v4 entry is inside 0.0.0.0/0.
    std::vector<std::string> kept;
    for (const auto& prefix : result.policy->services[0].allow_from) kept.push_back(prefix.to_string());
    EXPECT_EQ(kept, (std::vector<std::string>{"0.0.0.0/0", "::/0"}));
    EXPECT_EQ(testing::count(result, Severity::warning), 4u) << testing::dump(result);
}

TEST(PolicyCidrs, Ipv4MappedAndCompressedV6) {
    auto result = with_allow(R"(["2001:DB8:0:0::/64", "::ffff:198.51.100.0/120"])");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    // Kept in the order written, printed canonically.
    EXPECT_EQ(result.policy->services[0].allow_from[0].to_string(), "2001:db8::/64");
    EXPECT_EQ(result.policy->services[0].allow_from[1].to_string(), "::ffff:198.51.100.0/120");
}

TEST(PolicyCidrs, Rejected) {
    for (const char* entry : {"198.51.100.0/", "198.51.100.0/-1", "198.51.100.0/33", "2001:db8::/129", "198.51.100",
                              "198.51.100.256", "198.51.100.0/24/8", " 198.51.100.0/24", "2001:db8:::/32",
                              "198.51.100.1/31", "2001:db8::9/125"}) {
        auto result = with_allow("[\"" + std::string(entry) + "\"]");
        EXPECT_FALSE(result.ok()) << entry;
        EXPECT_EQ(testing::count(result, Severity::error), 1u) << entry << "\n" << testing::dump(result);
    }
}

TEST(PolicyCidrs, NestedAndDisjointPrefixesManyEntries) {
    // Many entries: the redundancy check must keep disjoint ones and drop nested ones.
    std::string list = "[";
    for (int i = 0; i < 200; ++i) list += "\"10." + std::to_string(i) + ".0.0/16\", ";
    list += "\"10.5.7.0/24\", \"10.0.0.0/9\"]";
    auto result = with_allow(list);
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    // 10.0.0.0/9 covers 10.0-127.x; 10.5.7.0/24 is inside it too; 72 /16s (128-199) remain.
    EXPECT_EQ(result.policy->services[0].allow_from.size(), 73u);
    EXPECT_EQ(testing::count(result, Severity::warning), 129u);
}

// ---- did you mean --------------------------------------------------------------------------------

TEST(PolicySuggest, EditDistance) {
    EXPECT_EQ(edit_distance("", ""), 0u);
    EXPECT_EQ(edit_distance("abc", "abc"), 0u);
    EXPECT_EQ(edit_distance("abc", "abd"), 1u);
    EXPECT_EQ(edit_distance("ab", "ba"), 1u);  // transposition
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("MODE", "mode"), 0u);
}

TEST(PolicySuggest, ClosestMatch) {
    constexpr std::array<std::string_view, 4> keys{"forward_to", "allow_from", "preset", "ports"};
    EXPECT_EQ(closest_match("prots", keys), "ports");
    EXPECT_EQ(closest_match("forward", keys), "forward_to");  // prefix
    EXPECT_EQ(closest_match("preset", keys), "preset");
    EXPECT_EQ(closest_match("zzzzzz", keys), std::nullopt);
    EXPECT_EQ(closest_match("x", keys), std::nullopt);
    auto presets = preset_names();
    EXPECT_EQ(closest_match("wiregaurd", presets), "wireguard");
    EXPECT_EQ(closest_match("openvpn_tcp", presets), "openvpn-tcp");
    EXPECT_EQ(closest_match("l2tp", presets), "l2tp-ipsec");
}

}  // namespace
}  // namespace portcullis::policy
