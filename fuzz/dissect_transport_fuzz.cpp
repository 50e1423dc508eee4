// Input: a selector byte (UDP, TCP, ICMP, ICMPv6), then the segment.
#include "dissect/icmp/icmp.hpp"
#include "dissect/packet.hpp"
#include "dissect/tcp/tcp.hpp"
#include "dissect/udp/udp.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    Bytes segment = fuzz::input(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0:
        if (auto udp = udp::Datagram::parse(segment)) {
            fuzz::use(udp->source_port() + udp->destination_port() + udp->length());
            fuzz::use(udp->payload());
            fuzz::use(udp->truncated());
        }
        break;
    case 1:
        if (auto tcp = tcp::Segment::parse(segment)) {
            fuzz::use(tcp->sequence() + tcp->acknowledgment() + tcp->flags());
            fuzz::use(tcp->syn() + tcp->rst() + tcp->fin() + tcp->ack());
            fuzz::use(tcp->options());
            fuzz::use(tcp->payload());
        }
        break;
    default: {
        auto icmp = data[0] % 4 == 2 ? icmp::Message::parse_v4(segment) : icmp::Message::parse_v6(segment);
        if (!icmp) break;
        fuzz::use(icmp->type() + icmp->code());
        fuzz::use(icmp->is_error() + icmp->is_unreachable() + icmp->is_echo());
        fuzz::use(icmp->mtu());
        fuzz::use(icmp->quoted());
        if (auto quoted = dissect_quoted(icmp->quoted())) {
            fuzz::use(quoted->protocol);
            fuzz::use(quoted->source_port);
            fuzz::use(quoted->esp_spi);
            fuzz::use(quoted->ike_initiator_spi);
        }
        break;
    }
    }
    return 0;
}
