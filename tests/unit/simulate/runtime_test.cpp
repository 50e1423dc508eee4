// Runtime semantics on hand-built tables: load-time refusal of what is not modelled, dynamic sets
// with timeouts and per-element limits (knock stages, floods), raw payload matches, named limits,
// fragments, and the PPTP helper's GRE expectations.
#include <gtest/gtest.h>

#include "compile/compile.hpp"
#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

namespace ir = compile::ir;
using policy::PortRange;

ir::Chain input_chain(ir::Verdict::Kind policy = ir::Verdict::Kind::drop) {
    ir::Chain chain;
    chain.name = "input_filter";
    chain.base = ir::BaseChain{ir::BaseChain::Type::filter, ir::BaseChain::Hook::input, "filter", policy};
    return chain;
}

ir::Set address_set(const std::string& name, std::optional<std::uint32_t> timeout) {
    ir::Set set;
    set.name = name;
    set.key = {ir::DataType::ipv4_addr};
    set.flags.dynamic = true;
    set.flags.timeout = timeout.has_value();
    set.timeout_seconds = timeout;
    return set;
}

Box host_box() {
    Box box;
    box.wan_interfaces = {"eth0"};
    return box;
}

ir::Statement accept() { return ir::VerdictStmt{{ir::Verdict::Kind::accept, {}}}; }
ir::Statement drop() { return ir::VerdictStmt{{ir::Verdict::Kind::drop, {}}}; }
ir::Compare l4(std::uint8_t p) { return ir::Compare{ir::Field::meta_l4proto, {ir::Proto{p}}}; }
ir::Compare dport(std::uint16_t port) { return ir::Compare{ir::Field::th_dport, {PortRange{port, port}}}; }

PacketBuilder udp(const std::string& s, std::uint16_t dp, Buffer payload = Buffer(8, 0)) {
    return PacketBuilder().ethernet().ipv4(s, "203.0.113.1").udp(40000, dp).raw(payload);
}
PacketBuilder tcp(const std::string& s, std::uint16_t dp, std::uint16_t sp = 40000) {
    return PacketBuilder().ethernet().ipv4(s, "203.0.113.1").tcp(sp, dp, kSyn);
}

TEST(SimulateLoad, RefusesWhatItDoesNotModel) {
    auto expect_refused = [](ir::Table table, const std::string& words) {
        auto sim = Simulator::create(std::move(table), host_box(), {});
        ASSERT_FALSE(sim);
        EXPECT_NE(sim.error().message.find(words), std::string::npos) << sim.error().message;
    };
    {
        ir::Table t;
        auto chain = input_chain();
        chain.rules.push_back({{ir::Compare{static_cast<ir::Field>(250), {ir::Number{1}}}}, {accept()}, {}});
        t.chains.push_back(chain);
        expect_refused(t, "chain input_filter rule 1");
    }
    {
        ir::Table t;
        auto chain = input_chain();
        chain.rules.push_back({{ir::SetLookup{{ir::Field::ip_saddr}, "missing"}}, {accept()}, {}});
        t.chains.push_back(chain);
        expect_refused(t, "@missing does not exist");
    }
    {
        ir::Table t;
        ir::Chain a{"a", std::nullopt, {{{}, {ir::VerdictStmt{{ir::Verdict::Kind::jump, "b"}}}, {}}}};
        ir::Chain b{"b", std::nullopt, {{{}, {ir::VerdictStmt{{ir::Verdict::Kind::jump, "a"}}}, {}}}};
        auto chain = input_chain();
        chain.rules.push_back({{}, {ir::VerdictStmt{{ir::Verdict::Kind::jump, "a"}}}, {}});
        t.chains = {a, b, chain};
        expect_refused(t, "jump loop");
    }
    {
        ir::Table t;
        t.ct_helpers.push_back({"ftp", "ftp", ir::Proto{6}, Family::ipv4});
        t.chains.push_back(input_chain());
        expect_refused(t, "only the pptp helper");
    }
    {
        ir::Table t;
        auto chain = input_chain();
        chain.rules.push_back({{}, {ir::CounterRef{"nowhere"}}, {}});
        t.chains.push_back(chain);
        expect_refused(t, "counter nowhere does not exist");
    }
    // Every example policy compiles to a table the simulator accepts.
    for (const char* example : {"examples/gateway-dualstack.toml", "examples/gateway-ikev2.toml",
                                "examples/gateway-openvpn-admin.toml", "examples/gateway-pptp.toml",
                                "examples/host-openvpn-sstp.toml", "examples/host-wireguard.toml",
                                "examples/l2tp-ipsec-host.toml"})
        EXPECT_TRUE(make(example)) << example;
}

