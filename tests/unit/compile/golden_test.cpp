// Golden tests: every example policy (examples/*.toml) and every policy under
// tests/unit/compile/policies/ compiles to exactly the bytes in golden/<name>.nft.
// Regenerate after an intended change with: PC_UPDATE_GOLDEN=1 ./unit_compile --gtest_filter='Golden*'
// and review the diff like code.
#include <unistd.h>

#include <set>

#include "compile/report.hpp"
#include "support.hpp"

namespace {

using namespace pc_test;

std::vector<fs::path> golden_policies() {
    auto out = toml_files(source_root() / "examples");
    auto own = toml_files(source_root() / "tests/unit/compile/policies");
    out.insert(out.end(), own.begin(), own.end());
    return out;
}

bool updating() {
    const char* flag = std::getenv("PC_UPDATE_GOLDEN");
    return flag && std::string(flag) == "1";
}

TEST(Golden, PolicyNamesAreUnique) {
    std::set<std::string> names;
    for (const auto& path : golden_policies())
        EXPECT_TRUE(names.insert(path.stem().string()).second) << "two policies named " << path.stem();
    EXPECT_GE(names.size(), 4u);
}

TEST(Golden, CompiledOutputMatchesGoldenFiles) {
    for (const auto& path : golden_policies()) {
        SCOPED_TRACE(path.string());
        auto policy = load_policy(path);
        auto compiled = portcullis::compile::compile(policy);
        auto golden = golden_dir() / (path.stem().string() + ".nft");
        if (updating()) write_text(golden, compiled.table_text);
        ASSERT_TRUE(fs::exists(golden)) << "missing " << golden << " (PC_UPDATE_GOLDEN=1 creates it)";
        EXPECT_EQ(read_text(golden), compiled.table_text)
            << "compiled output differs from " << golden;
    }
}

// The `check` report of every policy, so a wording or layout change is a reviewed diff too.
TEST(Golden, ReportTextMatchesGoldenFiles) {
    for (const auto& path : golden_policies()) {
        SCOPED_TRACE(path.string());
        auto policy = load_policy(path);
        // The report names the policy file; make it independent of where the tree is checked out.
        policy.source_path = fs::relative(path, source_root()).string();
        for (auto& w : policy.warnings) w.where.file = policy.source_path;
        auto text = portcullis::compile::render_report_text(policy);
        auto golden = golden_dir() / "reports" / (path.stem().string() + ".txt");
        if (updating()) write_text(golden, text);
        ASSERT_TRUE(fs::exists(golden)) << "missing " << golden << " (PC_UPDATE_GOLDEN=1 creates it)";
        EXPECT_EQ(read_text(golden), text) << "report differs from " << golden;
    }
}

TEST(Golden, EveryGoldenFileHasAPolicy) {
    std::set<std::string> names;
    for (const auto& path : golden_policies()) names.insert(path.stem().string());
    for (const auto& entry : fs::directory_iterator(golden_dir()))
        if (entry.path().extension() == ".nft") {
            EXPECT_TRUE(names.count(entry.path().stem().string()))
                << entry.path() << " has no policy; delete it";
        }
}

TEST(Golden, RealNftAcceptsEveryGoldenFile) {
    ASSERT_TRUE(nft_available()) << "nft is required (apt-get install nftables)";
    std::size_t checked = 0;
    for (const auto& entry : fs::directory_iterator(golden_dir())) {
        if (entry.path().extension() != ".nft") continue;
        SCOPED_TRACE(entry.path().string());
        auto check = nft_in_private_netns(entry.path(), false);
        EXPECT_EQ(check.status, 0) << check.output;
        auto load = nft_in_private_netns(entry.path(), true);
        EXPECT_EQ(load.status, 0) << load.output;
        EXPECT_NE(load.output.find("table inet portcullis"), std::string::npos) << load.output;
        ++checked;
    }
    EXPECT_GE(checked, 4u);
}

}  // namespace
