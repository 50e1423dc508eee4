// One test per diagnostic the loader can emit: each asserts the exact line:column it points at and
// a key phrase of the message. Test policies start after a fixed header (see helpers.hpp), so the
// first line of a test's own text is line 7 (host header) or 8 (gateway header).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "helpers.hpp"

namespace portcullis::policy {
namespace {

using testing::count;
using testing::dump;
using testing::load;

LoadResult host(std::string_view text) { return load(std::string(testing::kHostHeader) + std::string(text)); }
LoadResult gateway(std::string_view text) { return load(std::string(testing::kGatewayHeader) + std::string(text)); }

// ---- TOML itself -------------------------------------------------------------------------------

TEST(PolicyDiagnostics, TomlSyntaxErrorHasLocation) {
    auto result = load("[firewall]\nmode = \"host\nwan = \"eth0\"\n");
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(result.diagnostics.size(), 1u) << dump(result);
    EXPECT_EQ(result.diagnostics[0].where.line, 2u);
    EXPECT_GT(result.diagnostics[0].where.column, 0u);
    EXPECT_THAT(result.diagnostics[0].message, ::testing::HasSubstr("TOML syntax error"));
}

TEST(PolicyDiagnostics, TomlDuplicateKeyIsASyntaxError) {
    auto result = load("[firewall]\nmode = \"host\"\nmode = \"gateway\"\n");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "TOML syntax error", 3, 8);
}

TEST(PolicyDiagnostics, EmptyInputReportsMissingFirewall) {
    auto result = load("");
    EXPECT_FALSE(result.ok());
    EXPECT_ERROR_AT(result, "no [firewall] section", 0, 0);
}

// ---- unknown keys and did-you-mean -------------------------------------------------------------

TEST(PolicyDiagnostics, UnknownKeyInSectionSuggestsClosest) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\ndefualt = \"drop\"\n");
    EXPECT_ERROR_AT(result, "unknown key \"defualt\" in [firewall]; did you mean \"default\"?", 4, 1);
}

TEST(PolicyDiagnostics, UnknownServiceKeySuggestsByPrefix) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "unknown key \"allow\" in [[service]]; did you mean \"allow_from\"?", 10, 1);
    // The missing allow_from is reported too, at the service header.
    EXPECT_ERROR_AT(result, "has no allow_from", 7, 1);
}

TEST(PolicyDiagnostics, UnknownTopLevelTableSuggestsArrayOfTables) {
    auto result = host("[services]\nname = \"a\"\n");
    EXPECT_ERROR_AT(result, "unknown key \"services\" at the top level; did you mean [[service]]?", 7, 2);
}

TEST(PolicyDiagnostics, KeyInWrongSectionSaysWhereItBelongs) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\ngrant_timeout = \"1h\"\n");
    EXPECT_ERROR_AT(result, "\"grant_timeout\" belongs in [runtime]", 4, 1);
}

TEST(PolicyDiagnostics, UnknownKeyWithoutNearMatchListsExpectedKeys) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[runtime]\nzzz = 1\n");
    EXPECT_ERROR_AT(result, "expected one of \"grant_timeout\" or \"ban_timeout\"", 5, 1);
}

// ---- types and values in [firewall] ------------------------------------------------------------

TEST(PolicyDiagnostics, SectionThatIsNotATable) {
    auto result = load("firewall = \"host\"\n");
    EXPECT_ERROR_AT(result, "\"firewall\" is string \"host\"; expected a table", 1, 12);
}

TEST(PolicyDiagnostics, WrongTypeForString) {
    auto result = load("[firewall]\nmode = 1\nwan = \"eth0\"\n");
    EXPECT_ERROR_AT(result, "mode is integer 1; expected \"gateway\" or \"host\"", 2, 8);
}

TEST(PolicyDiagnostics, BadModeSuggestsClosest) {
    auto result = load("[firewall]\nmode = \"gatway\"\nwan = \"eth0\"\n");
    EXPECT_ERROR_AT(result, "mode is \"gatway\"; expected \"gateway\" or \"host\" (did you mean \"gateway\"?)", 2, 8);
}

