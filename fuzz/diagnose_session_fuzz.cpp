// Fuzzes the session tracker and every diagnosis rule through the whole frame path
// (dissect -> facts -> tracker -> rules -> text report).
// Input: a sequence of frames, each [link selector: 1 byte][length: 2 bytes BE][frame bytes].
// The selector picks Ethernet, raw IP, BSD loopback or Linux cooked; limits are small so the
// session cap and fragment eviction paths are reached too.
#include <cstddef>
#include <cstdint>

#include "diagnose/diagnose.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace portcullis;
    static constexpr int kLinkTypes[] = {1, 101, 0, 113};
    diagnose::TrackerLimits limits;
    limits.max_sessions = 16;
    limits.max_fragments = 4;
    limits.max_icmp_errors = 8;
    diagnose::Diagnoser diagnoser(limits);
    std::size_t offset = 0;
    std::uint64_t frame = 0;
    while (offset + 3 <= size) {
        int link_type = kLinkTypes[data[offset] % 4];
        std::size_t length = (std::size_t{data[offset + 1]} << 8) | data[offset + 2];
        offset += 3;
        if (length > size - offset) length = size - offset;
        ++frame;
        diagnoser.add_frame(frame, static_cast<double>(frame), link_type, as_bytes(data + offset, length));
        offset += length;
    }
    diagnose::Report report = diagnoser.finish("fuzz", "fuzz");
    std::string text = diagnose::render_text(report);
    fuzz::use(text.size());
    fuzz::use(report.any_failure());
    return 0;
}
