#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "daemon/set_batcher.hpp"
#include "kernel/netlink_recording_writer.hpp"

namespace portcullis::daemon {
namespace {

kernel::ElementChange ban(const char* prefix, int seconds, kernel::ElementOp op = kernel::ElementOp::add) {
    kernel::ElementChange change;
    change.set = "ban4";
    change.prefix = *Prefix::parse(prefix);
    change.interval = true;
    change.op = op;
    change.timeout = std::chrono::milliseconds(seconds * 1000);
    return change;
}

class SetBatcherTest : public ::testing::Test {
protected:
    SetBatcherTest() : batcher_(fake_) { fake_.create_set("ban4"); }
    kernel::RecordingSetWriter fake_;
    SetBatcher batcher_;
};

TEST_F(SetBatcherTest, RepeatedChangeOfOneElementIsSentOnceAndEveryCompletionFires) {
    int done = 0;
    batcher_.enqueue(ban("198.51.100.7", 60), [&](const std::string* e) { done += e == nullptr; });
    batcher_.enqueue(ban("198.51.100.8", 60), [&](const std::string* e) { done += e == nullptr; });
    batcher_.enqueue(ban("198.51.100.7", 600), [&](const std::string* e) { done += e == nullptr; });
    batcher_.enqueue(ban("198.51.100.7", 900));  // no completion: fire and forget
    EXPECT_EQ(batcher_.pending(), 2u);
    EXPECT_EQ(batcher_.merged(), 2u);
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 1u);
    ASSERT_EQ(fake_.writes[0].size(), 2u);
    EXPECT_EQ(fake_.writes[0][0].prefix, *Prefix::parse("198.51.100.7"));
    EXPECT_EQ(fake_.writes[0][0].timeout, std::chrono::milliseconds(900000));  // the latest wins
    EXPECT_EQ(done, 3);
    EXPECT_EQ(batcher_.elements_written(), 2u);
}

TEST_F(SetBatcherTest, RemoveThenAddOfOneElementKeepsBothInOrder) {
    fake_.sets["ban4"][*Prefix::parse("198.51.100.7")] = std::chrono::milliseconds(1000);
    std::vector<std::string> outcomes;
    auto record = [&](const char* what) {
        return [&outcomes, what](const std::string* e) { outcomes.push_back(std::string(what) + (e ? " failed" : " ok")); };
    };
    batcher_.enqueue(ban("198.51.100.7", 0, kernel::ElementOp::remove), record("remove"));
    batcher_.enqueue(ban("198.51.100.7", 60), record("add"));
    batcher_.enqueue(ban("198.51.100.7", 120), record("add again"));  // merges into the add
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 1u);
    ASSERT_EQ(fake_.writes[0].size(), 2u);
    EXPECT_EQ(fake_.writes[0][0].op, kernel::ElementOp::remove);
    EXPECT_EQ(fake_.writes[0][1].op, kernel::ElementOp::add);
    EXPECT_EQ(fake_.writes[0][1].timeout, std::chrono::milliseconds(120000));
    EXPECT_EQ(outcomes, (std::vector<std::string>{"remove ok", "add ok", "add again ok"}));
    EXPECT_EQ(fake_.sets["ban4"].at(*Prefix::parse("198.51.100.7")), std::chrono::milliseconds(120000));
}

TEST_F(SetBatcherTest, MergedChangesShareTheKernelsRefusal) {
    fake_.sets["ban4"][*Prefix::parse("198.51.100.0/24")] = std::chrono::milliseconds(1000);
    int refused = 0;
    batcher_.enqueue(ban("198.51.100.7", 60), [&](const std::string* e) { refused += e && *e == std::strerror(EEXIST); });
    batcher_.enqueue(ban("198.51.100.7", 60), [&](const std::string* e) { refused += e && *e == std::strerror(EEXIST); });
    batcher_.flush();
    EXPECT_EQ(refused, 2);
    EXPECT_EQ(batcher_.element_failures(), 1u);  // one change reached the kernel
}

TEST_F(SetBatcherTest, NothingIsMergedAcrossFlushes) {
    batcher_.enqueue(ban("198.51.100.7", 60));
    batcher_.flush();
    batcher_.enqueue(ban("198.51.100.7", 60));
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 2u);
    EXPECT_EQ(batcher_.merged(), 0u);
}

}  // namespace
}  // namespace portcullis::daemon