TEST(PolicyDiagnostics, MissingMode) {
    auto result = load("[firewall]\nwan = \"eth0\"\n");
    EXPECT_ERROR_AT(result, "[firewall] has no mode", 1, 1);
}

TEST(PolicyDiagnostics, BadDefaultAction) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\ndefault = \"deny\"\n");
    EXPECT_ERROR_AT(result, "default is \"deny\"; expected \"drop\" or \"reject\"", 4, 11);
}

TEST(PolicyDiagnostics, MissingWan) {
    auto result = load("[firewall]\nmode = \"host\"\n");
    EXPECT_ERROR_AT(result, "[firewall] has no wan", 1, 1);
}

TEST(PolicyDiagnostics, EmptyWanList) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = []\n");
    EXPECT_ERROR_AT(result, "wan is an empty list", 3, 7);
}

TEST(PolicyDiagnostics, WanOfWrongType) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = 0\n");
    EXPECT_ERROR_AT(result, "wan is integer 0; expected an interface name", 3, 7);
}

TEST(PolicyDiagnostics, BadInterfaceName) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = [\"eth0\", \"a very long name\"]\n");
    EXPECT_ERROR_AT(result, "interface name \"a very long name\" is 16 characters long", 3, 16);
}

TEST(PolicyDiagnostics, InterfaceNameWithSlash) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth/0\"\n");
    EXPECT_ERROR_AT(result, "contains a forbidden character", 3, 7);
}

TEST(PolicyDiagnostics, DuplicateWanIsAWarning) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = [\"eth0\", \"eth0\"]\n");
    EXPECT_WARNING_AT(result, "wan lists \"eth0\" twice", 3, 16);
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->wan_interfaces.size(), 1u);
}

TEST(PolicyDiagnostics, LanSameAsWan) {
    auto result = load("[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nlan = \"eth0\"\n");
    EXPECT_ERROR_AT(result, "lan \"eth0\" is also a wan interface", 4, 7);
}

TEST(PolicyDiagnostics, BadLanName) {
    auto result = load("[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nlan = \"\"\n");
    EXPECT_ERROR_AT(result, "lan: empty interface name", 4, 7);
}

TEST(PolicyDiagnostics, BadWanAddress) {
    auto result = load("[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nwan_address = [\"203.0.113.0/24\"]\n");
    EXPECT_ERROR_AT(result, "wan_address: '203.0.113.0/24' is not an IPv4 address", 4, 16);
}

TEST(PolicyDiagnostics, DuplicateWanAddressIsAWarning) {
    auto result =
        load("[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nwan_address = [\"203.0.113.1\", \"203.0.113.1\"]\n");
    EXPECT_WARNING_AT(result, "wan_address lists 203.0.113.1 twice", 4, 31);
}

TEST(PolicyDiagnostics, BoolWithQuotes) {
    auto result = load("[firewall]\nmode = \"gateway\"\nwan = \"eth0\"\nmasquerade = \"true\"\n");
    EXPECT_ERROR_AT(result, "masquerade is string \"true\"; expected true or false without quotes", 4, 14);
}

TEST(PolicyDiagnostics, LogGroupOutOfRange) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlog_drops = 70000\n");
    EXPECT_ERROR_AT(result, "log_drops is 70000, out of range; expected 0-65535", 4, 13);
}

TEST(PolicyDiagnostics, LogRateZero) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlog_rate = 0\n");
    EXPECT_ERROR_AT(result, "log_rate is 0, out of range; expected 1-100000", 4, 12);
}

TEST(PolicyDiagnostics, LogGroupAsString) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlog_drops = \"1\"\n");
    EXPECT_ERROR_AT(result, "log_drops is string \"1\"; expected an integer 0-65535", 4, 13);
}

TEST(PolicyDiagnostics, HostModeIgnoresGatewayOnlyKeys) {
    auto result = load(
        "[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlan = \"eth1\"\nmasquerade = true\nwan_address = \"203.0.113.1\"\n");
    EXPECT_WARNING_AT(result, "lan has no effect in host mode", 4, 7);
    EXPECT_WARNING_AT(result, "masquerade has no effect in host mode", 5, 14);
    EXPECT_WARNING_AT(result, "wan_address has no effect in host mode", 6, 15);
}

