// Diagnosis rules on hand-built sessions: each test builds the packets a real peer would send in
// one failure mode and checks the finding, its frames and the outcome.
#include <gtest/gtest.h>

#include "diagnose/rules.hpp"
#include "diagnose_test_util.hpp"

namespace portcullis::diagnose::testing {
namespace {

using dissect::testing::Buffer;
using dissect::testing::IkeBuilder;
using dissect::testing::IkeProposal;
using dissect::testing::IkeTransform;
using dissect::testing::L2tpBuilder;
using dissect::testing::PacketBuilder;
using dissect::testing::pptp_message;

constexpr const char* kClient = "198.51.100.7";
constexpr const char* kServer = "203.0.113.10";
constexpr std::uint64_t kSpiI = 0xa1a2a3a4a5a6a7a8ull;
constexpr std::uint64_t kSpiR = 0xb1b2b3b4b5b6b7b8ull;

Buffer nat_d(std::uint64_t spi_i, std::uint64_t spi_r, const char* address, std::uint16_t port,
             HashAlgorithm algorithm = HashAlgorithm::sha1) {
    Endpoint endpoint{*Address::parse(address), port};
    return detail::nat_d_hash(algorithm, spi_i, spi_r, endpoint);
}

IkeProposal ike_proposal(std::uint16_t group) {
    return IkeProposal{1, 1, {},
                       {IkeTransform::v2(1, 12, 256), IkeTransform::v2(2, 5), IkeTransform::v2(3, 12),
                        IkeTransform::v2(4, group)}};
}

PacketBuilder to_server(std::uint16_t sport = 500, std::uint16_t dport = 500) {
    return std::move(PacketBuilder().ipv4(kClient, kServer).udp(sport, dport));
}
PacketBuilder to_client(std::uint16_t sport = 500, std::uint16_t dport = 500) {
    return std::move(PacketBuilder().ipv4(kServer, kClient).udp(sport, dport));
}

// IKE_SA_INIT request and response with NAT-D computed over the given "real" addresses.
void sa_init(Scenario& s, const char* client_real = kClient, const char* server_real = kServer) {
    s.add(to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08)
                              .sa({ike_proposal(14)})
                              .ke_v2(14)
                              .nonce()
                              .notify_v2(16388, nat_d(kSpiI, 0, client_real, 500))
                              .notify_v2(16389, nat_d(kSpiI, 0, server_real, 500))));
    s.add(to_client().ike(IkeBuilder::v2(34, kSpiI, kSpiR, 0x20)
                              .sa({ike_proposal(14)})
                              .ke_v2(14)
                              .nonce()
                              .notify_v2(16388, nat_d(kSpiI, kSpiR, server_real, 500))
                              .notify_v2(16389, nat_d(kSpiI, kSpiR, kClient, 500))));
}

TEST(IkeRules, NatDetectedThenUdp4500NeverAnswered) {
    Scenario s;
    sa_init(s, "10.0.0.5");  // the client hashed its private address: NAT before this capture point
    for (int i = 0; i < 3; ++i) {
        s.add(to_server(4500, 4500).non_esp_marker().ike(
            IkeBuilder::v2(35, kSpiI, kSpiR, 0x08).message_id(1).encrypted_v2(35, 200)));
    }
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* nat = session->finding("nat-detected");
    ASSERT_NE(nat, nullptr);
    EXPECT_EQ(nat->frames, (std::vector<std::uint64_t>{1}));
    EXPECT_NE(nat->summary.find("the initiator is behind NAT"), std::string::npos) << nat->summary;
    const Finding* blocked = session->finding("ike-4500-unanswered");
    ASSERT_NE(blocked, nullptr);
    EXPECT_EQ(blocked->frames, (std::vector<std::uint64_t>{3, 4, 5}));
    EXPECT_NE(blocked->summary.find("NAT was detected"), std::string::npos);
    EXPECT_NE(blocked->advice.find("4500"), std::string::npos);
    EXPECT_TRUE(report.any_failure());
}

TEST(IkeRules, MatchingNatDMeansNoNat) {
    Scenario s;
    sa_init(s);
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(session->has_finding("no-nat"));
    EXPECT_FALSE(session->has_finding("nat-detected"));
}

