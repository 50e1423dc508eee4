#include <gtest/gtest.h>

#include "kernel/table_text.hpp"

namespace portcullis::kernel {
namespace {

// Shaped like `nft list table inet portcullis` output from nft 1.0.6.
constexpr const char* kListing = R"(table inet portcullis {
	counter svc_ssh_accepted {
		packets 3 bytes 90
	}

	ct helper pptp {
		type "pptp" protocol tcp
		l3proto ip
	}

	set ban4 {
		type ipv4_addr
		flags interval,timeout
		elements = { 192.0.2.5 timeout 1h expires 59m59s996ms,
			     198.51.100.0/24 }
	}

	map services {
		type inet_proto . inet_service : verdict
		elements = { tcp . 22 : jump svc_ssh }
	}

	chain input {
		type filter hook input priority filter; policy drop;
		ip saddr @ban4 drop # comment with { brace
		meta l4proto . th dport vmap @services
	}

	chain svc_ssh {
		counter name "svc_ssh_accepted" comment "a } in a string" accept
	}
}
)";

TEST(TableText, FindsEveryTopLevelObjectInOrder) {
    auto table = scan_table(kListing);
    ASSERT_TRUE(table) << table.error().message;
    EXPECT_EQ(table->family, "inet");
    EXPECT_EQ(table->name, "portcullis");
    ASSERT_EQ(table->objects.size(), 6u);
    EXPECT_EQ(table->objects[0].kind, "counter");
    EXPECT_EQ(table->objects[0].name, "svc_ssh_accepted");
    EXPECT_EQ(table->objects[1].kind, "ct helper");
    EXPECT_EQ(table->objects[1].name, "pptp");
    EXPECT_EQ(table->objects[2].kind, "set");
    EXPECT_EQ(table->objects[3].kind, "map");
    EXPECT_EQ(table->objects[4].kind, "chain");
    EXPECT_EQ(table->objects[4].name, "input");
    EXPECT_EQ(table->objects[5].name, "svc_ssh");
    EXPECT_NE(table->objects[5].body.find("a } in a string"), std::string_view::npos);
    EXPECT_NE(table->find("set", "ban4"), nullptr);
    EXPECT_EQ(table->find("chain", "ban4"), nullptr);
}

TEST(TableText, SkipsCommandsBeforeTheTableBlock) {
    auto table = scan_table("add table inet portcullis\nflush chain inet portcullis input\n"
                            "add set inet x y { type ipv4_addr; }\ntable inet portcullis {\n chain a {\n }\n}\n");
    ASSERT_TRUE(table) << table.error().message;
    ASSERT_EQ(table->objects.size(), 1u);
    EXPECT_EQ(table->objects[0].name, "a");
}

TEST(TableText, ReportsUnbalancedAndMissingTables) {
    EXPECT_FALSE(scan_table("chain x { }"));
    EXPECT_FALSE(scan_table("table inet portcullis {\n chain a {\n"));
    EXPECT_FALSE(scan_table("table inet {"));
}

TEST(TableText, SetShapeNormalisesTypeAndFlags) {
    auto table = scan_table("table inet t {\n set a { type ipv4_addr . inet_service;  flags timeout , interval; }\n"
                            " set b {\n\t\ttype ipv4_addr .  inet_service\n\t\tflags interval,timeout\n\t}\n"
                            " set c { typeof ip saddr; timeout 1h; }\n map m { type ipv4_addr : verdict; }\n}\n");
    ASSERT_TRUE(table) << table.error().message;
    SetShape a = set_shape(*table->find("set", "a"));
    SetShape b = set_shape(*table->find("set", "b"));
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.key, "type ipv4_addr . inet_service");
    EXPECT_EQ(a.flags, (std::vector<std::string>{"interval", "timeout"}));
    SetShape c = set_shape(*table->find("set", "c"));
    EXPECT_EQ(c.key, "typeof ip saddr");
    EXPECT_EQ(c.flags, std::vector<std::string>{"timeout"});  // a default timeout implies the flag
    EXPECT_EQ(c.default_timeout, "1h");
    EXPECT_TRUE(set_shape(*table->find("map", "m")).is_map);
}

TEST(TableText, StripsElementsOnlyFromTheNamedSets) {
    std::string stripped = strip_set_elements(kListing, {"ban4"});
    EXPECT_EQ(stripped.find("192.0.2.5"), std::string::npos);
    EXPECT_EQ(stripped.find("198.51.100.0/24"), std::string::npos);
    EXPECT_NE(stripped.find("tcp . 22 : jump svc_ssh"), std::string::npos);  // not named: kept
    auto table = scan_table(stripped);
    ASSERT_TRUE(table) << table.error().message;
    SetShape ban = set_shape(*table->find("set", "ban4"));
    EXPECT_EQ(ban.key, "type ipv4_addr");
    EXPECT_EQ(ban.flags, (std::vector<std::string>{"interval", "timeout"}));
}

TEST(TableText, RuntimeSetNamesFollowTheContract) {
    EXPECT_TRUE(is_runtime_set_name("ban4"));
    EXPECT_TRUE(is_runtime_set_name("ban6"));
    EXPECT_TRUE(is_runtime_set_name("banh4"));
    EXPECT_TRUE(is_runtime_set_name("banh6"));
    EXPECT_FALSE(is_runtime_set_name("banh"));
    EXPECT_TRUE(is_runtime_set_name("grant4_ssh"));
    EXPECT_TRUE(is_runtime_set_name("grant6_wg"));
    EXPECT_FALSE(is_runtime_set_name("grant4_"));
    EXPECT_FALSE(is_runtime_set_name("ban"));
    EXPECT_FALSE(is_runtime_set_name("services"));
}

TEST(TableText, ManifestFromSnapshot) {
    auto manifest = manifest_from_text(kListing);
    ASSERT_TRUE(manifest) << manifest.error().message;
    EXPECT_EQ(manifest->chains, (std::vector<std::string>{"input", "svc_ssh"}));
    EXPECT_EQ(manifest->sets, std::vector<std::string>{"services"});
    EXPECT_EQ(manifest->runtime_sets, std::vector<std::string>{"ban4"});
    EXPECT_EQ(manifest->counters, std::vector<std::string>{"svc_ssh_accepted"});
    EXPECT_EQ(manifest->ct_helpers, std::vector<std::string>{"pptp"});
}

}  // namespace
}  // namespace portcullis::kernel
