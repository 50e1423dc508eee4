// Input: a GRE header and payload.
#include "dissect/gre/gre.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto gre = gre::Packet::parse(fuzz::input(data, size));
    if (!gre) return 0;
    fuzz::use(gre->version() + gre->protocol_type() + gre->recursion());
    fuzz::use(gre->checksum_present() + gre->routing_present() + gre->key_present() +
              gre->sequence_present() + gre->ack_present() + gre->strict_source_route());
    fuzz::use(gre->checksum());
    fuzz::use(gre->key());
    fuzz::use(gre->sequence());
    fuzz::use(gre->acknowledgment());
    fuzz::use(gre->payload_length());
    fuzz::use(gre->call_id());
    fuzz::use(gre->payload());
    return 0;
}