// ---- [runtime] durations -----------------------------------------------------------------------

TEST(PolicyDiagnostics, BadDurationUnit) {
    auto result = host("[runtime]\ngrant_timeout = \"5w\"\n");
    EXPECT_ERROR_AT(result, "grant_timeout: unknown unit 'w' in duration \"5w\"", 8, 17);
}

TEST(PolicyDiagnostics, ZeroDuration) {
    auto result = host("[runtime]\nban_timeout = 0\n");
    EXPECT_ERROR_AT(result, "ban_timeout: duration 0 is not positive", 8, 15);
}

TEST(PolicyDiagnostics, DurationTooLong) {
    auto result = host("[runtime]\nban_timeout = \"400d\"\n");
    EXPECT_ERROR_AT(result, "longer than the maximum of 365d", 8, 15);
}

TEST(PolicyDiagnostics, DurationOfWrongType) {
    auto result = host("[runtime]\nban_timeout = 1.5\n");
    EXPECT_ERROR_AT(result, "ban_timeout is number 1.5; expected a duration", 8, 15);
}

// ---- [management] ------------------------------------------------------------------------------

TEST(PolicyDiagnostics, ManagementSourcesWithoutPorts) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"203.0.113.10\"]\n");
    EXPECT_ERROR_AT(result, "[management] has sources but no ports", 4, 1);
}

TEST(PolicyDiagnostics, ManagementPortsWithoutSources) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nports = [\"tcp/22\"]\n");
    EXPECT_ERROR_AT(result, "[management] has ports but no sources", 4, 1);
}

TEST(PolicyDiagnostics, ManagementEmptyPortsWithSources) {
    auto result =
        load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"203.0.113.10\"]\nports = []\n");
    EXPECT_ERROR_AT(result, "management ports is empty but sources are given", 6, 9);
}

TEST(PolicyDiagnostics, ManagementEmptySourcesWithPorts) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = []\nports = [\"tcp/22\"]\n");
    EXPECT_ERROR_AT(result, "management sources is empty but ports are given", 5, 11);
}

TEST(PolicyDiagnostics, ManagementFromAnyIsRefused) {
    auto result =
        load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"any\"]\nports = [\"tcp/22\"]\n");
    EXPECT_ERROR_AT(result, "management sources cannot be \"any\"", 5, 12);
}

TEST(PolicyDiagnostics, ManagementFromWholeInternetWarns) {
    auto result =
        load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"::/0\"]\nports = [\"tcp/22\"]\n");
    EXPECT_WARNING_AT(result, "management sources include ::/0, every IPv6 address", 4, 1);
}

TEST(PolicyDiagnostics, NoManagementBlockWarns) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[[service]]\nname = \"wg\"\npreset = "
                       "\"wireguard\"\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "no [management] block: nothing guarantees your own access", 1, 1);
}

TEST(PolicyDiagnostics, NoManagementWhileWanCarriesSsh) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[[service]]\nname = \"ssh\"\nports = "
                       "[\"tcp/22\"]\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "no [management] block while the WAN carries SSH (tcp/22 through service \"ssh\"", 1, 1);
    EXPECT_WARNING_AT(result, "opens tcp/22 (SSH) to any source without a guard", 6, 10);
}

TEST(PolicyDiagnostics, NoServicesWarns) {
    auto result = load(testing::kHostHeader);
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "the policy has no [[service]]", 1, 1);
}

TEST(PolicyDiagnostics, ManagementSourceWithHostBits) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"203.0.113.10/24\"]\nports = "
                       "[\"tcp/22\"]\n");
    EXPECT_ERROR_AT(result, "sources: '203.0.113.10/24' has host bits set (did you mean 203.0.113.0/24?)", 5, 12);
}

TEST(PolicyDiagnostics, ManagementRepeatedPortIsAWarning) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"203.0.113.10\"]\nports = "
                       "[\"tcp/22\", \"tcp/22\"]\n");
    EXPECT_WARNING_AT(result, "management lists tcp/22 already; the repeat is ignored", 6, 20);
}

