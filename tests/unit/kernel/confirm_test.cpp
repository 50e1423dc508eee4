#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kernel/confirm.hpp"

namespace portcullis::kernel {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ConfirmTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/pc-confirm-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        directory = pattern;
    }
    void TearDown() override { fs::remove_all(directory); }

    // A clock that only moves when the waiter sleeps; `at_time` runs once when it passes a time.
    struct FakeTime {
        Clock::time_point now{};
        std::vector<std::pair<Clock::time_point, std::function<void()>>> events;
        WaiterClock clock() {
            return WaiterClock{[this] { return now; },
                               [this](std::chrono::milliseconds step) {
                                   now += step;
                                   for (auto& [when, action] : events)
                                       if (action && now >= when) std::exchange(action, nullptr)();
                               }};
        }
    };

    std::string directory;
};

TEST_F(ConfirmTest, OnlyOneConfirmCanBePending) {
    ConfirmStore store(directory);
    auto first = store.begin(std::string("table inet portcullis {\n}\n"), 1000, 4000);
    ASSERT_TRUE(first) << first.error().message;
    auto pending = store.pending();
    ASSERT_TRUE(pending && *pending);
    EXPECT_EQ((*pending)->id, first->id);
    EXPECT_EQ((*pending)->deadline_unix_ms, 4000);
    EXPECT_FALSE((*pending)->previous_absent);
    auto second = store.begin(std::nullopt, 2000, 5000);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("still waiting for confirmation (rollback in 2 s)"), std::string::npos)
        << second.error().message;
}

TEST_F(ConfirmTest, ConfirmBeforeTheDeadlineKeepsTheTable) {
    ConfirmStore store(directory);
    auto begun = store.begin(std::string("table inet portcullis {\n}\n"), 0, 3000);
    ASSERT_TRUE(begun);
    FakeTime time;
    time.events.emplace_back(time.now + 1500ms, [&] {
        auto report = store.confirm();
        ASSERT_TRUE(report);
        EXPECT_EQ(report->outcome, ConfirmOutcome::confirmed);
        EXPECT_EQ(report->id, begun->id);
    });
    int rollbacks = 0;
    WaiterEnd end = run_waiter(store, begun->id, time.now + 3000ms, time.clock(), [&]() -> Result<std::string> {
        ++rollbacks;
        return std::string("restored");
    });
    EXPECT_EQ(end, WaiterEnd::confirmed_or_cancelled);
    EXPECT_EQ(rollbacks, 0);
    EXPECT_LT(time.now, Clock::time_point{} + 3000ms);  // the waiter noticed and left early
    auto again = store.confirm();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->outcome, ConfirmOutcome::nothing_pending);
    auto pending = store.pending();
    ASSERT_TRUE(pending);
    EXPECT_FALSE(*pending);
}

TEST_F(ConfirmTest, NoConfirmRollsBackAndALateConfirmIsToldSo) {
    ConfirmStore store(directory);
    auto begun = store.begin(std::nullopt, 0, 3000);
    ASSERT_TRUE(begun);
    FakeTime time;
    std::optional<std::string> seen_previous = std::string("unset");
    WaiterEnd end = run_waiter(store, begun->id, time.now + 3000ms, time.clock(), [&]() -> Result<std::string> {
        auto previous = store.previous_table(begun->id);
        EXPECT_TRUE(previous);
        if (previous) seen_previous = *previous;
        // A confirm that arrives while the rollback runs has lost the race.
        auto late = store.confirm();
        EXPECT_TRUE(late);
        if (late) {
            EXPECT_EQ(late->outcome, ConfirmOutcome::too_late);
        }
        return std::string("removed the table");
    });
    EXPECT_EQ(end, WaiterEnd::rolled_back);
    EXPECT_FALSE(seen_previous.has_value());  // "absent" was recorded
    EXPECT_GE(time.now, Clock::time_point{} + 3000ms);
    auto late = store.confirm();
    ASSERT_TRUE(late);
    EXPECT_EQ(late->outcome, ConfirmOutcome::too_late);
    EXPECT_EQ(late->rollback_result, "rolled back: removed the table\n");
    // The token is gone: a new apply --confirm may begin.
    EXPECT_TRUE(store.begin(std::nullopt, 5000, 8000));
}

