#pragma once
// Internal to the capture reader: classic pcap (the 24-byte file header, then 16-byte record
// headers) parsed in place. Records are handed out as views into one buffer refilled with large
// read(2) calls — or into the caller's memory for open_memory — instead of libpcap's
// fread-per-record into a second buffer. pcapng and unknown formats never get here.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "intake/capture_reader.hpp"

namespace portcullis::intake {

struct CaptureReader::Native {
    // Largest record accepted, as libpcap's MAXIMUM_SNAPLEN: a bigger caplen means corruption.
    static constexpr std::uint32_t kMaxRecord = 262144;
    static constexpr std::size_t kReadChunk = std::size_t{1} << 20;

    int fd = -1;             // -1: memory input
    bool owns_fd = false;
    Bytes memory;            // memory input: the whole capture
    std::vector<std::byte> buffer;  // fd input
    std::size_t begin = 0, end = 0;  // unread bytes: buffer[begin, end) or memory[begin, end)
    bool eof = false;
    std::string read_error;  // set when read(2) failed

    bool swapped = false;     // the file's byte order is not ours
    bool nanoseconds = false;  // timestamps in ns (magic a1b23c4d) rather than µs
    int link_type = 0;        // LINKTYPE_* from the file header

    ~Native();

    // Reads the file header. nullopt: not classic pcap (or too short to tell); the bytes read so
    // far stay in `buffer` for a fallback reader.
    std::optional<bool> read_header();
    // Makes at least `count` unread bytes available; false at end of input (or on a read error).
    bool ensure(std::size_t count);
    const std::byte* at(std::size_t offset) const {
        return (fd < 0 ? memory.data() : buffer.data()) + offset;
    }
    std::uint32_t u32(std::size_t offset) const;
    std::size_t available() const { return end - begin; }
};

// The LINKTYPE_* values whose libpcap DLT_* value differs (for names); identity otherwise.
int dlt_from_linktype(int link_type);

}  // namespace portcullis::intake