TEST(PolicyDiagnostics, ManagementPortsOverlapEachOther) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsources = [\"203.0.113.10\"]\nports = "
                       "[\"tcp/22\", \"tcp/20-30\"]\n");
    EXPECT_ERROR_AT(result, "management lists tcp/20-30 and tcp/22 (line 6), which overlap", 6, 20);
}

TEST(PolicyDiagnostics, UnknownManagementKey) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = \"eth0\"\n[management]\nsource = [\"203.0.113.10\"]\n");
    EXPECT_ERROR_AT(result, "unknown key \"source\" in [management]; did you mean \"sources\"?", 5, 1);
}

TEST(PolicyDiagnostics, WanListEntryOfWrongType) {
    auto result = load("[firewall]\nmode = \"host\"\nwan = [\"eth0\", 1]\n");
    EXPECT_ERROR_AT(result, "wan entry is integer 1; expected an interface name", 3, 16);
}

TEST(PolicyDiagnostics, DirectoryInsteadOfFile) {
    auto result = load_file(PC_SOURCE_ROOT);
    EXPECT_FALSE(result.ok());
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_THAT(result.diagnostics[0].message, ::testing::HasSubstr("is a directory; expected a policy file"));
}

// ---- ports -------------------------------------------------------------------------------------

TEST(PolicyDiagnostics, PortUnknownProtocol) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"icmp/8\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "unknown protocol \"icmp\"", 9, 10);
}

TEST(PolicyDiagnostics, PortMissingNumber) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"udp/1194\", \"tcp\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "\"tcp\" names no port", 9, 22);
}

TEST(PolicyDiagnostics, PortOutOfRange) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"tcp/65536\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "port 65536 in \"tcp/65536\" is out of range (expected 1-65535)", 9, 10);
}

TEST(PolicyDiagnostics, PortZero) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"udp/0\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "port 0 in \"udp/0\" is out of range", 9, 10);
}

TEST(PolicyDiagnostics, PortReversedRange) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"tcp/40100-40000\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "reversed port range \"tcp/40100-40000\"", 9, 10);
    EXPECT_ERROR_AT(result, "did you mean tcp/40000-40100?", 9, 10);
}

TEST(PolicyDiagnostics, PortNotANumber) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"tcp/ssh\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "port \"ssh\" in \"tcp/ssh\" is not a number", 9, 10);
}

TEST(PolicyDiagnostics, PortlessProtocolWithPort) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"esp/50\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "esp is an IP protocol without ports", 9, 10);
}

TEST(PolicyDiagnostics, PortAsIntegerSuggestsString) {
    auto result = host("[[service]]\nname = \"a\"\nports = [443]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "ports entry is integer 443; expected a port such as \"tcp/443\" (did you mean \"tcp/443\" or \"udp/443\"?)", 9, 10);
}

TEST(PolicyDiagnostics, RepeatedPortIsAWarning) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"tcp/443\",\n  \"tcp/443\"]\nallow_from = [\"any\"]\n");
    EXPECT_WARNING_AT(result, "lists tcp/443 already at line 9", 10, 3);
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->services[0].ports.size(), 1u);
}

TEST(PolicyDiagnostics, PortRepeatingThePresetIsAWarning) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"ikev2\"\nports = [\"udp/4500\"]\nallow_from = [\"any\"]\n");
    EXPECT_WARNING_AT(result, "udp/4500 is already part of preset \"ikev2\"", 10, 10);
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->services[0].ports.size(), 3u);
}

TEST(PolicyDiagnostics, OverlappingPortsInsideOneService) {
    auto result = host("[[service]]\nname = \"a\"\nports = [\"tcp/1000-2000\", \"tcp/1500\"]\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "service \"a\" lists tcp/1500 and tcp/1000-2000 (line 9), which overlap", 9, 27);
}

// ---- overlaps between services and with management ---------------------------------------------

TEST(PolicyDiagnostics, TwoServicesClaimTheSamePort) {
    auto result = host(R"([[service]]
name = "a"
preset = "ikev2"
allow_from = ["any"]
[[service]]
name = "b"
ports = ["udp/500"]
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "service \"b\" claims udp/500, which service \"a\" (udp/500) already claims at line 9", 13, 10);
}

