#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>

#include <cstring>
#include <string>
#include <vector>

#include "intake/nflog_reader.hpp"

namespace portcullis::intake {
namespace {

// Builds NFLOG netlink messages the way the kernel lays them out (host-endian framing,
// big-endian attribute values), in 8-byte-aligned storage.
class MessageBuilder {
public:
    explicit MessageBuilder(std::uint16_t group, std::uint16_t type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) {
        bytes_.resize(20, 0);
        put16(4, type);
        bytes_[16] = 2;  // NFPROTO_IPV4
        std::uint16_t be_group = htons(group);
        std::memcpy(&bytes_[18], &be_group, 2);
    }
    MessageBuilder& attribute(std::uint16_t type, const void* data, std::size_t length) {
        std::size_t at = bytes_.size();
        bytes_.resize(at + ((4 + length + 3) & ~std::size_t{3}), 0);
        put16(at, static_cast<std::uint16_t>(4 + length));
        put16(at + 2, type);
        if (length) std::memcpy(&bytes_[at + 4], data, length);
        return *this;
    }
    MessageBuilder& be32(std::uint16_t type, std::uint32_t value) {
        value = htonl(value);
        return attribute(type, &value, 4);
    }
    MessageBuilder& text(std::uint16_t type, const std::string& value) {
        return attribute(type, value.c_str(), value.size() + 1);
    }
    std::vector<std::uint8_t> finish() {
        std::uint32_t length = static_cast<std::uint32_t>(bytes_.size());
        std::memcpy(&bytes_[0], &length, 4);
        return bytes_;
    }

private:
    void put16(std::size_t at, std::uint16_t value) { std::memcpy(&bytes_[at], &value, 2); }
    std::vector<std::uint8_t> bytes_;
};

struct Aligned {
    std::vector<std::uint64_t> storage;
    std::size_t size = 0;
    explicit Aligned(const std::vector<std::vector<std::uint8_t>>& messages) {
        std::vector<std::uint8_t> all;
        for (const auto& m : messages) all.insert(all.end(), m.begin(), m.end());
        size = all.size();
        storage.resize((size + 7) / 8 + 1);
        if (size != 0) std::memcpy(storage.data(), all.data(), size);  // empty: data() may be null
    }
    Bytes bytes() const { return as_bytes(storage.data(), size); }
};

std::vector<std::uint8_t> packet_message(std::uint16_t group, std::uint32_t seq, const std::string& payload) {
    std::uint8_t header[4] = {0x08, 0x00, 1, 0};  // IPv4, hook 1
    return MessageBuilder(group)
        .attribute(NFULA_PACKET_HDR, header, 4)
        .text(NFULA_PREFIX, "portcullis drop=closed ")
        .be32(NFULA_IFINDEX_INDEV, 3)
        .be32(NFULA_SEQ, seq)
        .attribute(NFULA_PAYLOAD, payload.data(), payload.size())
        .finish();
}

class Recorder : public PacketObserver {
public:
    void on_packet(const NflogPacket& packet) override {
        groups.push_back(packet.group);
        prefixes.emplace_back(packet.prefix);
        payloads.emplace_back(reinterpret_cast<const char*>(packet.payload.data()), packet.payload.size());
        ifindexes.push_back(packet.in_ifindex);
        protocols.push_back(packet.hw_protocol);
    }
    std::vector<std::uint16_t> groups, protocols;
    std::vector<std::string> prefixes, payloads;
    std::vector<std::uint32_t> ifindexes;
};

TEST(DecodeNflog, ReadsEveryFieldWeUse) {
    Aligned buffer({packet_message(7, 1, "E-packet")});
    DecodeResult result = decode_nflog_message(buffer.bytes());
    ASSERT_TRUE(result.packet);
    EXPECT_EQ(result.packet->group, 7);
    EXPECT_EQ(result.packet->hw_protocol, 0x0800);
    EXPECT_EQ(result.packet->hook, 1);
    EXPECT_EQ(result.packet->prefix, "portcullis drop=closed ");
    EXPECT_EQ(result.packet->in_ifindex, 3u);
    EXPECT_EQ(result.packet->seq, 1u);
    EXPECT_EQ(result.packet->payload.size(), 8u);
}

TEST(DecodeNflog, EveryTruncationIsAnAnomalyNeverACrash) {
    auto message = packet_message(7, 1, "payload bytes");
    for (std::size_t cut = 0; cut < message.size(); ++cut) {
        std::vector<std::uint8_t> truncated(message.begin(), message.begin() + static_cast<long>(cut));
        Aligned buffer({truncated});
        DecodeResult result = decode_nflog_message(buffer.bytes());
        EXPECT_FALSE(result.packet) << "cut at " << cut;
        EXPECT_TRUE(result.anomaly) << "cut at " << cut;
    }
}

TEST(DecodeNflog, AttributeLongerThanTheMessageIsRefused) {
    auto message = packet_message(7, 1, "abc");
    std::uint16_t huge = 0xfff0;
    std::memcpy(&message[20], &huge, 2);  // first attribute's nla_len
    Aligned buffer({message});
    EXPECT_EQ(decode_nflog_message(buffer.bytes()).anomaly, NflogAnomaly::bad_attributes);
}

TEST(DecodeNflog, MissingPayloadAndBadHeaderAreNamed) {
    Aligned no_payload({MessageBuilder(1).text(NFULA_PREFIX, "x").finish()});
    EXPECT_EQ(decode_nflog_message(no_payload.bytes()).anomaly, NflogAnomaly::missing_payload);
    std::uint8_t short_header[2] = {0x08, 0x00};
    Aligned bad_header({MessageBuilder(1).attribute(NFULA_PACKET_HDR, short_header, 2).finish()});
    EXPECT_EQ(decode_nflog_message(bad_header.bytes()).anomaly, NflogAnomaly::bad_packet_header);
    Aligned other({MessageBuilder(1, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG).finish()});
    EXPECT_EQ(decode_nflog_message(other.bytes()).anomaly, NflogAnomaly::not_a_packet);
}

TEST(NflogDispatcher, FeedsObserversAndCountsSequenceGaps) {
    NflogDispatcher dispatcher;
    Recorder recorder;
    dispatcher.add_observer(&recorder);
    Aligned first({packet_message(7, 10, "a"), packet_message(7, 11, "bb")});
    dispatcher.feed(first.bytes());
    Aligned after_gap({packet_message(7, 15, "ccc"), packet_message(9, 1, "d")});  // 12..14 lost
    dispatcher.feed(after_gap.bytes());
    EXPECT_EQ(dispatcher.counters().packets, 4u);
    EXPECT_EQ(dispatcher.counters().bytes, 7u);
    EXPECT_EQ(dispatcher.counters().lost, 3u);
    ASSERT_EQ(recorder.payloads.size(), 4u);
    EXPECT_EQ(recorder.payloads[2], "ccc");
    EXPECT_EQ(recorder.groups[3], 9);
    EXPECT_EQ(recorder.ifindexes[0], 3u);
    dispatcher.remove_observer(&recorder);
    Aligned more({packet_message(7, 16, "e")});
    dispatcher.feed(more.bytes());
    EXPECT_EQ(recorder.payloads.size(), 4u);
    EXPECT_EQ(dispatcher.counters().packets, 5u);
}

TEST(NflogDispatcher, MalformedMessagesAreCountedAndTheRestStillDelivered) {
    NflogDispatcher dispatcher;
    Recorder recorder;
    dispatcher.add_observer(&recorder);
    std::vector<std::uint8_t> error_ack(36, 0);  // NLMSG_ERROR from a config request: skipped
    std::uint32_t length = 36;
    std::uint16_t type = NLMSG_ERROR;
    std::memcpy(&error_ack[0], &length, 4);
    std::memcpy(&error_ack[4], &type, 2);
    Aligned buffer({error_ack, MessageBuilder(1).text(NFULA_PREFIX, "x").finish(), packet_message(1, 1, "ok")});
    dispatcher.feed(buffer.bytes());
    EXPECT_EQ(recorder.payloads.size(), 1u);
    EXPECT_EQ(dispatcher.counters().malformed(), 1u);
    EXPECT_EQ(dispatcher.counters().anomalies[static_cast<std::size_t>(NflogAnomaly::missing_payload)], 1u);

    std::vector<std::uint8_t> lying(16, 0);
    std::uint32_t too_long = 4096;
    std::memcpy(&lying[0], &too_long, 4);
    Aligned bad({lying});
    dispatcher.feed(bad.bytes());
    EXPECT_EQ(dispatcher.counters().anomalies[static_cast<std::size_t>(NflogAnomaly::truncated_message)], 1u);
    dispatcher.note_overrun();
    EXPECT_EQ(dispatcher.counters().overruns, 1u);
}

TEST(NflogDispatcher, RandomBytesNeverCrash) {
    NflogDispatcher dispatcher;
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 2000; ++round) {
        std::vector<std::uint64_t> words(16);
        for (auto& word : words) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word = state;
        }
        // A plausible length in the first word so the decoder goes past the header sometimes.
        std::uint32_t length = static_cast<std::uint32_t>(16 + (state % 112));
        std::memcpy(words.data(), &length, 4);
        std::uint16_t type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
        if (round % 2) std::memcpy(reinterpret_cast<char*>(words.data()) + 4, &type, 2);
        dispatcher.feed(as_bytes(words.data(), 128));
    }
    EXPECT_GT(dispatcher.counters().malformed() + dispatcher.counters().packets, 0u);
}

}  // namespace
}  // namespace portcullis::intake
