#include <gtest/gtest.h>

#include <string>

#include "dissect/l2tp/l2tp.hpp"
#include "dissect/openvpn/openvpn.hpp"
#include "dissect/pptp/pptp.hpp"
#include "dissect/wireguard/wireguard.hpp"
#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

TEST(L2tp, V2ControlHeaderAndAvps) {
    Buffer tunnel_id = {0x00, 0x2a};
    Frame frame(L2tpBuilder::control(0, 0, 0, 0)
                    .message_type(l2tp::message::kSccrq)
                    .avp(l2tp::avp::kProtocolVersion, {1, 0})
                    .avp(l2tp::avp::kHostName, {'l', 'n', 's'})
                    .avp(l2tp::avp::kAssignedTunnelId, tunnel_id)
                    .bytes());
    auto message = l2tp::Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_EQ(message->version(), 2);
    EXPECT_TRUE(message->is_control());
    EXPECT_TRUE(message->has_length());
    EXPECT_TRUE(message->has_sequence());
    EXPECT_EQ(message->length(), frame.data.size());
    EXPECT_EQ(message->ns(), 0);
    EXPECT_EQ(message->nr(), 0);
    EXPECT_FALSE(message->is_zlb());
    EXPECT_EQ(message->message_type(), l2tp::message::kSccrq);
    EXPECT_EQ(l2tp::message_type_name(*message->message_type()), "SCCRQ");
    auto assigned = message->find_avp(l2tp::avp::kAssignedTunnelId);
    ASSERT_TRUE(assigned);
    EXPECT_EQ(assigned->value16(), 42);
    EXPECT_TRUE(assigned->mandatory);
    EXPECT_FALSE(assigned->hidden);
    EXPECT_FALSE(message->result_code());
    EXPECT_EQ(message->validate(), Anomaly::none);
    int count = 0;
    auto avps = message->avps();
    while (avps.next()) ++count;
    EXPECT_EQ(count, 4);
}

TEST(L2tp, StopCcnResultCode) {
    Frame frame(L2tpBuilder::control(42, 0, 3, 2).message_type(l2tp::message::kStopCcn)
                    .result_code(2, 6).bytes());
    auto message = l2tp::Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_EQ(message->tunnel_id(), 42u);
    EXPECT_EQ(message->ns(), 3);
    EXPECT_EQ(message->nr(), 2);
    auto result = message->result_code();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->result, 2);
    EXPECT_EQ(result->error, 6);
    Frame no_error(L2tpBuilder::control(1).message_type(l2tp::message::kCdn).result_code(3).bytes());
    auto cdn = l2tp::Message::parse(no_error.bytes())->result_code();
    ASSERT_TRUE(cdn);
    EXPECT_EQ(cdn->result, 3);
    EXPECT_FALSE(cdn->error);
}

TEST(L2tp, ZlbAndData) {
    Frame zlb(L2tpBuilder::control(7, 0, 1, 1).bytes());
    auto ack = l2tp::Message::parse(zlb.bytes());
    ASSERT_TRUE(ack);
    EXPECT_TRUE(ack->is_zlb());
    EXPECT_FALSE(ack->message_type());
    EXPECT_EQ(ack->validate(), Anomaly::none);
    Frame data(L2tpBuilder::data(7, 9, {0xff, 0x03, 0xc0, 0x21}).bytes());
    auto ppp = l2tp::Message::parse(data.bytes());
    ASSERT_TRUE(ppp);
    EXPECT_FALSE(ppp->is_control());
    EXPECT_EQ(ppp->tunnel_id(), 7u);
    EXPECT_EQ(ppp->session_id(), 9u);
    EXPECT_EQ(ppp->body().size(), 4u);
    EXPECT_FALSE(ppp->avps().next());
}