TEST(PolicyDiagnostics, OverlappingRangesBetweenServices) {
    auto result = host(R"([[service]]
name = "a"
ports = ["tcp/40000-40100"]
allow_from = ["any"]
[[service]]
name = "b"
ports = ["tcp/39000-40000"]
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "service \"b\" claims tcp/39000-40000, which service \"a\" (tcp/40000-40100)", 13, 10);
}

TEST(PolicyDiagnostics, PortlessProtocolsOverlapWhenEqual) {
    auto result = host(R"([[service]]
name = "a"
preset = "pptp"
allow_from = ["any"]
[[service]]
name = "b"
ports = ["gre", "esp"]
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "service \"b\" claims gre, which service \"a\" (gre)", 13, 10);
    EXPECT_EQ(count(result, Severity::error), 1u) << dump(result);
}

TEST(PolicyDiagnostics, SamePortDifferentProtocolIsFine) {
    auto result = host(R"([[service]]
name = "a"
ports = ["tcp/1194"]
allow_from = ["any"]
[[service]]
name = "b"
ports = ["udp/1194"]
allow_from = ["any"]
)");
    EXPECT_TRUE(result.ok()) << dump(result);
}

TEST(PolicyDiagnostics, ServiceOverlapsManagementPort) {
    auto result = host("[[service]]\nname = \"ssh\"\nports = [\"tcp/20-30\"]\nallow_from = [\"198.51.100.0/24\"]\n");
    EXPECT_ERROR_AT(result, "service \"ssh\" claims tcp/20-30, which management (tcp/22) already claims at line 6", 9, 10);
}

TEST(PolicyDiagnostics, RawL2tpOverlapsL2tpInsideIpsec) {
    auto result = host(R"([[service]]
name = "l2tp"
preset = "l2tp-ipsec"
allow_from = ["any"]
[[service]]
name = "raw"
ports = ["udp/1701"]
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "service \"raw\" claims udp/1701, which service \"l2tp\" (udp/1701 inside IPsec", 13, 10);
}

TEST(PolicyDiagnostics, FloodOfOverlapsIsSummarised) {
    std::string text = "[[service]]\nname = \"all\"\nports = [\"udp/1-65535\"]\nallow_from = [\"any\"]\n";
    for (int i = 0; i < 150; ++i)
        text += "[[service]]\nname = \"s" + std::to_string(i) + "\"\nports = [\"udp/" + std::to_string(1000 + i) +
                "\"]\nallow_from = [\"any\"]\n";
    auto result = host(text);
    EXPECT_EQ(count(result, Severity::error), 101u);
    EXPECT_ERROR_AT(result, "50 more overlapping protocol/port claims not shown (150 in all)", 0, 0);
}

// ---- services ----------------------------------------------------------------------------------

TEST(PolicyDiagnostics, ServiceWrittenAsTable) {
    auto result = host("[service]\nname = \"a\"\n");
    EXPECT_ERROR_AT(result, "expected [[service]] (double brackets", 7, 1);
}

TEST(PolicyDiagnostics, ServiceEntryNotATable) {
    auto result = load("service = [1]\n[firewall]\nmode = \"host\"\nwan = \"eth0\"\n");
    EXPECT_ERROR_AT(result, "service entry is integer 1; expected a [[service]] table", 1, 12);
}

