#include <gtest/gtest.h>

#include "kernel/transaction.hpp"

namespace portcullis::kernel {
namespace {

// The kernel's terse listing of a table applied earlier (elements omitted, as with `nft -t`).
constexpr const char* kLive = R"(table inet portcullis {
	counter accepted_ssh {
		packets 3 bytes 90
	}

	counter accepted_old {
		packets 1 bytes 60
	}

	ct helper pptp {
		type "pptp" protocol tcp
		l3proto ip
	}

	set ban4 {
		type ipv4_addr
		flags interval,timeout
	}

	set grant4_ssh {
		type ipv4_addr
		flags timeout
	}

	set mgmt4 {
		type ipv4_addr
		flags interval
	}

	map services {
		type inet_proto . inet_service : verdict
	}

	chain input {
		type filter hook input priority filter; policy drop;
		meta l4proto . th dport vmap @services
	}

	chain svc_ssh {
		ip saddr @grant4_ssh counter name "accepted_ssh" accept
	}
}
)";

compile::Compiled next_table(const std::string& ban4_declaration = "type ipv4_addr; flags interval,timeout;") {
    compile::Compiled next;
    next.table_text = "table inet portcullis {\n"
                      "\tcounter accepted_ssh {\n\t}\n"
                      "\tct helper pptp {\n\t\ttype \"pptp\" protocol tcp\n\t\tl3proto inet\n\t}\n"
                      "\tset ban4 { " + ban4_declaration + " }\n"
                      "\tset grant4_ssh { type ipv4_addr; flags timeout; }\n"
                      "\tset mgmt4 { type ipv4_addr; flags interval; elements = { 192.0.2.10 } }\n"
                      "\tmap services { type inet_proto . inet_service : verdict; elements = { tcp . 22 : jump svc_ssh } }\n"
                      "\tchain svc_ssh {\n\t\tip saddr @grant4_ssh counter name \"accepted_ssh\" accept\n\t}\n"
                      "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
                      "\t\tmeta l4proto . th dport vmap @services\n\t}\n"
                      "}\n";
    next.manifest.chains = {"svc_ssh", "input"};
    next.manifest.sets = {"mgmt4", "services"};
    next.manifest.runtime_sets = {"ban4", "grant4_ssh"};
    next.manifest.counters = {"accepted_ssh"};
    next.manifest.ct_helpers = {"pptp"};
    return next;
}

std::size_t position(const std::string& haystack, const std::string& needle) {
    std::size_t at = haystack.find(needle);
    EXPECT_NE(at, std::string::npos) << "missing: " << needle << "\nin:\n" << haystack;
    return at;
}

TEST(Transaction, FreshTableIsAddedWhole) {
    auto next = next_table();
    auto tx = build_replace(std::nullopt, next);
    ASSERT_TRUE(tx) << tx.error().message;
    EXPECT_EQ(tx->script, "add table inet portcullis\n" + next.table_text);
    EXPECT_EQ(tx->prelude_lines, 1u);
    EXPECT_TRUE(tx->warnings.empty());
}

