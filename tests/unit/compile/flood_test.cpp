// Flood control: per-source IKE_SA_INIT limits compiled into dynamic-set limiters.
#include <tuple>

#include "support.hpp"

namespace {

using namespace pc_test;
using portcullis::Family;
namespace ir = portcullis::compile::ir;

const char* kPolicy = R"([firewall]
mode = "host"
wan = "eth0"
log_drops = 5
[management]
sources = ["198.51.100.7"]
ports = ["tcp/22"]
[[service]]
name = "vpn"
preset = "ikev2"
allow_from = ["any"]
)";

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

TEST(CompileFlood, IkeServiceGetsPerSourceLimitersOnBothPortsAndFamilies) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    EXPECT_EQ(count_of(text, "update @flood4_vpn_ike { ip saddr limit rate over 5/second burst 10 packets }"), 2u)
        << text;
    EXPECT_EQ(count_of(text, "update @flood6_vpn_ike { ip6 saddr limit rate over 5/second burst 10 packets }"), 2u);
    // udp/500: responder SPI zero, exchange 34, initiator flag.
    EXPECT_NE(text.find("th dport 500 @th,128,32 0x0 @th,160,32 0x0 @th,208,8 0x22 @th,216,8 & 0x8 == 0x8"),
              std::string::npos)
        << text;
    // udp/4500: the same 32 bits later, behind the non-ESP marker.
    EXPECT_NE(text.find("th dport 4500 @th,64,32 0x0 @th,160,32 0x0 @th,192,32 0x0 @th,240,8 0x22 @th,248,8 & 0x8 == 0x8"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("counter flood_vpn_ike_init {"), std::string::npos);
    EXPECT_NE(text.find("log prefix \"portcullis drop=flood \" group 5"), std::string::npos);
}

TEST(CompileFlood, LimitsComeBeforeTheEstablishedShortcut) {
    auto table = portcullis::compile::compile_ir(load_policy_text(kPolicy));
    const auto* input = table.find_chain("input_filter");
    ASSERT_NE(input, nullptr);
    std::size_t flood = SIZE_MAX, established = SIZE_MAX;
    for (std::size_t i = 0; i < input->rules.size(); ++i) {
        auto text = portcullis::compile::ir::render(input->rules[i]);
        if (flood == SIZE_MAX && text.find("@flood4_vpn_ike") != std::string::npos) flood = i;
        if (established == SIZE_MAX && text.find("ct state established,related") != std::string::npos) established = i;
    }
    ASSERT_NE(flood, SIZE_MAX);
    ASSERT_NE(established, SIZE_MAX);
    EXPECT_LT(flood, established);
}

TEST(CompileFlood, ConfiguredRateBurstAndGlobalLimit) {
    std::string policy = std::string(kPolicy) +
                         "ike_init_limit = \"20/s\"\nike_init_burst = 40\nike_init_global_limit = \"500/s\"\n";
    auto text = portcullis::compile::compile(load_policy_text(policy)).table_text;
    EXPECT_NE(text.find("limit rate over 20/second burst 40 packets"), std::string::npos) << text;
    EXPECT_EQ(count_of(text, "limit rate over 500/second burst 40 packets counter name \"flood_vpn_ike_init_global\""),
              2u)
        << text;
}

TEST(CompileFlood, OffOrNoIkePortsMeansNoLimiter) {
    auto off = portcullis::compile::compile(load_policy_text(std::string(kPolicy) + "ike_init_limit = \"off\"\n"));
    EXPECT_EQ(off.table_text.find("flood"), std::string::npos) << off.table_text;
    std::string wg = kPolicy;
    wg.replace(wg.find("ikev2"), 5, "wireguard");
    auto text = portcullis::compile::compile(load_policy_text(wg)).table_text;
    EXPECT_EQ(text.find("flood"), std::string::npos) << text;
}

const char* kControlPolicy = R"([firewall]
mode = "host"
wan = "eth0"
log_drops = 5
[management]
sources = ["198.51.100.7"]
ports = ["tcp/22"]
[[service]]
name = "pptp"
preset = "pptp"
allow_from = ["any"]
[[service]]
name = "lns"
ports = ["udp/1701"]
allow_from = ["any"]
)";

