// simulate models the compiled L2TP and PPTP-GRE conformance matches (issue 5): malformed headers
// end in conform_l2tp / conform_gre with the reason's counter, well-formed ones go on to the service.
#include <gtest/gtest.h>

#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

using dissect::testing::L2tpBuilder;

const std::string kClient = "198.51.100.7", kServer = "203.0.113.1";

PacketBuilder l2tp(const Buffer& bytes) {
    return PacketBuilder().ethernet().ipv4(kClient, kServer).udp(1701, 1701).raw(bytes);
}
PacketBuilder gre(const Buffer& header_and_payload) {
    dissect::testing::Ipv4Options options;
    options.protocol = 47;
    return PacketBuilder().ethernet().ipv4(kClient, kServer, options).raw(header_and_payload);
}
// An enhanced GRE header (RFC 2637 4.1) with these first 16 bits and protocol type, key fields,
// then 8 payload bytes.
Buffer gre_header(std::uint16_t flags_version, std::uint16_t protocol = 0x880b) {
    Buffer out{static_cast<std::uint8_t>(flags_version >> 8), static_cast<std::uint8_t>(flags_version),
               static_cast<std::uint8_t>(protocol >> 8), static_cast<std::uint8_t>(protocol), 0, 8, 0x40, 0};
    for (int i = 0; i < 8; ++i) out.push_back(0xff);
    return out;
}

TEST(SimulateConformance, L2tpWellFormedPassesMalformedDroppedPerReason) {
    auto sim = make("tests/unit/simulate/policies/host-l2tp-raw.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    EXPECT_EQ(feed(l2tp(L2tpBuilder::control(0).message_type(1).bytes())).verdict, Verdict::accept);  // SCCRQ
    EXPECT_EQ(feed(l2tp(L2tpBuilder::data(7, 9, Buffer(12, 0xff)).bytes())).verdict, Verdict::accept);
    struct Bad {
        const char* what;
        Buffer bytes;
        const char* counter;
    };
    const std::vector<Bad> bad{
        {"4 bytes", {0xc8, 0x02, 0, 4}, "conform_l2tp_short"},
        {"version 1", {0xc8, 0x01, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0}, "conform_l2tp_version"},
        {"version 7", {0x00, 0x07, 0, 1, 0, 1, 0, 0}, "conform_l2tp_version"},
        {"control of 8 bytes", {0xc8, 0x02, 0, 8, 0, 1, 0, 0}, "conform_l2tp_short"},
        {"control without S", {0xc0, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0}, "conform_l2tp_control"},
        {"control without L", {0x88, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, "conform_l2tp_control"},
        {"v2 control with O", {0xca, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0}, "conform_l2tp_control"},
    };
    for (const auto& b : bad) {
        auto out = feed(l2tp(b.bytes));
        EXPECT_EQ(out.verdict, Verdict::drop) << b.what;
        EXPECT_EQ(out.decided_by.chain, "conform_l2tp") << b.what;
        EXPECT_NE(out.decided_by.text.find(b.counter), std::string::npos) << b.what << ": " << out.decided_by.text;
    }
    EXPECT_EQ(sim->counter("conform_l2tp_short").packets, 2u);
    EXPECT_EQ(sim->counter("conform_l2tp_version").packets, 2u);
    EXPECT_EQ(sim->counter("conform_l2tp_control").packets, 3u);
}

TEST(SimulateConformance, PptpGreMalformedDroppedPerReason) {
    auto sim = make("tests/unit/simulate/policies/host-pptp.toml");
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    struct Bad {
        const char* what;
        Buffer bytes;
        const char* counter;
    };
    const std::vector<Bad> bad{
        {"4 bytes", {0x30, 0x01, 0x88, 0x0b}, "conform_gre_short"},
        {"version 0", gre_header(0x2000), "conform_gre_version"},
        {"IPv4 inside", gre_header(0x2001, 0x0800), "conform_gre_protocol"},
        {"no key", gre_header(0x1001), "conform_gre_key"},
        {"checksum", gre_header(0xa001), "conform_gre_flags"},
        {"routing", gre_header(0x6001), "conform_gre_flags"},
        {"recursion", gre_header(0x2101), "conform_gre_flags"},
    };
    for (const auto& b : bad) {
        auto out = feed(gre(b.bytes));
        EXPECT_EQ(out.verdict, Verdict::drop) << b.what;
        EXPECT_EQ(out.decided_by.chain, "conform_gre") << b.what;
        EXPECT_NE(out.decided_by.text.find(b.counter), std::string::npos) << b.what << ": " << out.decided_by.text;
    }
    // Well-formed enhanced GRE (with sequence and ack numbers too) leaves the conformance chain; with
    // no call open the helper has no expectation and the default drop decides.
    for (std::uint16_t flags : {std::uint16_t{0x2001}, std::uint16_t{0x3081}}) {
        auto out = feed(gre(gre_header(flags)));
        EXPECT_NE(out.decided_by.chain, "conform_gre") << std::hex << flags << " " << out.decided_by.text;
    }
    EXPECT_EQ(sim->counter("conform_gre_flags").packets, 3u);
    EXPECT_EQ(sim->counter("conform_gre_version").packets, 1u);
}

}  // namespace
}  // namespace portcullis::simulate::testing
