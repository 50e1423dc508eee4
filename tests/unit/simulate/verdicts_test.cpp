// Table-driven: packets built with the dissect helper's builder, evaluated against the compiled
// example policies; verdict, path and the rule (as `portcullis compile` prints it) that decided.
#include <gtest/gtest.h>

#include "compile/compile.hpp"
#include "simulate/report.hpp"
#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

struct Step {
    std::string what;
    PacketBuilder packet;
    double time = -1;
    Verdict verdict = Verdict::drop;
    Path path = Path::none;
    std::string chain;          // decided_by.chain ("" = don't care)
    std::string rule_contains;  // substring of the deciding rule's text
    std::string element;        // decided_by.element (substring), "" = don't care
    std::string dnat;           // expected dnat text, "" = none
    std::string ct_state;       // "" = don't care
};

struct Case {
    std::string name;
    std::string policy;
    Options options;
    std::vector<Step> steps;
};

// UDP 500 carries a well-formed IKE_SA_INIT header: the compiled IKE conformance chain drops
// anything else on that port before the service sees it.
PacketBuilder udp4(const std::string& s, const std::string& d, std::uint16_t sp, std::uint16_t dp) {
    PacketBuilder packet = PacketBuilder().ethernet().ipv4(s, d).udp(sp, dp);
    if (sp == 500 || dp == 500) return packet.ike(dissect::testing::IkeBuilder::v2(34));
    return packet.raw(Buffer(16, 0x11));
}
PacketBuilder tcp4(const std::string& s, const std::string& d, std::uint16_t sp, std::uint16_t dp,
                   std::uint8_t flags = kSyn) {
    return PacketBuilder().ethernet().ipv4(s, d).tcp(sp, dp, flags);
}
PacketBuilder udp6(const std::string& s, const std::string& d, std::uint16_t sp, std::uint16_t dp) {
    PacketBuilder packet = PacketBuilder().ethernet().ipv6(s, d).udp(sp, dp);
    if (sp == 500 || dp == 500) return packet.ike(dissect::testing::IkeBuilder::v2(34));
    return packet.raw(Buffer(16, 0x22));
}
PacketBuilder tcp6(const std::string& s, const std::string& d, std::uint16_t sp, std::uint16_t dp,
                   std::uint8_t flags = kSyn) {
    return PacketBuilder().ethernet().ipv6(s, d).tcp(sp, dp, flags);
}
PacketBuilder proto4(const std::string& s, const std::string& d, std::uint8_t protocol) {
    dissect::testing::Ipv4Options options;
    options.protocol = protocol;
    return PacketBuilder().ethernet().ipv4(s, d, options).raw(Buffer(20, 0x33));
}

Options with_gateway(const std::string& address) {
    Options o;
    o.gateway_addresses.push_back(addr(address));
    return o;
}

