// Structural and contract tests of the compiler, on the IR and on the rendered text.
#include <algorithm>
#include <random>
#include <regex>
#include <set>

#include "compile/plan.hpp"
#include "support.hpp"

namespace {

using namespace pc_test;
using namespace portcullis;
namespace ir = compile::ir;

fs::path own_policy(const std::string& name) {
    return source_root() / "tests/unit/compile/policies" / (name + ".toml");
}

const ir::Chain& chain(const ir::Table& table, const std::string& name) {
    const auto* found = table.find_chain(name);
    if (!found) {
        ADD_FAILURE() << "no chain " << name;
        static const ir::Chain none;
        return none;
    }
    return *found;
}

// Index of the first rule of `c` whose rendering contains `needle`; npos when none.
std::size_t rule_index(const ir::Chain& c, const std::string& needle) {
    for (std::size_t i = 0; i < c.rules.size(); ++i)
        if (ir::render(c.rules[i]).find(needle) != std::string::npos) return i;
    return std::string::npos;
}

bool text_has(const std::string& text, const std::string& needle) {
    return text.find(needle) != std::string::npos;
}

TEST(Determinism, SamePolicySameBytes) {
    auto policy = load_policy(own_policy("gateway_mixed"));
    EXPECT_EQ(compile::compile(policy).table_text, compile::compile(policy).table_text);
}

TEST(Determinism, OrderOfServicesSourcesAndInterfacesDoesNotMatter) {
    auto policy = load_policy(own_policy("gateway_mixed"));
    const auto reference = compile::compile(policy).table_text;
    std::mt19937 random(42);
    for (int round = 0; round < 10; ++round) {
        auto shuffled = policy;
        std::shuffle(shuffled.services.begin(), shuffled.services.end(), random);
        for (auto& s : shuffled.services) std::shuffle(s.allow_from.begin(), s.allow_from.end(), random);
        std::shuffle(shuffled.management.sources.begin(), shuffled.management.sources.end(), random);
        std::shuffle(shuffled.wan_interfaces.begin(), shuffled.wan_interfaces.end(), random);
        std::shuffle(shuffled.wan_addresses.begin(), shuffled.wan_addresses.end(), random);
        EXPECT_EQ(compile::compile(shuffled).table_text, reference) << "round " << round;
    }
}

TEST(Determinism, DifferentPoliciesDifferentBytes) {
    auto a = load_policy(own_policy("gateway_mixed"));
    auto b = a;
    b.services[0].allow_from = {*Prefix::parse("198.51.100.0/24")};
    b.services[0].allow_any = false;
    EXPECT_NE(compile::compile(a).table_text, compile::compile(b).table_text);
}

// Every object the text defines is in the manifest, in the right list, and nothing else is.
TEST(Manifest, ListsEveryObjectOfTheText) {
    for (const char* name : {"gateway_mixed", "host_l2tp", "host_pptp_sstp", "gateway_minimal"}) {
        SCOPED_TRACE(name);
        auto compiled = compile::compile(load_policy(own_policy(name)));
        std::multiset<std::string> defined, listed;
        std::regex object(R"(^\t(chain|set|map|counter|limit|ct helper) (\S+) \{$)");
        std::istringstream lines(compiled.table_text);
        for (std::string line; std::getline(lines, line);) {
            std::smatch m;
            if (std::regex_match(line, m, object)) {
                std::string kind = m[1] == "map" ? "set" : m[1].str();
                defined.insert(kind + " " + m[2].str());
            }
        }
        const auto& mf = compiled.manifest;
        for (const auto& n : mf.chains) listed.insert("chain " + n);
        for (const auto& n : mf.sets) listed.insert("set " + n);
        for (const auto& n : mf.runtime_sets) listed.insert("set " + n);
        for (const auto& n : mf.counters) listed.insert("counter " + n);
        for (const auto& n : mf.limits) listed.insert("limit " + n);
        for (const auto& n : mf.ct_helpers) listed.insert("ct helper " + n);
        EXPECT_EQ(defined, listed);
        EXPECT_FALSE(mf.chains.empty());
    }
}

TEST(RuntimeSets, BansAlwaysGrantsForGuardedServicesOnly) {
    auto policy = load_policy(own_policy("gateway_mixed"));
    auto table = compile::compile_ir(policy);
    auto manifest = compile::manifest_of(table);
    std::vector<std::string> expected{compile::kBanSetV4,     compile::kBanSetV6,
                                      compile::kBanHostSetV4, compile::kBanHostSetV6,
                                      compile::grant_set_v4("wg"), compile::grant_set_v6("wg")};
    EXPECT_EQ(manifest.runtime_sets, expected);
    EXPECT_EQ(compile::grant_set_v4("wg"), "grant4_wg");
    EXPECT_EQ(compile::grant_set_v6("legacy-pptp"), "grant6_legacy-pptp");

    const auto* ban = table.find_set("ban6");
    ASSERT_NE(ban, nullptr);
    EXPECT_TRUE(ban->flags.interval && ban->flags.timeout && ban->runtime);
    EXPECT_EQ(ban->key, std::vector<ir::DataType>{ir::DataType::ipv6_addr});
    EXPECT_EQ(ban->timeout_seconds, 7200u);  // ban_timeout = "2h"
    const auto* grant = table.find_set("grant4_wg");
    ASSERT_NE(grant, nullptr);
    EXPECT_TRUE(grant->flags.timeout && grant->flags.dynamic && !grant->flags.interval);
    EXPECT_EQ(grant->timeout_seconds, 1800u);  // grant_timeout = "30m"
    EXPECT_TRUE(grant->elements.empty());
    EXPECT_EQ(table.find_set("grant4_vpn"), nullptr);

    // The guarded service accepts only granted sources; the grant lookup is in its chain.
    const auto& wg = chain(table, compile::service_chain("wg"));
    EXPECT_NE(rule_index(wg, "ip saddr @grant4_wg counter name \"svc_wg_accepted\" accept"), std::string::npos);
    EXPECT_NE(rule_index(wg, "ip6 saddr @grant6_wg"), std::string::npos);
    EXPECT_EQ(rule_index(wg, "counter name \"svc_wg_accepted\" accept"), rule_index(wg, "@grant4_wg"));
}

TEST(RuntimeSets, HostBansInHashSetsPrefixBansInIntervalSetsBothDroppedAndCounted) {
    auto table = compile::compile_ir(load_policy(own_policy("gateway_mixed")));
    for (const char* name : {"banh4", "banh6"}) {
        const auto* hosts = table.find_set(name);
        ASSERT_NE(hosts, nullptr) << name;
        EXPECT_TRUE(hosts->flags.timeout && hosts->runtime);
        EXPECT_FALSE(hosts->flags.interval);  // a hash set: ~3-4x faster to fill
        EXPECT_EQ(hosts->timeout_seconds, 7200u);
        EXPECT_TRUE(hosts->elements.empty());
    }
    EXPECT_EQ(table.find_set("banh6")->key, std::vector<ir::DataType>{ir::DataType::ipv6_addr});
    const auto* prefixes = table.find_set("ban4");
    ASSERT_NE(prefixes, nullptr);
    EXPECT_TRUE(prefixes->flags.interval && prefixes->flags.timeout);  // unchanged: kept across upgrades
    for (const char* chain_name : {"input_filter", "forward_filter"}) {
        const auto& c = chain(table, chain_name);
        for (const char* rule : {"ip saddr @banh4 counter name \"banned\" drop",
                                 "ip saddr @ban4 counter name \"banned\" drop",
                                 "ip6 saddr @banh6 counter name \"banned\" drop",
                                 "ip6 saddr @ban6 counter name \"banned\" drop"})
            EXPECT_NE(rule_index(c, rule), std::string::npos) << chain_name << ": " << rule;
        // The four ban rules sit together (hosts first), where the single ban rule pair sat.
        EXPECT_EQ(rule_index(c, "@ban4"), rule_index(c, "@banh4") + 1);
        EXPECT_EQ(rule_index(c, "@banh6"), rule_index(c, "@ban4") + 1);
        EXPECT_EQ(rule_index(c, "@ban6"), rule_index(c, "@banh6") + 1);
    }
}

TEST(Order, ManagementBeforeAnythingThatDropsThenBansThenConntrack) {
    for (const char* name : {"gateway_mixed", "host_l2tp"}) {
        SCOPED_TRACE(name);
        auto table = compile::compile_ir(load_policy(own_policy(name)));
        const auto& input = chain(table, "input_filter");
        auto management = rule_index(input, "@mgmt_ports");
        auto ban = rule_index(input, "@ban4");
        auto established = rule_index(input, "ct state established,related accept");
        auto invalid = rule_index(input, "ct state invalid");
        auto dispatch = rule_index(input, "vmap @local_ports");
        auto fallback = rule_index(input, "default_dropped");
        ASSERT_NE(management, std::string::npos);
        for (std::size_t i = 0; i < management; ++i) {
            for (const auto& s : input.rules[i].statements) {
                const auto* v = std::get_if<ir::VerdictStmt>(&s);
                EXPECT_FALSE(v && v->verdict.kind != ir::Verdict::Kind::accept)
                    << "rule " << i << " can refuse before management: " << ir::render(input.rules[i]);
            }
        }
        EXPECT_LT(management, ban);
        EXPECT_LT(ban, established);
        for (const char* set : {"@banh4", "@banh6", "@ban6"}) {
            auto other = rule_index(input, set);
            EXPECT_LT(management, other) << set;
            EXPECT_LT(other, established) << set;
        }
        EXPECT_LT(established, invalid);
        EXPECT_LT(invalid, dispatch);
        EXPECT_EQ(fallback, input.rules.size() - 1);
    }
}

TEST(Gateway, DnatOnWanRestrictedToWanAddressAndForwardDispatchOnOriginalPort) {
    auto table = compile::compile_ir(load_policy(own_policy("gateway_mixed")));
    const auto& nat = chain(table, "prerouting_nat");
    ASSERT_TRUE(nat.base);
    EXPECT_EQ(nat.base->type, ir::BaseChain::Type::nat);
    EXPECT_EQ(nat.base->priority, "dstnat");
    for (const auto& rule : nat.rules) {
        auto text = ir::render(rule);
        EXPECT_TRUE(text_has(text, "iifname { \"eth0\", \"wan1\" }")) << text;
        EXPECT_TRUE(text_has(text, "ip daddr 203.0.113.1") || text_has(text, "ip6 daddr 2001:db8:ffff::1")) << text;
    }
    const auto& forward = chain(table, "forward_filter");
    // Unguarded forwarded services are checked on the ORIGINAL destination port, one counted
    // concatenated lookup per protocol and family.
    EXPECT_NE(rule_index(forward, "ct status dnat meta l4proto tcp ip saddr . ct original proto-dst @accept4_forward_tcp accept"),
              std::string::npos);
    EXPECT_NE(rule_index(forward, "ct status dnat meta l4proto udp ct original proto-dst @refuse_forward_udp goto deny_service"),
              std::string::npos);
    EXPECT_EQ(table.find_chain("fwd"), nullptr);
    const auto* remap = table.find_set("dnat4_remap");
    ASSERT_NE(remap, nullptr);
    ASSERT_EQ(remap->elements.size(), 1u);
    EXPECT_EQ(std::get<ir::NatTarget>(remap->elements[0].data).port, std::optional<std::uint16_t>(443));
    const auto& masquerade = chain(table, "postrouting_nat");
    EXPECT_EQ(ir::render(masquerade.rules.at(0)), "iifname \"eth1\" oifname { \"eth0\", \"wan1\" } masquerade");
}

TEST(Gateway, OnlyWanAddressFamilyIsDnated) {
    auto policy = load_policy(own_policy("gateway_mixed"));
    policy.wan_addresses = {*Address::parse("203.0.113.1")};
    auto text = compile::compile(policy).table_text;
    EXPECT_TRUE(text_has(text, "dnat ip to"));
    EXPECT_FALSE(text_has(text, "dnat ip6 to"));
}

TEST(Pptp, HelperAssignedAfterConntrackAndGreOnlyViaExpectation) {
    auto table = compile::compile_ir(load_policy(own_policy("gateway_mixed")));
    ASSERT_EQ(table.ct_helpers.size(), 1u);
    EXPECT_EQ(table.ct_helpers[0].type, "pptp");
    const auto& helpers = chain(table, "prerouting_helpers");
    ASSERT_TRUE(helpers.base);
    EXPECT_EQ(helpers.base->hook, ir::BaseChain::Hook::prerouting);
    EXPECT_EQ(helpers.base->priority, "filter");  // 0: after conntrack (-200)
    EXPECT_NE(rule_index(helpers, "ct original proto-dst 1723 ct helper set \"pptp\""), std::string::npos);
    // GRE is neither DNATed raw nor dispatched: the helper's expectation carries it.
    auto text = ir::render(table);
    EXPECT_FALSE(text_has(text, "gre :"));
    EXPECT_FALSE(text_has(text, "gre . "));
}

TEST(L2tp, HostAcceptsUdp1701OnlyInsideIpsec) {
    auto table = compile::compile_ir(load_policy(own_policy("host_l2tp")));
    const auto* ports = table.find_set("local_ports");
    ASSERT_NE(ports, nullptr);
    bool has_1701 = false;
    for (const auto& e : ports->elements)
        has_1701 |= e.key.size() == 2 && std::get<policy::PortRange>(e.key[1]).first == 1701;
    EXPECT_TRUE(has_1701);
    const auto& l2tp = chain(table, compile::service_chain("l2tp"));
    auto secpath = rule_index(l2tp, "meta secpath missing");
    ASSERT_EQ(secpath, 0u);  // before the accept
    EXPECT_TRUE(text_has(ir::render(l2tp.rules[0]), "th dport 1701"));
    EXPECT_EQ(table.find_chain("forward_filter"), nullptr);
    EXPECT_EQ(table.find_chain("prerouting_nat"), nullptr);
}

TEST(L2tp, GatewayNeverForwardsRawL2tp) {
    auto policy = load_policy(own_policy("host_l2tp"));
    policy.mode = policy::Mode::gateway;
    policy.lan_interface = "eth1";
    policy.services[0].forward_to = policy::ForwardTarget{*Address::parse("192.0.2.20"), {}};
    auto text = compile::compile(policy).table_text;
    EXPECT_FALSE(text_has(text, "1701"));
    EXPECT_FALSE(text_has(text, "secpath"));
    EXPECT_TRUE(text_has(text, "esp : 192.0.2.20"));
}

TEST(DefaultAction, RejectUsesTcpResetThenIcmpx) {
    auto table = compile::compile_ir(load_policy(own_policy("gateway_mixed")));
    for (const char* name : {"deny_closed", "deny_service"}) {
        const auto& deny = chain(table, name);
        ASSERT_EQ(deny.rules.size(), 3u);
        EXPECT_EQ(ir::render(deny.rules[0]), std::string("limit name \"drop_log\" log prefix \"portcullis drop=") +
                                                 (std::string(name) == "deny_closed" ? "closed" : "service") +
                                                 " \" group 5");
        EXPECT_EQ(ir::render(deny.rules[1]), "meta l4proto tcp reject with tcp reset");
        EXPECT_EQ(ir::render(deny.rules[2]), "reject with icmpx admin-prohibited");
    }
    auto drop = compile::compile_ir(load_policy(own_policy("gateway_minimal")));
    EXPECT_EQ(ir::render(chain(drop, "deny_closed").rules.at(0)), "drop");  // no logging configured
    EXPECT_TRUE(drop.limits.empty());
}

TEST(Counters, PerServiceAndGlobalNamedCounters) {
    auto compiled = compile::compile(load_policy(own_policy("host_pptp_sstp")));
    // Unguarded services count in their set elements (comment = the logical counter name); only
    // the table-wide counters, the PPTP service's SYN limiter and its GRE conformance reasons are
    // named objects here.
    std::vector<std::string> expected{"management_accepted", "banned",              "invalid",
                                      "default_dropped",     "flood_pptp_pptp_new", "flood_pptp_pptp_new_global",
                                      "conform_gre_short",
                                      "conform_gre_version",
                                      "conform_gre_protocol", "conform_gre_key",    "conform_gre_flags"};
    EXPECT_EQ(compiled.manifest.counters, expected);
    EXPECT_TRUE(text_has(compiled.table_text, "comment \"svc_sstp_accepted\""));
    EXPECT_TRUE(text_has(compiled.table_text, "1723 comment \"svc_pptp_dropped\""));
    auto table = compile::compile_ir(load_policy(own_policy("host_pptp_sstp")));
    const auto* refuse = table.find_set("refuse_local_tcp");
    ASSERT_NE(refuse, nullptr);
    EXPECT_TRUE(refuse->counted);
}

TEST(AllowLists, NestedPrefixesCollapseIntoSharedAcceptSets) {
    auto table = compile::compile_ir(load_policy(own_policy("gateway_mixed")));
    const auto* allow = table.find_set("accept4_forward_tcp");
    ASSERT_NE(allow, nullptr);
    std::vector<std::string> pptp;
    for (const auto& element : allow->elements)
        if (element.counter == "svc_legacy-pptp_accepted") pptp.push_back(ir::render(element.key[0], ir::DataType::ipv4_addr));
    // 203.0.113.64/26 lies inside 203.0.113.0/25: two elements, not three.
    EXPECT_EQ(pptp, (std::vector<std::string>{"198.51.100.0/24", "203.0.113.0/25"}));
    // media: its IPv4 source and IPv6 source land in the two families' sets, per port range.
    std::size_t media4 = 0, media6 = 0;
    for (const auto* name : {"accept4_forward_tcp", "accept4_forward_udp"})
        for (const auto& element : table.find_set(name)->elements) media4 += element.counter == "svc_media_accepted";
    for (const auto* name : {"accept6_forward_tcp", "accept6_forward_udp"})
        for (const auto& element : table.find_set(name)->elements) media6 += element.counter == "svc_media_accepted";
    EXPECT_EQ(media4, 2u);
    EXPECT_EQ(media6, 2u);
    EXPECT_EQ(table.find_chain("svc_media"), nullptr);
    // The guarded service keeps its own chain and named counters.
    EXPECT_NE(table.find_chain("svc_wg"), nullptr);
}

TEST(Management, PortsMergedAndPortlessProtocolsSeparate) {
    policy::Policy p;
    p.wan_interfaces = {"eth0"};
    p.management.sources = {*Prefix::parse("203.0.113.10")};
    p.management.ports = {{policy::IpProtocol::tcp, policy::PortRange{22, 22}, {}},
                          {policy::IpProtocol::tcp, policy::PortRange{20, 30}, {}},
                          {policy::IpProtocol::udp, policy::PortRange{22, 22}, {}},
                          {policy::IpProtocol::gre, std::nullopt, {}}};
    auto table = compile::compile_ir(p);
    const auto* ports = table.find_set("mgmt_ports");
    ASSERT_NE(ports, nullptr);
    ASSERT_EQ(ports->elements.size(), 2u);
    EXPECT_EQ(std::get<policy::PortRange>(ports->elements[0].key[1]), (policy::PortRange{20, 30}));
    EXPECT_EQ(std::get<ir::Proto>(ports->elements[1].key[0]).number, 17);
    const auto* protos = table.find_set("mgmt_protos");
    ASSERT_NE(protos, nullptr);
    EXPECT_EQ(protos->elements.size(), 1u);
    EXPECT_EQ(table.find_set("mgmt6"), nullptr);  // no IPv6 management source, no set
    EXPECT_NE(rule_index(chain(table, "input_filter"), "ip saddr @mgmt4 meta l4proto @mgmt_protos"), std::string::npos);
}

TEST(Identifiers, SanitizedDeterministicAndDistinct) {
    EXPECT_EQ(ir::identifier("svc_", "vpn-1_a"), "svc_vpn-1_a");
    auto odd = ir::identifier("svc_", "my vpn");
    EXPECT_EQ(odd, ir::identifier("svc_", "my vpn"));
    EXPECT_TRUE(std::regex_match(odd, std::regex("svc_my_vpn_[0-9a-f]{8}"))) << odd;
    EXPECT_NE(ir::identifier("svc_", "my vpn"), ir::identifier("svc_", "my_vpn"));
    EXPECT_NE(ir::identifier("svc_", "my vpn"), ir::identifier("svc_", "my.vpn"));
    EXPECT_LT(ir::identifier("svc_", std::string(1000, 'a')).size(), 200u);
}

TEST(Render, Durations) {
    EXPECT_EQ(ir::render_duration(3600), "1h");
    EXPECT_EQ(ir::render_duration(90), "1m30s");
    EXPECT_EQ(ir::render_duration(7 * 86400 + 1), "7d1s");
    EXPECT_EQ(ir::render_duration(0), "0s");
}

// Policies built in C++ for corners the example files do not reach; each must satisfy real nft.
TEST(Corners, UnusualPoliciesStillLoadIntoTheKernel) {
    ASSERT_TRUE(nft_available());
    std::vector<std::pair<std::string, policy::Policy>> cases;
    {
        policy::Policy p;  // host, nothing at all: everything on WAN refused
        p.wan_interfaces = {"eth0"};
        cases.emplace_back("empty", p);
    }
    {
        policy::Policy p;  // reject + logging + management reachable over a portless protocol
        p.wan_interfaces = {"eth0", "eth9"};
        p.default_action = policy::DefaultAction::reject;
        p.logging.drop_group = 65535;
        p.logging.drop_rate_per_second = 1;
        p.management.sources = {*Prefix::parse("2001:db8:1::/48")};
        p.management.ports = {{policy::IpProtocol::gre, std::nullopt, {}},
                              {policy::IpProtocol::tcp, policy::PortRange{22, 22}, {}},
                              {policy::IpProtocol::tcp, policy::PortRange{20, 30}, {}}};
        policy::Service s;
        s.name = "0odd-name";
        s.ports = {{policy::IpProtocol::ah, std::nullopt, {}}, {policy::IpProtocol::udp, policy::PortRange{1, 65535}, {}}};
        s.allow_from = {*Prefix::parse("0.0.0.0/0"), *Prefix::parse("192.0.2.0/24"), *Prefix::parse("::/0")};
        s.guard = policy::Guard::spa;
        p.services.push_back(s);
        cases.emplace_back("corners", p);
    }
    {
        policy::Policy p;  // gateway without lan, masquerade, v6-only forward with a port remap
        p.mode = policy::Mode::gateway;
        p.wan_interfaces = {"eth0"};
        p.masquerade_lan = true;
        policy::Service s;
        s.name = "v6";
        s.ports = {{policy::IpProtocol::tcp, policy::PortRange{443, 443}, {}}};
        s.forward_to = policy::ForwardTarget{*Address::parse("2001:db8::443"), 8443};
        s.allow_any = true;
        p.services.push_back(s);
        cases.emplace_back("v6remap", p);
    }
    {
        policy::Policy p;  // invalid (no WAN) yet must still compile to something loadable
        p.mode = policy::Mode::gateway;
        p.masquerade_lan = true;
        policy::Service s;
        s.name = "pptp";
        s.ports = {{policy::IpProtocol::tcp, policy::PortRange{1723, 1723}, {}}, {policy::IpProtocol::gre, std::nullopt, {}}};
        s.pptp_helper = true;
        s.forward_to = policy::ForwardTarget{*Address::parse("192.0.2.10"), {}};
        s.allow_any = true;
        p.services.push_back(s);
        cases.emplace_back("nowan", p);
    }
    {
        policy::Policy p;  // overlapping claims (the parser rejects these) must not break the table
        p.wan_interfaces = {"eth0"};
        for (const char* name : {"a", "b"}) {
            policy::Service s;
            s.name = name;
            s.ports = {{policy::IpProtocol::udp, policy::PortRange{500, 600}, {}},
                       {policy::IpProtocol::esp, std::nullopt, {}}};
            s.allow_any = true;
            p.services.push_back(s);
        }
        p.services[1].ports[0].ports = policy::PortRange{550, 560};
        cases.emplace_back("overlap", p);
    }
    for (const auto& [name, policy] : cases) {
        SCOPED_TRACE(name);
        auto compiled = compile::compile(policy);
        auto file = temp_file(name + ".nft");
        write_text(file, compiled.table_text);
        auto load = nft_in_private_netns(file, true);
        EXPECT_EQ(load.status, 0) << load.output << "\n" << compiled.table_text;
    }
    if (!HasFailure()) fs::remove_all(temp_file("x").parent_path());
}

}  // namespace