TEST(Transaction, ExistingTableIsReplacedKeepingRuntimeSetsAndLiveCounters) {
    auto tx = build_replace(std::string(kLive), next_table());
    ASSERT_TRUE(tx) << tx.error().message;
    const std::string& s = tx->script;

    // Every rule goes first, then maps/sets, then objects, then the new text. Both chains exist in
    // the new table (the base chain with the same hook), so they are flushed and kept.
    std::size_t flush_input = position(s, "flush chain inet portcullis input\n");
    std::size_t flush_svc = position(s, "flush chain inet portcullis svc_ssh\n");
    std::size_t delete_map = position(s, "delete map inet portcullis services\n");
    std::size_t delete_set = position(s, "delete set inet portcullis mgmt4\n");
    std::size_t delete_helper = position(s, "delete ct helper inet portcullis pptp\n");
    std::size_t delete_counter = position(s, "delete counter inet portcullis accepted_old\n");
    std::size_t new_text = position(s, "table inet portcullis {");
    EXPECT_LT(std::max(flush_input, flush_svc), std::min(delete_map, delete_set));
    EXPECT_LT(std::max(delete_map, delete_set), delete_helper);
    EXPECT_LT(delete_counter, new_text);
    EXPECT_EQ(s.find("delete chain"), std::string::npos);

    // Runtime sets and the still-defined counter are never deleted.
    EXPECT_EQ(s.find("delete set inet portcullis ban4"), std::string::npos);
    EXPECT_EQ(s.find("delete set inet portcullis grant4_ssh"), std::string::npos);
    EXPECT_EQ(s.find("delete counter inet portcullis accepted_ssh"), std::string::npos);
    EXPECT_EQ(tx->kept_runtime_sets, (std::vector<std::string>{"ban4", "grant4_ssh"}));
    EXPECT_TRUE(tx->recreated_runtime_sets.empty());
    EXPECT_TRUE(tx->warnings.empty());
    EXPECT_EQ(tx->prelude_lines, 7u);  // add table, 2 flushes, 2 set/map, 2 objects
}

TEST(Transaction, IncompatibleRuntimeSetIsRecreatedWithAClearWarning) {
    auto tx = build_replace(std::string(kLive), next_table("type ipv4_addr; flags timeout;"));
    ASSERT_TRUE(tx) << tx.error().message;
    EXPECT_NE(tx->script.find("delete set inet portcullis ban4\n"), std::string::npos);
    EXPECT_EQ(tx->recreated_runtime_sets, std::vector<std::string>{"ban4"});
    ASSERT_EQ(tx->warnings.size(), 1u);
    EXPECT_NE(tx->warnings[0].find("ban4"), std::string::npos);
    EXPECT_NE(tx->warnings[0].find("kernel: type ipv4_addr; flags interval,timeout"), std::string::npos);
    EXPECT_NE(tx->warnings[0].find("policy: type ipv4_addr; flags timeout"), std::string::npos);
    EXPECT_NE(tx->warnings[0].find("elements are dropped"), std::string::npos);
}

TEST(Transaction, ChangedRuntimeSetKeyTypeIsIncompatible) {
    auto tx = build_replace(std::string(kLive), next_table("type ipv6_addr; flags interval,timeout;"));
    ASSERT_TRUE(tx) << tx.error().message;
    EXPECT_EQ(tx->recreated_runtime_sets, std::vector<std::string>{"ban4"});
}

TEST(Transaction, ChangedDefaultTimeoutKeepsElementsAndSaysSo) {
    auto tx = build_replace(std::string(kLive), next_table("type ipv4_addr; flags interval,timeout; timeout 2h;"));
    ASSERT_TRUE(tx) << tx.error().message;
    EXPECT_EQ(tx->script.find("delete set inet portcullis ban4"), std::string::npos);
    ASSERT_EQ(tx->warnings.size(), 1u);
    EXPECT_NE(tx->warnings[0].find("default timeout"), std::string::npos);
}

TEST(Transaction, RuntimeSetDroppedFromThePolicyIsKept) {
    auto next = next_table();
    next.table_text.replace(next.table_text.find("\tset grant4_ssh"),
                            std::string("\tset grant4_ssh { type ipv4_addr; flags timeout; }\n").size(), "");
    auto tx = build_replace(std::string(kLive), next);
    ASSERT_TRUE(tx) << tx.error().message;
    EXPECT_EQ(tx->script.find("delete set inet portcullis grant4_ssh"), std::string::npos);
    ASSERT_EQ(tx->warnings.size(), 1u);
    EXPECT_NE(tx->warnings[0].find("grant4_ssh is no longer used"), std::string::npos);
}

TEST(Transaction, UnreadableTextIsAnError) {
    compile::Compiled broken;
    broken.table_text = "table inet portcullis {\n chain x {\n";
    EXPECT_FALSE(build_replace(std::nullopt, broken));
    EXPECT_FALSE(build_replace(std::string("table inet portcullis {"), next_table()));
}