std::vector<Case> cases() {
    std::vector<Case> all;
    {
        Case c{"management allowed, others closed", "examples/gateway-ikev2.toml", with_gateway("203.0.113.1"), {}};
        c.steps.push_back({"admin ssh", tcp4("203.0.113.10", "203.0.113.1", 40000, 22), -1, Verdict::accept,
                           Path::input, "input_filter", "@mgmt_ports", "", "", "new"});
        c.steps.push_back({"stranger ssh", tcp4("198.51.100.7", "203.0.113.1", 40001, 22), -1, Verdict::drop,
                           Path::input, "deny_closed", "drop", "", "", "new"});
        c.steps.push_back({"admin on another port", tcp4("203.0.113.10", "203.0.113.1", 40002, 23), -1,
                           Verdict::drop, Path::input, "deny_closed", "drop", "", "", ""});
        all.push_back(std::move(c));
    }
    {
        Case c{"banned source dropped until the ban expires", "examples/gateway-ikev2.toml", {}, {}};
        c.options.bans.push_back({prefix("198.51.100.0/24"), 60});
        c.steps.push_back({"banned ike", udp4("198.51.100.7", "203.0.113.1", 500, 500), 1000, Verdict::drop,
                           Path::forward, "forward_filter", "@ban4", "198.51.100.0/24", "192.0.2.10:500", "new"});
        c.steps.push_back({"other source", udp4("203.0.113.50", "203.0.113.1", 500, 500), 1001,
                           Verdict::accept, Path::forward, "forward_filter", "@accept4_forward_udp accept", "0.0.0.0/0 . 500",
                           "192.0.2.10:500", "new"});
        c.steps.push_back({"ban expired", udp4("198.51.100.7", "203.0.113.1", 500, 500), 1061, Verdict::accept,
                           Path::forward, "forward_filter", "@accept4_forward_udp", "", "192.0.2.10:500", "new"});
        all.push_back(std::move(c));
    }
    {
        Case c{"allow_from: inside accepted, outside dropped", "examples/gateway-dualstack.toml", {}, {}};
        c.steps.push_back({"files from allowed /24", tcp4("198.51.100.5", "203.0.113.1", 41000, 21), -1,
                           Verdict::accept, Path::forward, "forward_filter", "ip saddr . ct original proto-dst @accept4_forward_tcp",
                           "198.51.100.0/24 . 21", "192.0.2.30:21", "new"});
        c.steps.push_back({"files high port range", tcp4("198.51.100.5", "203.0.113.1", 41001, 40050), -1,
                           Verdict::accept, Path::forward, "forward_filter", "accept", "198.51.100.0/24 . 40000-40100",
                           "192.0.2.30:40050", "new"});
        c.steps.push_back({"files from outside", tcp4("203.0.113.99", "203.0.113.1", 41002, 21), -1,
                           Verdict::drop, Path::forward, "deny_service", "drop", "",
                           "192.0.2.30:21", "new"});
        c.steps.push_back({"single-address allow", udp4("198.51.100.200", "203.0.113.1", 3000, 161), -1,
                           Verdict::accept, Path::forward, "forward_filter", "@accept4_forward_udp", "198.51.100.200 . 161",
                           "192.0.2.40:161", ""});
        c.steps.push_back({"not the wan address: no dnat, forward default", udp4("198.51.100.200", "203.0.113.77", 3000, 161), -1,
                           Verdict::drop, Path::forward, "deny_closed", "drop", "", "", "new"});
        all.push_back(std::move(c));
    }
    {
        Case c{"IPv6: dual-stack gateway", "examples/gateway-dualstack.toml", {}, {}};
        c.steps.push_back({"wg6 from allowed prefix", udp6("2001:db8:200::5", "2001:db8::1", 50000, 51820), -1,
                           Verdict::accept, Path::forward, "forward_filter", "@accept6_forward_udp", "2001:db8:200::/40 . 51820",
                           "[2001:db8:100::10]:51820", "new"});
        c.steps.push_back({"wg6 from elsewhere", udp6("2001:db8:999::5", "2001:db8::1", 50000, 51820), -1,
                           Verdict::drop, Path::forward, "deny_service", "drop", "", "[2001:db8:100::10]:51820",
                           "new"});
        c.steps.push_back({"v6 management", tcp6("2001:db8:1::77", "2001:db8::1", 50001, 8443), -1,
                           Verdict::accept, Path::input, "input_filter", "ip6 saddr @mgmt6", "2001:db8:1::/64",
                           "", "new"});
        c.steps.push_back({"v6 closed port", tcp6("2001:db8:999::5", "2001:db8::1", 50002, 25), -1,
                           Verdict::drop, Path::input, "deny_closed", "drop", "", "", "new"});
        c.steps.push_back({"neighbour solicitation on-link",
                           PacketBuilder().ethernet().ipv6("fe80::1", "ff02::1:ff00:1", 255).icmpv6(135, 0).raw(Buffer(20, 0)),
                           -1, Verdict::accept, Path::input, "input_filter", "nd-neighbor-solicit", "", "",
                           "untracked"});
        c.steps.push_back({"neighbour solicitation routed (hop limit 64)",
                           PacketBuilder().ethernet().ipv6("2001:db8:999::5", "2001:db8::1", 64).icmpv6(135, 0).raw(Buffer(20, 0)),
                           -1, Verdict::drop, Path::input, "deny_closed", "drop", "", "", "untracked"});
        all.push_back(std::move(c));
    }
    {
        Case c{"reject vs drop default", "examples/host-openvpn-sstp.toml", {}, {}};
        c.steps.push_back({"tcp closed port: tcp reset", tcp4("198.51.100.7", "203.0.113.1", 40000, 23), -1,
                           Verdict::reject, Path::input, "deny_closed", "reject with tcp reset", "", "", "new"});
        c.steps.push_back({"udp closed port: icmp", udp4("198.51.100.7", "203.0.113.1", 40000, 9999), -1,
                           Verdict::reject, Path::input, "deny_closed", "icmpx admin-prohibited", "", "", "new"});
        c.steps.push_back({"sstp open", tcp4("198.51.100.7", "203.0.113.1", 40001, 443), -1, Verdict::accept,
                           Path::input, "input_filter", "@accept4_local_tcp accept", "0.0.0.0/0 . 443", "", "new"});
        c.steps.push_back({"ack before the syn-ack is invalid", tcp4("198.51.100.7", "203.0.113.1", 40001, 443, kAck), -1,
                           Verdict::drop, Path::input, "input_filter", "ct state invalid", "", "", "invalid"});
        c.steps.push_back({"syn retransmit is still new", tcp4("198.51.100.7", "203.0.113.1", 40001, 443), -1,
                           Verdict::accept, Path::input, "input_filter", "@accept4_local_tcp", "", "", "new"});
        all.push_back(std::move(c));
    }
    {
        Case c{"drop default and unknown protocols", "examples/host-wireguard.toml", {}, {}};
        c.steps.push_back({"tcp closed port dropped", tcp4("198.51.100.7", "203.0.113.1", 40000, 23), -1,
                           Verdict::drop, Path::input, "deny_closed", "drop", "", "", "new"});
        c.steps.push_back({"sctp (132) dropped", proto4("198.51.100.7", "203.0.113.1", 132), -1, Verdict::drop,
                           Path::input, "deny_closed", "drop", "", "", "new"});
        c.steps.push_back({"protocol 253 dropped", proto4("198.51.100.7", "203.0.113.1", 253), -1, Verdict::drop,
                           Path::input, "deny_closed", "drop", "", "", "new"});
        c.steps.push_back({"wireguard open", udp4("198.51.100.7", "203.0.113.1", 40000, 51820), -1,
                           Verdict::accept, Path::input, "input_filter", "@accept4_local_udp", "0.0.0.0/0 . 51820", "", "new"});
        c.steps.push_back({"stray tcp ack is invalid", tcp4("198.51.100.8", "203.0.113.1", 40000, 443, kAck), -1,
                           Verdict::drop, Path::input, "input_filter", "ct state invalid", "", "", "invalid"});
        all.push_back(std::move(c));
    }
    return all;
}

