#include "intake/capture_reader.hpp"

#include <cerrno>
#include <cstring>

#include <pcap/pcap.h>

namespace portcullis::intake {

namespace {

pcap_t* as_pcap(void* handle) { return static_cast<pcap_t*>(handle); }

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

Result<std::unique_ptr<CaptureReader>> CaptureReader::adopt(void* handle, std::string name) {
    std::unique_ptr<CaptureReader> reader(new CaptureReader());
    reader->handle_ = handle;
    reader->name_ = std::move(name);
    reader->link_type_ = linktype_from_dlt(pcap_datalink(as_pcap(handle)));
    return reader;
}

Result<std::unique_ptr<CaptureReader>> CaptureReader::open(const std::string& path) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    std::string name = path == "-" ? std::string("<stdin>") : path;
    pcap_t* handle = nullptr;
    if (path == "-") {
        handle = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    } else {
        handle = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                         errbuf);
    }
    if (handle == nullptr) {
        std::string reason = errbuf[0] != '\0' ? errbuf : "not a pcap or pcapng capture";
        // libpcap often starts its message with the path already.
        if (reason.rfind(path + ": ", 0) == 0) reason.erase(0, path.size() + 2);
        return fail(name + ": cannot read capture: " + reason);
    }
    return adopt(handle, std::move(name));
}

Result<std::unique_ptr<CaptureReader>> CaptureReader::open_memory(Bytes data, std::string name) {
    if (data.empty()) return fail(name + ": cannot read capture: the input is empty");
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
    if (handle_ == nullptr || error_) return std::nullopt;
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
    int dlt = handle_ != nullptr ? pcap_datalink(as_pcap(handle_)) : -1;
    const char* name = pcap_datalink_val_to_name(dlt);
    return name != nullptr ? std::string(name) : "LINKTYPE_" + std::to_string(link_type_);
}

}  // namespace portcullis::intake
