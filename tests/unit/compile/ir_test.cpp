// The IR's own rendering, including the constructs later stages (knock stages, per-source rate
// limits, conformance checks) will compile into; a hand-built table must satisfy the real nft.
#include "compile/ir.hpp"

#include "support.hpp"

namespace {

using namespace pc_test;
using namespace portcullis;
namespace ir = compile::ir;

TEST(IrRender, MatchesAndStatements) {
    EXPECT_EQ(ir::render(ir::Match{ir::SetLookup{{ir::Field::meta_l4proto, ir::Field::th_dport}, "s", true}}),
              "meta l4proto . th dport != @s");
    EXPECT_EQ(ir::render(ir::Match{ir::Compare{ir::Field::ip_saddr, {*Prefix::parse("192.0.2.0/24")}}}),
              "ip saddr 192.0.2.0/24");
    EXPECT_EQ(ir::render(ir::Match{ir::Compare{ir::Field::th_dport, {policy::PortRange{1, 2}, policy::PortRange{5, 5}}}}),
              "th dport { 1-2, 5 }");
    EXPECT_EQ(ir::render(ir::Match{ir::CtState{ir::ct_new | ir::ct_untracked}}), "ct state new,untracked");
    EXPECT_EQ(ir::render(ir::Match{ir::Payload{ir::Payload::Base::transport, 64, 8, std::nullopt, {0x10, 0x20}, false}}),
              "@th,64,8 { 0x10, 0x20 }");
    EXPECT_EQ(ir::render(ir::Match{ir::Payload{ir::Payload::Base::inner, 0, 8, 0xf0u, {0x10}, true}}),
              "@ih,0,8 & 0xf0 != 0x10");
    EXPECT_EQ(ir::render(ir::Match{ir::SetUpdate{ir::SetUpdate::Op::update, "flood4", {ir::Field::ip_saddr}, 60,
                                                 ir::LimitRate{5, 10, true}}}),
              "update @flood4 { ip saddr timeout 1m limit rate over 5/second burst 10 packets }");
    EXPECT_EQ(ir::render(ir::Statement{ir::DnatMapStmt{Family::ipv6, {ir::Field::meta_l4proto}, "m"}}),
              "dnat ip6 to meta l4proto map @m");
    EXPECT_EQ(ir::render(ir::Statement{ir::Log{7, "x "}}), "log prefix \"x \" group 7");
    EXPECT_EQ(ir::render(ir::Statement{ir::VerdictStmt{{ir::Verdict::Kind::go_to, "c"}}}), "goto c");
    EXPECT_EQ(ir::render(ir::Statement{ir::CounterRef{"a\"b"}}), "counter name \"a_b\"");  // never breaks quoting
}

// A knock-stage and flood-limit shaped table: dynamic sets written from the packet path, raw
// payload checks. If nft accepts this, later stages can build on these IR kinds.
TEST(IrRender, FutureStageConstructsLoadIntoTheKernel) {
    ASSERT_TRUE(nft_available());
    ir::Table table;
    ir::Set stage;
    stage.name = "knock4_admin_1";
    stage.key = {ir::DataType::ipv4_addr};
    stage.flags = {false, true, true};
    stage.timeout_seconds = 5;
    table.sets.push_back(stage);
    ir::Set flood = stage;
    flood.name = "flood4";
    flood.timeout_seconds = 60;
    table.sets.push_back(flood);
    table.counters.push_back({"ike_malformed"});
    ir::Chain input;
    input.name = "input_filter";
    input.base = ir::BaseChain{ir::BaseChain::Type::filter, ir::BaseChain::Hook::input, "filter",
                               ir::Verdict::Kind::accept};
    using ir::Field;
    input.rules.push_back({{ir::Compare{Field::meta_l4proto, {ir::Proto{6}}},
                            ir::Compare{Field::th_dport, {policy::PortRange{7000, 7000}}},
                            ir::SetUpdate{ir::SetUpdate::Op::add, "knock4_admin_1", {Field::ip_saddr}, 5, {}}},
                           {ir::VerdictStmt{{ir::Verdict::Kind::drop, {}}}},
                           "knock step 1"});
    input.rules.push_back({{ir::Compare{Field::meta_l4proto, {ir::Proto{17}}},
                            ir::Compare{Field::th_dport, {policy::PortRange{500, 500}}},
                            ir::Payload{ir::Payload::Base::inner, 136, 8, std::nullopt, {0x10, 0x20}, true}},
                           {ir::CounterRef{"ike_malformed"}, ir::VerdictStmt{{ir::Verdict::Kind::drop, {}}}},
                           {}});
    input.rules.push_back({{ir::Compare{Field::meta_l4proto, {ir::Proto{17}}},
                            ir::SetUpdate{ir::SetUpdate::Op::update, "flood4", {Field::ip_saddr}, std::nullopt,
                                          ir::LimitRate{5, 10, true}}},
                           {ir::VerdictStmt{{ir::Verdict::Kind::drop, {}}}},
                           {}});
    table.chains.push_back(input);
    auto text = ir::render(table);
    auto file = temp_file("future.nft");
    write_text(file, text);
    auto load = nft_in_private_netns(file, true);
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
    EXPECT_NE(load.output.find("add @knock4_admin_1 { ip saddr timeout 5s }"), std::string::npos) << load.output;
    if (!HasFailure()) fs::remove_all(file.parent_path());
}

}  // namespace
