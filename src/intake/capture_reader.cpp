#include "intake/capture_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include "intake/capture_reader_native.hpp"

namespace portcullis::intake {

namespace {

pcap_t* as_pcap(void* handle) { return static_cast<pcap_t*>(handle); }

// Standard input that turned out not to be classic pcap: libpcap gets a stream that first
// replays the bytes already read, then continues on the descriptor.
struct ReplayedInput {
    std::vector<std::byte> prefix;
    std::size_t used = 0;
    int fd = 0;
};

ssize_t replayed_read(void* cookie, char* out, std::size_t size) {
    auto* input = static_cast<ReplayedInput*>(cookie);
    if (input->used < input->prefix.size()) {
        std::size_t count = std::min(size, input->prefix.size() - input->used);
        std::memcpy(out, input->prefix.data() + input->used, count);
        input->used += count;
        return static_cast<ssize_t>(count);
    }
    while (true) {
        ssize_t got = ::read(input->fd, out, size);
        if (got < 0 && errno == EINTR) continue;
        return got;
    }
}

int replayed_close(void* cookie) {
    delete static_cast<ReplayedInput*>(cookie);
    return 0;
}

std::string pcap_failure(const std::string& name, const std::string& path, const char* errbuf) {
    std::string reason = errbuf[0] != '\0' ? errbuf : "not a pcap or pcapng capture";
    // libpcap often starts its message with the path already.
    if (!path.empty() && reason.rfind(path + ": ", 0) == 0) reason.erase(0, path.size() + 2);
    return name + ": cannot read capture: " + reason;
}

}  // namespace

int linktype_from_dlt(int dlt) {
    // libpcap maps a few file LINKTYPE values onto platform DLT values; undo that. Above 104 the
    // two numbering schemes coincide.
    switch (dlt) {
#ifdef DLT_RAW
        case DLT_RAW: return linktype::kRaw;
#endif
        case 14: return linktype::kRaw;  // DLT_RAW on OpenBSD-derived captures
        default: return dlt;
    }
}

CaptureReader::CaptureReader() = default;

Result<std::unique_ptr<CaptureReader>> CaptureReader::adopt_native(std::unique_ptr<Native> native,
                                                                   std::string name) {
    std::unique_ptr<CaptureReader> reader(new CaptureReader());
    reader->link_type_ = linktype_from_dlt(native->link_type);
    reader->native_ = std::move(native);
    reader->name_ = std::move(name);
    return reader;
}

Result<std::unique_ptr<CaptureReader>> CaptureReader::adopt(void* handle, std::string name) {
    std::unique_ptr<CaptureReader> reader(new CaptureReader());
    reader->handle_ = handle;
    reader->name_ = std::move(name);
    reader->link_type_ = linktype_from_dlt(pcap_datalink(as_pcap(handle)));
    return reader;
}

Result<std::unique_ptr<CaptureReader>> CaptureReader::open(const std::string& path) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    const bool from_stdin = path == "-";
    std::string name = from_stdin ? std::string("<stdin>") : path;
    auto native = std::make_unique<Native>();
    if (from_stdin) {
        native->fd = STDIN_FILENO;
    } else {
        native->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (native->fd < 0) return fail(name + ": cannot read capture: " + std::strerror(errno));
        native->owns_fd = true;
    }
    if (native->read_header()) return adopt_native(std::move(native), std::move(name));
    if (!native->read_error.empty()) return fail(name + ": cannot read capture: " + native->read_error);

    // Not classic pcap: libpcap reads pcapng, or says what is wrong.
    pcap_t* handle = nullptr;
    if (from_stdin) {
        auto* replay = new ReplayedInput{{native->buffer.begin() + static_cast<std::ptrdiff_t>(native->begin),
                                          native->buffer.begin() + static_cast<std::ptrdiff_t>(native->end)},
                                         0, STDIN_FILENO};
        std::FILE* stream = fopencookie(replay, "r", cookie_io_functions_t{replayed_read, nullptr, nullptr,
                                                                           replayed_close});
        if (stream == nullptr) {
            delete replay;
            return fail(name + ": cannot read capture: " + std::strerror(errno));
        }
        handle = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO, errbuf);
        if (handle == nullptr) std::fclose(stream);
    } else {
        native.reset();  // closes the descriptor
        handle = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                         errbuf);
    }
    if (handle == nullptr) return fail(pcap_failure(name, from_stdin ? std::string() : path, errbuf));
    return adopt(handle, std::move(name));
}

Result<std::unique_ptr<CaptureReader>> CaptureReader::open_memory(Bytes data, std::string name) {
    if (data.empty()) return fail(name + ": cannot read capture: the input is empty");
    auto native = std::make_unique<Native>();
    native->memory = data;
    native->end = data.size();
    if (native->read_header()) return adopt_native(std::move(native), std::move(name));
    // fmemopen wants a mutable pointer even for read-only streams; mode "r" never writes to it.
    void* buffer = const_cast<std::byte*>(data.data());
    std::FILE* stream = fmemopen(buffer, data.size(), "r");
    if (stream == nullptr) {
        return fail(name + ": cannot read capture: " + std::strerror(errno));
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* handle = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO,
                                                              errbuf);
    if (handle == nullptr) {
        std::fclose(stream);
        std::string reason = errbuf[0] != '\0' ? errbuf : "not a pcap or pcapng capture";
        return fail(name + ": cannot read capture: " + reason);
    }
    return adopt(handle, std::move(name));  // pcap_close closes `stream`
}

CaptureReader::~CaptureReader() {
    if (handle_ != nullptr) pcap_close(as_pcap(handle_));
}

std::optional<CapturedFrame> CaptureReader::next() {
    if (error_) return std::nullopt;
    if (native_) return next_native();
    if (handle_ == nullptr) return std::nullopt;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    int status = pcap_next_ex(as_pcap(handle_), &header, &data);
    if (status == PCAP_ERROR_BREAK) return std::nullopt;  // clean end of file
    if (status != 1) {
        error_ = Error{name_ + ": frame " + std::to_string(frames_read_ + 1) +
                       ": cannot read: " + pcap_geterr(as_pcap(handle_))};
        return std::nullopt;
    }
    ++frames_read_;
    CapturedFrame frame;
    frame.number = frames_read_;
    frame.seconds = static_cast<std::int64_t>(header->ts.tv_sec);
    frame.nanoseconds = static_cast<std::uint32_t>(header->ts.tv_usec);  // nanoseconds (precision)
    frame.link_type = link_type_;
    frame.original_length = header->len;
    frame.data = as_bytes(data, header->caplen);
    return frame;
}

std::string CaptureReader::link_type_name() const {
    int dlt = native_ ? dlt_from_linktype(link_type_) : handle_ != nullptr ? pcap_datalink(as_pcap(handle_)) : -1;
    const char* name = pcap_datalink_val_to_name(dlt);
    return name != nullptr ? std::string(name) : "LINKTYPE_" + std::to_string(link_type_);
}

}  // namespace portcullis::intake
