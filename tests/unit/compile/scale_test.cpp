// The scale target: 10,000 services and 10,000 allow CIDRs must compile to a table the
// real nft accepts, with base chains that do NOT grow with the number of services.
#include <fmt/format.h>

#include "support.hpp"

namespace {

using namespace pc_test;
using namespace portcullis;

policy::Policy large_policy(std::size_t services) {
    policy::Policy p;
    p.mode = policy::Mode::gateway;
    p.wan_interfaces = {"eth0"};
    p.lan_interface = "eth1";
    p.management.sources = {*Prefix::parse("203.0.113.10")};
    p.management.ports = {policy::PortSpec{policy::IpProtocol::tcp, policy::PortRange{22, 22}, {}}};
    for (std::size_t i = 0; i < services; ++i) {
        policy::Service s;
        s.name = fmt::format("svc{}", i);
        auto port = static_cast<std::uint16_t>(1024 + i);
        auto protocol = i % 2 ? policy::IpProtocol::udp : policy::IpProtocol::tcp;
        s.ports = {policy::PortSpec{protocol, policy::PortRange{port, port}, {}}};
        if (i % 2 == 0) s.forward_to = policy::ForwardTarget{*Address::parse(fmt::format("192.0.2.{}", 1 + i % 250)), {}};
        // One distinct CIDR per service: half IPv4, half IPv6.
        auto cidr = i % 2 ? fmt::format("2001:db8:{:x}::/48", i) : fmt::format("10.{}.{}.0/24", i / 256, i % 256);
        s.allow_from = {*Prefix::parse(cidr)};
        if (i % 10 == 0) s.guard = policy::Guard::grant;
        // Service 677 exposes udp/1701, which would add the L2TP conformance chain (one chain, five
        // rules; conformance_l2tp_gre_test.cpp covers it); this test is about per-service growth.
        s.conformance = false;
        s.control.enabled = false;  // likewise its SCCRQ limiters (flood_test.cpp covers them)
        s.control.global_per_second.reset();
        p.services.push_back(std::move(s));
    }
    return p;
}

std::size_t base_chain_rules(const compile::ir::Table& table) {
    std::size_t rules = 0;
    for (const auto& chain : table.chains)
        if (chain.base) rules += chain.rules.size();
    return rules;
}

TEST(Scale, BaseChainsDoNotGrowWithServices) {
    // Both sizes have every kind of service (guarded, flat local, flat forwarded; tcp and udp):
    // from there on, more services add set elements, never rules.
    auto small = compile::compile_ir(large_policy(20));
    auto large = compile::compile_ir(large_policy(2000));
    EXPECT_EQ(base_chain_rules(small), base_chain_rules(large));
    EXPECT_EQ(large.chains.size() - small.chains.size(), 198u);  // one chain per guarded service only
    // A service chain is a constant handful of rules however many services exist.
    for (const auto& chain : large.chains) {
        if (!chain.base) {
            EXPECT_LE(chain.rules.size(), 4u) << chain.name;
        }
    }
}

TEST(Scale, TenThousandServicesPassRealNft) {
    ASSERT_TRUE(nft_available());
    auto compiled = compile::compile(large_policy(10000));
    // Named counters only for the 1,000 guarded services; the 9,000 others count in set elements.
    EXPECT_EQ(compiled.manifest.counters.size(), 4u + 2u * 1000u);
    EXPECT_EQ(compiled.manifest.runtime_sets.size(), 4u + 2u * 1000u);
    auto file = temp_file("scale10k.nft");
    write_text(file, compiled.table_text);
    auto check = nft_in_private_netns(file, false);
    EXPECT_EQ(check.status, 0) << check.output.substr(0, 2000);
    auto load = nft_in_private_netns(file, true);
    EXPECT_EQ(load.status, 0) << load.output.substr(0, 2000);
    EXPECT_NE(load.output.find("svc_svc9999_accepted"), std::string::npos);
    if (!HasFailure()) fs::remove_all(file.parent_path());
}

}  // namespace
