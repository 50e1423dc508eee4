// guard = "spa": the SPA port's dispatch, the rate-limit-log-drop chain and the grant sets the
// compiler emits.
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
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "spa"
[[service]]
name = "vpn"
preset = "ikev2"
allow_from = ["203.0.113.0/24"]
guard = "spa"
[spa]
port = 40001
rate_limit = "3/s"
rate_burst = 6
log_group = 77
[[spa.key]]
name = "alice"
key = "bhvkmHEp/5IZJyAoO4R7JONqwtDzY5R+jZ0NKylDDI8="
hmac_key = "rM7KtwvE0DHGduo1pEA22D74q48Ry22tbvOHGQD5dqwWksbf+EwfQDmrnVih8ha2FTkr2KhsP2bT0fHg2IaebA=="
services = ["ssh", "vpn"]
)";

TEST(CompileSpa, SpaPortJumpsToTheIntakeChain) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    EXPECT_NE(text.find("udp . 40001 : jump spa_intake"), std::string::npos) << text;
}

TEST(CompileSpa, IntakeChainRateLimitsPerSourceThenLogsAndDrops) {
    auto table = portcullis::compile::compile_ir(load_policy_text(kPolicy));
    const auto* chain = table.find_chain(portcullis::compile::kChainSpaIntake);
    ASSERT_NE(chain, nullptr);
    ASSERT_EQ(chain->rules.size(), 4u);  // per source (2 families), all sources, log
    EXPECT_EQ(ir::render(chain->rules.at(2)),
              "limit rate over 100/second burst 200 packets counter name \"spa_global_limited\" drop comment "
              "\"spa over the global limit\"");
    // Every rule ends in drop: the SPA port never answers, and nothing reaches a socket.
    for (const auto& rule : chain->rules) {
        const auto* verdict = std::get_if<ir::VerdictStmt>(&rule.statements.back());
        ASSERT_NE(verdict, nullptr) << rule.comment;
        EXPECT_EQ(verdict->verdict.kind, ir::Verdict::Kind::drop) << rule.comment;
    }
    const auto& last = chain->rules.back();
    EXPECT_TRUE(last.matches.empty());
    bool logs = false;
    for (const auto& statement : last.statements)
        if (const auto* log = std::get_if<ir::Log>(&statement)) {
            logs = true;
            EXPECT_EQ(log->group, 77);
            EXPECT_EQ(log->prefix, portcullis::compile::kLogPrefixSpa);
        }
    EXPECT_TRUE(logs);
    for (auto family : {Family::ipv4, Family::ipv6}) {
        const auto* set = table.find_set(portcullis::compile::spa_rate_set(family));
        ASSERT_NE(set, nullptr);
        EXPECT_TRUE(set->flags.dynamic);
        EXPECT_TRUE(set->flags.timeout);
        EXPECT_FALSE(set->runtime);
    }
}

TEST(CompileSpa, RenderedRules) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    EXPECT_NE(text.find("meta nfproto ipv4 update @spa4_rate { ip saddr limit rate over 3/second burst 6 packets } "
                        "counter name \"spa_rate_limited\" drop"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("meta nfproto ipv6 update @spa6_rate { ip6 saddr limit rate over 3/second burst 6 packets }"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("counter name \"spa_received\" log prefix \"portcullis spa \" group 77 drop"),
              std::string::npos)
        << text;
    for (const char* counter : {"spa_received", "spa_rate_limited"})
        EXPECT_NE(text.find(std::string("counter ") + counter + " {"), std::string::npos) << counter;
}

// All sources together are capped too (default 100/s, burst 200): a flood from many
// addresses reaches the daemon's real-time SPA thread at that rate at most. "off" removes the rule.
TEST(CompileSpa, GlobalLimitAfterThePerSourceOnes) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    auto global = text.find("limit rate over 100/second burst 200 packets counter name \"spa_global_limited\" drop");
    ASSERT_NE(global, std::string::npos) << text;
    EXPECT_GT(global, text.find("update @spa6_rate"));
    EXPECT_LT(global, text.find("counter name \"spa_received\" log"));
    EXPECT_NE(text.find("counter spa_global_limited {"), std::string::npos);

    std::string custom = kPolicy;
    custom.replace(custom.find("log_group = 77"), 14, "log_group = 77\nglobal_limit = \"40/s\"");
    text = portcullis::compile::compile(load_policy_text(custom)).table_text;
    EXPECT_NE(text.find("limit rate over 40/second burst 200 packets counter name \"spa_global_limited\" drop"),
              std::string::npos)
        << text;

    std::string off = kPolicy;
    off.replace(off.find("log_group = 77"), 14, "log_group = 77\nglobal_limit = \"off\"");
    auto table = portcullis::compile::compile_ir(load_policy_text(off));
    ASSERT_EQ(table.find_chain(portcullis::compile::kChainSpaIntake)->rules.size(), 3u);
    EXPECT_EQ(portcullis::compile::compile(load_policy_text(off)).table_text.find("spa_global_limited"),
              std::string::npos);
}

TEST(CompileSpa, GuardedServicesOpenOnlyThroughTheirGrantSets) {
    auto compiled = portcullis::compile::compile(load_policy_text(kPolicy));
    const auto& runtime = compiled.manifest.runtime_sets;
    for (const char* service : {"ssh", "vpn"}) {
        EXPECT_NE(std::find(runtime.begin(), runtime.end(), portcullis::compile::grant_set_v4(service)), runtime.end());
        EXPECT_NE(std::find(runtime.begin(), runtime.end(), portcullis::compile::grant_set_v6(service)), runtime.end());
    }
    // Same service chain shape as guard = "grant": allow_from and the grant set, or the deny chain.
    EXPECT_NE(compiled.table_text.find("ip saddr @grant4_ssh counter name \"svc_ssh_accepted\" accept"),
              std::string::npos)
        << compiled.table_text;
    EXPECT_NE(compiled.table_text.find("ip saddr 203.0.113.0/24 ip saddr @grant4_vpn counter name \"svc_vpn_accepted\" accept"),
              std::string::npos)
        << compiled.table_text;
}

TEST(CompileSpa, NothingWithoutAnSpaGuardedService) {
    std::string policy = kPolicy;
    for (auto at = policy.find("guard = \"spa\""); at != std::string::npos; at = policy.find("guard = \"spa\""))
        policy.replace(at, 13, "guard = \"grant\"");
    policy = policy.substr(0, policy.find("[[spa.key]]"));  // a key naming grant services is an error
    auto compiled = portcullis::compile::compile(load_policy_text(policy));
    EXPECT_EQ(compiled.table_text.find("spa"), std::string::npos) << compiled.table_text;
}

TEST(CompileSpa, TheKernelLoadsIt) {
    ASSERT_TRUE(nft_available());
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    auto file = temp_file("spa.nft");
    write_text(file, text);
    auto load = nft_in_private_netns(file, true);
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
    EXPECT_NE(load.output.find("update @spa4_rate"), std::string::npos) << load.output;
    if (!HasFailure()) fs::remove_all(file.parent_path());
}

}  // namespace
