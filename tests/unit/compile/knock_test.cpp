// guard = "knock": the knock chain, stage sets, dispatch and counters the compiler emits.
#include "support.hpp"

namespace {

using namespace pc_test;
namespace ir = portcullis::compile::ir;
using portcullis::Family;

const char* kPolicy = R"([firewall]
mode = "host"
wan = "eth0"
log_drops = 5
[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]
[[service]]
name = "admin"
ports = ["tcp/8022"]
allow_from = ["any"]
guard = "knock"
[service.knock]
sequence = ["tcp/17301", "udp/28113", "tcp/11923", "udp/30001"]
step_timeout = "7s"
open_for = "45s"
)";

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

TEST(CompileKnock, StageSetsPerFamilyWithStepTimeout) {
    auto table = portcullis::compile::compile_ir(load_policy_text(kPolicy));
    for (auto family : {Family::ipv4, Family::ipv6})
        for (std::size_t k = 1; k <= 3; ++k) {
            const auto* set = table.find_set(portcullis::compile::knock_stage_set(family, "admin", k));
            ASSERT_NE(set, nullptr) << k;
            EXPECT_TRUE(set->flags.dynamic);
            EXPECT_TRUE(set->flags.timeout);
            EXPECT_EQ(set->timeout_seconds, std::optional<std::uint32_t>{7});
            EXPECT_FALSE(set->runtime);
        }
    EXPECT_EQ(table.find_set(portcullis::compile::knock_stage_set(Family::ipv4, "admin", 4)), nullptr);
    EXPECT_EQ(table.find_set(portcullis::compile::knock_stage_set(Family::ipv4, "admin", 0)), nullptr);
}

TEST(CompileKnock, EveryKnockPortJumpsToTheKnockChain) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    for (const char* entry : {"tcp . 17301 : jump knock_admin", "udp . 28113 : jump knock_admin",
                              "tcp . 11923 : jump knock_admin", "udp . 30001 : jump knock_admin"})
        EXPECT_NE(text.find(entry), std::string::npos) << entry << "\n" << text;
}

TEST(CompileKnock, RulesPerStepDuplicateThenAdvanceThenReset) {
    auto table = portcullis::compile::compile_ir(load_policy_text(kPolicy));
    const auto* chain = table.find_chain("knock_admin");
    ASSERT_NE(chain, nullptr);
    // The per-source knock limiter per family, then the global one (goto flood_drop); per family:
    // step 1 has duplicate + advance; steps 2, 3 duplicate + advance + reset; the last advance
    // (grant) + reset. Then one trailing drop.
    ASSERT_EQ(chain->rules.size(), 2u + 1u + 2u * (2 + 3 + 3 + 2) + 1);
    std::vector<std::string> comments;
    for (std::size_t i = 0; i < 13; ++i) comments.push_back(chain->rules[i].comment);
    EXPECT_EQ(comments, (std::vector<std::string>{"knocks over the per-source limit", "knocks over the per-source limit",
                                                   "knocks over the global limit", "knock 1/4 repeated", "knock 1/4", "knock 2/4 repeated",
                                                   "knock 2/4", "knock 2/4 out of order", "knock 3/4 repeated",
                                                   "knock 3/4", "knock 3/4 out of order", "knock 4/4 opens",
                                                   "knock 4/4 out of order"}));
    // Every rule ends in drop (the limiter in flood_drop, which drops): knock ports never answer.
    for (const auto& rule : chain->rules) {
        ASSERT_FALSE(rule.statements.empty());
        const auto* verdict = std::get_if<ir::VerdictStmt>(&rule.statements.back());
        ASSERT_NE(verdict, nullptr) << rule.comment;
        if (verdict->verdict.kind == ir::Verdict::Kind::go_to) {
            EXPECT_EQ(verdict->verdict.chain, "flood_drop") << rule.comment;
            continue;
        }
        EXPECT_EQ(verdict->verdict.kind, ir::Verdict::Kind::drop) << rule.comment;
    }
}

TEST(CompileKnock, RenderedRulesAddGrantDeleteStagesAndLog) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    EXPECT_NE(text.find("ip saddr @knock4_admin_3 delete @knock4_admin_3 { ip saddr } add @grant4_admin { ip saddr "
                        "timeout 45s } counter name \"knock_admin_granted\" log prefix \"portcullis knock=admin \" "
                        "group 5 drop"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("ip6 saddr @knock6_admin_1 delete @knock6_admin_1 { ip6 saddr } add @knock6_admin_2 { ip6 "
                        "saddr timeout 7s }"),
              std::string::npos)
        << text;
    // The reset of a step deletes the source from all three stages, per family.
    EXPECT_EQ(count_of(text, "delete @knock4_admin_1 { ip saddr } delete @knock4_admin_2 { ip saddr } delete "
                             "@knock4_admin_3 { ip saddr } counter name \"knock_admin_reset\""),
              3u);
    // TCP knocks only as bare SYNs (tcp_flags default "syn"); UDP steps have no flag match.
    EXPECT_EQ(count_of(text, "th dport 17301 @th,104,8 & 0x17 == 0x2"), 4u);
    EXPECT_EQ(count_of(text, "th dport 28113 @th"), 0u);
    for (const char* counter : {"knock_admin_step", "knock_admin_reset", "knock_admin_granted"})
        EXPECT_NE(text.find(std::string("counter ") + counter + " {"), std::string::npos) << counter;
}

TEST(CompileKnock, NoLogWithoutAnyGroupAndAnyFlagsDropsTheSynMatch) {
    std::string policy = kPolicy;
    policy.replace(policy.find("log_drops = 5\n"), 14, "");
    policy += "tcp_flags = \"any\"\n";
    auto text = portcullis::compile::compile(load_policy_text(policy)).table_text;
    EXPECT_EQ(text.find("portcullis knock="), std::string::npos);
    EXPECT_EQ(text.find("@th,104,8"), std::string::npos);
    EXPECT_NE(text.find("add @grant4_admin { ip saddr timeout 45s }"), std::string::npos);
}

TEST(CompileKnock, TheKernelLoadsIt) {
    ASSERT_TRUE(nft_available());
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    auto file = temp_file("knock.nft");
    write_text(file, text);
    auto load = nft_in_private_netns(file, true);
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
    EXPECT_NE(load.output.find("delete @knock4_admin_1 { ip saddr }"), std::string::npos) << load.output;
    if (!HasFailure()) fs::remove_all(file.parent_path());
}

}  // namespace
