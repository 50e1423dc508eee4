#pragma once
// Streaming reader for pcap and pcapng captures. Frames are handed out one at a time and stay
// valid only until the next read: a capture of any size is read in constant memory, and `-`
// reads standard input. Classic pcap files (by far the common case for large captures) are parsed
// in place from large read(2) buffers; pcapng and anything else go through libpcap. The own path
// exists because it was measured to matter: see docs/benchmarks.md (issue 6).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace portcullis::intake {

// Link-layer header types as written in capture files (tcpdump.org LINKTYPE_* values).
namespace linktype {
inline constexpr int kNull = 0;
inline constexpr int kEthernet = 1;
inline constexpr int kRaw = 101;
inline constexpr int kLinuxSll = 113;
inline constexpr int kIpv4 = 228;
inline constexpr int kIpv6 = 229;
inline constexpr int kNflog = 239;
inline constexpr int kLinuxSll2 = 276;
}  // namespace linktype

struct CapturedFrame {
    std::uint64_t number = 0;        // 1-based, as tshark numbers frames
    std::int64_t seconds = 0;        // capture timestamp, seconds since the epoch
    std::uint32_t nanoseconds = 0;   // and the fraction
    int link_type = 0;               // LINKTYPE_* of the frame
    std::uint32_t original_length = 0;  // length on the wire (data may be shorter: snaplen)
    Bytes data;                      // valid until the next read
};

class CaptureReader {
public:
    // Opens `path` ("-" for standard input). The error names the file and says why.
    static Result<std::unique_ptr<CaptureReader>> open(const std::string& path);
    // Reads a capture held in memory (fuzzing, tests). `data` must outlive the reader.
    static Result<std::unique_ptr<CaptureReader>> open_memory(Bytes data, std::string name = "<memory>");

    ~CaptureReader();
    CaptureReader(const CaptureReader&) = delete;
    CaptureReader& operator=(const CaptureReader&) = delete;

    // The next frame, or nullopt at the end of the capture or on a read error (see error()).
    std::optional<CapturedFrame> next();
    // Set when reading stopped early (truncated record, I/O error): names the file and frame.
    const std::optional<Error>& error() const { return error_; }

    int link_type() const { return link_type_; }
    std::string link_type_name() const;
    const std::string& name() const { return name_; }
    std::uint64_t frames_read() const { return frames_read_; }

private:
    struct Native;  // classic pcap parsed in place (capture_reader_native.cpp)

    CaptureReader();
    static Result<std::unique_ptr<CaptureReader>> adopt(void* handle, std::string name);
    static Result<std::unique_ptr<CaptureReader>> adopt_native(std::unique_ptr<Native> native, std::string name);
    std::optional<CapturedFrame> next_native();

    std::unique_ptr<Native> native_;
    void* handle_ = nullptr;  // pcap_t*, kept opaque so users need no libpcap headers
    std::string name_;
    int link_type_ = 0;
    std::uint64_t frames_read_ = 0;
    std::optional<Error> error_;
};

// Converts a libpcap DLT_* value to the LINKTYPE_* value written in files.
int linktype_from_dlt(int dlt);

}  // namespace portcullis::intake