TEST(Transaction, ErrorLocationsPointIntoTheCompiledText) {
    std::string nft = "transaction:14:7-10: Error: Could not process rule: File exists\n  set ban4 {\n      ^^^^\n"
                      "transaction:2:1-5: Error: other";
    std::string out = relocate_error(nft, 11);
    EXPECT_EQ(out.substr(0, 20), "table:3:7-10: Error:");
    EXPECT_NE(out.find("transaction:2:1-5"), std::string::npos);  // in the prelude: left as it was
}

TEST(Apply, CommitsInOneTransactionWithoutASeparateCheck) {
    RecordingNftables nft;
    nft.table_text = std::string(kLive);
    auto outcome = apply_table(nft, next_table());
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_TRUE(outcome->table_existed);
    ASSERT_EQ(nft.calls.size(), 1u);
    EXPECT_EQ(nft.calls[0].mode, RunMode::commit);
    ASSERT_EQ(nft.committed.size(), 1u);
    EXPECT_EQ(nft.committed[0], outcome->transaction.script);
}

TEST(Apply, DryRunOnlyNeverCommits) {
    RecordingNftables nft;
    auto outcome = apply_table(nft, next_table(), /*dry_run_only=*/true);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_FALSE(outcome->table_existed);
    ASSERT_EQ(nft.calls.size(), 1u);
    EXPECT_EQ(nft.calls[0].mode, RunMode::check);
    EXPECT_TRUE(nft.committed.empty());
}

TEST(Apply, KernelRejectionCommitsNothingAndSaysWhere) {
    RecordingNftables nft;
    nft.table_text = std::string(kLive);
    nft.fail_when_script_contains = "set ban4";
    nft.failure_message = "transaction:13:7-10: Error: Could not process rule: File exists";
    auto outcome = apply_table(nft, next_table());
    ASSERT_FALSE(outcome);
    EXPECT_TRUE(nft.committed.empty());
    ASSERT_EQ(nft.calls.size(), 1u);  // the one commit failed as a whole
    const std::string& message = outcome.error().message;
    EXPECT_NE(message.find("nothing was changed"), std::string::npos);
    EXPECT_NE(message.find("table:6:7-10"), std::string::npos) << message;
    EXPECT_NE(message.find("different definition"), std::string::npos);
}

TEST(Transaction, ChainsGoneOrRehookedAreDeleted) {
    auto next = next_table();
    // svc_ssh disappears; input moves to another priority: both are deleted and input re-added.
    next.table_text = "table inet portcullis {\n"
                      "\tset ban4 { type ipv4_addr; flags interval,timeout; }\n"
                      "\tchain input {\n\t\ttype filter hook input priority -10; policy drop;\n\t}\n"
                      "}\n";
    auto tx = build_replace(std::string(kLive), next);
    ASSERT_TRUE(tx) << tx.error().message;
    std::size_t delete_input = position(tx->script, "delete chain inet portcullis input\n");
    position(tx->script, "delete chain inet portcullis svc_ssh\n");
    EXPECT_LT(delete_input, tx->script.find("table inet portcullis {"));
}

