// Cut valid packets at every byte offset: nothing may crash (run under ASan+UBSan in `make test`)
// and every cut must be reported as an anomaly, at the packet level and at the parser level.
#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

struct Fixture {
    std::string name;
    std::uint32_t link_type;
    Buffer frame;
    VpnKind kind;
};

Buffer wireguard_initiation() {
    Buffer wg(148, 0x21);
    wg[0] = 1;
    wg[1] = wg[2] = wg[3] = 0;
    return wg;
}

std::vector<Fixture> fixtures() {
    IkeProposal proposal{1, 1, {}, {IkeTransform::v2(1, 12, 256), IkeTransform::v2(2, 5),
                                    IkeTransform::v2(3, 12), IkeTransform::v2(4, 14)}};
    IkeTransform v1_transform;
    v1_transform.id = 1;
    v1_transform.tv(1, 7).tv(14, 128).tv(4, 2).tlv(12, {0, 0, 0x70, 0x80});
    auto eth4 = [] { return std::move(PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2")); };
    Buffer quoted = PacketBuilder().ipv4("192.0.2.1", "198.51.100.2").udp(500, 500)
                        .ike(IkeBuilder::v2(34)).bytes();
    quoted.resize(36);
    return {
        {"ikev2_sa_init", kEthernet,
         eth4().udp(500, 500).ike(IkeBuilder::v2(34).sa({proposal}).ke_v2(14, 64).nonce()
                                      .notify_v2(16388, repeat(1, 20)).notify_v2(16430)
                                      .vendor({1, 2, 3})).bytes(),
         VpnKind::ike},
        {"ikev1_main_mode", kEthernet,
         eth4().udp(500, 500).ike(IkeBuilder::v1(2).sa({{1, 1, {}, {v1_transform}}})
                                      .payload(20, repeat(2, 20)).fragment_v1(1, 1, true)
                                      .notify_v1(24)).bytes(),
         VpnKind::ike},
        {"natt_ike_skf", kEthernet,
         eth4().udp(4500, 4500).non_esp_marker().ike(IkeBuilder::v2(35, 1, 2).fragment_v2(1, 2)).bytes(),
         VpnKind::ike},
        {"natt_esp", kEthernet, eth4().udp(4500, 4500).esp(0x1000, 5).bytes(), VpnKind::esp},
        {"raw_esp_v6", kRaw,
         PacketBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_extension(60).esp(0x2000, 1).bytes(),
         VpnKind::esp},
        {"l2tp_sccrp", kEthernet,
         eth4().udp(1701, 1701).l2tp(L2tpBuilder::control(5).message_type(2).result_code(1, 0)
                                         .avp(9, {0, 7})).bytes(),
         VpnKind::l2tp},
        {"pptp_sccrq", kEthernet, eth4().tcp(40000, 1723).raw(pptp_message(1)).bytes(), VpnKind::pptp},
        {"gre_enhanced", kEthernet, eth4().gre_enhanced(5, 1, 1).raw({0xff, 3, 0xc0, 0x21}).bytes(),
         VpnKind::gre},
        {"openvpn", 113,
         PacketBuilder().sll().ipv4("192.0.2.1", "198.51.100.2").udp(1194, 1194)
             .raw({0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0}).bytes(),
         VpnKind::openvpn},
        {"wireguard", 239,
         PacketBuilder().nflog().ipv4("192.0.2.1", "198.51.100.2").udp(51820, 51820)
             .raw(wireguard_initiation()).bytes(),
         VpnKind::wireguard},
        {"icmp_quote", kEthernet, eth4().icmp(3, 3).raw(quoted).bytes(), VpnKind::none},
    };
}

TEST(Truncation, EveryPrefixOfEveryFixtureIsAnAnomaly) {
    for (const auto& fixture : fixtures()) {
        Frame frame(fixture.frame);
        auto whole = dissect_packet(fixture.link_type, frame.bytes());
        ASSERT_EQ(whole.first_anomaly(), Anomaly::none)
            << fixture.name << ": " << anomaly_name(whole.first_anomaly());
        ASSERT_EQ(whole.kind(), fixture.kind) << fixture.name;
        // NFLOG pads its TLVs to 4 bytes: cutting only padding loses nothing.
        std::size_t meaningful = frame.data.size();
        if (fixture.link_type == 239) meaningful -= (4 - (meaningful % 4)) % 4;
        for (std::size_t cut = 0; cut < frame.data.size(); ++cut) {
            // Copy so ASan sees the exact end of the buffer.
            std::vector<std::byte> prefix(frame.data.begin(), frame.data.begin() + static_cast<long>(cut));
            auto summary = dissect_packet(fixture.link_type, view(prefix));
            if (cut < meaningful) {
                EXPECT_NE(summary.first_anomaly(), Anomaly::none) << fixture.name << " cut at " << cut;
            }
        }
    }
}

// The parsers themselves, fed the cut VPN payload directly (no IP length to catch the cut).
TEST(Truncation, ParsersRejectOrFlagEveryCut) {
    IkeProposal proposal{1, 1, {}, {IkeTransform::v2(4, 19)}};
    std::vector<std::pair<std::string, Buffer>> messages = {
        {"ike", IkeBuilder::v2(34).sa({proposal}).ke_v2(19).notify_v2(17, {0, 14}).bytes()},
        {"l2tp", L2tpBuilder::control(1).message_type(4).result_code(2, 1).bytes()},
        {"pptp", pptp_message(13)},
    };
    for (const auto& [name, bytes] : messages) {
        for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
            std::vector<std::byte> prefix = to_bytes(Buffer(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
            Bytes data = view(prefix);
            bool noticed = false;
            if (name == "ike") {
                auto m = ike::Message::parse(data);
                noticed = !m || m->validate() != Anomaly::none;
            } else if (name == "l2tp") {
                auto m = l2tp::Message::parse(data);
                noticed = !m || m->validate() != Anomaly::none;
            } else {
                noticed = !pptp::Message::parse(data);
            }
            EXPECT_TRUE(noticed) << name << " cut at " << cut;
        }
    }
}

}  // namespace
}  // namespace portcullis::dissect::testing
