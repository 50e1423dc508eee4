// Valid policies: what the loader produces for a full gateway policy, a host policy and presets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/presets.hpp"
#include "policy/values.hpp"
#include "helpers.hpp"

namespace portcullis::policy {
namespace {

using testing::load;
using testing::dump;

PortSpec port(IpProtocol protocol, std::uint16_t first, std::uint16_t last) {
    return PortSpec{protocol, PortRange{first, last}, {}};
}
PortSpec portless(IpProtocol protocol) { return PortSpec{protocol, std::nullopt, {}}; }

TEST(PolicyLoad, FullGatewayPolicy) {
    auto result = load(R"([firewall]
mode = "gateway"
wan = ["eth0", "wan2"]
lan = "eth1"
wan_address = ["203.0.113.1", "2001:db8::1"]
default = "reject"
masquerade = true
log_drops = 7
log_rate = 25

[runtime]
grant_timeout = "30m"
ban_timeout = 86400

[management]
sources = ["203.0.113.10", "2001:db8:1::/64"]
ports = ["tcp/22"]

[[service]]
name = "vpn"
preset = "ikev2"
forward_to = "192.0.2.10"
allow_from = ["any"]

[[service]]
name = "admin-ui"
ports = ["tcp/40443"]
forward_to = "192.0.2.20:443"
allow_from = ["198.51.100.0/24", "203.0.113.128/25"]
guard = "grant"
trusted = true
)");
    ASSERT_TRUE(result.ok()) << dump(result);
    const Policy& p = *result.policy;
    EXPECT_EQ(p.source_path, "test.toml");
    EXPECT_EQ(p.mode, Mode::gateway);
    EXPECT_EQ(p.wan_interfaces, (std::vector<std::string>{"eth0", "wan2"}));
    EXPECT_EQ(p.lan_interface, "eth1");
    ASSERT_EQ(p.wan_addresses.size(), 2u);
    EXPECT_EQ(p.wan_addresses[1].to_string(), "2001:db8::1");
    EXPECT_EQ(p.default_action, DefaultAction::reject);
    EXPECT_TRUE(p.masquerade_lan);
    EXPECT_EQ(p.logging.drop_group, 7);
    EXPECT_EQ(p.logging.drop_rate_per_second, 25u);
    EXPECT_EQ(p.runtime.default_grant_seconds, 1800u);
    EXPECT_EQ(p.runtime.default_ban_seconds, 86400u);
    ASSERT_EQ(p.management.sources.size(), 2u);
    EXPECT_EQ(p.management.sources[0].to_string(), "203.0.113.10/32");
    EXPECT_EQ(p.management.sources[1].to_string(), "2001:db8:1::/64");
    ASSERT_EQ(p.management.ports.size(), 1u);
    EXPECT_EQ(p.management.ports[0], port(IpProtocol::tcp, 22, 22));
    EXPECT_EQ(p.management.ports[0].where.line, 17u);
    EXPECT_EQ(p.management.where.line, 15u);

    ASSERT_EQ(p.services.size(), 2u);
    const Service& vpn = p.services[0];
    EXPECT_EQ(vpn.name, "vpn");
    EXPECT_EQ(vpn.preset, "ikev2");
    EXPECT_THAT(vpn.explanation, ::testing::HasSubstr("NAT traversal on UDP 4500"));
    EXPECT_EQ(vpn.ports, (std::vector<PortSpec>{port(IpProtocol::udp, 500, 500), port(IpProtocol::udp, 4500, 4500),
                                                portless(IpProtocol::esp)}));
    ASSERT_TRUE(vpn.forward_to);
    EXPECT_EQ(vpn.forward_to->address.to_string(), "192.0.2.10");
    EXPECT_FALSE(vpn.forward_to->port);
    EXPECT_TRUE(vpn.allow_any);
    EXPECT_TRUE(vpn.allow_from.empty());
    EXPECT_EQ(vpn.guard, Guard::none);
    EXPECT_FALSE(vpn.trusted);
    EXPECT_EQ(vpn.where.line, 19u);

    const Service& ui = p.services[1];
    EXPECT_FALSE(ui.preset);
    EXPECT_EQ(ui.ports, (std::vector<PortSpec>{port(IpProtocol::tcp, 40443, 40443)}));
    EXPECT_EQ(ui.forward_to->port, 443);
    EXPECT_FALSE(ui.allow_any);
    ASSERT_EQ(ui.allow_from.size(), 2u);
    EXPECT_EQ(ui.allow_from[0].to_string(), "198.51.100.0/24");
    EXPECT_EQ(ui.allow_from[1].to_string(), "203.0.113.128/25");
    EXPECT_EQ(ui.guard, Guard::grant);
    EXPECT_TRUE(ui.trusted);
    EXPECT_TRUE(p.warnings.empty()) << dump(result);
}

TEST(PolicyLoad, HostPolicyWithDefaults) {
    auto result = load(R"([firewall]
mode = "host"
wan = "eth0"

[management]
sources = ["2001:db8:1::/64"]
ports = ["tcp/22", "tcp/9000-9010"]

[[service]]
name = "wg"
preset = "wireguard"
allow_from = ["2001:db8::/32", "198.51.100.7"]
)");
    ASSERT_TRUE(result.ok()) << dump(result);
    const Policy& p = *result.policy;
    EXPECT_EQ(p.mode, Mode::host);
    EXPECT_EQ(p.wan_interfaces, std::vector<std::string>{"eth0"});
    EXPECT_FALSE(p.lan_interface);
    EXPECT_TRUE(p.wan_addresses.empty());
    EXPECT_EQ(p.default_action, DefaultAction::drop);
    EXPECT_FALSE(p.masquerade_lan);
    EXPECT_FALSE(p.logging.drop_group);
    EXPECT_EQ(p.logging.drop_rate_per_second, 10u);
    EXPECT_EQ(p.runtime.default_grant_seconds, 3600u);
    EXPECT_EQ(p.runtime.default_ban_seconds, 3600u);
    EXPECT_EQ(p.management.ports[1], port(IpProtocol::tcp, 9000, 9010));
    ASSERT_EQ(p.services.size(), 1u);
    EXPECT_EQ(p.services[0].ports, std::vector<PortSpec>{port(IpProtocol::udp, 51820, 51820)});
    EXPECT_EQ(p.services[0].allow_from[1].to_string(), "198.51.100.7/32");
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(PolicyLoad, PresetPlusExplicitPortsAreExpandedInOrder) {
    auto result = load(std::string(testing::kHostHeader) + R"([[service]]
name = "vpn"
preset = "ipsec"
ports = ["tcp/40000-40100", "udp/53", "gre"]
allow_from = ["any"]
)");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->services[0].ports,
              (std::vector<PortSpec>{port(IpProtocol::udp, 500, 500), port(IpProtocol::udp, 4500, 4500),
                                     portless(IpProtocol::esp), port(IpProtocol::tcp, 40000, 40100),
                                     port(IpProtocol::udp, 53, 53), portless(IpProtocol::gre)}));
    // Explicit ports keep their own location; preset ports point at the preset value.
    EXPECT_EQ(result.policy->services[0].ports[3].where.line, 10u);
    EXPECT_EQ(result.policy->services[0].ports[3].where.column, 10u);
    EXPECT_EQ(result.policy->services[0].ports[0].where.line, 9u);
    EXPECT_EQ(result.policy->services[0].ports[0].where.column, 10u);
}

TEST(PolicyLoad, EveryPresetExpandsToItsBundleAndFlags) {
    struct Expectation {
        std::string name;
        std::vector<PortSpec> ports;
        bool l2tp = false;
        bool pptp = false;
    };
    const std::vector<Expectation> expectations{
        {"ipsec", {port(IpProtocol::udp, 500, 500), port(IpProtocol::udp, 4500, 4500), portless(IpProtocol::esp)}},
        {"ikev2", {port(IpProtocol::udp, 500, 500), port(IpProtocol::udp, 4500, 4500), portless(IpProtocol::esp)}},
        {"l2tp-ipsec",
         {port(IpProtocol::udp, 500, 500), port(IpProtocol::udp, 4500, 4500), portless(IpProtocol::esp)},
         true},
        {"pptp", {port(IpProtocol::tcp, 1723, 1723), portless(IpProtocol::gre)}, false, true},
        {"openvpn", {port(IpProtocol::udp, 1194, 1194)}},
        {"openvpn-tcp", {port(IpProtocol::tcp, 1194, 1194)}},
        {"wireguard", {port(IpProtocol::udp, 51820, 51820)}},
        {"sstp", {port(IpProtocol::tcp, 443, 443)}},
    };
    ASSERT_EQ(expectations.size(), all_presets().size());
    for (const auto& expected : expectations) {
        SCOPED_TRACE(expected.name);
        auto result = load(std::string(testing::kHostHeader) + "[[service]]\nname = \"s\"\npreset = \"" +
                           expected.name + "\"\nallow_from = [\"198.51.100.0/24\"]\n");
        ASSERT_TRUE(result.ok()) << dump(result);
        const Service& service = result.policy->services[0];
        EXPECT_EQ(service.ports, expected.ports);
        EXPECT_EQ(service.l2tp_only_inside_ipsec, expected.l2tp);
        EXPECT_EQ(service.pptp_helper, expected.pptp);
        EXPECT_EQ(service.explanation, find_preset(expected.name)->explanation);
        EXPECT_FALSE(service.explanation.empty());
    }
}

TEST(PolicyLoad, ServiceWithoutPresetGetsGenericExplanation) {
    auto result = load(std::string(testing::kHostHeader) +
                       "[[service]]\nname = \"web\"\nports = \"tcp/443\"\nallow_from = \"any\"\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->services[0].explanation, "explicit ports");
    EXPECT_TRUE(result.policy->services[0].allow_any);
}

TEST(PolicyLoad, WarningsAreInDiagnosticsAndInPolicy) {
    auto result = load(std::string(testing::kHostHeader) +
                       "[[service]]\nname = \"old\"\npreset = \"pptp\"\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result);
    EXPECT_EQ(result.diagnostics[0].severity, Severity::warning);
    ASSERT_EQ(result.policy->warnings.size(), 1u);
    EXPECT_EQ(result.policy->warnings[0].message, result.diagnostics[0].message);
    EXPECT_EQ(format(result.diagnostics[0]).rfind("test.toml:9:10: warning: ", 0), 0u) << format(result.diagnostics[0]);
}

TEST(PolicyLoad, FormatWithAndWithoutLocation) {
    EXPECT_EQ(format({Severity::error, {"p.toml", 12, 5}, "bad"}), "p.toml:12:5: error: bad");
    EXPECT_EQ(format({Severity::warning, {"p.toml", 3, 0}, "meh"}), "p.toml:3: warning: meh");
    EXPECT_EQ(format({Severity::error, {"p.toml", 0, 0}, "no file"}), "p.toml: error: no file");
}

TEST(PolicyLoad, MissingFileIsADiagnosticNotACrash) {
    auto result = load_file("/nonexistent/portcullis/policy.toml");
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_EQ(result.diagnostics[0].where.file, "/nonexistent/portcullis/policy.toml");
    EXPECT_THAT(result.diagnostics[0].message, ::testing::HasSubstr("cannot open"));
}

}  // namespace
}  // namespace portcullis::policy

namespace portcullis::policy {
namespace {

// The size the apply benchmark uses (issue 2): 10,000 services and 10,000 allow CIDRs. Loading
// must stay correct at that size (the overlap and redundancy checks are not quadratic).
TEST(PolicyLoad, TenThousandServicesAndCidrs) {
    std::string text(testing::kHostHeader);
    for (int i = 0; i < 10000; ++i) {
        text += "[[service]]\nname = \"s" + std::to_string(i) + "\"\nports = [\"udp/" + std::to_string(20000 + i) +
                "\"]\nallow_from = [";
        if (i == 0) {
            for (int c = 0; c < 10000; ++c)
                text += "\"10." + std::to_string(c / 256) + "." + std::to_string(c % 256) + ".0/24\", ";
        }
        text += "\"2001:db8:" + std::to_string(i % 9000 + 1000) + "::/48\"]\n";
    }
    auto result = testing::load(text);
    ASSERT_TRUE(result.ok()) << testing::dump(result).substr(0, 2000);
    EXPECT_EQ(result.policy->services.size(), 10000u);
    EXPECT_EQ(result.policy->services[0].allow_from.size(), 10001u);
    // One overlap added at the end is still found among 10,000 services.
    text += "[[service]]\nname = \"late\"\nports = [\"udp/25000-25001\"]\nallow_from = [\"any\"]\n";
    auto clash = testing::load(text);
    EXPECT_FALSE(clash.ok());
    EXPECT_EQ(testing::count(clash, Severity::error), 2u) << testing::dump(clash).substr(0, 2000);
}

}  // namespace
}  // namespace portcullis::policy