TEST(L2tp, DataWithOffsetPad) {
    Frame frame(Buffer{0x02, 0x02, 0, 1, 0, 2, 0, 2, 0xaa, 0xbb, 0xff, 0x03});
    auto message = l2tp::Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_EQ(message->body().size(), 2u);
    Frame bad(Buffer{0x02, 0x02, 0, 1, 0, 2, 0, 9, 0xaa});
    EXPECT_EQ(l2tp::Message::parse(bad.bytes()).error(), Anomaly::l2tp_bad_offset);
}

TEST(L2tp, V3ControlAndData) {
    Buffer control = {0xc8, 0x03, 0, 20, 0, 0, 0x12, 0x34, 0, 1, 0, 2,
                      0x80, 0x08, 0, 0, 0, 0, 0, 20};
    Frame c(control);
    auto message = l2tp::Message::parse(c.bytes());
    ASSERT_TRUE(message);
    EXPECT_EQ(message->version(), 3);
    EXPECT_EQ(message->tunnel_id(), 0x1234u);
    EXPECT_EQ(message->message_type(), l2tp::message::kV3Ack);
    EXPECT_EQ(message->validate(), Anomaly::none);
    Frame data(Buffer{0x00, 0x03, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2});
    auto d = l2tp::Message::parse(data.bytes());
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->is_control());
    EXPECT_EQ(d->session_id(), 0xdeadbeefu);
    EXPECT_EQ(d->body().size(), 2u);
}

TEST(L2tp, AvpAnomalies) {
    Frame hidden(L2tpBuilder::control(1).avp(0, {0, 1}, true, true).bytes());
    EXPECT_EQ(l2tp::Message::parse(hidden.bytes())->validate(), Anomaly::l2tp_message_type_hidden);
    EXPECT_FALSE(l2tp::Message::parse(hidden.bytes())->message_type());
    Frame missing(L2tpBuilder::control(1).result_code(1).bytes());
    EXPECT_EQ(l2tp::Message::parse(missing.bytes())->validate(), Anomaly::l2tp_message_type_missing);
    Frame short_avp(L2tpBuilder::control(1).message_type(4).raw({0x80, 0x03, 0, 0, 0, 1}).bytes());
    EXPECT_EQ(l2tp::Message::parse(short_avp.bytes())->validate(), Anomaly::l2tp_avp_bad_length);
    Frame overflow(L2tpBuilder::control(1).message_type(4).raw({0x80, 0x40, 0, 0, 0, 1, 0}).bytes());
    EXPECT_EQ(l2tp::Message::parse(overflow.bytes())->validate(), Anomaly::l2tp_avp_truncated);
    Frame tiny_result(L2tpBuilder::control(1).message_type(4).avp(1, {1}).bytes());
    EXPECT_EQ(l2tp::Message::parse(tiny_result.bytes())->validate(), Anomaly::l2tp_result_code_truncated);
    EXPECT_FALSE(l2tp::Message::parse(tiny_result.bytes())->result_code());
}

TEST(L2tp, HeaderAnomalies) {
    Frame t_without_l(Buffer{0x80, 0x02, 0, 1, 0, 0});
    EXPECT_EQ(l2tp::Message::parse(t_without_l.bytes()).error(), Anomaly::l2tp_control_missing_fields);
    Frame v5(Buffer{0xc8, 0x05, 0, 12});
    EXPECT_EQ(l2tp::Message::parse(v5.bytes()).error(), Anomaly::l2tp_bad_version);
    Buffer short_length = L2tpBuilder::control(1).message_type(1).bytes();
    set16(short_length, 2, 6);
    Frame s(short_length);
    EXPECT_EQ(l2tp::Message::parse(s.bytes()).error(), Anomaly::l2tp_bad_length);
    Frame one(Buffer{0xc8});
    EXPECT_EQ(l2tp::Message::parse(one.bytes()).error(), Anomaly::l2tp_truncated);
}

