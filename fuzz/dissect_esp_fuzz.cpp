// Input: a selector byte (raw ESP, or a UDP 4500 payload to demultiplex), then the bytes.
#include "dissect/esp/esp.hpp"
#include "dissect/ike/ike.hpp"
#include "dissect/natt/natt.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    Bytes bytes = fuzz::input(data + 1, size - 1);
    if (data[0] & 1) {
        auto demuxed = natt::demux(bytes);
        if (!demuxed) return 0;
        fuzz::use(static_cast<int>(demuxed->kind));
        fuzz::use(demuxed->payload);
        if (demuxed->kind == natt::Kind::ike) {
            if (auto m = ike::Message::parse(demuxed->payload)) fuzz::use(static_cast<int>(m->validate()));
            return 0;
        }
        bytes = demuxed->payload;
    }
    if (auto esp = esp::Packet::parse(bytes)) {
        fuzz::use(esp->spi() + esp->sequence());
        fuzz::use(esp->encrypted());
    }
    return 0;
}