TEST(Transaction, StaticSetsWithTheSameShapeAreUpdatedElementByElement) {
    auto lister = [](const std::string& kind, const std::string& name) -> Result<std::string> {
        if (kind == "set" && name == "mgmt4")
            return std::string("table inet portcullis {\n\tset mgmt4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
                               "\t\telements = { 198.51.100.0/24 counter packets 3 bytes 180 comment \"old\" }\n"
                               "\t}\n}\n");
        if (kind == "map" && name == "services")
            return std::string("table inet portcullis {\n\tmap services {\n\t\ttype inet_proto . inet_service : verdict\n"
                               "\t\telements = { tcp . 22 : jump svc_ssh, tcp . 80 : jump svc_ssh comment \"web\" }\n\t}\n}\n");
        return fail("no such set");
    };
    auto tx = build_replace(std::string(kLive), next_table(), lister);
    ASSERT_TRUE(tx) << tx.error().message;
    const std::string& s = tx->script;
    // Kept: never deleted; only the vanished elements go, by key (the map's data left out).
    EXPECT_EQ(s.find("delete set inet portcullis mgmt4"), std::string::npos);
    EXPECT_EQ(s.find("delete map inet portcullis services"), std::string::npos);
    position(s, "delete element inet portcullis mgmt4 { 198.51.100.0/24 }\n");
    position(s, "delete element inet portcullis services { tcp . 80 }\n");
    // Only the new element is sent; the compiled text's element lists of kept sets are blanked
    // (same line count, so error locations still point into the compiled text).
    // The addition stays in the declaration (an `add element` command would make nft fetch every
    // element of the table first); the map's list is blanked: tcp . 22 is there already.
    std::size_t add = position(s, "set mgmt4 { type ipv4_addr; flags interval; elements = { 192.0.2.10 } }");
    EXPECT_LT(position(s, "delete element inet portcullis mgmt4"), add);
    EXPECT_EQ(s.find("add element"), std::string::npos);
    EXPECT_EQ(s.find("jump svc_ssh }"), std::string::npos);
    const std::string text = next_table().table_text;
    EXPECT_EQ(static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')) - tx->prelude_lines,
              static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')));
    EXPECT_EQ(tx->kept_static_sets, (std::vector<std::string>{"mgmt4", "services"}));
    // A listing that fails falls back to re-creating the set.
    auto failing = [](const std::string&, const std::string&) -> Result<std::string> { return fail("boom"); };
    auto fallback = build_replace(std::string(kLive), next_table(), failing);
    ASSERT_TRUE(fallback);
    position(fallback->script, "delete set inet portcullis mgmt4\n");
}

TEST(TableText, ElementsParsedFromCompilerTextAndListingCompareEqual) {
    auto compiled = scan_table("table inet t {\n\tset a {\n\t\ttype ipv4_addr . inet_service\n\t\tflags interval\n\t\tcounter\n"
                               "\t\telements = {\n\t\t\t0.0.0.0/0 . 500 comment \"svc_a_accepted\",\n"
                               "\t\t\t198.51.100.0/24 . 40000-40100 comment \"x, y\"\n\t\t}\n\t}\n}\n");
    auto listed = scan_table("table inet t {\n\tset a {\n\t\ttype ipv4_addr . inet_service\n\t\tflags interval\n\t\tcounter\n"
                             "\t\telements = { 0.0.0.0/0 . 500 counter packets 0 bytes 0 comment \"svc_a_accepted\",\n"
                             "\t\t\t     198.51.100.0/24 . 40000-40100 counter packets 7 bytes 9 comment \"x, y\" }\n\t}\n}\n");
    ASSERT_TRUE(compiled);
    ASSERT_TRUE(listed);
    auto a = set_elements(*compiled->find("set", "a"));
    auto b = set_elements(*listed->find("set", "a"));
    // Counter values are state, not identity; the comment (the counter's name) is identity.
    EXPECT_EQ(a, (std::vector<std::string>{"0.0.0.0/0 . 500 comment \"svc_a_accepted\"",
                                           "198.51.100.0/24 . 40000-40100 comment \"x, y\""}));
    EXPECT_EQ(a, b);
    EXPECT_EQ(element_key("tcp . 48443 : 192.0.2.10 . 443"), "tcp . 48443");
    EXPECT_EQ(element_key("0.0.0.0/0 . 500 comment \"svc_a_accepted\""), "0.0.0.0/0 . 500");
}

TEST(Flush, DeletesThePresentTableAndReportsAnAbsentOne) {
    RecordingNftables nft;
    auto absent = delete_table(nft);
    ASSERT_TRUE(absent);
    EXPECT_FALSE(*absent);
    EXPECT_TRUE(nft.calls.empty());
    nft.table_text = std::string(kLive);
    auto present = delete_table(nft);
    ASSERT_TRUE(present);
    EXPECT_TRUE(*present);
    ASSERT_EQ(nft.committed.size(), 1u);
    EXPECT_EQ(nft.committed[0], "delete table inet portcullis\n");
}

}  // namespace
}  // namespace portcullis::kernel
