#include <gtest/gtest.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "kernel/netlink_socket.hpp"

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

// ---- wire encoding, read back with libnftnl's own parser -----------------------------------------

struct Decoded {
    std::uint16_t type = 0;
    std::uint16_t flags = 0;
    std::uint32_t seq = 0;
    std::string table, set;
    struct Element {
        std::vector<std::uint8_t> key;
        std::uint32_t flags = 0;
        std::uint64_t timeout = 0;
        bool has_userdata = false;
    };
    std::vector<Element> elements;
};

std::vector<Decoded> decode(const std::vector<char>& wire) {
    std::vector<Decoded> out;
    std::size_t at = 0;
    while (at + sizeof(nlmsghdr) <= wire.size()) {
        nlmsghdr header;
        std::memcpy(&header, wire.data() + at, sizeof header);
        EXPECT_GE(header.nlmsg_len, sizeof header);
        if (header.nlmsg_len < sizeof header) break;
        Decoded message;
        message.type = header.nlmsg_type;
        message.flags = header.nlmsg_flags;
        message.seq = header.nlmsg_seq;
        if ((header.nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES) {
            std::vector<std::uint64_t> aligned((header.nlmsg_len + 7) / 8);
            std::memcpy(aligned.data(), wire.data() + at, header.nlmsg_len);
            auto* copy = static_cast<const nlmsghdr*>(static_cast<const void*>(aligned.data()));
            nftnl_set* set = nftnl_set_alloc();
            EXPECT_EQ(nftnl_set_elems_nlmsg_parse(copy, set), 0);
            message.table = nftnl_set_get_str(set, NFTNL_SET_TABLE);
            message.set = nftnl_set_get_str(set, NFTNL_SET_NAME);
            nftnl_set_elem_foreach(
                set,
                [](nftnl_set_elem* element, void* data) -> int {
                    Decoded::Element item;
                    std::uint32_t length = 0;
                    const void* key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length);
                    const auto* bytes = static_cast<const std::uint8_t*>(key);
                    item.key.assign(bytes, bytes + length);
                    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_FLAGS))
                        item.flags = nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_FLAGS);
                    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_TIMEOUT))
                        item.timeout = nftnl_set_elem_get_u64(element, NFTNL_SET_ELEM_TIMEOUT);
                    item.has_userdata = nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_USERDATA);
                    static_cast<std::vector<Decoded::Element>*>(data)->push_back(item);
                    return 0;
                },
                &message.elements);
            nftnl_set_free(set);
        }
        out.push_back(message);
        at += NLMSG_ALIGN(header.nlmsg_len);
    }
    EXPECT_EQ(at, wire.size());
    return out;
}

TEST(EncodeBatch, MessagesCarryEveryElementAsLibnftnlReadsItWithoutAckRequests) {
    std::vector<ElementChange> changes = {change("ban4", "192.0.2.0/24", true),
                                          change("ban4", "255.255.255.255", true),
                                          change("ban4", "198.51.100.7", true, ElementOp::remove),
                                          change("grant4_vpn", "203.0.113.5", false)};
    auto batches = plan_batches(changes);
    ASSERT_EQ(batches.size(), 1u);
    std::vector<char> wire;
    encode_batch(changes, batches[0], NFPROTO_INET, "portcullis", 100, wire);
    auto messages = decode(wire);
    ASSERT_EQ(messages.size(), 5u);  // begin, three messages, end
    EXPECT_EQ(messages[0].type, NFNL_MSG_BATCH_BEGIN);
    EXPECT_EQ(messages[0].seq, 100u);
    EXPECT_EQ(messages[4].type, NFNL_MSG_BATCH_END);
    EXPECT_EQ(messages[4].seq, 104u);
    for (std::size_t m = 1; m <= 3; ++m) {
        EXPECT_EQ(messages[m].seq, 100u + m);
        EXPECT_EQ(messages[m].flags & NLM_F_ACK, 0) << "message " << m;
        EXPECT_EQ(messages[m].table, "portcullis");
    }
    EXPECT_EQ(messages[1].type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM);
    EXPECT_NE(messages[1].flags & NLM_F_CREATE, 0);
    EXPECT_EQ(messages[1].set, "ban4");
    // 192.0.2.0/24: start + end; 255.255.255.255: open-ended start only, marked as a prefix.
    ASSERT_EQ(messages[1].elements.size(), 3u);
    EXPECT_EQ(messages[1].elements[0].key, (std::vector<std::uint8_t>{192, 0, 2, 0}));
    EXPECT_EQ(messages[1].elements[0].timeout, 60000u);
    EXPECT_EQ(messages[1].elements[0].flags, 0u);
    EXPECT_EQ(messages[1].elements[1].key, (std::vector<std::uint8_t>{192, 0, 3, 0}));
    EXPECT_EQ(messages[1].elements[1].flags, static_cast<std::uint32_t>(NFT_SET_ELEM_INTERVAL_END));
    EXPECT_EQ(messages[1].elements[1].timeout, 0u);  // the kernel refuses a timeout on an end
    EXPECT_EQ(messages[1].elements[2].key, (std::vector<std::uint8_t>{255, 255, 255, 255}));
    EXPECT_TRUE(messages[1].elements[2].has_userdata);
    EXPECT_EQ(messages[2].type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM);
    ASSERT_EQ(messages[2].elements.size(), 2u);
    EXPECT_EQ(messages[2].elements[0].timeout, 0u);  // no timeout on a removal
    EXPECT_EQ(messages[3].set, "grant4_vpn");
    ASSERT_EQ(messages[3].elements.size(), 1u);
    EXPECT_EQ(messages[3].elements[0].key, (std::vector<std::uint8_t>{203, 0, 113, 5}));
    EXPECT_EQ(messages[3].elements[0].flags, 0u);
}