TEST(SimulateVerdicts, TableOfExamplePolicies) {
    for (auto& c : cases()) {
        SCOPED_TRACE(c.name);
        auto sim = make(c.policy, c.options);
        ASSERT_TRUE(sim);
        Feeder feed(*sim);
        for (const auto& step : c.steps) {
            SCOPED_TRACE(step.what);
            Outcome o = feed(step.packet, step.time);
            EXPECT_EQ(verdict_name(o.verdict), std::string(verdict_name(step.verdict)));
            EXPECT_EQ(path_name(o.path), std::string(path_name(step.path)));
            if (!step.chain.empty()) {
                EXPECT_EQ(o.decided_by.chain, step.chain);
            }
            EXPECT_NE(o.decided_by.text.find(step.rule_contains), std::string::npos)
                << "decided by: " << o.decided_by.text;
            if (!step.element.empty()) {
                EXPECT_NE(o.decided_by.element.find(step.element), std::string::npos)
                    << "element: " << o.decided_by.element;
            }
            EXPECT_EQ(o.dnat.value_or(""), step.dnat);
            if (!step.ct_state.empty()) {
                EXPECT_EQ(o.ct_state, step.ct_state);
            }
        }
    }
}

// The deciding rule is printed exactly as `portcullis compile` prints it.
TEST(SimulateVerdicts, DecidingRuleTextIsACompiledLine) {
    auto policy = load_policy("examples/gateway-ikev2.toml");
    auto text = compile::compile(policy).table_text;
    auto sim = make("examples/gateway-ikev2.toml", with_gateway("203.0.113.1"));
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    for (auto packet : {tcp4("203.0.113.10", "203.0.113.1", 1, 22), tcp4("198.51.100.1", "203.0.113.1", 2, 22),
                        udp4("198.51.100.1", "203.0.113.1", 500, 4500)}) {
        Outcome o = feed(packet);
        ASSERT_GT(o.decided_by.rule, 0u);
        EXPECT_NE(text.find("\t\t" + o.decided_by.text + "\n"), std::string::npos) << o.decided_by.text;
    }
}