TEST(PolicyDiagnostics, ServiceWithoutName) {
    auto result = host("[[service]]\npreset = \"wireguard\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "service #1 has no name", 7, 1);
}

TEST(PolicyDiagnostics, BadServiceName) {
    auto result = host("[[service]]\nname = \"my vpn\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "service name \"my vpn\" contains ' '", 8, 8);
}

TEST(PolicyDiagnostics, UpperCaseServiceNameSuggestsLowerCase) {
    auto result = host("[[service]]\nname = \"VPN\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "did you mean \"vpn\"?", 8, 8);
}

TEST(PolicyDiagnostics, ServiceNameTooLong) {
    auto result = host("[[service]]\nname = \"" + std::string(33, 'a') +
                       "\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "is 33 characters long", 8, 8);
}

TEST(PolicyDiagnostics, ServiceNameStartingWithDash) {
    auto result = host("[[service]]\nname = \"-vpn\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "starts with '-'", 8, 8);
}

TEST(PolicyDiagnostics, DuplicateServiceName) {
    auto result = host(R"([[service]]
name = "vpn"
preset = "wireguard"
allow_from = ["any"]
[[service]]
name = "vpn"
preset = "openvpn"
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "duplicate service name \"vpn\" (first used at line 8)", 12, 8);
}

TEST(PolicyDiagnostics, UnknownPresetSuggestsClosest) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguad\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "unknown preset \"wireguad\"", 9, 10);
    EXPECT_ERROR_AT(result, "(did you mean \"wireguard\"?)", 9, 10);
}

TEST(PolicyDiagnostics, ServiceExposesNothing) {
    auto result = host("[[service]]\nname = \"a\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "service \"a\" exposes nothing", 7, 1);
}

TEST(PolicyDiagnostics, ServiceWithEmptyPortsAndNoPreset) {
    auto result = host("[[service]]\nname = \"a\"\nports = []\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "has an empty ports list and no preset", 9, 9);
}

TEST(PolicyDiagnostics, PptpAlwaysWarns) {
    auto result = host("[[service]]\nname = \"old\"\npreset = \"pptp\"\nallow_from = [\"198.51.100.0/24\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "MS-CHAPv2/MPPE", 9, 10);
}

TEST(PolicyDiagnostics, RawL2tpWarns) {
    auto result = host("[[service]]\nname = \"l2tp\"\nports = [\"udp/1701\"]\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "exposes raw L2TP (udp/1701) outside IPsec", 9, 10);
}

TEST(PolicyDiagnostics, PptpPortWithoutPresetWarns) {
    auto result = host("[[service]]\nname = \"p\"\nports = [\"tcp/1723\", \"gre\"]\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "tcp/1723 (PPTP) without preset \"pptp\"", 9, 10);
}

TEST(PolicyDiagnostics, AdminPortOpenToAnyWarns) {
    auto result = host("[[service]]\nname = \"ui\"\nports = [\"tcp/8000-8500\"]\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "opens tcp/8006 (Proxmox), tcp/8443 (an admin web UI) to any source", 9, 10);
}

TEST(PolicyDiagnostics, AdminPortBehindGrantDoesNotWarn) {
    auto result = host("[[service]]\nname = \"ui\"\nports = [\"tcp/8443\"]\nallow_from = [\"any\"]\nguard = \"grant\"\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(PolicyDiagnostics, AdminPortFromNarrowSourcesDoesNotWarn) {
    auto result = host("[[service]]\nname = \"rdp\"\nports = [\"tcp/3389\"]\nallow_from = [\"198.51.100.0/24\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
}

TEST(PolicyDiagnostics, GuardSpaNeedsAnSpaSection) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\nguard = \"spa\"\n");
    EXPECT_ERROR_AT(result, "has guard = \"spa\" but the policy has no [spa] section", 11, 9);
}

TEST(PolicyDiagnostics, BadGuard) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\nguard = \"grnat\"\n");
    EXPECT_ERROR_AT(result, "guard is \"grnat\"; expected \"none\", \"grant\", \"knock\" or \"spa\" (did you mean \"grant\"?)", 11, 9);
}

TEST(PolicyDiagnostics, TrustedOfWrongType) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"any\"]\ntrusted = 1\n");
    EXPECT_ERROR_AT(result, "trusted is integer 1; expected true or false", 11, 11);
}

// ---- allow_from --------------------------------------------------------------------------------

TEST(PolicyDiagnostics, MissingAllowFrom) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\n");
    EXPECT_ERROR_AT(result, "service \"a\" has no allow_from", 7, 1);
}

TEST(PolicyDiagnostics, EmptyAllowFrom) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = []\n");
    EXPECT_ERROR_AT(result, "allow_from is empty, so nobody could reach the service", 10, 14);
}

TEST(PolicyDiagnostics, MalformedCidr) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"198.51.100.0/33\"]\n");
    EXPECT_ERROR_AT(result, "bad prefix length (expected 0-32)", 10, 15);
}

TEST(PolicyDiagnostics, CidrWithHostBitsSuggestsNetwork) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"198.51.100.7/24\"]\n");
    EXPECT_ERROR_AT(result, "has host bits set (did you mean 198.51.100.0/24?)", 10, 15);
}