TEST(EncodeBatch, FullMessagesStayUnderTheNestLimitAndTheBufferIsReused) {
    std::vector<ElementChange> changes;
    for (int i = 0; i < 5000; ++i) {
        ElementChange c = change("ban6", "2001:db8::1", true);
        c.prefix.address.bytes[14] = static_cast<std::uint8_t>(i >> 8);
        c.prefix.address.bytes[15] = static_cast<std::uint8_t>(i & 0xff);
        changes.push_back(c);
    }
    auto batches = plan_batches(changes);
    ASSERT_EQ(batches.size(), 1u);
    std::vector<char> wire;
    encode_batch(changes, batches[0], NFPROTO_INET, "portcullis", 7, wire);
    auto messages = decode(wire);
    ASSERT_EQ(messages.size(), batches[0].size() + 2);
    std::size_t elements = 0;
    for (const auto& message : messages) elements += message.elements.size();
    EXPECT_EQ(elements, 2 * changes.size());
    std::size_t at = 0;
    while (at < wire.size()) {
        nlmsghdr header;
        std::memcpy(&header, wire.data() + at, sizeof header);
        EXPECT_LE(header.nlmsg_len, 65535u);
        at += NLMSG_ALIGN(header.nlmsg_len);
    }
    std::size_t size = wire.size();
    const char* storage = wire.data();
    encode_batch(changes, batches[0], NFPROTO_INET, "portcullis", 7, wire);
    EXPECT_EQ(wire.size(), size);
    EXPECT_EQ(wire.data(), storage);  // same capacity: no new allocation for the same batch
}

// ---- reading the kernel's answers to a batch ---------------------------------------------------

void append_error(std::vector<char>& datagram, std::uint32_t seq, int error) {
    nlmsghdr header{};
    header.nlmsg_len = NLMSG_LENGTH(sizeof(nlmsgerr));
    header.nlmsg_type = NLMSG_ERROR;
    header.nlmsg_seq = seq;
    nlmsgerr body{};
    body.error = -error;
    body.msg.nlmsg_seq = seq;
    body.msg.nlmsg_len = sizeof(nlmsghdr);
    std::size_t at = datagram.size();
    datagram.resize(at + NLMSG_ALIGN(header.nlmsg_len), 0);
    std::memcpy(datagram.data() + at, &header, sizeof header);
    std::memcpy(datagram.data() + at + NLMSG_HDRLEN, &body, sizeof body);
}

TEST(FoldBatchReplies, ErrorsLandOnTheirMessagesAndAcksAreIgnored) {
    std::vector<char> datagram;
    append_error(datagram, 11, 0);       // an ACK
    append_error(datagram, 12, EEXIST);  // message 2 of 4 (seqs 10..13)
    append_error(datagram, 5, ENOENT);   // a stale reply to an earlier exchange
    std::vector<int> errors(4, 0);
    fold_batch_replies(datagram, 10, errors);
    EXPECT_EQ(errors, (std::vector<int>{0, 0, EEXIST, 0}));
}

TEST(FoldBatchReplies, AnErrorOnBatchBeginOrEndFailsEveryMessageNotAlreadyFailed) {
    std::vector<char> datagram;
    append_error(datagram, 11, ENOENT);
    append_error(datagram, 9, ENOMEM);  // BATCH_BEGIN's seq: a failed commit is reported there
    std::vector<int> errors(3, 0);
    fold_batch_replies(datagram, 10, errors);
    EXPECT_EQ(errors, (std::vector<int>{ENOMEM, ENOENT, ENOMEM}));
    std::vector<char> end_error;
    append_error(end_error, 13, EPERM);  // BATCH_END
    std::vector<int> others(3, 0);
    fold_batch_replies(end_error, 10, others);
    EXPECT_EQ(others, (std::vector<int>{EPERM, EPERM, EPERM}));
}

TEST(FoldBatchReplies, TruncatedOrGarbageDatagramsChangeNothingAndDoNotCrash) {
    std::vector<char> datagram;
    append_error(datagram, 10, EEXIST);
    std::vector<int> errors(2, 0);
    fold_batch_replies(std::span<const char>(datagram.data(), datagram.size() - 4), 10, errors);
    EXPECT_EQ(errors, (std::vector<int>{0, 0}));
    std::vector<char> garbage(64, '\xff');
    fold_batch_replies(garbage, 10, errors);
    EXPECT_EQ(errors, (std::vector<int>{0, 0}));
    fold_batch_replies({}, 10, errors);
    EXPECT_EQ(errors, (std::vector<int>{0, 0}));
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