TEST(SimulateVerdicts, GuardedServiceClosedUntilGranted) {
    auto sim = make("examples/gateway-openvpn-admin.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    Outcome before = feed(tcp4("198.51.100.7", "203.0.113.1", 40000, 48443), 1000);
    EXPECT_EQ(before.verdict, Verdict::drop);
    EXPECT_EQ(before.decided_by.chain, "deny_service");
    EXPECT_EQ(sim->counter(compile::dropped_counter("admin-ui")).packets, 1u);

    ASSERT_TRUE(sim->grant("admin-ui", addr("198.51.100.7"), 1001, 600));
    Outcome granted = feed(tcp4("198.51.100.7", "203.0.113.1", 40001, 48443), 1002);
    EXPECT_EQ(granted.verdict, Verdict::accept);
    EXPECT_EQ(granted.path, Path::forward);
    EXPECT_EQ(granted.dnat.value_or(""), "192.0.2.10:443");  // the port remap 48443 → 443
    EXPECT_NE(granted.decided_by.text.find("ip saddr @grant4_admin-ui"), std::string::npos);
    EXPECT_NE(granted.decided_by.element.find("198.51.100.7"), std::string::npos);

    // Another source is still refused; the grant runs out after its 600 s.
    EXPECT_EQ(feed(tcp4("198.51.100.8", "203.0.113.1", 40002, 48443), 1003).verdict, Verdict::drop);
    EXPECT_EQ(feed(tcp4("198.51.100.7", "203.0.113.1", 40003, 48443), 1602).verdict, Verdict::drop);
    EXPECT_EQ(sim->counter(compile::accepted_counter("admin-ui")).packets, 1u);
}

TEST(SimulateVerdicts, InitialGrantOption) {
    Options options;
    options.grants.push_back({"admin-ui", addr("198.51.100.9"), 30});
    auto sim = make("examples/gateway-openvpn-admin.toml", options);
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    EXPECT_EQ(feed(tcp4("198.51.100.9", "203.0.113.1", 1, 48443), 5000).verdict, Verdict::accept);
    EXPECT_EQ(feed(tcp4("198.51.100.9", "203.0.113.1", 2, 48443), 5031).verdict, Verdict::drop);
    // Grants for unguarded or unknown services are refused up front.
    Options bad;
    bad.grants.push_back({"openvpn", addr("198.51.100.9"), std::nullopt});
    EXPECT_FALSE(Simulator::create(load_policy("examples/gateway-openvpn-admin.toml"), bad));
    bad.grants = {{"nope", addr("198.51.100.9"), std::nullopt}};
    EXPECT_FALSE(Simulator::create(load_policy("examples/gateway-openvpn-admin.toml"), bad));
}

TEST(SimulateVerdicts, EstablishedReturnTraffic) {
    auto sim = make("examples/host-wireguard.toml", with_gateway("203.0.113.1"));
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    // The host opens a connection out; the reply comes back in and is established.
    Outcome out = feed(tcp4("203.0.113.1", "198.51.100.9", 50000, 443, kSyn));
    EXPECT_EQ(out.path, Path::output);
    EXPECT_EQ(out.verdict, Verdict::accept);
    Outcome back = feed(tcp4("198.51.100.9", "203.0.113.1", 443, 50000, kSynAck));
    EXPECT_EQ(back.verdict, Verdict::accept);
    EXPECT_EQ(back.ct_state, "established");
    EXPECT_EQ(back.decided_by.text, "ct state established,related accept");
    // The same SYN-ACK from a host we never talked to is invalid.
    Outcome stray = feed(tcp4("198.51.100.10", "203.0.113.1", 443, 50000, kSynAck));
    EXPECT_EQ(stray.verdict, Verdict::drop);
    EXPECT_EQ(stray.ct_state, "invalid");
    // A client of the service: its first packet is new, our answer goes out, the next is established.
    EXPECT_EQ(feed(udp4("198.51.100.20", "203.0.113.1", 40000, 51820)).ct_state, "new");
    Outcome answer = feed(udp4("203.0.113.1", "198.51.100.20", 51820, 40000));
    EXPECT_EQ(answer.path, Path::output);
    Outcome again = feed(udp4("198.51.100.20", "203.0.113.1", 40000, 51820));
    EXPECT_EQ(again.ct_state, "established");
    EXPECT_EQ(sim->counter(compile::accepted_counter("wg")).packets, 1u);  // only the first saw the service chain
}

TEST(SimulateVerdicts, ForwardedReplyAndIcmpErrorRelated) {
    auto sim = make("examples/gateway-ikev2.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    Outcome first = feed(udp4("198.51.100.7", "203.0.113.1", 500, 500));
    ASSERT_EQ(first.verdict, Verdict::accept);
    ASSERT_TRUE(first.connection);
    const Connection* conn = sim->conntrack().get(*first.connection);
    ASSERT_NE(conn, nullptr);
    EXPECT_EQ(conn->reply.source, addr("192.0.2.10"));  // the reply tuple carries the DNAT
    EXPECT_TRUE(conn->dnat);
    // The gateway's answer as seen on the WAN (already un-NATed) is the reply relayed from the LAN.
    Outcome reply = feed(udp4("203.0.113.1", "198.51.100.7", 500, 500));
    EXPECT_EQ(reply.path, Path::reply);
    EXPECT_EQ(reply.iif, "eth1");
    EXPECT_EQ(reply.verdict, Verdict::accept);
    // An ICMP error quoting our reply is related and follows the DNAT.
    Buffer quoted = PacketBuilder().ipv4("203.0.113.1", "198.51.100.7").udp(500, 500).raw(Buffer(8, 0)).bytes();
    Outcome icmp = feed(PacketBuilder().ethernet().ipv4("198.51.100.7", "203.0.113.1").icmp(3, 3).raw(quoted));
    EXPECT_EQ(icmp.ct_state, "related");
    EXPECT_EQ(icmp.verdict, Verdict::accept);
    // An ICMP error quoting nothing we know is invalid.
    Buffer unknown = PacketBuilder().ipv4("203.0.113.1", "198.51.100.99").udp(9, 9).raw(Buffer(8, 0)).bytes();
    Outcome orphan = feed(PacketBuilder().ethernet().ipv4("198.51.100.99", "203.0.113.1").icmp(3, 3).raw(unknown));
    EXPECT_EQ(orphan.ct_state, "invalid");
    EXPECT_EQ(orphan.verdict, Verdict::drop);
}

TEST(SimulateVerdicts, NonIpAndMalformed) {
    auto sim = make("examples/host-wireguard.toml");
    ASSERT_TRUE(sim);
    Buffer arp = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1};
    auto bytes = dissect::testing::to_bytes(arp);
    auto out = sim->process(decode_frame(1, 1, 1, bytes));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].verdict, Verdict::skip);
    Buffer bad = {0x00, 1, 2, 3, 4, 5, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x4f, 0, 0, 20};  // IHL 60 > data
    auto bad_bytes = dissect::testing::to_bytes(bad);
    out = sim->process(decode_frame(2, 1, 1, bad_bytes));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].verdict, Verdict::drop);
    EXPECT_NE(out[0].decided_by.text.find("malformed"), std::string::npos);
}