TEST(PolicyDiagnostics, Ipv6CidrWithHostBitsSuggestsNetwork) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"2001:db8::1/32\"]\n");
    EXPECT_ERROR_AT(result, "did you mean 2001:db8::/32?", 10, 15);
}

TEST(PolicyDiagnostics, NotAnAddressAtAll) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"everyone\"]\n");
    EXPECT_ERROR_AT(result, "'everyone' is not an IPv4 address", 10, 15);
}

TEST(PolicyDiagnostics, AnyMixedWithCidrsWarns) {
    auto result =
        host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"198.51.100.0/24\", \"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "allow_from mixes \"any\" with addresses/CIDRs", 10, 34);
    EXPECT_TRUE(result.policy->services[0].allow_any);
    EXPECT_TRUE(result.policy->services[0].allow_from.empty());
}

TEST(PolicyDiagnostics, AnyTwiceWarns) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"any\", \"any\"]\n");
    EXPECT_WARNING_AT(result, "allow_from lists \"any\" twice", 10, 22);
}

TEST(PolicyDiagnostics, DuplicateCidrWarnsAndIsDropped) {
    auto result = host(
        "[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"198.51.100.0/24\", \"198.51.100.0/24\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "allow_from lists 198.51.100.0/24 twice (also at line 10)", 10, 34);
    EXPECT_EQ(result.policy->services[0].allow_from.size(), 1u);
}

TEST(PolicyDiagnostics, CoveredCidrWarnsAndIsDropped) {
    auto result = host(
        "[[service]]\nname = \"a\"\npreset = \"wireguard\"\nallow_from = [\"198.51.100.128/25\", \"198.51.100.0/24\", "
        "\"2001:db8::/32\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "allow_from entry 198.51.100.128/25 is inside 198.51.100.0/24 (line 10)", 10, 15);
    ASSERT_EQ(result.policy->services[0].allow_from.size(), 2u);
    EXPECT_EQ(result.policy->services[0].allow_from[0].to_string(), "198.51.100.0/24");
    EXPECT_EQ(result.policy->services[0].allow_from[1].to_string(), "2001:db8::/32");
}

// ---- forward_to --------------------------------------------------------------------------------

TEST(PolicyDiagnostics, ForwardToInHostMode) {
    auto result = host("[[service]]\nname = \"a\"\npreset = \"ikev2\"\nforward_to = \"192.0.2.10\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "forward_to \"192.0.2.10\" only works in gateway mode", 10, 14);
}

TEST(PolicyDiagnostics, ForwardToWithoutLan) {
    auto result = load(R"([firewall]
mode = "gateway"
wan = "eth0"
[[service]]
name = "vpn"
preset = "ikev2"
forward_to = "192.0.2.10"
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "needs the LAN interface, but [firewall] has no lan", 7, 14);
}

TEST(PolicyDiagnostics, ForwardToPortOnMultiPortService) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"ikev2\"\nforward_to = \"192.0.2.10:500\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "changes the port, but the service exposes udp/500, udp/4500, esp", 11, 14);
}

TEST(PolicyDiagnostics, ForwardToPortOnRangeService) {
    auto result = gateway("[[service]]\nname = \"a\"\nports = [\"tcp/40000-40100\"]\nforward_to = \"192.0.2.10:40000\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "a port can only be remapped for a service with exactly one port", 11, 14);
}

TEST(PolicyDiagnostics, ForwardToPortOnSinglePortServiceIsFine) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"openvpn\"\nforward_to = \"192.0.2.10:11194\"\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->services[0].forward_to->port, 11194);
}

TEST(PolicyDiagnostics, ForwardToBadAddress) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"ikev2\"\nforward_to = \"192.0.2\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "forward_to: forward target \"192.0.2\": '192.0.2' is not an IPv4 address", 11, 14);
}

TEST(PolicyDiagnostics, ForwardToBadPort) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"openvpn\"\nforward_to = \"192.0.2.10:0\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "has a bad port \"0\" (expected 1-65535)", 11, 14);
}