TEST(IkeRules, AuthAnsweredButNothingFollowsIsLikelyRejected) {
    Scenario s;
    sa_init(s);
    s.add(to_server().ike(IkeBuilder::v2(35, kSpiI, kSpiR, 0x08).message_id(1).encrypted_v2(35, 300)));
    s.add(to_client().ike(IkeBuilder::v2(35, kSpiI, kSpiR, 0x20).message_id(1).encrypted_v2(41, 40)));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("ike-auth-likely-rejected");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{4}));
    EXPECT_NE(finding->summary.find("likely"), std::string::npos);
    EXPECT_NE(finding->summary.find("lone error notify"), std::string::npos);  // 72-byte answer
}

TEST(IkeRules, AuthAnsweredThenEspBothWaysIsEstablished) {
    Scenario s;
    sa_init(s);
    s.add(to_server().ike(IkeBuilder::v2(35, kSpiI, kSpiR, 0x08).message_id(1).encrypted_v2(35, 300)));
    s.add(to_client().ike(IkeBuilder::v2(35, kSpiI, kSpiR, 0x20).message_id(1).encrypted_v2(36, 250)));
    s.add(PacketBuilder().ipv4(kClient, kServer).esp(0xc0000001, 1));
    s.add(PacketBuilder().ipv4(kServer, kClient).esp(0xc0000002, 1));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::established);
    const Finding* esp = session->finding("esp-both-ways");
    ASSERT_NE(esp, nullptr);
    EXPECT_NE(esp->summary.find("0xc0000001"), std::string::npos);
    EXPECT_FALSE(report.any_failure());
    EXPECT_EQ(report.sessions.size(), 1u);  // the ESP belongs to the IKE SA
}

TEST(IkeRules, RawEspDespiteNatFlowingOneWay) {
    Scenario s;
    sa_init(s, "10.0.0.5");
    s.add(to_server().ike(IkeBuilder::v2(35, kSpiI, kSpiR, 0x08).message_id(1).encrypted_v2(35, 300)));
    s.add(to_client().ike(IkeBuilder::v2(35, kSpiI, kSpiR, 0x20).message_id(1).encrypted_v2(36, 250)));
    s.repeat(PacketBuilder().ipv4(kClient, kServer).esp(0xc0000001, 1), 4);
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(session->has_finding("esp-one-way"));
    const Finding* raw = session->finding("esp-raw-despite-nat");
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(raw->severity, Severity::failure);
    EXPECT_EQ(session->outcome, Outcome::recovered);  // established, but with a failure finding
}

TEST(IkeRules, NoProposalChosenShowsTheOffer) {
    Scenario s;
    s.add(to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08).sa({ike_proposal(31)}).ke_v2(31).nonce()));
    s.add(to_client().ike(IkeBuilder::v2(34, kSpiI, 0, 0x20).notify_v2(14)));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("ike-no-proposal-chosen");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_NE(finding->summary.find("AES_CBC-256"), std::string::npos) << finding->summary;
    EXPECT_NE(finding->summary.find("responder's own proposals are not in the capture"), std::string::npos);
}

TEST(IkeRules, InvalidKeNeverRetriedIsAFailure) {
    Scenario s;
    s.add(to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08).sa({ike_proposal(2)}).ke_v2(2).nonce()));
    s.add(to_client().ike(IkeBuilder::v2(34, kSpiI, 0, 0x20).notify_v2(17, {0x00, 0x13})));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("ike-invalid-ke");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->severity, Severity::failure);
    EXPECT_NE(finding->summary.find("rejected DH group 2 and asked for group 19"), std::string::npos)
        << finding->summary;
    EXPECT_NE(finding->summary.find("never retried"), std::string::npos);
}

TEST(IkeRules, InvalidKeRetriedIsRecovered) {
    Scenario s;
    s.add(to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08).sa({ike_proposal(2)}).ke_v2(2).nonce()));
    s.add(to_client().ike(IkeBuilder::v2(34, kSpiI, 0, 0x20).notify_v2(17, {0x00, 0x0e})));
    s.add(to_server().ike(IkeBuilder::v2(34, kSpiI + 1, 0, 0x08).sa({ike_proposal(14)}).ke_v2(14).nonce()));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::recovered);
    const Finding* finding = session->finding("ike-invalid-ke");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{2, 3}));
    EXPECT_NE(finding->summary.find("retried with group 14"), std::string::npos);
}