TEST(SimulateRuntime, KnockStageAndPerSourceFloodLimit) {
    ir::Table t;
    t.sets.push_back(address_set("knock1", 10));
    t.sets.push_back(address_set("flood", 60));
    auto chain = input_chain();
    chain.rules.push_back({{l4(17), dport(7000), ir::SetUpdate{ir::SetUpdate::Op::add, "knock1", {ir::Field::ip_saddr}, std::nullopt, std::nullopt}},
                           {drop()}, "knock"});
    chain.rules.push_back({{l4(6), dport(22), ir::SetLookup{{ir::Field::ip_saddr}, "knock1"}}, {accept()}, "knocked"});
    chain.rules.push_back({{l4(17), ir::SetUpdate{ir::SetUpdate::Op::update, "flood", {ir::Field::ip_saddr}, std::nullopt,
                                                  ir::LimitRate{2, 2, true}}},
                           {drop()}, "flood"});
    chain.rules.push_back({{l4(17)}, {accept()}, {}});
    t.chains.push_back(chain);
    auto created = Simulator::create(t, host_box(), {});
    ASSERT_TRUE(created) << created.error().message;
    auto& sim = **created;
    Feeder feed(sim);

    EXPECT_EQ(feed(tcp("198.51.100.1", 22), 100).verdict, Verdict::drop);  // not knocked yet
    Outcome knock = feed(udp("198.51.100.1", 7000), 101);
    EXPECT_EQ(knock.verdict, Verdict::drop);
    EXPECT_EQ(sim.set_size("knock1", 101), 1u);
    Outcome in = feed(tcp("198.51.100.1", 22, 40001), 105);
    EXPECT_EQ(in.verdict, Verdict::accept);
    EXPECT_NE(in.decided_by.element.find("198.51.100.1"), std::string::npos);
    EXPECT_EQ(feed(tcp("198.51.100.2", 22, 40002), 105).verdict, Verdict::drop);  // another source
    EXPECT_EQ(feed(tcp("198.51.100.1", 22, 40003), 111.5).verdict, Verdict::drop);  // stage expired
    EXPECT_EQ(sim.set_size("knock1", 111.5), 0u);

    // `limit rate over 2/second burst 2` per source: two pass at once, the third is over.
    EXPECT_EQ(feed(udp("198.51.100.7", 9000), 200).verdict, Verdict::accept);
    EXPECT_EQ(feed(udp("198.51.100.7", 9000), 200).verdict, Verdict::accept);
    EXPECT_EQ(feed(udp("198.51.100.7", 9000), 200).verdict, Verdict::drop);
    EXPECT_EQ(feed(udp("198.51.100.8", 9000), 200).verdict, Verdict::accept);  // its own budget
    EXPECT_EQ(feed(udp("198.51.100.7", 9000), 200.5).verdict, Verdict::accept);  // one token back
    EXPECT_EQ(feed(udp("198.51.100.7", 9000), 200.5).verdict, Verdict::drop);
}

