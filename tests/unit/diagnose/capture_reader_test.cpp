// The streaming capture reader: pcap and pcapng, link types, frame numbering, and errors that
// name the file and the reason.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "diagnose_test_util.hpp"
#include "intake/capture_reader.hpp"

namespace portcullis::intake {
namespace {

using diagnose::testing::shared_capture;

std::vector<std::byte> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) out[i] = static_cast<std::byte>(raw[i]);
    return out;
}

// Reads to the end; returns the number of the last frame (checking they count up from `last`).
std::uint64_t count_frames(CaptureReader& reader, std::uint64_t last = 0) {
    while (auto frame = reader.next()) {
        EXPECT_EQ(frame->number, last + 1);
        last = frame->number;
    }
    return last;
}

TEST(CaptureReader, ReadsPcapWithFrameNumbersAndLinkType) {
    auto reader = CaptureReader::open(shared_capture("zeek-spicy-ipsec/ipsec.cap"));
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_EQ((*reader)->link_type(), linktype::kEthernet);
    EXPECT_EQ((*reader)->link_type_name(), "EN10MB");
    auto first = (*reader)->next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->number, 1u);
    EXPECT_EQ(first->data.size(), 294u);  // tshark: frame 1 is 294 bytes
    EXPECT_EQ(first->original_length, 294u);
    EXPECT_EQ(count_frames(**reader, 1), 27u);
    EXPECT_FALSE((*reader)->error());
}

TEST(CaptureReader, ReadsPcapng) {
    auto reader = CaptureReader::open(shared_capture("ndpi/esp.pcapng"));
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_GT(count_frames(**reader), 0u);
    EXPECT_FALSE((*reader)->error());
}

TEST(CaptureReader, ReportsNullAndNflogLinkTypes) {
    auto null = CaptureReader::open(shared_capture("tcpdump/ikev2pI2.pcap"));
    ASSERT_TRUE(null);
    EXPECT_EQ((*null)->link_type(), linktype::kNull);
    auto nflog = CaptureReader::open(shared_capture("tcpdump/nflog.pcap"));
    ASSERT_TRUE(nflog);
    EXPECT_EQ((*nflog)->link_type(), linktype::kNflog);
}

TEST(CaptureReader, MissingFileErrorNamesTheFile) {
    auto reader = CaptureReader::open("/nonexistent/dir/capture.pcap");
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message.find("/nonexistent/dir/capture.pcap"), std::string::npos);
    EXPECT_NE(reader.error().message.find("No such file"), std::string::npos) << reader.error().message;
}

TEST(CaptureReader, NotACaptureIsRefused) {
    std::string path = ::testing::TempDir() + "/not-a-capture.pcap";
    { std::ofstream(path) << "this is a text file, not a capture\n"; }
    auto reader = CaptureReader::open(path);
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message.find(path), std::string::npos);
    std::remove(path.c_str());
}

TEST(CaptureReader, TruncatedRecordIsAnErrorWithTheFrameNumber) {
    auto data = read_all(shared_capture("zeek-spicy-ipsec/ipsec.cap"));
    ASSERT_GT(data.size(), 400u);
    data.resize(24 + 16 + 294 + 16 + 10);  // header, frame 1 complete, frame 2 cut short
    auto reader = CaptureReader::open_memory(Bytes(data.data(), data.size()), "cut.pcap");
    ASSERT_TRUE(reader) << reader.error().message;
    EXPECT_EQ(count_frames(**reader), 1u);
    ASSERT_TRUE((*reader)->error());
    EXPECT_NE((*reader)->error()->message.find("cut.pcap: frame 2"), std::string::npos)
        << (*reader)->error()->message;
}

TEST(CaptureReader, EmptyInputIsRefused) {
    auto reader = CaptureReader::open_memory(Bytes{}, "empty");
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message.find("empty"), std::string::npos);
}

TEST(CaptureReader, MemoryAndFileGiveTheSameFrames) {
    std::string path = shared_capture("tcpdump/isakmp4500.pcap");
    auto data = read_all(path);
    auto from_file = CaptureReader::open(path);
    auto from_memory = CaptureReader::open_memory(Bytes(data.data(), data.size()));
    ASSERT_TRUE(from_file && from_memory);
    while (true) {
        auto a = (*from_file)->next();
        auto b = (*from_memory)->next();
        ASSERT_EQ(a.has_value(), b.has_value());
        if (!a) break;
        EXPECT_EQ(a->number, b->number);
        EXPECT_EQ(a->seconds, b->seconds);
        ASSERT_EQ(a->data.size(), b->data.size());
        EXPECT_TRUE(std::equal(a->data.begin(), a->data.end(), b->data.begin()));
    }
    EXPECT_EQ((*from_file)->frames_read(), 35u);
}

}  // namespace
}  // namespace portcullis::intake