TEST(IkeRules, InvalidSyntaxIsReported) {
    Scenario s;
    s.add(to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08).sa({ike_proposal(14)}).ke_v2(14).nonce()));
    s.add(to_client().ike(IkeBuilder::v2(34, kSpiI, 0, 0x20).notify_v2(7)));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    const Finding* finding = session->finding("ike-invalid-syntax");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{2}));
    EXPECT_EQ(session->outcome, Outcome::failed);
}

IkeProposal v1_proposal() {
    IkeTransform transform;
    transform.id = 1;  // KEY_IKE
    transform.tv(1, 7).tv(14, 128).tv(2, 2).tv(3, 1).tv(4, 14);
    return IkeProposal{1, 1, {}, {transform}};
}

void main_mode_1_to_4(Scenario& s) {
    s.add(to_server().ike(IkeBuilder::v1(2, kSpiI, 0).sa({v1_proposal()})));
    s.add(to_client().ike(IkeBuilder::v1(2, kSpiI, kSpiR).sa({v1_proposal()})));
    s.add(to_server().ike(IkeBuilder::v1(2, kSpiI, kSpiR)
                              .payload(4, Buffer(128, 0x42))
                              .nonce()
                              .payload(20, nat_d(kSpiI, kSpiR, kServer, 500))
                              .payload(20, nat_d(kSpiI, kSpiR, kClient, 500))));
    s.add(to_client().ike(IkeBuilder::v1(2, kSpiI, kSpiR)
                              .payload(4, Buffer(128, 0x43))
                              .nonce()
                              .payload(20, nat_d(kSpiI, kSpiR, kClient, 500))
                              .payload(20, nat_d(kSpiI, kSpiR, kServer, 500))));
}

TEST(IkeRules, Ikev1AuthenticationFailedNotify) {
    Scenario s;
    main_mode_1_to_4(s);
    s.add(to_server().ike(IkeBuilder::v1(2, kSpiI, kSpiR, 0x01).payload(5, Buffer(60, 0xee))));
    s.add(to_client().ike(IkeBuilder::v1(5, kSpiI, kSpiR).notify_v1(24)));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv1");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("ike-authentication-failed");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{6}));
    EXPECT_NE(finding->advice.find("pre-shared key"), std::string::npos);
    EXPECT_TRUE(session->has_finding("no-nat"));  // SHA1 NAT-D from the chosen transform matches
}

TEST(IkeRules, Ikev1MainMode5RetransmittedIsLikelyPskMismatch) {
    Scenario s;
    main_mode_1_to_4(s);
    s.repeat(to_server().ike(IkeBuilder::v1(2, kSpiI, kSpiR, 0x01).payload(5, Buffer(60, 0xee))), 3);
    Report report = s.run();
    const Session* session = find_session(report, "IKEv1");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("ikev1-main-mode-5-unanswered");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{5, 6, 7}));
    EXPECT_NE(finding->summary.find("pre-shared key mismatch (likely"), std::string::npos);
}

TEST(IkeRules, Ikev1NatDWithoutTheChosenHashIsUnverified) {
    Scenario s;
    // Only message 3 (NAT-D) is captured: the hash algorithm is unknown.
    s.add(to_server().ike(IkeBuilder::v1(2, kSpiI, kSpiR)
                              .payload(4, Buffer(128, 0x42))
                              .payload(20, nat_d(kSpiI, kSpiR, kServer, 500))));
    Report report = s.run();
    const Session* session = find_session(report, "IKEv1");
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(session->has_finding("nat-d-unverified"));
    EXPECT_FALSE(session->has_finding("nat-detected"));
}

TEST(IkeRules, IcmpPortUnreachableExplainsTheSilence) {
    Scenario s;
    PacketBuilder request = to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08).sa({ike_proposal(14)}).ke_v2(14));
    s.add(request);
    Buffer quoted = request.bytes();
    quoted.resize(28);
    s.add(PacketBuilder().ipv4(kServer, kClient).icmp(3, 3).raw(quoted));
    s.add(request);
    Report report = s.run();
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* icmp = session->finding("icmp-unreachable");
    ASSERT_NE(icmp, nullptr);
    EXPECT_EQ(icmp->frames, (std::vector<std::uint64_t>{2}));
    EXPECT_NE(icmp->summary.find("port unreachable"), std::string::npos);
    EXPECT_EQ(session->cause, icmp->summary);  // the ICMP error is the root cause
}

