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

// ---- classic pcap parsed in place (the reader's own path) ---------------------------------------

void put32(std::vector<std::byte>& out, std::uint32_t value, bool big_endian) {
    for (int i = 0; i < 4; ++i) {
        int shift = big_endian ? 24 - 8 * i : 8 * i;
        out.push_back(static_cast<std::byte>((value >> shift) & 0xff));
    }
}
void put16(std::vector<std::byte>& out, std::uint16_t value, bool big_endian) {
    out.push_back(static_cast<std::byte>(big_endian ? value >> 8 : value & 0xff));
    out.push_back(static_cast<std::byte>(big_endian ? value & 0xff : value >> 8));
}

// A classic pcap file: `frames[i]` bytes long frames filled with (i + 1), timestamps i s + 5 units.
std::vector<std::byte> make_pcap(std::uint32_t magic, bool big_endian, std::uint32_t link_type,
                                 const std::vector<std::uint32_t>& frames) {
    std::vector<std::byte> out;
    put32(out, magic, big_endian);
    put16(out, 2, big_endian);
    put16(out, 4, big_endian);
    put32(out, 0, big_endian);
    put32(out, 0, big_endian);
    put32(out, 262144, big_endian);
    put32(out, link_type, big_endian);
    for (std::size_t i = 0; i < frames.size(); ++i) {
        put32(out, static_cast<std::uint32_t>(i), big_endian);
        put32(out, 5, big_endian);
        put32(out, frames[i], big_endian);
        put32(out, frames[i] + 4, big_endian);
        out.insert(out.end(), frames[i], static_cast<std::byte>(i + 1));
    }
    return out;
}

std::string write_temp(const std::string& name, const std::vector<std::byte>& data) {
    std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return path;
}

TEST(CaptureReader, BigEndianAndNanosecondHeadersAreRead) {
    for (bool big_endian : {false, true}) {
        for (std::uint32_t magic : {0xa1b2c3d4u, 0xa1b23c4du}) {
            auto data = make_pcap(magic, big_endian, 101, {60, 70});
            auto reader = CaptureReader::open_memory(Bytes(data.data(), data.size()), "made.pcap");
            ASSERT_TRUE(reader) << reader.error().message;
            EXPECT_EQ((*reader)->link_type(), linktype::kRaw);
            EXPECT_EQ((*reader)->link_type_name(), "RAW");
            auto first = (*reader)->next();
            auto second = (*reader)->next();
            ASSERT_TRUE(first && second);
            EXPECT_EQ(first->data.size(), 60u);
            EXPECT_EQ(first->original_length, 64u);
            EXPECT_EQ(second->seconds, 1);
            EXPECT_EQ(second->nanoseconds, magic == 0xa1b23c4du ? 5u : 5000u);  // µs files scale up
            EXPECT_EQ(std::to_integer<int>(second->data[69]), 2);
            EXPECT_FALSE((*reader)->next());
            EXPECT_FALSE((*reader)->error());
        }
    }
}

TEST(CaptureReader, OversizedRecordIsAnErrorNotAnAllocation) {
    auto data = make_pcap(0xa1b2c3d4u, false, 1, {60});
    // A second record header claiming 16 MiB: corruption, refused before reading anything.
    put32(data, 1, false);
    put32(data, 0, false);
    put32(data, 16u << 20, false);
    put32(data, 16u << 20, false);
    auto reader = CaptureReader::open_memory(Bytes(data.data(), data.size()), "huge.pcap");
    ASSERT_TRUE(reader);
    EXPECT_EQ(count_frames(**reader), 1u);
    ASSERT_TRUE((*reader)->error());
    EXPECT_NE((*reader)->error()->message.find("huge.pcap: frame 2"), std::string::npos);
    EXPECT_NE((*reader)->error()->message.find("bigger than maximum"), std::string::npos)
        << (*reader)->error()->message;
}

TEST(CaptureReader, FileLargerThanTheReadBufferMatchesMemory) {
    // ~3 MiB of frames of odd sizes, so records straddle every 1 MiB refill of the file path.
    std::vector<std::uint32_t> sizes;
    for (std::uint32_t i = 0; i < 3000; ++i) sizes.push_back(60 + (i * 397) % 1400);
    sizes.push_back(65535);  // one big record too
    auto data = make_pcap(0xa1b2c3d4u, false, 1, sizes);
    std::string path = write_temp("refills.pcap", data);
    auto from_file = CaptureReader::open(path);
    auto from_memory = CaptureReader::open_memory(Bytes(data.data(), data.size()));
    ASSERT_TRUE(from_file && from_memory);
    std::uint64_t frames = 0;
    while (true) {
        auto a = (*from_file)->next();
        auto b = (*from_memory)->next();
        ASSERT_EQ(a.has_value(), b.has_value());
        if (!a) break;
        ++frames;
        ASSERT_EQ(a->data.size(), sizes[frames - 1]);
        ASSERT_EQ(a->data.size(), b->data.size());
        EXPECT_TRUE(std::equal(a->data.begin(), a->data.end(), b->data.begin())) << "frame " << frames;
    }
    EXPECT_EQ(frames, sizes.size());
    EXPECT_FALSE((*from_file)->error());
    std::remove(path.c_str());
}

TEST(CaptureReader, TruncatedFileNamesTheFrameAndWhatIsMissing) {
    auto data = make_pcap(0xa1b2c3d4u, false, 1, {100, 200});
    data.resize(data.size() - 50);
    std::string path = write_temp("cut-file.pcap", data);
    auto reader = CaptureReader::open(path);
    ASSERT_TRUE(reader);
    EXPECT_EQ(count_frames(**reader), 1u);
    ASSERT_TRUE((*reader)->error());
    EXPECT_NE((*reader)->error()->message.find("cut-file.pcap: frame 2: cannot read: truncated"), std::string::npos)
        << (*reader)->error()->message;
    EXPECT_NE((*reader)->error()->message.find("wants 200 captured bytes, only 150"), std::string::npos)
        << (*reader)->error()->message;
    std::remove(path.c_str());
}

TEST(CaptureReader, DirectoryIsRefusedWithTheReason) {
    auto reader = CaptureReader::open(::testing::TempDir());
    ASSERT_FALSE(reader);
    EXPECT_NE(reader.error().message.find("cannot read capture"), std::string::npos) << reader.error().message;
}

}  // namespace
}  // namespace portcullis::intake