TEST(SimulateRuntime, RawPayloadMatches) {
    ir::Table t;
    auto chain = input_chain(ir::Verdict::Kind::accept);
    // First byte of the UDP payload (@th bit 64, or @ih bit 0) and a masked TCP flags test.
    chain.rules.push_back({{l4(17), ir::Payload{ir::Payload::Base::transport, 64, 8, std::nullopt, {0x01}, false}},
                           {drop()}, "th"});
    chain.rules.push_back({{l4(17), ir::Payload{ir::Payload::Base::inner, 8, 16, std::nullopt, {0xbeef}, false}},
                           {drop()}, "ih"});
    chain.rules.push_back({{l4(6), ir::Payload{ir::Payload::Base::transport, 104, 8, 0x12u, {0x12}, false}},
                           {drop()}, "synack"});
    chain.rules.push_back({{ir::Payload{ir::Payload::Base::network, 64, 8, std::nullopt, {1}, false}},
                           {drop()}, "ttl 1"});
    t.chains.push_back(chain);
    auto created = Simulator::create(t, host_box(), {});
    ASSERT_TRUE(created) << created.error().message;
    Feeder feed(**created);
    EXPECT_EQ(feed(udp("198.51.100.1", 9, {0x01, 0, 0, 0})).decided_by.text, "meta l4proto udp @th,64,8 0x1 drop comment \"th\"");
    EXPECT_EQ(feed(udp("198.51.100.1", 9, {0x02, 0xbe, 0xef, 0})).decided_by.rule, 2u);
    EXPECT_EQ(feed(udp("198.51.100.1", 9, {0x02, 0xbe, 0xee, 0})).verdict, Verdict::accept);
    EXPECT_EQ(feed(PacketBuilder().ethernet().ipv4("198.51.100.1", "203.0.113.1").tcp(1, 2, kSynAck)).decided_by.rule, 3u);
    EXPECT_EQ(feed(PacketBuilder().ethernet().ipv4("198.51.100.1", "203.0.113.1").tcp(1, 2, kAck)).verdict, Verdict::accept);
    dissect::testing::Ipv4Options low_ttl;
    low_ttl.ttl = 1;
    EXPECT_EQ(feed(PacketBuilder().ethernet().ipv4("198.51.100.1", "203.0.113.1", low_ttl).udp(1, 2).raw({9})).decided_by.rule, 4u);
}

TEST(SimulateRuntime, NamedLogLimitIsATokenBucketInPacketTime) {
    // gateway-ikev2: log_drops = 1 at the default 10/second (burst 5).
    auto sim = make("examples/gateway-ikev2.toml", {});
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    auto logs_for = [&](double t, int packets) {
        std::size_t logs = 0;
        for (int i = 0; i < packets; ++i) {
            Outcome o = feed(PacketBuilder().ethernet().ipv4("198.51.100.7", "203.0.113.1").tcp(1000 + i, 23, kSyn), t);
            EXPECT_EQ(o.verdict, Verdict::drop);
            logs += o.logs.size();
            for (const auto& l : o.logs) EXPECT_NE(l.find(compile::kLogPrefixClosed), std::string::npos);
        }
        return logs;
    };
    EXPECT_EQ(logs_for(10, 20), 5u);
    EXPECT_EQ(logs_for(10.2, 20), 2u);  // 0.2 s at 10/s refills two tokens
    EXPECT_EQ(logs_for(20, 20), 5u);    // never more than the burst
    EXPECT_EQ(sim->counter(compile::kCounterDefaultDropped).packets, 60u);
}

TEST(SimulateRuntime, OneNoisySourceSpendsItsOwnLogMeterNotTheSharedBudget) {
    auto policy = load_policy("examples/gateway-ikev2.toml");
    policy.detect.enabled = true;  // [detect] adds the per-source drop-log meters
    auto created = Simulator::create(policy, {});
    ASSERT_TRUE(created) << created.error().message;
    auto sim = std::move(*created);
    Feeder feed(*sim);
    auto logs_from = [&](const char* source, double t, int packets) {
        std::size_t logs = 0;
        for (int i = 0; i < packets; ++i)
            logs += feed(PacketBuilder().ethernet().ipv4(source, "203.0.113.1").tcp(2000 + i, 4444, kSyn), t).logs.size();
        return logs;
    };
    // The noisy source gets its burst of 5 logged, then 2/s; the shared 10/s budget keeps the rest.
    EXPECT_EQ(logs_from("198.51.100.66", 10.0, 3), 3u);
    EXPECT_EQ(logs_from("198.51.100.66", 10.5, 100), 3u);  // 2 left of its burst + 1 refilled, then it binds
    EXPECT_EQ(logs_from("198.51.100.66", 11.0, 100), 1u);  // 0.5 s at 2/s
    // A scanner arriving during the noise still has its first four probes logged.
    EXPECT_EQ(logs_from("203.0.113.200", 11.0, 4), 4u);
}