TEST(PolicyDiagnostics, ForwardToLoopback) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"openvpn\"\nforward_to = \"127.0.0.1\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "is a loopback address", 11, 14);
}

TEST(PolicyDiagnostics, ForwardToPrefix) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"openvpn\"\nforward_to = \"192.0.2.0/24\"\nallow_from = [\"any\"]\n");
    EXPECT_ERROR_AT(result, "is a prefix; expected a single address", 11, 14);
}

TEST(PolicyDiagnostics, ForwardToIpv6WithAnyWarns) {
    auto result = gateway("[[service]]\nname = \"a\"\npreset = \"wireguard\"\nforward_to = \"2001:db8::10\"\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "forward_to is IPv6, so only IPv6 clients are forwarded", 11, 14);
    EXPECT_EQ(result.policy->services[0].forward_to->address.family, Family::ipv6);
}

TEST(PolicyDiagnostics, ForwardToFamilyWithoutMatchingWanAddress) {
    auto result = load(R"([firewall]
mode = "gateway"
wan = "eth0"
lan = "eth1"
wan_address = "203.0.113.1"
[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]
[[service]]
name = "wg"
preset = "wireguard"
forward_to = "[2001:db8::10]:51820"
allow_from = ["2001:db8:5::/48"]
)");
    EXPECT_ERROR_AT(result, "forward_to \"[2001:db8::10]:51820\" is IPv6 but wan_address has no IPv6 address", 12, 14);
}

TEST(PolicyDiagnostics, ForwardToTheGatewaysOwnWanAddress) {
    auto result = load(R"([firewall]
mode = "gateway"
wan = "eth0"
lan = "eth1"
wan_address = "203.0.113.1"
[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]
[[service]]
name = "wg"
preset = "wireguard"
forward_to = "203.0.113.1"
allow_from = ["any"]
)");
    EXPECT_ERROR_AT(result, "is one of the gateway's own wan_address entries", 12, 14);
}

TEST(PolicyDiagnostics, AllowFromEntryOfOtherFamilyWarns) {
    auto result = gateway(
        "[[service]]\nname = \"a\"\npreset = \"wireguard\"\nforward_to = \"192.0.2.10\"\nallow_from = "
        "[\"198.51.100.0/24\", \"2001:db8:5::/48\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "allow_from entry 2001:db8:5::/48 is IPv6 but forward_to is IPv4", 12, 34);
}

TEST(PolicyDiagnostics, AllowFromOnlyOtherFamilyIsAnError) {
    auto result = gateway(
        "[[service]]\nname = \"a\"\npreset = \"wireguard\"\nforward_to = \"192.0.2.10\"\nallow_from = "
        "[\"2001:db8:5::/48\"]\n");
    EXPECT_ERROR_AT(result, "every allow_from entry is IPv6 but forward_to \"192.0.2.10\" is IPv4", 12, 14);
}

// ---- several errors at once ---------------------------------------------------------------------

TEST(PolicyDiagnostics, AllErrorsAreReportedTogetherInFileOrder) {
    auto result = load(R"([firewall]
mode = "gatway"
wan = "eth0"
lan = "eth1"
[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]
[[service]]
name = "Vpn"
preset = "ikev3"
allow_from = ["198.51.100.1/24"]
[[service]]
name = "web"
ports = ["tcp/70000"]
allow_from = []
porst = ["tcp/1"]
)");
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(count(result, Severity::error), 7u) << dump(result);
    std::vector<std::uint32_t> lines;
    for (const auto& d : result.diagnostics) lines.push_back(d.where.line);
    EXPECT_EQ(lines, (std::vector<std::uint32_t>{2, 9, 10, 11, 14, 15, 16})) << dump(result);
    EXPECT_ERROR_AT(result, "did you mean \"ports\"?", 16, 1);
}

TEST(PolicyDiagnostics, ErrorsSuppressPolicyButKeepWarnings) {
    auto result = host(R"([[service]]
name = "old"
preset = "pptp"
allow_from = ["any"]
trusted = "yes"
)");
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(count(result, Severity::error), 1u);
    EXPECT_EQ(count(result, Severity::warning), 1u) << dump(result);
}

}  // namespace
}  // namespace portcullis::policy
