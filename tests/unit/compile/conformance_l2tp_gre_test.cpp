// Conformance for L2TP (udp/1701) and PPTP's enhanced GRE (issue 5): raw payload matches with a
// counter per drop reason, only where the policy exposes the protocol.
#include "support.hpp"

namespace {

using namespace pc_test;

const char* kL2tpRaw = R"([firewall]
mode = "host"
wan = "eth0"
[management]
sources = ["198.51.100.7"]
ports = ["tcp/22"]
[[service]]
name = "lns"
ports = ["udp/1701"]
allow_from = ["any"]
)";

const char* kPptpGateway = R"([firewall]
mode = "gateway"
wan = "wan0"
lan = "lan0"
[[service]]
name = "pptp"
preset = "pptp"
forward_to = "192.0.2.10"
allow_from = ["any"]
)";

std::string compiled(const std::string& policy) {
    return portcullis::compile::compile(load_policy_text(policy)).table_text;
}

TEST(CompileConformanceL2tpGre, L2tpChainChecksLengthVersionAndControlBits) {
    auto text = compiled(kL2tpRaw);
    EXPECT_NE(text.find("meta l4proto udp th dport 1701 jump conform_l2tp"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,76,4 != { 0x2, 0x3 } counter name \"conform_l2tp_version\" drop"), std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,64,16 & 0xc800 == { 0x8000, 0x8800, 0xc000 } counter name \"conform_l2tp_control\" drop"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,64,16 & 0x820f == 0x8202 counter name \"conform_l2tp_control\" drop"), std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,64,1 0x1 @th,32,16 { "), std::string::npos) << text;  // control shorter than 12 bytes
    for (const char* counter : {"conform_l2tp_short", "conform_l2tp_version", "conform_l2tp_control"})
        EXPECT_NE(text.find(std::string("counter ") + counter + " {"), std::string::npos) << counter;
    EXPECT_EQ(text.find("conform_gre"), std::string::npos);
}

TEST(CompileConformanceL2tpGre, L2tpInsideIpsecIsCheckedToo) {
    auto text = portcullis::compile::compile(load_policy(source_root() / "tests/unit/compile/policies/host_l2tp.toml"))
                    .table_text;
    EXPECT_NE(text.find("jump conform_l2tp"), std::string::npos) << text;
}

TEST(CompileConformanceL2tpGre, PptpGreChainChecksEnhancedHeader) {
    auto text = compiled(kPptpGateway);
    // Both families: the checks are relative to where the kernel found the GRE header.
    EXPECT_NE(text.find("meta l4proto gre jump conform_gre"), std::string::npos) << text;
    EXPECT_EQ(text.find("meta nfproto ipv4 meta l4proto gre jump conform_gre"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,13,3 != 0x1 counter name \"conform_gre_version\" drop"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,16,16 != 0x880b counter name \"conform_gre_protocol\" drop"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,2,1 0x0 counter name \"conform_gre_key\" drop"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,0,16 & 0xcf78 != 0x0 counter name \"conform_gre_flags\" drop"), std::string::npos) << text;
    // Short: the header's last byte cannot be read (after IPv4 options or IPv6 extension headers alike).
    EXPECT_NE(text.find("@th,56,1 { 0x0, 0x1 } return comment \"enhanced GRE header complete\"\n\t\tcounter name "
                        "\"conform_gre_short\" drop"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("@nh,16,16"), std::string::npos) << text;
    for (const char* counter :
         {"conform_gre_short", "conform_gre_version", "conform_gre_protocol", "conform_gre_key", "conform_gre_flags"})
        EXPECT_NE(text.find(std::string("counter ") + counter + " {"), std::string::npos) << counter;
    EXPECT_EQ(text.find("conform_l2tp"), std::string::npos);
}

TEST(CompileConformanceL2tpGre, ChecksComeBeforeTheEstablishedShortcut) {
    // GRE of a PPTP call is "related" through the helper: the check must run before that accept.
    auto table = portcullis::compile::compile_ir(load_policy_text(kPptpGateway));
    const auto* forward = table.find_chain("forward_filter");
    ASSERT_NE(forward, nullptr);
    std::size_t jump = SIZE_MAX, established = SIZE_MAX;
    for (std::size_t i = 0; i < forward->rules.size(); ++i) {
        auto text = portcullis::compile::ir::render(forward->rules[i]);
        if (jump == SIZE_MAX && text.find("jump conform_gre") != std::string::npos) jump = i;
        if (established == SIZE_MAX && text.find("ct state established,related") != std::string::npos) established = i;
    }
    ASSERT_NE(jump, SIZE_MAX);
    ASSERT_NE(established, SIZE_MAX);
    EXPECT_LT(jump, established);
}

TEST(CompileConformanceL2tpGre, OffPlainGreAndOtherProtocolsGetNoChecks) {
    EXPECT_EQ(compiled(std::string(kL2tpRaw) + "conformance = false\n").find("conform_l2tp"), std::string::npos);
    EXPECT_EQ(compiled(std::string(kPptpGateway) + "conformance = false\n").find("conform_gre"), std::string::npos);
    // A plain GRE tunnel (version 0, any protocol type) is not PPTP: no enhanced-GRE checks.
    std::string plain = kL2tpRaw;
    plain.replace(plain.find("\"udp/1701\""), 10, "\"gre\"");
    auto text = compiled(plain);
    EXPECT_EQ(text.find("conform_gre"), std::string::npos) << text;
    EXPECT_EQ(text.find("conform_l2tp"), std::string::npos) << text;
}

TEST(CompileConformanceL2tpGre, TheKernelLoadsBoth) {
    ASSERT_TRUE(nft_available());
    for (const char* policy : {kL2tpRaw, kPptpGateway}) {
        auto text = compiled(policy);
        auto file = temp_file("conform_l2tp_gre.nft");
        write_text(file, text);
        auto load = nft_in_private_netns(file, true);
        EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
        EXPECT_NE(load.output.find("conform_"), std::string::npos) << load.output;
        if (!HasFailure()) fs::remove_all(file.parent_path());
    }
}

}  // namespace