TEST(CompileFlood, PptpSynsAndL2tpSccrqGetPerSourceLimiters) {
    auto text = portcullis::compile::compile(load_policy_text(kControlPolicy)).table_text;
    // PPTP: a SYN without ACK to 1723.
    EXPECT_EQ(count_of(text, "tcp th dport 1723 @th,104,8 & 0x12 == 0x2 update @flood4_pptp_control { ip saddr limit "
                             "rate over 5/second burst 10 packets } counter name \"flood_pptp_pptp_new\""),
              1u)
        << text;
    // L2TP: T/L/S set, version 2, tunnel 0, first AVP Message Type = 1 (SCCRQ).
    EXPECT_EQ(count_of(text, "udp th dport 1701 @th,64,8 & 0xcb == 0xc8 @th,72,8 & 0xf == 0x2 @th,96,16 0x0 "
                             "@th,176,16 0x0 @th,192,16 0x0 @th,208,16 0x1 update @flood6_lns_control"),
              1u)
        << text;
    EXPECT_NE(text.find("counter flood_lns_l2tp_sccrq {"), std::string::npos);
    auto off = portcullis::compile::compile(load_policy_text(
        std::string(kControlPolicy) + "control_limit = \"off\"\ncontrol_global_limit = \"off\"\n"));
    EXPECT_EQ(off.table_text.find("flood_lns"), std::string::npos);
    EXPECT_NE(off.table_text.find("flood_pptp_pptp_new"), std::string::npos);
}

TEST(CompileFlood, ControlLimitersLoadIntoTheKernel) {
    ASSERT_TRUE(nft_available());
    auto text = portcullis::compile::compile(
                    load_policy_text(std::string(kControlPolicy) + "control_limit = \"2/s\"\ncontrol_burst = 4\n"))
                    .table_text;
    auto load = load_text_in_private_netns(text, "control-flood.nft");
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
    EXPECT_NE(load.output.find("update @flood4_lns_control { ip saddr limit rate over 2/second burst 4 packets }"),
              std::string::npos)
        << load.output;
}

TEST(CompileFlood, KnockPacketsArePerSourceLimitedFirstInTheKnockChain) {
    const std::string policy = R"([firewall]
mode = "host"
wan = "eth0"
[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]
[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "knock"
[service.knock]
sequence = ["tcp/17301", "udp/28113", "tcp/11923"]
)";
    auto table = portcullis::compile::compile_ir(load_policy_text(policy));
    const auto* chain = table.find_chain("knock_ssh");
    ASSERT_NE(chain, nullptr);
    EXPECT_EQ(portcullis::compile::ir::render(chain->rules.at(0)),
              "meta nfproto ipv4 update @flood4_ssh_knock { ip saddr limit rate over 10/second burst 20 packets } "
              "counter name \"flood_ssh_knock\" goto flood_drop comment \"knocks over the per-source limit\"")
        << portcullis::compile::ir::render(chain->rules.at(0));
    auto text = portcullis::compile::compile(load_policy_text(policy + "rate_limit = \"3/s\"\nrate_burst = 6\n")).table_text;
    EXPECT_NE(text.find("update @flood6_ssh_knock { ip6 saddr limit rate over 3/second burst 6 packets }"),
              std::string::npos)
        << text;
    auto off = portcullis::compile::compile(
                   load_policy_text(policy + "rate_limit = \"off\"\nglobal_limit = \"off\"\n")).table_text;
    EXPECT_EQ(off.find("flood"), std::string::npos) << off;
    ASSERT_TRUE(nft_available());
    auto load = load_text_in_private_netns(text, "knock-flood.nft");
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
}

TEST(CompileFlood, TheKernelLoadsIt) {
    ASSERT_TRUE(nft_available());
    auto text = portcullis::compile::compile(
                    load_policy_text(std::string(kPolicy) + "ike_init_global_limit = \"500/s\"\n"))
                    .table_text;
    auto load = load_text_in_private_netns(text, "flood.nft");
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
    EXPECT_NE(load.output.find("update @flood4_vpn_ike { ip saddr limit rate over 5/second burst 10 packets }"),
              std::string::npos)
        << load.output;
}

}  // namespace

