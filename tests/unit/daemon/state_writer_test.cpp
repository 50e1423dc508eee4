// The state file written off the loop: the newest submission wins, drain() waits for the disk,
// errors come back to the loop instead of being lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/state_file.hpp"
#include "daemon/state_writer.hpp"

namespace portcullis::daemon {
namespace {

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

class StateWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/pc-state-writer.XXXXXX";
        directory_ = mkdtemp(pattern);
        path_ = directory_ + "/state.json";
    }
    void TearDown() override { std::filesystem::remove_all(directory_); }
    std::string directory_, path_;
};

TEST_F(StateWriterTest, DrainWaitsUntilTheNewestTextIsOnDisk) {
    StateWriter writer(path_);
    for (int i = 0; i < 50; ++i) {
        DaemonState state;
        state.bans.push_back({*Prefix::parse("198.51.100.7"), i, 4600, 1, 60, "scan"});
        writer.submit(serialize_state(state));
    }
    writer.drain();
    auto loaded = load_state_file(path_, 0);
    ASSERT_FALSE(loaded.problem) << *loaded.problem;
    ASSERT_EQ(loaded.state.bans.size(), 1u);
    EXPECT_EQ(loaded.state.bans[0].banned_at, 49);  // the last submission
    EXPECT_GE(writer.writes(), 1u);
    EXPECT_LE(writer.writes(), 50u);  // coalesced, never more writes than submissions
    EXPECT_FALSE(writer.take_error());
    EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(StateWriterTest, DestructorWritesWhatIsPending) {
    {
        StateWriter writer(path_);
        writer.submit(serialize_state(DaemonState{}));
    }
    EXPECT_NE(read(path_).find("\"version\": 1"), std::string::npos);
}

TEST_F(StateWriterTest, ErrorsAreKeptForTheLoop) {
    StateWriter writer(directory_ + "/missing-dir/state.json");
    writer.submit(serialize_state(DaemonState{}));
    writer.drain();
    auto error = writer.take_error();
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("missing-dir"), std::string::npos) << *error;
    EXPECT_FALSE(writer.take_error());  // taken once
}

TEST_F(StateWriterTest, ItsThreadNeverTakesProcessSignals) {
    // The daemon receives SIGTERM through a signalfd; the writer thread must have every signal
    // blocked, or the kernel may deliver SIGTERM to it and kill the process mid-exit.
    StateWriter writer(path_);
    sigset_t pending;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &block, &previous);
    ::kill(::getpid(), SIGUSR1);  // with the writer not blocking it, the process would die here
    sigpending(&pending);
    EXPECT_TRUE(sigismember(&pending, SIGUSR1));
    int taken = 0;
    sigwait(&block, &taken);
    EXPECT_EQ(taken, SIGUSR1);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace
}  // namespace portcullis::daemon