TEST_F(ConfirmTest, FailedRollbackIsRecorded) {
    ConfirmStore store(directory);
    auto begun = store.begin(std::string("table inet portcullis {\n}\n"), 0, 10);
    ASSERT_TRUE(begun);
    FakeTime time;
    WaiterEnd end = run_waiter(store, begun->id, time.now + 10ms, time.clock(),
                               []() -> Result<std::string> { return fail("kernel said no"); });
    EXPECT_EQ(end, WaiterEnd::rollback_failed);
    auto report = store.confirm();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->outcome, ConfirmOutcome::too_late);
    EXPECT_EQ(report->rollback_result, "rollback FAILED: kernel said no\n");
}

TEST_F(ConfirmTest, CancelledApplyStopsTheWaiterWithoutRollback) {
    ConfirmStore store(directory);
    auto begun = store.begin(std::string("table inet portcullis {\n}\n"), 0, 3000);
    ASSERT_TRUE(begun);
    ASSERT_TRUE(store.cancel(begun->id));
    FakeTime time;
    int rollbacks = 0;
    WaiterEnd end = run_waiter(store, begun->id, time.now + 3000ms, time.clock(), [&]() -> Result<std::string> {
        ++rollbacks;
        return std::string();
    });
    EXPECT_EQ(end, WaiterEnd::confirmed_or_cancelled);
    EXPECT_EQ(rollbacks, 0);
    auto report = store.confirm();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->outcome, ConfirmOutcome::nothing_pending);
}

TEST_F(ConfirmTest, SnapshotIsKeptVerbatim) {
    ConfirmStore store(directory);
    std::string snapshot = "table inet portcullis {\n\tset ban4 {\n\t\ttype ipv4_addr\n\t}\n}\n";
    auto begun = store.begin(snapshot, 0, 3000);
    ASSERT_TRUE(begun);
    ASSERT_TRUE(store.set_waiter_pid(begun->id, 4242));
    auto pending = store.pending();
    ASSERT_TRUE(pending && *pending);
    EXPECT_EQ((*pending)->waiter_pid, 4242);
    auto previous = store.previous_table(begun->id);
    ASSERT_TRUE(previous && *previous);
    EXPECT_EQ(**previous, snapshot);
}

TEST_F(ConfirmTest, RestoreAbsentDeletesTheTable) {
    RecordingNftables nft;
    nft.table_text = "table inet portcullis {\n}\n";
    auto restored = restore_previous(nft, std::nullopt);
    ASSERT_TRUE(restored) << restored.error().message;
    ASSERT_EQ(nft.committed.size(), 1u);
    EXPECT_EQ(nft.committed[0], "delete table inet portcullis\n");
}

TEST_F(ConfirmTest, RestoreSnapshotKeepsCurrentRuntimeElements) {
    RecordingNftables nft;
    nft.table_text = "table inet portcullis {\n\tset ban4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}\n"
                     "\tchain input {\n\t}\n}\n";
    std::string snapshot =
        "table inet portcullis {\n\tset ban4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
        "\t\telements = { 203.0.113.9 }\n\t}\n\tset mgmt4 {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.10 }\n\t}\n"
        "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n";
    auto restored = restore_previous(nft, snapshot);
    ASSERT_TRUE(restored) << restored.error().message;
    ASSERT_EQ(nft.committed.size(), 1u);
    const std::string& script = nft.committed[0];
    EXPECT_EQ(script.find("203.0.113.9"), std::string::npos) << script;  // ban4 keeps what it has now
    EXPECT_NE(script.find("192.0.2.10"), std::string::npos) << script;   // static sets come back whole
    EXPECT_EQ(script.find("delete set inet portcullis ban4"), std::string::npos);
    EXPECT_NE(script.find("delete chain inet portcullis input"), std::string::npos);
}

TEST(SpawnDetached, StartsAProcessOutsideOurSessionAndReportsExecFailure) {
    char pattern[] = "/tmp/pc-spawn-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    std::string directory = pattern;
    std::string out = directory + "/sid";
    auto pid = spawn_detached({"/bin/sh", "-c", "ps -o sid= -p $$ > " + out + ".tmp && mv " + out + ".tmp " + out},
                              directory + "/log");
    ASSERT_TRUE(pid) << pid.error().message;
    EXPECT_GT(*pid, 0);
    for (int i = 0; i < 500 && !fs::exists(out); ++i) ::usleep(10000);
    std::ifstream in(out);
    long session = 0;
    in >> session;
    EXPECT_GT(session, 0);
    EXPECT_NE(session, static_cast<long>(::getsid(0)));

    auto missing = spawn_detached({"/nonexistent/portcullis"}, directory + "/log");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("No such file or directory"), std::string::npos) << missing.error().message;
    fs::remove_all(directory);
}

}  // namespace
}  // namespace portcullis::kernel
