#include "intake/capture_reader_native.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <pcap/pcap.h>
#include <unistd.h>

namespace portcullis::intake {

namespace {

constexpr std::uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNano = 0xa1b23c4d;

std::uint32_t byteswap32(std::uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

}  // namespace

int dlt_from_linktype(int link_type) {
    switch (link_type) {
#ifdef DLT_RAW
        case linktype::kRaw: return DLT_RAW;
#endif
        default: return link_type;
    }
}

CaptureReader::Native::~Native() {
    if (owns_fd && fd >= 0) ::close(fd);
}

std::uint32_t CaptureReader::Native::u32(std::size_t offset) const {
    std::uint32_t value = 0;
    std::memcpy(&value, at(offset), sizeof value);
    return swapped ? byteswap32(value) : value;
}

bool CaptureReader::Native::ensure(std::size_t count) {
    if (end - begin >= count) return true;
    if (fd < 0 || eof) return false;
    if (begin != 0) {  // keep the unread tail at the front
        std::memmove(buffer.data(), buffer.data() + begin, end - begin);
        end -= begin;
        begin = 0;
    }
    if (buffer.size() < std::max(count, kReadChunk)) buffer.resize(std::max(count, kReadChunk));
    while (end < count) {
        ssize_t got = ::read(fd, buffer.data() + end, buffer.size() - end);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            read_error = std::strerror(errno);
            eof = true;
            return false;
        }
        if (got == 0) {
            eof = true;
            return false;
        }
        end += static_cast<std::size_t>(got);
    }
    return true;
}

std::optional<bool> CaptureReader::Native::read_header() {
    if (!ensure(24)) return std::nullopt;
    std::uint32_t magic = 0;
    std::memcpy(&magic, at(begin), sizeof magic);
    if (magic == kMagicMicro || magic == kMagicNano) {
        swapped = false;
    } else if (byteswap32(magic) == kMagicMicro || byteswap32(magic) == kMagicNano) {
        swapped = true;
        magic = byteswap32(magic);
    } else {
        return std::nullopt;
    }
    nanoseconds = magic == kMagicNano;
    std::uint16_t major = 0;
    std::memcpy(&major, at(begin + 4), sizeof major);
    if (swapped) major = static_cast<std::uint16_t>((major >> 8) | (major << 8));
    if (major != 2) return std::nullopt;  // archaic or unknown: libpcap says what is wrong
    // The top bits of the link-type field carry FCS information (LT_FCS_* in libpcap).
    link_type = static_cast<int>(u32(begin + 20) & 0x03ffffff);
    begin += 24;
    return true;
}

std::optional<CapturedFrame> CaptureReader::next_native() {
    Native& n = *native_;
    auto stop = [&](const std::string& why) -> std::optional<CapturedFrame> {
        error_ = Error{name_ + ": frame " + std::to_string(frames_read_ + 1) + ": cannot read: " + why};
        return std::nullopt;
    };
    if (!n.ensure(16)) {
        if (!n.read_error.empty()) return stop(n.read_error);
        if (n.available() == 0) return std::nullopt;  // clean end of the capture
        return stop("truncated capture: " + std::to_string(n.available()) +
                    " bytes left where a 16-byte record header was expected");
    }
    const std::uint32_t seconds = n.u32(n.begin);
    const std::uint32_t fraction = n.u32(n.begin + 4);
    const std::uint32_t caplen = n.u32(n.begin + 8);
    const std::uint32_t length = n.u32(n.begin + 12);
    if (caplen > Native::kMaxRecord) {
        return stop("invalid packet capture length " + std::to_string(caplen) + ", bigger than maximum of " +
                    std::to_string(Native::kMaxRecord));
    }
    if (!n.ensure(16 + std::size_t{caplen})) {
        if (!n.read_error.empty()) return stop(n.read_error);
        return stop("truncated capture: the record wants " + std::to_string(caplen) + " captured bytes, only " +
                    std::to_string(n.available() - 16) + " are left");
    }
    ++frames_read_;
    CapturedFrame frame;
    frame.number = frames_read_;
    frame.seconds = seconds;
    frame.nanoseconds = n.nanoseconds ? fraction : fraction * 1000u;
    frame.link_type = link_type_;
    frame.original_length = length;
    frame.data = Bytes(n.at(n.begin + 16), caplen);
    n.begin += 16 + std::size_t{caplen};
    return frame;
}

}  // namespace portcullis::intake