TEST(Pptp, AllFifteenControlTypesParseWithTheirFields) {
    for (std::uint16_t type = 1; type <= 15; ++type) {
        Frame frame(pptp_message(type));
        auto message = pptp::Message::parse(frame.bytes());
        ASSERT_TRUE(message) << type;
        EXPECT_EQ(message->control_type(), type);
        EXPECT_EQ(message->magic_cookie(), pptp::kMagicCookie);
        EXPECT_NE(pptp::control_type_name(type), "unknown");
        bool has_call = type == 7 || type == 8 || type == 9 || type == 10 || type == 12 || type == 13;
        bool has_peer = type == 8 || type == 10 || type == 11 || type == 14 || type == 15;
        bool has_result = type == 2 || type == 4 || type == 6 || type == 8 || type == 10 || type == 13;
        EXPECT_EQ(message->call_id().has_value(), has_call) << type;
        EXPECT_EQ(message->peer_call_id().has_value(), has_peer) << type;
        EXPECT_EQ(message->result_code().has_value(), has_result) << type;
        EXPECT_EQ(message->error_code().has_value(), has_result) << type;
    }
}

TEST(Pptp, OutgoingCallReplyFields) {
    Frame frame(pptp_message(pptp::control::kOcrp, {{12, 0x1111}, {14, 0x2222}, {18, 0x0003}},
                             {{16, 1}, {17, 0}}));
    auto ocrp = pptp::Message::parse(frame.bytes());
    ASSERT_TRUE(ocrp);
    EXPECT_EQ(ocrp->call_id(), 0x1111);
    EXPECT_EQ(ocrp->peer_call_id(), 0x2222);
    EXPECT_EQ(ocrp->result_code(), 1);
    EXPECT_EQ(ocrp->error_code(), 0);
    EXPECT_EQ(ocrp->cause_code(), 3);
    EXPECT_EQ(pptp::result_code_name(pptp::control::kOcrp, 1), "Connected");
    EXPECT_EQ(pptp::result_code_name(pptp::control::kSccrp, 4),
              "Requester is not authorized to establish a command channel");
    EXPECT_EQ(pptp::error_code_name(5), "Bad-Call ID");
}

TEST(Pptp, StartControlFields) {
    Buffer sccrq = pptp_message(pptp::control::kSccrq, {{12, 0x0100}, {18, 3}});
    sccrq[28] = 'p';
    sccrq[29] = 'c';
    Frame frame(sccrq);
    auto message = pptp::Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_EQ(message->protocol_version(), 0x0100);
    EXPECT_EQ(message->framing_capabilities(), 3u);
    EXPECT_EQ(message->host_name().size(), 2u);
    Frame cdn(pptp_message(pptp::control::kCdn, {{12, 77}, {16, 9}}, {{14, 3}}));
    auto c = pptp::Message::parse(cdn.bytes());
    EXPECT_EQ(c->call_id(), 77);
    EXPECT_EQ(c->result_code(), 3);
    EXPECT_EQ(c->cause_code(), 9);
    Frame stop(pptp_message(pptp::control::kStopCcrq, {}, {{12, 2}}));
    EXPECT_EQ(pptp::Message::parse(stop.bytes())->stop_reason(), 2);
    Frame echo(pptp_message(pptp::control::kEchoRq, {{12, 0xabcd}, {14, 0xef01}}));
    EXPECT_EQ(pptp::Message::parse(echo.bytes())->echo_identifier(), 0xabcdef01u);
}

TEST(Pptp, StreamOfMessagesInOneSegment) {
    Buffer segment = pptp_message(pptp::control::kIccn, {{12, 5}});
    put(segment, pptp_message(pptp::control::kSli, {{12, 5}}));
    Frame frame(segment);
    pptp::MessageStream stream(frame.bytes());
    EXPECT_EQ(stream.next()->control_type(), pptp::control::kIccn);
    EXPECT_EQ(stream.next()->control_type(), pptp::control::kSli);
    EXPECT_FALSE(stream.next());
    EXPECT_EQ(stream.anomaly(), Anomaly::none);
}