TEST(L2tpRules, SccrqRetransmittedWithoutSccrp) {
    Scenario s;
    s.repeat(PacketBuilder().ipv4(kClient, kServer).udp(1701, 1701).l2tp(
                 L2tpBuilder::control(0).message_type(1).avp(9, {0x12, 0x34})),
             3);
    Report report = s.run();
    const Session* session = find_session(report, "L2TP");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("l2tp-sccrq-unanswered");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(session->id, "tunnel 4660/?");
}

TEST(L2tpRules, StopCcnNotAuthorized) {
    Scenario s;
    s.add(PacketBuilder().ipv4(kClient, kServer).udp(1701, 1701).l2tp(
        L2tpBuilder::control(0).message_type(1).avp(9, {0x12, 0x34})));
    s.add(PacketBuilder().ipv4(kServer, kClient).udp(1701, 1701).l2tp(
        L2tpBuilder::control(0x1234).message_type(2).avp(9, {0x00, 0x07})));
    s.add(PacketBuilder().ipv4(kServer, kClient).udp(1701, 1701).l2tp(
        L2tpBuilder::control(0x1234).message_type(4).avp(9, {0x00, 0x07}).result_code(4)));
    Report report = s.run();
    const Session* session = find_session(report, "L2TP");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("l2tp-stopccn");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{3}));
    EXPECT_NE(finding->summary.find("not authorized"), std::string::npos);
    EXPECT_NE(finding->summary.find("LNS"), std::string::npos);
    EXPECT_EQ(session->id, "tunnel 4660/7");
}

TEST(L2tpRules, CallDisconnectedAfterConnectWithGeneralError) {
    Scenario s;
    auto lac = [] { return std::move(PacketBuilder().ipv4(kClient, kServer).udp(1701, 1701)); };
    auto lns = [] { return std::move(PacketBuilder().ipv4(kServer, kClient).udp(1701, 1701)); };
    s.add(lac().l2tp(L2tpBuilder::control(0).message_type(1).avp(9, {0x00, 0x05})));
    s.add(lns().l2tp(L2tpBuilder::control(5).message_type(2).avp(9, {0x00, 0x08})));
    s.add(lac().l2tp(L2tpBuilder::control(8).message_type(3)));
    s.add(lac().l2tp(L2tpBuilder::control(8).message_type(10).avp(14, {0x00, 0x21})));
    s.add(lns().l2tp(L2tpBuilder::control(5, 0x21).message_type(11).avp(14, {0x00, 0x42})));
    s.add(lac().l2tp(L2tpBuilder::control(8, 0x42).message_type(12)));
    s.add(lns().l2tp(L2tpBuilder::control(5, 0x21).message_type(14).result_code(2, 6)));
    Report report = s.run();
    const Session* session = find_session(report, "L2TP");
    ASSERT_NE(session, nullptr);
    const Finding* cdn = session->finding("l2tp-cdn");
    ASSERT_NE(cdn, nullptr);
    EXPECT_TRUE(contains(cdn->frames, 7));
    EXPECT_NE(cdn->summary.find("after it connected"), std::string::npos) << cdn->summary;
    EXPECT_NE(cdn->summary.find("vendor-specific error"), std::string::npos);
    EXPECT_EQ(session->outcome, Outcome::recovered);  // the tunnel came up, the call then failed
}

