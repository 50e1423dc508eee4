#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/state_file.hpp"

namespace portcullis::daemon {
namespace {

class StateFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/pc-state-test.XXXXXX";
        directory_ = mkdtemp(pattern);
        path_ = directory_ + "/state.json";
    }
    void TearDown() override { std::filesystem::remove_all(directory_); }
    void write(const std::string& text) { std::ofstream(path_) << text; }
    std::string directory_, path_;
};

DaemonState sample() {
    DaemonState state;
    state.bans.push_back({*Prefix::parse("198.51.100.7"), 1000, 4600, 3, 3600, "scan"});
    state.bans.push_back({*Prefix::parse("2001:db8::/48"), 2000, 2060, 1, 60, "manual"});
    return state;
}

TEST_F(StateFileTest, RoundTripKeepsEveryField) {
    ASSERT_TRUE(save_state_file(path_, sample()));
    StateLoad loaded = load_state_file(path_, 5000);
    EXPECT_TRUE(loaded.existed);
    EXPECT_FALSE(loaded.problem);
    ASSERT_EQ(loaded.state.bans.size(), 2u);
    const BanRecord& first = loaded.state.bans[0];
    EXPECT_EQ(first.prefix.to_string(), "198.51.100.7/32");
    EXPECT_EQ(first.banned_at, 1000);
    EXPECT_EQ(first.expires_at, 4600);
    EXPECT_EQ(first.offences, 3u);
    EXPECT_EQ(first.last_duration, 3600u);
    EXPECT_EQ(first.reason, "scan");
    EXPECT_EQ(loaded.state.bans[1].prefix.to_string(), "2001:db8::/48");
    EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));  // the temporary was renamed
}

TEST_F(StateFileTest, MissingFileIsAnEmptyStateNotAProblem) {
    StateLoad loaded = load_state_file(path_, 5000);
    EXPECT_FALSE(loaded.existed);
    EXPECT_FALSE(loaded.problem);
    EXPECT_TRUE(loaded.state.bans.empty());
}

TEST_F(StateFileTest, TruncatedFileIsReportedAndKeptAside) {
    std::string text = serialize_state(sample());
    write(text.substr(0, text.size() / 2));
    StateLoad loaded = load_state_file(path_, 1234);
    ASSERT_TRUE(loaded.problem);
    EXPECT_NE(loaded.problem->find("truncated or corrupt"), std::string::npos);
    ASSERT_TRUE(loaded.kept_aside);
    EXPECT_EQ(*loaded.kept_aside, path_ + ".corrupt-1234");
    EXPECT_TRUE(std::filesystem::exists(*loaded.kept_aside));
    EXPECT_FALSE(std::filesystem::exists(path_));
    EXPECT_TRUE(loaded.state.bans.empty());
}

TEST_F(StateFileTest, WrongShapesAreNamedPrecisely) {
    EXPECT_NE(parse_state("[]").error().message.find("top level"), std::string::npos);
    EXPECT_NE(parse_state(R"({"version":2,"bans":[]})").error().message.find("not supported"), std::string::npos);
    EXPECT_NE(parse_state(R"({"version":1})").error().message.find("bans"), std::string::npos);
    auto bad_prefix = parse_state(R"({"version":1,"bans":[{"prefix":"1.2.3.4/40","expires_at":5}]})");
    ASSERT_FALSE(bad_prefix);
    EXPECT_NE(bad_prefix.error().message.find("bans[0].prefix"), std::string::npos);
    auto bad_number = parse_state(R"({"version":1,"bans":[{"prefix":"1.2.3.4","expires_at":"soon"}]})");
    ASSERT_FALSE(bad_number);
    EXPECT_NE(bad_number.error().message.find("bans[0].expires_at"), std::string::npos);
    auto negative = parse_state(R"({"version":1,"bans":[{"prefix":"1.2.3.4","expires_at":5,"offences":-1}]})");
    ASSERT_FALSE(negative);
    EXPECT_NE(negative.error().message.find("offences"), std::string::npos);
}

TEST_F(StateFileTest, BinaryGarbageDoesNotCrash) {
    std::string garbage;
    for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919) & 0xff);
    write(garbage);
    StateLoad loaded = load_state_file(path_, 99);
    EXPECT_TRUE(loaded.problem);
    EXPECT_TRUE(loaded.kept_aside);
}

TEST_F(StateFileTest, SaveIntoMissingDirectoryFailsWithAReason) {
    auto result = save_state_file(directory_ + "/nope/state.json", sample());
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("cannot write"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::daemon