TEST(SimulateOptions, ParseGrantAndBan) {
    auto g = parse_grant("admin-ui=198.51.100.7:600");
    ASSERT_TRUE(g);
    EXPECT_EQ(g->service, "admin-ui");
    EXPECT_EQ(g->address, addr("198.51.100.7"));
    EXPECT_EQ(g->seconds, 600u);
    auto g6 = parse_grant("svc=[2001:db8::1]:10m");
    ASSERT_TRUE(g6);
    EXPECT_EQ(g6->seconds, 600u);
    auto g6plain = parse_grant("svc=2001:db8::1");
    ASSERT_TRUE(g6plain);
    EXPECT_FALSE(g6plain->seconds);
    EXPECT_FALSE(parse_grant("=1.2.3.4"));
    EXPECT_FALSE(parse_grant("svc"));
    EXPECT_FALSE(parse_grant("svc=1.2.3.4:soon"));
    auto b = parse_ban("198.51.100.0/24:1h");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->prefix, prefix("198.51.100.0/24"));
    EXPECT_EQ(b->seconds, 3600u);
    auto host = parse_ban("198.51.100.7");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->prefix.length, 32);
    EXPECT_FALSE(parse_ban("198.51.100.1/24"));  // host bits set
}

// The compiler's knock chain (stage sets, per-step timeouts, reset by delete) evaluated end to end:
// the sequence opens SSH for the knocker only, a wrong step resets, a repeated step is harmless.
TEST(SimulateVerdicts, CompiledKnockSequenceOpensForTheKnockerOnly) {
    auto sim = make("tests/unit/compile/policies/host_knock.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    const std::string host = "203.0.113.1", knocker = "203.0.113.77", other = "203.0.113.78";
    auto knock = [&](const std::string& from, double t) {
        EXPECT_EQ(feed(tcp4(from, host, 41000, 17301), t).verdict, Verdict::drop);
        EXPECT_EQ(feed(tcp4(from, host, 41000, 17301), t + 0.1).verdict, Verdict::drop);  // repeated step
        EXPECT_EQ(feed(udp4(from, host, 41001, 28113), t + 0.2).verdict, Verdict::drop);
        EXPECT_EQ(feed(tcp4(from, host, 41002, 11923), t + 0.3).verdict, Verdict::drop);
    };
    EXPECT_EQ(feed(tcp4(knocker, host, 40000, 22), 100).verdict, Verdict::drop);
    knock(knocker, 101);
    EXPECT_EQ(feed(tcp4(knocker, host, 40001, 22), 102).verdict, Verdict::accept);
    EXPECT_EQ(feed(tcp4(other, host, 40002, 22), 102).verdict, Verdict::drop);
    EXPECT_EQ(feed(tcp4(knocker, host, 40003, 22), 140).verdict, Verdict::drop);  // open_for = 30s passed

    // A wrong step in the middle resets: finishing the sequence afterwards opens nothing.
    EXPECT_EQ(feed(tcp4(other, host, 42000, 17301), 200).verdict, Verdict::drop);
    EXPECT_EQ(feed(tcp4(other, host, 42001, 11923), 200.1).verdict, Verdict::drop);  // out of order
    EXPECT_EQ(feed(udp4(other, host, 42002, 28113), 200.2).verdict, Verdict::drop);
    EXPECT_EQ(feed(tcp4(other, host, 42003, 11923), 200.3).verdict, Verdict::drop);
    EXPECT_EQ(feed(tcp4(other, host, 42004, 22), 201).verdict, Verdict::drop);
}

}  // namespace
}  // namespace portcullis::simulate::testing
