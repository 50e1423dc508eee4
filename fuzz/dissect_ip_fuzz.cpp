// Input: an IP packet (v4 or v6, by its version nibble).
#include "dissect/ip/ip.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Bytes packet = fuzz::input(data, size);
    if (auto v4 = ip::Ipv4::parse(packet)) {
        fuzz::use(v4->header_length());
        fuzz::use(v4->total_length());
        fuzz::use(v4->id());
        fuzz::use(v4->fragment_offset_bytes());
        fuzz::use(v4->is_fragment());
        if (auto f = v4->fragment()) fuzz::use(f->id + f->offset_bytes);
        fuzz::use(v4->protocol());
        fuzz::use(v4->source_address().to_string().size());
        fuzz::use(v4->options());
        fuzz::use(v4->payload());
        fuzz::use(v4->truncated());
    }
    if (auto v6 = ip::Ipv6::parse(packet)) {
        fuzz::use(v6->payload_length());
        fuzz::use(v6->protocol());
        fuzz::use(v6->extension_count());
        fuzz::use(v6->is_fragment());
        if (auto f = v6->fragment()) fuzz::use(f->id + f->offset_bytes);
        fuzz::use(v6->destination_address().to_string().size());
        fuzz::use(v6->payload());
        fuzz::use(v6->truncated());
    }
    return 0;
}
