#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "kernel/netlink_recording_writer.hpp"
#include "kernel/netlink_set_writer.hpp"

namespace portcullis::kernel {
namespace {

Prefix P(const char* text) { return *Prefix::parse(text); }
Address A(const char* text) { return *Address::parse(text); }

ElementChange change(const char* set, const char* prefix, bool interval, ElementOp op = ElementOp::add) {
    ElementChange c;
    c.set = set;
    c.prefix = P(prefix);
    c.interval = interval;
    c.op = op;
    c.timeout = std::chrono::milliseconds(60000);
    return c;
}

TEST(IntervalKeys, PrefixBecomesStartAndExclusiveEnd) {
    IntervalKeys keys = interval_keys(P("192.0.2.0/24"));
    EXPECT_TRUE(keys.has_end);
    EXPECT_EQ(keys.start[0], 192);
    EXPECT_EQ(keys.start[2], 2);
    EXPECT_EQ(keys.end[2], 3);
    EXPECT_EQ(keys.end[3], 0);
}

TEST(IntervalKeys, HostIsOneAddressWide) {
    IntervalKeys keys = interval_keys(P("198.51.100.7"));
    EXPECT_TRUE(keys.has_end);
    EXPECT_EQ(keys.end[3], 8);
}

TEST(IntervalKeys, TopOfAddressSpaceHasNoEndElement) {
    EXPECT_FALSE(interval_keys(P("255.255.255.0/24")).has_end);
    EXPECT_FALSE(interval_keys(P("255.255.255.255")).has_end);
    EXPECT_FALSE(interval_keys(P("ffff::/16")).has_end);
    EXPECT_TRUE(interval_keys(P("2001:db8::/32")).has_end);
}

TEST(RangeToPrefixes, ExactPrefixFoldsBack) {
    Address end = A("192.0.3.0");
    auto prefixes = range_to_prefixes(A("192.0.2.0"), &end);
    ASSERT_EQ(prefixes.size(), 1u);
    EXPECT_EQ(prefixes[0].to_string(), "192.0.2.0/24");
}

TEST(RangeToPrefixes, ArbitraryRangeBecomesMinimalCidrs) {
    Address end = A("10.0.0.5");
    auto prefixes = range_to_prefixes(A("10.0.0.1"), &end);
    ASSERT_EQ(prefixes.size(), 3u);
    EXPECT_EQ(prefixes[0].to_string(), "10.0.0.1/32");
    EXPECT_EQ(prefixes[1].to_string(), "10.0.0.2/31");
    EXPECT_EQ(prefixes[2].to_string(), "10.0.0.4/32");
}

TEST(RangeToPrefixes, OpenEndedRangesReachTheTop) {
    auto v4 = range_to_prefixes(A("255.255.255.0"), nullptr);
    ASSERT_EQ(v4.size(), 1u);
    EXPECT_EQ(v4[0].to_string(), "255.255.255.0/24");
    auto all4 = range_to_prefixes(A("0.0.0.0"), nullptr);
    ASSERT_EQ(all4.size(), 1u);
    EXPECT_EQ(all4[0].to_string(), "0.0.0.0/0");
    auto all6 = range_to_prefixes(A("::"), nullptr);
    ASSERT_EQ(all6.size(), 1u);
    EXPECT_EQ(all6[0].to_string(), "::/0");
    auto top6 = range_to_prefixes(A("ffff::"), nullptr);
    ASSERT_EQ(top6.size(), 1u);
    EXPECT_EQ(top6[0].to_string(), "ffff::/16");
}

TEST(RangeToPrefixes, EmptyOrInvertedRangeGivesNothing) {
    Address same = A("10.0.0.1");
    EXPECT_TRUE(range_to_prefixes(A("10.0.0.1"), &same).empty());
}

TEST(ElementWireBytes, IntervalsCostTwoElementsExceptOpenEnded) {
    auto host = change("g", "192.0.2.9", false);
    auto interval = change("b", "192.0.2.9", true);
    auto open = change("b", "255.255.255.255", true);
    EXPECT_EQ(element_wire_bytes(interval), 2 * element_wire_bytes(host));
    EXPECT_EQ(element_wire_bytes(open), element_wire_bytes(host));
    EXPECT_GT(element_wire_bytes(change("b", "2001:db8::1", false)), element_wire_bytes(host));
}

TEST(PlanBatches, SplitsMessagesUnderTheNestLimitAndKeepsEveryChangeInOrder) {
    std::vector<ElementChange> changes;
    for (int i = 0; i < 10000; ++i) {
        ElementChange c = change("ban4", "192.0.2.0", true);
        c.prefix.address.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        c.prefix.address.bytes[2] = static_cast<std::uint8_t>(i & 0xff);
        c.prefix.length = 32;
        changes.push_back(c);
    }
    auto batches = plan_batches(changes);
    std::size_t next = 0, messages = 0;
    for (const auto& batch : batches) {
        for (const auto& message : batch) {
            ++messages;
            EXPECT_LE(message.bytes, kMaxElementsNestBytes);
            EXPECT_EQ(message.set, "ban4");
            for (std::size_t index : message.changes) EXPECT_EQ(index, next++);
        }
    }
    EXPECT_EQ(next, changes.size());
    EXPECT_GT(messages, 1u);  // 10,000 intervals cannot fit one 64 KiB nest
    EXPECT_EQ(batches.size(), 1u);  // but they fit one 2 MiB batch
}

TEST(PlanBatches, SmallBatchLimitSplitsIntoSeveralBatches) {
    std::vector<ElementChange> changes(200, change("ban4", "192.0.2.1", true));
    auto batches = plan_batches(changes, 1024, 4096);
    EXPECT_GT(batches.size(), 1u);
    std::size_t total = 0;
    for (const auto& batch : batches)
        for (const auto& message : batch) {
            EXPECT_LE(message.bytes, 1024u);
            total += message.changes.size();
        }
    EXPECT_EQ(total, 200u);
}

TEST(PlanBatches, DifferentSetsOrOperationsNeverShareAMessage) {
    std::vector<ElementChange> changes = {
        change("ban4", "192.0.2.1", true), change("ban4", "192.0.2.2", true, ElementOp::remove),
        change("ban4", "192.0.2.2", true), change("grant4_vpn", "192.0.2.3", false)};
    auto batches = plan_batches(changes);
    ASSERT_EQ(batches.size(), 1u);
    ASSERT_EQ(batches[0].size(), 4u);  // remove-then-add order is preserved, not merged
    EXPECT_EQ(batches[0][1].op, ElementOp::remove);
    EXPECT_EQ(batches[0][2].op, ElementOp::add);
    EXPECT_EQ(batches[0][3].set, "grant4_vpn");
}

TEST(RecordingSetWriter, MirrorsKernelErrors) {
    RecordingSetWriter fake;
    fake.create_set("ban4");
    std::vector<ElementChange> changes = {change("ban4", "192.0.2.0/24", true),
                                          change("ban4", "192.0.2.5", true),  // overlaps
                                          change("ban4", "198.51.100.1", true, ElementOp::remove),  // missing
                                          change("nope", "198.51.100.1", false)};
    WriteReport report = fake.write(changes);
    EXPECT_EQ(report.changes, 1u);
    ASSERT_EQ(report.failures.size(), 3u);
    EXPECT_EQ(report.failures[0].index, 1u);
    EXPECT_EQ(report.failures[0].message, std::strerror(EEXIST));
    EXPECT_EQ(report.failures[1].message, std::strerror(ENOENT));
    auto listed = fake.list("ban4", true);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].prefix.to_string(), "192.0.2.0/24");
    EXPECT_EQ(fake.writes.size(), 1u);
}

}  // namespace
}  // namespace portcullis::kernel
