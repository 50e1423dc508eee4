// Input: one selector byte choosing the link type, then the frame.
#include "dissect/link/link.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static constexpr std::uint32_t kTypes[] = {0, 1, 12, 14, 101, 113, 228, 229, 239, 276, 147};
    std::uint32_t link_type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
    Bytes frame = fuzz::input(data + 1, size - 1);
    auto parsed = dissect::link::parse(link_type, frame);
    if (parsed) {
        fuzz::use(parsed->ethertype);
        fuzz::use(parsed->payload);
        fuzz::use(parsed->vlan_id);
        fuzz::use(parsed->vlan_depth);
        fuzz::use(parsed->nflog_group);
        fuzz::use(parsed->sll_packet_type);
    } else {
        fuzz::use(static_cast<int>(parsed.error()));
    }
    auto big_endian = dissect::link::parse_nflog(frame, true);
    if (big_endian) fuzz::use(big_endian->payload);
    return 0;
}