TEST(SimulateRuntime, FragmentsShareTheirDatagramsFate) {
    auto sim = make("examples/gateway-ikev2.toml", {});
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    dissect::testing::Ipv4Options first;
    first.id = 77;
    first.more_fragments = true;
    dissect::testing::Ipv4Options second;
    second.id = 77;
    second.fragment_offset_bytes = 24;
    second.protocol = 17;
    auto head = PacketBuilder().ethernet().ipv4("198.51.100.7", "203.0.113.1", first).udp(500, 500, 40).raw(Buffer(16, 0));
    auto tail = PacketBuilder().ethernet().ipv4("198.51.100.7", "203.0.113.1", second).raw(Buffer(16, 0));
    EXPECT_TRUE(feed.many(head).empty());
    auto both = feed.many(tail);
    ASSERT_EQ(both.size(), 2u);
    for (const auto& o : both) {
        EXPECT_EQ(o.verdict, Verdict::accept);
        EXPECT_EQ(o.dnat.value_or(""), "192.0.2.10:500");
        EXPECT_EQ(o.datagram_frame, 1u);
    }
    EXPECT_EQ(sim->counter(compile::accepted_counter("vpn")).packets, 1u);  // one datagram, one count
    // A datagram whose last fragment never comes is dropped when the capture ends.
    first.id = 78;
    EXPECT_TRUE(feed.many(PacketBuilder().ethernet().ipv4("198.51.100.7", "203.0.113.1", first).udp(500, 500, 40).raw(Buffer(16, 0))).empty());
    auto held = sim->finish();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].verdict, Verdict::drop);
    EXPECT_NE(held[0].decided_by.text.find("never completed"), std::string::npos);
}

TEST(SimulateRuntime, PptpHelperOpensGreForTheCall) {
    auto run = [](bool with_reply) {
        auto sim = make("examples/gateway-pptp.toml", {});
        EXPECT_TRUE(sim);
        Feeder feed(*sim);
        const std::string client = "198.51.100.7", wan = "203.0.113.1";
        auto to_server = [&](std::uint8_t flags, Buffer payload = {}) {
            return PacketBuilder().ethernet().ipv4(client, wan).tcp(3000, 1723, flags).raw(payload);
        };
        auto to_client = [&](std::uint8_t flags, Buffer payload = {}) {
            return PacketBuilder().ethernet().ipv4(wan, client).tcp(1723, 3000, flags).raw(payload);
        };
        Outcome syn = feed(to_server(kSyn));
        EXPECT_EQ(syn.verdict, Verdict::accept);
        EXPECT_EQ(syn.dnat.value_or(""), "192.0.2.20:1723");
        EXPECT_EQ(feed(to_client(kSynAck)).path, Path::reply);
        EXPECT_EQ(feed(to_server(kAck)).ct_state, "established");
        EXPECT_EQ(feed(to_server(kPshAck, dissect::testing::pptp_message(7, {{12, 0x0001}}))).verdict, Verdict::accept);
        if (with_reply) {
            EXPECT_EQ(feed(to_client(kPshAck, dissect::testing::pptp_message(8, {{12, 0x4000}, {14, 0x0001}}, {{16, 1}}))).path,
                      Path::reply);
        }
        auto gre = [&](std::uint16_t call) {
            return PacketBuilder().ethernet().ipv4(client, wan).gre_enhanced(call, 1).raw(Buffer(12, 0xff));
        };
        return std::pair{feed(gre(0x4000)), feed(gre(0x5555))};
    };
    auto [call, other] = run(true);
    EXPECT_EQ(call.verdict, Verdict::accept);
    EXPECT_EQ(call.ct_state, "related");
    EXPECT_EQ(call.path, Path::forward);
    EXPECT_EQ(call.dnat.value_or(""), "192.0.2.20");
    EXPECT_EQ(other.verdict, Verdict::reject);  // default = "reject" in gateway-pptp
    EXPECT_EQ(other.path, Path::input);
    auto [unexpected, unused] = run(false);
    EXPECT_EQ(unexpected.verdict, Verdict::reject);
    EXPECT_EQ(unexpected.reject_with, "icmpx admin-prohibited");
}

}  // namespace
}  // namespace portcullis::simulate::testing