// A "normal" CDN (result 1) right after ICCN: with no PPP frame in the tunnel the call never
// worked; with PPP frames in between it is an ordinary close.
Report l2tp_call_closed_normally(bool with_ppp) {
    Scenario s;
    auto lac = [] { return std::move(PacketBuilder().ipv4(kClient, kServer).udp(1701, 1701)); };
    auto lns = [] { return std::move(PacketBuilder().ipv4(kServer, kClient).udp(1701, 1701)); };
    s.add(lac().l2tp(L2tpBuilder::control(0).message_type(1).avp(9, {0x00, 0x05})));
    s.add(lns().l2tp(L2tpBuilder::control(5).message_type(2).avp(9, {0x00, 0x08})));
    s.add(lac().l2tp(L2tpBuilder::control(8).message_type(3)));
    s.add(lac().l2tp(L2tpBuilder::control(8).message_type(10).avp(14, {0x00, 0x21})));
    s.add(lns().l2tp(L2tpBuilder::control(5, 0x21).message_type(11).avp(14, {0x00, 0x42})));
    s.add(lac().l2tp(L2tpBuilder::control(8, 0x42).message_type(12)));
    if (with_ppp) {
        s.add(lac().l2tp(L2tpBuilder::data(8, 0x42, {0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04})));
        s.add(lns().l2tp(L2tpBuilder::data(5, 0x21, {0xff, 0x03, 0xc0, 0x21, 0x02, 0x01, 0x00, 0x04})));
    }
    s.add(lns().l2tp(L2tpBuilder::control(5, 0x21).message_type(14).result_code(1)));
    return s.run();
}

TEST(L2tpRules, CallClosedRightAfterIccnWithoutPppIsAFailure) {
    Report report = l2tp_call_closed_normally(false);
    const Session* session = find_session(report, "L2TP");
    ASSERT_NE(session, nullptr);
    const Finding* no_ppp = session->finding("l2tp-call-no-ppp");
    ASSERT_NE(no_ppp, nullptr);
    EXPECT_EQ(no_ppp->frames, (std::vector<std::uint64_t>{4, 6, 7}));
    EXPECT_NE(no_ppp->summary.find("disconnected 1 s later"), std::string::npos) << no_ppp->summary;
    EXPECT_EQ(session->outcome, Outcome::failed);
    EXPECT_TRUE(report.any_failure());
}

TEST(L2tpRules, CallClosedAfterPppFramesIsANormalClose) {
    Report report = l2tp_call_closed_normally(true);
    const Session* session = find_session(report, "L2TP");
    ASSERT_NE(session, nullptr);
    EXPECT_FALSE(session->has_finding("l2tp-call-no-ppp"));
    EXPECT_TRUE(session->has_finding("l2tp-call-closed"));
    EXPECT_EQ(session->outcome, Outcome::established);
    EXPECT_FALSE(report.any_failure());
}

// PPTP control connection helpers.
PacketBuilder pptp_to_server(std::uint8_t flags = 0x18) {
    return std::move(PacketBuilder().ipv4(kClient, kServer).tcp(40000, 1723, flags));
}
PacketBuilder pptp_to_client(std::uint8_t flags = 0x18) {
    return std::move(PacketBuilder().ipv4(kServer, kClient).tcp(1723, 40000, flags));
}

void pptp_control_up(Scenario& s) {
    s.add(pptp_to_server(0x02));
    s.add(pptp_to_client(0x12));
    s.add(pptp_to_server(0x10));
    s.add(pptp_to_server().raw(pptp_message(1)));
    s.add(pptp_to_client().raw(pptp_message(2, {{12, 0x0100}}, {{14, 1}})));
}

TEST(PptpRules, Port1723NeverAnswered) {
    Scenario s;
    s.repeat(pptp_to_server(0x02), 3);
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("pptp-1723-unanswered");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(PptpRules, RefusedWithReset) {
    Scenario s;
    s.add(pptp_to_server(0x02));
    s.add(pptp_to_client(0x14));
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    const Finding* finding = session->finding("pptp-refused");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(session->outcome, Outcome::failed);
}

TEST(PptpRules, ControlConnectionRefused) {
    Scenario s;
    s.add(pptp_to_server(0x02));
    s.add(pptp_to_client(0x12));
    s.add(pptp_to_server().raw(pptp_message(1)));
    s.add(pptp_to_client().raw(pptp_message(2, {{12, 0x0100}}, {{14, 4}})));
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    const Finding* finding = session->finding("pptp-sccrp-refused");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{3, 4}));
    EXPECT_NE(finding->summary.find("not authorized"), std::string::npos);
}

TEST(PptpRules, CallRefusedByOcrp) {
    Scenario s;
    pptp_control_up(s);
    s.add(pptp_to_server().raw(pptp_message(7, {{12, 5}})));
    s.add(pptp_to_client().raw(pptp_message(8, {{12, 9}, {14, 5}}, {{16, 4}})));
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    const Finding* finding = session->finding("pptp-call-refused");
    ASSERT_NE(finding, nullptr);
    EXPECT_NE(finding->summary.find("busy"), std::string::npos);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{6, 7}));
}