namespace {

TEST(CompileConformance, IkeAndNattChainsWithPerReasonCounters) {
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    EXPECT_NE(text.find("meta l4proto udp th dport 500 jump conform_ike"), std::string::npos) << text;
    EXPECT_NE(text.find("meta l4proto udp th dport 4500 jump conform_natt"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,200,8 != { 0x10, 0x20 } counter name \"conform_ike_version\" drop"), std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,64,32 0x0 @th,232,8 != { 0x10, 0x20 } counter name \"conform_natt_version\" drop"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,64,24 0x0 counter name \"conform_natt_spi\" drop"), std::string::npos) << text;
    for (const char* counter : {"conform_ike_short", "conform_ike_version", "conform_ike_exchange", "conform_ike_length",
                                "conform_natt_short", "conform_natt_version", "conform_natt_exchange",
                                "conform_natt_length", "conform_natt_spi"})
        EXPECT_NE(text.find(std::string("counter ") + counter + " {"), std::string::npos) << counter;
    EXPECT_EQ(text.find("conform_ike_aggressive"), std::string::npos);  // opt-in
}

TEST(CompileConformance, AggressiveModeOptInAndOff) {
    auto agg = portcullis::compile::compile(load_policy_text(std::string(kPolicy) + "drop_ikev1_aggressive = true\n"));
    EXPECT_NE(agg.table_text.find("@th,208,8 0x4 counter name \"conform_ike_aggressive\" drop"), std::string::npos)
        << agg.table_text;
    auto off = portcullis::compile::compile(load_policy_text(std::string(kPolicy) + "conformance = false\n"));
    EXPECT_EQ(off.table_text.find("conform_"), std::string::npos);
}

TEST(CompileConformance, TheKernelLoadsIt) {
    ASSERT_TRUE(nft_available());
    auto text =
        portcullis::compile::compile(load_policy_text(std::string(kPolicy) + "drop_ikev1_aggressive = true\n")).table_text;
    auto load = load_text_in_private_netns(text, "conform.nft");
    EXPECT_EQ(load.status, 0) << load.output << "\n" << text;
}

// The IKE length check is three set lookups on byte pairs (compile.cpp, IkeLengthSets). Evaluate
// the compiled sets the way the rules use them, for every UDP length an IKE message can have and
// the correct IKE length, off by one either way, and off by 256: exactly the correct one passes.
bool length_accepted(const portcullis::compile::ir::Table& table, const std::string& prefix, std::uint32_t overhead,
                     std::uint32_t udp_length, std::uint32_t ike_length) {
    auto has = [&](const std::string& name, std::uint32_t a, std::uint32_t b) {
        const auto* set = table.find_set(name);
        if (!set) return false;
        for (const auto& e : set->elements)
            if (std::get<ir::Number>(e.key.at(0)).value == a && std::get<ir::Number>(e.key.at(1)).value == b)
                return true;
        return false;
    };
    if (ike_length > 0xffff) return false;  // the `!= 0` rule on the top 16 bits
    const std::uint32_t lo = udp_length & 0xff, hi = udp_length >> 8;
    if (!has(prefix + "_len_lo", lo, ike_length & 0xff)) return false;
    return has(lo < overhead ? prefix + "_len_hi_borrow" : prefix + "_len_hi", hi, ike_length >> 8);
}

