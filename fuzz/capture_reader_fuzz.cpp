// Fuzzes the capture reader (libpcap's pcap/pcapng parsing as we drive it) and feeds every frame it
// yields to the diagnoser, as `portcullis diagnose` does. Input: a whole capture file.
#include <cstddef>
#include <cstdint>

#include "diagnose/diagnose.hpp"
#include "fuzz_util.hpp"
#include "intake/capture_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace portcullis;
    auto reader = intake::CaptureReader::open_memory(as_bytes(data, size), "fuzz");
    if (!reader) {
        fuzz::use(reader.error().message.size());
        return 0;
    }
    diagnose::TrackerLimits limits;
    limits.max_sessions = 16;
    diagnose::Diagnoser diagnoser(limits);
    std::uint64_t frames = 0;
    while (auto frame = (*reader)->next()) {
        if (++frames > 4096) break;
        fuzz::use(frame->data);
        diagnoser.add_frame(frame->number, static_cast<double>(frame->seconds), frame->link_type, frame->data);
    }
    if ((*reader)->error()) fuzz::use((*reader)->error()->message.size());
    fuzz::use((*reader)->link_type_name().size());
    diagnose::Report report = diagnoser.finish("fuzz", (*reader)->link_type_name());
    fuzz::use(diagnose::render_text(report).size());
    return 0;
}