TEST(Pptp, Malformed) {
    Buffer bad_magic = pptp_message(1);
    bad_magic[7] = 0;
    Buffer mgmt = pptp_message(1);
    set16(mgmt, 2, 2);
    Buffer unknown = pptp_message(1);
    set16(unknown, 8, 16);
    Buffer short_length = pptp_message(1);
    set16(short_length, 0, 100);
    Buffer long_length = pptp_message(5);
    set16(long_length, 0, 400);
    struct Case {
        Buffer bytes;
        Anomaly expected;
    };
    for (const auto& c : std::vector<Case>{{bad_magic, Anomaly::pptp_bad_magic},
                                           {mgmt, Anomaly::pptp_bad_message_type},
                                           {unknown, Anomaly::pptp_unknown_control_type},
                                           {short_length, Anomaly::pptp_bad_length},
                                           {long_length, Anomaly::pptp_truncated},
                                           {Buffer(11, 0), Anomaly::pptp_truncated}}) {
        Frame frame(c.bytes);
        auto parsed = pptp::Message::parse(frame.bytes());
        ASSERT_FALSE(parsed);
        EXPECT_EQ(parsed.error(), c.expected);
    }
}

TEST(OpenVpn, Recogniser) {
    Buffer reset = {0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0};  // P_CONTROL_HARD_RESET_CLIENT_V2
    Frame udp(reset);
    auto packet = openvpn::Packet::parse_udp(udp.bytes());
    ASSERT_TRUE(packet);
    EXPECT_EQ(packet->opcode(), openvpn::opcode::kControlHardResetClientV2);
    EXPECT_EQ(packet->key_id(), 0);
    EXPECT_TRUE(packet->is_control());
    EXPECT_TRUE(packet->is_hard_reset_client());
    EXPECT_EQ(packet->session_id(), 0x0102030405060708ull);
    Buffer tcp = {0, static_cast<std::uint8_t>(reset.size())};
    put(tcp, reset);
    Frame t(tcp);
    EXPECT_EQ(openvpn::Packet::parse_tcp(t.bytes())->opcode(), 7);
    Frame data(Buffer{0x48, 0, 0, 1, 0xaa});
    auto d = openvpn::Packet::parse_udp(data.bytes());
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->is_control());
    EXPECT_FALSE(d->session_id());
    Frame bad(Buffer{0xf8, 0});
    EXPECT_EQ(openvpn::Packet::parse_udp(bad.bytes()).error(), Anomaly::openvpn_bad_opcode);
    Frame short_control(Buffer{0x38, 1, 2});
    EXPECT_EQ(openvpn::Packet::parse_udp(short_control.bytes()).error(), Anomaly::openvpn_truncated);
}

TEST(WireGuard, Recogniser) {
    Buffer initiation(148, 0x11);
    initiation[0] = 1;
    initiation[1] = initiation[2] = initiation[3] = 0;
    initiation[4] = 0x78; initiation[5] = 0x56; initiation[6] = 0x34; initiation[7] = 0x12;
    Frame i(initiation);
    auto message = wireguard::Message::parse(i.bytes());
    ASSERT_TRUE(message);
    EXPECT_EQ(message->type(), wireguard::Type::initiation);
    EXPECT_EQ(message->sender_index(), 0x12345678u);  // little-endian on the wire
    EXPECT_FALSE(message->receiver_index());
    Buffer transport(48, 0);
    transport[0] = 4;
    transport[8] = 5;
    Frame t(transport);
    auto data = wireguard::Message::parse(t.bytes());
    ASSERT_TRUE(data);
    EXPECT_EQ(data->counter(), 5u);
    Buffer bad_length = initiation;
    bad_length.pop_back();
    Frame b(bad_length);
    EXPECT_EQ(wireguard::Message::parse(b.bytes()).error(), Anomaly::wireguard_bad_length);
    Frame bad_type(Buffer{5, 0, 0, 0});
    EXPECT_EQ(wireguard::Message::parse(bad_type.bytes()).error(), Anomaly::wireguard_bad_type);
    Frame short_frame(Buffer{1, 0});
    EXPECT_EQ(wireguard::Message::parse(short_frame.bytes()).error(), Anomaly::wireguard_truncated);
}

}  // namespace
}  // namespace portcullis::dissect::testing