TEST(PptpRules, GreOnlyOneWayAfterConnectedCall) {
    Scenario s;
    pptp_control_up(s);
    s.add(pptp_to_server().raw(pptp_message(7, {{12, 5}})));
    s.add(pptp_to_client().raw(pptp_message(8, {{12, 9}, {14, 5}}, {{16, 1}})));
    s.repeat(PacketBuilder().ipv4(kClient, kServer).gre_enhanced(9, 1).raw({0xff, 0x03, 0xc0, 0x21}), 4);
    s.add(PacketBuilder().ipv4(kClient, kServer).gre_enhanced(77, 1).raw({0xff, 0x03}));  // other call
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::failed);
    const Finding* finding = session->finding("pptp-gre-one-way");
    ASSERT_NE(finding, nullptr);
    EXPECT_NE(finding->summary.find("(4 packets)"), std::string::npos) << finding->summary;
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{7, 8}));
}

TEST(PptpRules, GreBothWaysIsEstablished) {
    Scenario s;
    pptp_control_up(s);
    s.add(pptp_to_server().raw(pptp_message(7, {{12, 5}})));
    s.add(pptp_to_client().raw(pptp_message(8, {{12, 9}, {14, 5}}, {{16, 1}})));
    s.add(PacketBuilder().ipv4(kClient, kServer).gre_enhanced(9, 1).raw({0xff, 0x03}));
    s.add(PacketBuilder().ipv4(kServer, kClient).gre_enhanced(5, 1).raw({0xff, 0x03}));
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::established);
    EXPECT_TRUE(session->has_finding("pptp-call-up"));
    EXPECT_FALSE(report.any_failure());
}

TEST(PptpRules, IcmpProtocolUnreachableForGreAttachesToTheCall) {
    Scenario s;
    pptp_control_up(s);
    s.add(pptp_to_server().raw(pptp_message(7, {{12, 5}})));
    s.add(pptp_to_client().raw(pptp_message(8, {{12, 9}, {14, 5}}, {{16, 1}})));
    PacketBuilder gre = std::move(PacketBuilder().ipv4(kClient, kServer).gre_enhanced(9, 1).raw({0xff, 0x03}));
    s.add(gre);
    Buffer quoted = gre.bytes();
    quoted.resize(28);
    s.add(PacketBuilder().ipv4(kServer, kClient).icmp(3, 2).raw(quoted));
    Report report = s.run();
    const Session* session = find_session(report, "PPTP");
    ASSERT_NE(session, nullptr);
    const Finding* icmp = session->finding("icmp-unreachable");
    ASSERT_NE(icmp, nullptr);
    EXPECT_EQ(icmp->frames, (std::vector<std::uint64_t>{9}));
    EXPECT_NE(icmp->advice.find("PPTP conntrack helper"), std::string::npos);
    EXPECT_EQ(session->outcome, Outcome::failed);
}

TEST(Limits, SessionCapIsHitAndSaid) {
    TrackerLimits limits;
    limits.max_sessions = 2;
    Scenario s(limits);
    for (std::uint64_t i = 0; i < 5; ++i) {
        s.add(to_server().ike(IkeBuilder::v2(34, kSpiI + i, 0, 0x08).sa({ike_proposal(14)})));
    }
    Report report = s.run();
    EXPECT_EQ(report.sessions.size(), 2u);
    EXPECT_TRUE(report.session_cap_hit);
    EXPECT_EQ(report.sessions_not_tracked, 3u);
    EXPECT_NE(render_text(report).find("session limit reached"), std::string::npos);
}

TEST(Report, TextNamesOutcomeCauseFramesAndAdvice) {
    Scenario s;
    s.repeat(to_server().ike(IkeBuilder::v2(34, kSpiI, 0, 0x08).sa({ike_proposal(14)})), 2);
    std::string text = render_text(s.run());
    EXPECT_NE(text.find("FAILED"), std::string::npos) << text;
    EXPECT_NE(text.find("frames: 1, 2"), std::string::npos) << text;
    EXPECT_NE(text.find("advice: UDP 500 is blocked"), std::string::npos) << text;
}

}  // namespace
}  // namespace portcullis::diagnose::testing
