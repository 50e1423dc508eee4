#include <gtest/gtest.h>

#include <netinet/in.h>

#include "kernel/conntrack_cleanup.hpp"
#include "kernel/features.hpp"

namespace portcullis::kernel {
namespace {

Address address(const char* text) { return *Address::parse(text); }

TEST(StaleFlows, OnlyUnNatedFlowsToTheGatewayOnForwardedPortsAreStale) {
    std::vector<ForwardedPort> forwarded{{IPPROTO_UDP, 500, 500, true},
                                         {IPPROTO_UDP, 40000, 40100, true},
                                         {IPPROTO_ESP, 0, 0, false}};
    std::vector<Address> gateway{address("203.0.113.1"), address("2001:db8::1")};

    FlowView keepalive{address("203.0.113.1"), IPPROTO_UDP, 500, false};
    EXPECT_TRUE(is_stale_unnatted(keepalive, forwarded, gateway));

    FlowView natted = keepalive;
    natted.dst_natted = true;
    EXPECT_FALSE(is_stale_unnatted(natted, forwarded, gateway));

    FlowView other_port{address("203.0.113.1"), IPPROTO_UDP, 4500, false};
    EXPECT_FALSE(is_stale_unnatted(other_port, forwarded, gateway));

    FlowView tcp_same_port{address("203.0.113.1"), IPPROTO_TCP, 500, false};
    EXPECT_FALSE(is_stale_unnatted(tcp_same_port, forwarded, gateway));

    FlowView range_edge{address("2001:db8::1"), IPPROTO_UDP, 40100, false};
    EXPECT_TRUE(is_stale_unnatted(range_edge, forwarded, gateway));
    FlowView past_range{address("2001:db8::1"), IPPROTO_UDP, 40101, false};
    EXPECT_FALSE(is_stale_unnatted(past_range, forwarded, gateway));

    FlowView esp{address("203.0.113.1"), IPPROTO_ESP, std::nullopt, false};
    EXPECT_TRUE(is_stale_unnatted(esp, forwarded, gateway));

    FlowView elsewhere{address("192.0.2.10"), IPPROTO_UDP, 500, false};  // e.g. LAN traffic passing by
    EXPECT_FALSE(is_stale_unnatted(elsewhere, forwarded, gateway));
}

TEST(StaleFlows, LoopbackAddressesAreFoundByInterfaceName) {
    auto addresses = interface_addresses({"lo"});
    EXPECT_NE(std::find(addresses.begin(), addresses.end(), address("127.0.0.1")), addresses.end());
    EXPECT_TRUE(interface_addresses({"pc-no-such-interface"}).empty());
}

TEST(Features, ProbesRunAsChecksAndReportWhatTheKernelRefused) {
    RecordingNftables nft;
    nft.fail_when_script_contains = "\"pptp\"";
    nft.failure_message = "Error: Could not process rule: No such file or directory";
    KernelFeatures features = probe_features(nft);
    EXPECT_FALSE(features.has("ct helper pptp"));
    EXPECT_TRUE(features.has("nat"));
    EXPECT_TRUE(features.has("meta secpath"));
    EXPECT_FALSE(features.has("no such probe"));
    for (const auto& call : nft.calls) EXPECT_EQ(call.mode, RunMode::check);
    EXPECT_TRUE(nft.committed.empty());
    for (const auto& probe : features.probes) {
        if (probe.name == "ct helper pptp") {
            EXPECT_NE(probe.error.find("No such file"), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace portcullis::kernel
