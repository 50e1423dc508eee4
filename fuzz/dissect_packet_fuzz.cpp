// Input: one selector byte choosing the link type, then the frame; the whole walk.
#include "dissect/packet.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static constexpr std::uint32_t kTypes[] = {1, 101, 113, 276, 239, 0};
    std::uint32_t link_type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
    AnomalyCounters counters;
    auto s = dissect_packet(link_type, fuzz::input(data + 1, size - 1), &counters);
    fuzz::use(s.ip_version + s.protocol + s.ttl + s.ip_length + s.udp_encapsulated);
    fuzz::use(s.source_port);
    fuzz::use(s.destination_port);
    fuzz::use(static_cast<int>(s.kind()));
    fuzz::use(counters.total());
    fuzz::use(anomaly_name(s.first_anomaly()).size());
    if (s.quoted) fuzz::use(s.quoted->esp_spi);
    if (auto* m = s.ike()) fuzz::use(static_cast<int>(m->validate()));
    if (auto* m = s.l2tp()) fuzz::use(m->message_type());
    if (auto* m = s.pptp()) fuzz::use(m->call_id());
    if (auto* m = s.gre()) fuzz::use(m->call_id());
    if (auto* m = s.esp()) fuzz::use(m->spi());
    return 0;
}
