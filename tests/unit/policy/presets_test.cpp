// The preset table is the single source for the loader, `check` and docs/policy.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "policy/presets.hpp"
#include "policy/values.hpp"

namespace portcullis::policy {
namespace {

TEST(PolicyPresets, LookupAndNames) {
    auto names = preset_names();
    EXPECT_EQ(names, (std::vector<std::string_view>{"ipsec", "ikev2", "l2tp-ipsec", "pptp", "openvpn", "openvpn-tcp",
                                                    "wireguard", "sstp"}));
    for (auto name : names) {
        const Preset* preset = find_preset(name);
        ASSERT_NE(preset, nullptr) << name;
        EXPECT_EQ(preset->name, name);
        EXPECT_FALSE(preset->explanation.empty());
        EXPECT_EQ(preset->explanation.find('\n'), std::string_view::npos) << "one line: " << name;
        EXPECT_FALSE(preset->ports.empty());
    }
    EXPECT_EQ(find_preset("IKEv2"), nullptr);
    EXPECT_EQ(find_preset(""), nullptr);
    EXPECT_EQ(find_preset("l2tp"), nullptr);
}

TEST(PolicyPresets, OnlyTheProtocolPresetsCarryFlags) {
    for (const auto& preset : all_presets()) {
        EXPECT_EQ(preset.l2tp_only_inside_ipsec, preset.name == "l2tp-ipsec") << preset.name;
        EXPECT_EQ(preset.pptp_helper, preset.name == "pptp") << preset.name;
    }
}

TEST(PolicyPresets, BundlesHaveNoRepeatsAndPortlessProtocolsHaveNoPort) {
    for (const auto& preset : all_presets()) {
        auto specs = preset_port_specs(preset);
        ASSERT_EQ(specs.size(), preset.ports.size());
        std::set<std::string> seen;
        for (const auto& spec : specs) {
            EXPECT_TRUE(seen.insert(format_port_spec(spec)).second) << preset.name;
            bool portless = spec.protocol == IpProtocol::esp || spec.protocol == IpProtocol::gre ||
                            spec.protocol == IpProtocol::ah;
            EXPECT_EQ(portless, !spec.ports.has_value()) << preset.name;
        }
    }
}

// docs/policy.md lists every preset with its bundle and exact explanation.
TEST(PolicyPresets, DocsListEveryPresetWithItsExplanationAndBundle) {
    std::ifstream in(std::filesystem::path(PC_SOURCE_ROOT) / "docs" / "policy.md");
    ASSERT_TRUE(in) << "docs/policy.md";
    std::stringstream text;
    text << in.rdbuf();
    const std::string docs = text.str();
    for (const auto& preset : all_presets()) {
        std::string row_start = "| `" + std::string(preset.name) + "` | ";
        auto row = docs.find(row_start);
        ASSERT_NE(row, std::string::npos) << preset.name;
        std::string line = docs.substr(row, docs.find('\n', row) - row);
        EXPECT_THAT(line, ::testing::HasSubstr("| " + std::string(preset.explanation) + " |"));
        for (const auto& spec : preset_port_specs(preset))
            EXPECT_THAT(line, ::testing::HasSubstr(format_port_spec(spec))) << preset.name;
    }
}

}  // namespace
}  // namespace portcullis::policy
