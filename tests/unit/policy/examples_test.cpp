// Every policy in examples/ must load without errors: they are what admins copy from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "policy/load.hpp"
#include "helpers.hpp"

namespace portcullis::policy {
namespace {

std::filesystem::path examples_dir() { return std::filesystem::path(PC_SOURCE_ROOT) / "examples"; }

std::vector<std::filesystem::path> example_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(examples_dir()))
        if (entry.is_regular_file() && entry.path().extension() == ".toml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

TEST(PolicyExamples, EveryExampleLoadsWithoutErrors) {
    auto files = example_files();
    ASSERT_GE(files.size(), 7u);
    for (const auto& file : files) {
        SCOPED_TRACE(file.string());
        auto result = load_file(file.string());
        EXPECT_TRUE(result.ok()) << testing::dump(result);
        EXPECT_EQ(testing::count(result, Severity::error), 0u) << testing::dump(result);
        ASSERT_TRUE(result.policy);
        EXPECT_FALSE(result.policy->services.empty());
        EXPECT_FALSE(result.policy->management.sources.empty());
    }
}

LoadResult example(const char* name) { return load_file((examples_dir() / name).string()); }

TEST(PolicyExamples, GatewayIkev2IsTheDocumentedSetup) {
    auto result = example("gateway-ikev2.toml");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    const Policy& p = *result.policy;
    EXPECT_EQ(p.mode, Mode::gateway);
    EXPECT_EQ(p.wan_interfaces, std::vector<std::string>{"eth0"});
    EXPECT_EQ(p.lan_interface, "eth1");
    ASSERT_EQ(p.services.size(), 1u);
    EXPECT_EQ(p.services[0].preset, "ikev2");
    EXPECT_EQ(p.services[0].forward_to->address.to_string(), "192.0.2.10");
    EXPECT_EQ(p.management.sources[0].to_string(), "203.0.113.10/32");
    EXPECT_EQ(p.management.ports[0].ports->first, 22);
    EXPECT_TRUE(result.diagnostics.empty()) << testing::dump(result);
}

TEST(PolicyExamples, PptpExampleCarriesTheCryptoWarning) {
    auto result = example("gateway-pptp.toml");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    EXPECT_TRUE(result.policy->services[0].pptp_helper);
    ASSERT_EQ(result.policy->warnings.size(), 1u) << testing::dump(result);
    EXPECT_THAT(result.policy->warnings[0].message, ::testing::HasSubstr("MS-CHAPv2/MPPE"));
}

TEST(PolicyExamples, AdminUiIsGuardedAndRemapped) {
    auto result = example("gateway-openvpn-admin.toml");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    const Service& ui = result.policy->services[1];
    EXPECT_EQ(ui.guard, Guard::grant);
    EXPECT_EQ(ui.forward_to->port, 443);
    EXPECT_TRUE(result.diagnostics.empty()) << testing::dump(result);
}

TEST(PolicyExamples, DualStackForwardsTheIpv6ServiceToAnIpv6Target) {
    auto result = example("gateway-dualstack.toml");
    ASSERT_TRUE(result.ok()) << testing::dump(result);
    EXPECT_EQ(result.policy->services[1].forward_to->address.family, Family::ipv6);
    EXPECT_EQ(result.policy->warnings.size(), 0u) << testing::dump(result);
}

}  // namespace
}  // namespace portcullis::policy