TEST(CompileConformance, IkeLengthMustEqualTheUdpPayloadLength) {
    auto table = portcullis::compile::compile_ir(load_policy_text(kPolicy));
    for (auto [prefix, overhead, header] : {std::tuple{std::string("ike"), 8u, 28u}, std::tuple{std::string("natt"), 12u, 28u}}) {
        for (const char* suffix : {"_len_lo", "_len_hi", "_len_hi_borrow"}) {
            const auto* set = table.find_set(prefix + suffix);
            ASSERT_NE(set, nullptr) << prefix << suffix;
            EXPECT_EQ(set->elements.size(), 256u);
        }
        std::size_t wrong = 0;
        for (std::uint32_t udp = overhead + header; udp <= 65535; ++udp) {
            const std::uint32_t ike = udp - overhead;
            if (!length_accepted(table, prefix, overhead, udp, ike)) ++wrong;
            for (std::uint32_t bad : {ike - 1, ike + 1, ike + 256, ike - 256, ike + 65536})
                if (length_accepted(table, prefix, overhead, udp, bad)) ++wrong;
        }
        EXPECT_EQ(wrong, 0u) << prefix;
    }
    auto text = portcullis::compile::compile(load_policy_text(kPolicy)).table_text;
    EXPECT_NE(text.find("typeof @th,40,8 . @th,280,8"), std::string::npos) << text;
    EXPECT_NE(text.find("typeof @th,40,8 . @th,312,8"), std::string::npos) << text;
    EXPECT_NE(text.find("@th,40,8 . @th,280,8 != @ike_len_lo counter name \"conform_ike_length_mismatch\" drop"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,40,8 { 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7 } @th,32,8 . @th,272,8 != "
                        "@ike_len_hi_borrow counter name \"conform_ike_length_mismatch\" drop"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("@th,64,32 0x0 @th,40,8 != { 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xa, 0xb } "
                        "@th,32,8 . @th,304,8 != @natt_len_hi counter name \"conform_natt_length_mismatch\" drop"),
              std::string::npos)
        << text;
    // Elements as `nft list` prints them, so a re-apply finds them unchanged.
    EXPECT_NE(text.find("\t\t\t0x08 . 0x00,\n"), std::string::npos) << text;
    for (const char* counter : {"conform_ike_length_mismatch", "conform_natt_length_mismatch"})
        EXPECT_NE(text.find(std::string("counter ") + counter + " {"), std::string::npos) << counter;
}

TEST(CompileFlood, GlobalLimitsOnControlKnockAndSpaByDefault) {
    auto control = portcullis::compile::compile(load_policy_text(kControlPolicy)).table_text;
    EXPECT_NE(control.find("tcp th dport 1723 @th,104,8 & 0x12 == 0x2 limit rate over 100/second burst 200 packets "
                           "counter name \"flood_pptp_pptp_new_global\" goto flood_drop"),
              std::string::npos)
        << control;
    EXPECT_NE(control.find("@th,208,16 0x1 limit rate over 100/second burst 200 packets counter name "
                           "\"flood_lns_l2tp_sccrq_global\" goto flood_drop"),
              std::string::npos)
        << control;
    // Per source first, so one flooding source spends its own budget.
    EXPECT_LT(control.find("flood_pptp_pptp_new\""), control.find("flood_pptp_pptp_new_global\""));
    auto tuned = portcullis::compile::compile(load_policy_text(
        std::string(kControlPolicy) + "control_limit = \"off\"\ncontrol_global_limit = \"7/s\"\ncontrol_global_burst = 9\n"));
    EXPECT_NE(tuned.table_text.find("@th,208,16 0x1 limit rate over 7/second burst 9 packets"), std::string::npos)
        << tuned.table_text;
    EXPECT_EQ(tuned.table_text.find("flood_lns_l2tp_sccrq\""), std::string::npos) << tuned.table_text;
    EXPECT_EQ(tuned.table_text.find("flood4_lns_control"), std::string::npos) << tuned.table_text;

    const std::string knock = R"([firewall]
mode = "host"
wan = "eth0"
[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "knock"
[service.knock]
sequence = ["tcp/17301", "udp/28113", "tcp/11923"]
)";
    auto table = portcullis::compile::compile_ir(load_policy_text(knock + "global_limit = \"50/s\"\nglobal_burst = 60\n"));
    const auto* chain = table.find_chain("knock_ssh");
    ASSERT_NE(chain, nullptr);
    EXPECT_EQ(ir::render(chain->rules.at(2)),
              "limit rate over 50/second burst 60 packets counter name \"flood_ssh_knock_global\" goto flood_drop "
              "comment \"knocks over the global limit\"");
    auto text = portcullis::compile::compile(load_policy_text(knock)).table_text;
    EXPECT_NE(text.find("limit rate over 200/second burst 400 packets counter name \"flood_ssh_knock_global\""),
              std::string::npos)
        << text;
    ASSERT_TRUE(nft_available());
    for (const auto& loaded : {text, control}) {
        auto load = load_text_in_private_netns(loaded, "global-limits.nft");
        EXPECT_EQ(load.status, 0) << load.output << "\n" << loaded;
    }
}

}  // namespace
