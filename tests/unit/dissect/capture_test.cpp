// What the shared captures are known to show (see ../shared/captures/README.md), read back
// through dissect_packet: the facts diagnose builds its findings on.
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "capture_file.hpp"
#include "dissect/packet.hpp"

namespace portcullis::dissect::testing {
namespace {

struct Dissected {
    std::vector<CapturedPacket> packets;
    std::vector<PacketSummary> summaries;  // views into `packets`
    AnomalyCounters counters;
    const PacketSummary& frame(std::size_t number) const { return summaries.at(number - 1); }
};

std::unique_ptr<Dissected> load(const std::string& relative) {
    auto packets = CaptureFile::read(shared_capture(relative));
    EXPECT_TRUE(packets) << relative;
    auto out = std::make_unique<Dissected>();
    if (!packets) return out;
    out->packets = std::move(*packets);
    for (const auto& p : out->packets) out->summaries.push_back(dissect_packet(p.link_type, p.bytes(), &out->counters));
    return out;
}

std::vector<std::uint16_t> notify_types(const ike::Message& message) {
    std::vector<std::uint16_t> out;
    auto chain = message.payloads();
    while (auto p = chain.next()) {
        if (p->type != ike::payload::kV1Notify && p->type != ike::payload::kV2Notify) continue;
        if (auto n = ike::NotifyPayload::parse(*p)) out.push_back(n->type);
    }
    return out;
}

TEST(Captures, Isakmp4500MovesToNatTWithKeepalives) {
    auto c = load("tcpdump/isakmp4500.pcap");
    ASSERT_EQ(c->summaries.size(), 35u);
    EXPECT_EQ(c->counters.total(), 0u);
    const auto& move = c->frame(7);
    ASSERT_TRUE(move.ike());
    EXPECT_TRUE(move.udp_encapsulated);
    EXPECT_EQ(move.destination_port, 4500);
    EXPECT_EQ(move.ike()->header().exchange_type, ike::exchange::kV1MainMode);
    EXPECT_FALSE(c->frame(5).udp_encapsulated);
    for (std::size_t n : {18, 23, 28, 34}) EXPECT_EQ(c->frame(n).kind(), VpnKind::natt_keepalive) << n;
    // Main mode offers the RFC 3947 vendor ID and then exchanges NAT-D payloads.
    bool rfc3947 = false;
    int nat_d = 0;
    for (const auto& s : c->summaries) {
        if (!s.ike()) continue;
        auto chain = s.ike()->payloads();
        while (auto p = chain.next()) {
            if (p->type == ike::payload::kV1VendorId &&
                ike::VendorIdPayload::parse(*p)->kind() == ike::VendorKind::nat_t_rfc3947)
                rfc3947 = true;
            if (p->type == ike::payload::kV1NatD) ++nat_d;
        }
    }
    EXPECT_TRUE(rfc3947);
    EXPECT_GE(nat_d, 4);
    int esp_in_udp = 0;
    for (const auto& s : c->summaries) esp_in_udp += s.esp() && s.udp_encapsulated;
    EXPECT_EQ(esp_in_udp, 8);
}

TEST(Captures, IpsecCapNoProposalChosenThenSuccess) {
    auto c = load("zeek-spicy-ipsec/ipsec.cap");
    const auto& informational = c->frame(3);
    ASSERT_TRUE(informational.ike());
    EXPECT_EQ(informational.ike()->header().exchange_type, ike::exchange::kV1Informational);
    EXPECT_EQ(notify_types(*informational.ike()), std::vector<std::uint16_t>{ike::notify::kV1NoProposalChosen});
    std::set<std::pair<std::string, std::uint32_t>> esp_directions;
    for (const auto& s : c->summaries)
        if (s.esp()) esp_directions.insert({s.source.to_string(), s.esp()->spi()});
    EXPECT_GE(esp_directions.size(), 2u);  // ESP both ways
}

TEST(Captures, InvalidKeNamesGroup14AndInitiatorRetries) {
    auto c = load("ndpi/ipsec_isakmp_esp.pcap");
    for (std::size_t n : {263, 619, 704}) {
        const auto* m = c->frame(n).ike();
        ASSERT_TRUE(m) << n;
        auto n_payload = m->find(ike::payload::kV2Notify);
        ASSERT_TRUE(n_payload) << n;
        auto notify = ike::NotifyPayload::parse(*n_payload);
        ASSERT_TRUE(notify);
        EXPECT_EQ(notify->type, ike::notify::kV2InvalidKePayload);
        EXPECT_EQ(notify->invalid_ke_group(), 14);
    }
    int cookies = 0;
    for (const auto& s : c->summaries) {
        if (!s.ike()) continue;
        for (auto t : notify_types(*s.ike())) cookies += t == ike::notify::kV2Cookie;
    }
    EXPECT_GE(cookies, 100);
}

TEST(Captures, IpsecClientFragmentedIkeAuthWithoutFragmentationSupport) {
    auto c = load("zeek-spicy-ipsec/ipsec_client.pcap");
    const auto* request = c->frame(1).ike();
    ASSERT_TRUE(request);
    auto notifies = notify_types(*request);
    EXPECT_EQ(notifies, (std::vector<std::uint16_t>{16388, 16389}));
    for (const auto& s : c->summaries) {
        if (!s.ike()) continue;
        for (auto t : notify_types(*s.ike())) EXPECT_NE(t, ike::notify::kV2FragmentationSupported);
    }
    // IKE_AUTH on 4500 as IP fragments: the first fragment still shows the IKE header.
    for (std::size_t n : {3, 6, 9}) {
        const auto& s = c->frame(n);
        ASSERT_TRUE(s.fragment) << n;
        EXPECT_TRUE(s.fragment->more_fragments);
        ASSERT_TRUE(s.ike()) << n;
        EXPECT_TRUE(s.udp_encapsulated);
        EXPECT_EQ(s.ike()->header().exchange_type, ike::exchange::kV2IkeAuth);
        EXPECT_GT(s.ike()->header().length, 3000u);
    }
    for (std::size_t n : {4, 5, 7, 8, 10, 11}) EXPECT_TRUE(c->frame(n).later_fragment()) << n;
    EXPECT_EQ(c->counters.total(), 0u);
}

TEST(Captures, Ikev2FourCookieChallenge) {
    auto c = load("tcpdump/ikev2four.pcap");
    ASSERT_TRUE(c->frame(2).ike());
    EXPECT_TRUE(c->frame(2).ike()->header().v2_response());
    EXPECT_EQ(notify_types(*c->frame(2).ike()), std::vector<std::uint16_t>{ike::notify::kV2Cookie});
    auto retry = notify_types(*c->frame(3).ike());
    ASSERT_FALSE(retry.empty());
    EXPECT_EQ(retry.front(), ike::notify::kV2Cookie);  // the initiator echoes the cookie first
    std::set<std::uint8_t> exchanges;
    for (const auto& s : c->summaries)
        if (s.ike()) exchanges.insert(s.ike()->header().exchange_type);
    EXPECT_TRUE(exchanges.count(ike::exchange::kV2IkeAuth));
    EXPECT_TRUE(exchanges.count(ike::exchange::kV2CreateChildSa));
}

TEST(Captures, NdpiPptpCallConnectedButNoGre) {
    auto c = load("ndpi/pptp.pcap");
    const auto* sccrp = c->frame(6).pptp();
    ASSERT_TRUE(sccrp);
    EXPECT_EQ(sccrp->control_type(), pptp::control::kSccrp);
    EXPECT_EQ(sccrp->result_code(), 1);
    const auto* ocrp = c->frame(10).pptp();
    ASSERT_TRUE(ocrp);
    EXPECT_EQ(ocrp->control_type(), pptp::control::kOcrp);
    EXPECT_EQ(ocrp->call_id(), 11755);
    EXPECT_EQ(ocrp->result_code(), 1);
    EXPECT_EQ(c->frame(23).pptp()->control_type(), pptp::control::kCdn);
    for (const auto& s : c->summaries) EXPECT_NE(s.kind(), VpnKind::gre);
}

TEST(Captures, TcpdumpPptpHasEnhancedGreCarryingLcp) {
    auto c = load("tcpdump/pptp.pcap");
    int gre = 0;
    for (const auto& s : c->summaries) {
        if (!s.gre()) continue;
        ++gre;
        EXPECT_TRUE(s.gre()->is_enhanced());
        EXPECT_TRUE(s.gre()->call_id());
        EXPECT_EQ(s.gre()->payload_length(), s.gre()->payload().size());
    }
    EXPECT_EQ(gre, 1);
}

TEST(Captures, NflogLinkType) {
    auto c = load("tcpdump/nflog.pcap");
    ASSERT_EQ(c->packets.size(), 4u);
    for (const auto& p : c->packets) EXPECT_EQ(p.link_type, 239u);
    EXPECT_EQ(c->frame(1).ip_version, 4);
    EXPECT_EQ(c->frame(1).source.to_string(), "74.82.42.42");
    EXPECT_EQ(c->frame(1).source_port, 53);
    EXPECT_EQ(c->counters.total(), 0u);
}

TEST(Captures, RecognisersOnNdpiCaptures) {
    auto wg = load("ndpi/wireguard.pcap");
    int handshakes = 0;
    for (const auto& s : wg->summaries)
        if (auto* m = std::get_if<wireguard::Message>(&s.vpn)) handshakes += m->type() == wireguard::Type::initiation;
    EXPECT_GE(handshakes, 1);
    EXPECT_EQ(wg->counters.total(), 0u);
    auto ovpn = load("ndpi/openvpn.pcap");
    int resets = 0;
    for (const auto& s : ovpn->summaries)
        if (auto* m = std::get_if<openvpn::Packet>(&s.vpn)) resets += m->is_hard_reset_client();
    EXPECT_GE(resets, 1);
}

TEST(Captures, MalformedInputsAreCountedNotFatal) {
    for (const char* file : {"tcpdump/isakmp-pointer-loop.pcap", "zeek-spicy-ipsec/ipsec-ikev1-zero-length.pcap",
                             "zeek-spicy-ipsec/ipsec-ikev1-payload-bad-length.pcap",
                             "tcpdump/l2tp-avp-overflow.pcap", "tcpdump/gre-heapoverflow-2.pcap",
                             "tcpdump/esp_truncated.pcap", "tcpdump/isakmpv1-attr-oobr.pcap"}) {
        auto c = load(file);
        EXPECT_GE(c->counters.total(), 1u) << file;
    }
    auto loop = load("tcpdump/isakmp-pointer-loop.pcap");
    EXPECT_EQ(loop->counters[Anomaly::ike_bad_length], 1u);
    auto bad = load("zeek-spicy-ipsec/ipsec-ikev1-payload-bad-length.pcap");
    EXPECT_EQ(bad->counters[Anomaly::ike_payload_bad_length], 1u);
}

}  // namespace
}  // namespace portcullis::dissect::testing
