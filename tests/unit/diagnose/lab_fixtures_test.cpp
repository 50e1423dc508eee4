// Diagnoses of failing sessions recorded with real strongSwan and xl2tpd peers in the lab
// (lab/fixtures/make_diagnose_fixtures.sh wrote the IKE captures in tests/fixtures/diagnose/,
// lab/fixtures/make_l2tp_fixtures.sh the l2tp-*.pcap ones).
#include <gtest/gtest.h>

#include "diagnose_test_util.hpp"

namespace portcullis::diagnose::testing {
namespace {

Report fixture(const std::string& name) {
    return diagnose_file(std::string(PC_SOURCE_ROOT) + "/tests/fixtures/diagnose/" + name);
}

const Session& only_session(const Report& report) {
    EXPECT_EQ(report.sessions.size(), 1u);
    static const Session empty;
    return report.sessions.empty() ? empty : report.sessions.front();
}

TEST(LabFixtures, Ikev2WrongPskIsLikelyRejectedAuthentication) {
    Report report = fixture("ikev2-wrong-psk.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("ike-auth-likely-rejected");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{4}));
    EXPECT_NE(finding->summary.find("only 80 bytes"), std::string::npos) << finding->summary;
    EXPECT_TRUE(report.any_failure());
}

TEST(LabFixtures, Ikev2ProposalMismatchShowsTheInitiatorsOffer) {
    Report report = fixture("ikev2-proposal-mismatch.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("ike-no-proposal-chosen");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2}));
    // The client offered aes128-sha256-modp3072.
    EXPECT_NE(finding->summary.find("AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/modp3072"), std::string::npos)
        << finding->summary;
}

TEST(LabFixtures, Ikev2Blocked500IsUnanswered) {
    Report report = fixture("ikev2-blocked-500.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("ike-no-answer-500");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(session.cause, finding->summary);
}

TEST(LabFixtures, Ikev1WrongPskIsRejectedMainMode5) {
    Report report = fixture("ikev1-wrong-psk.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.protocol, "IKEv1");
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("ikev1-main-mode-5-rejected");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10}));
    EXPECT_NE(finding->summary.find("pre-shared key mismatch"), std::string::npos);
}

TEST(LabFixtures, Ikev2ChildRefusedIsNotCalledAnAuthenticationFailure) {
    Report report = fixture("ikev2-child-refused.pcap");
    const Session& session = only_session(report);
    EXPECT_FALSE(session.has_finding("ike-auth-likely-rejected"));
    const Finding* finding = session.finding("ike-no-child-traffic");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{4}));
    EXPECT_EQ(session.outcome, Outcome::incomplete);
}

TEST(LabFixtures, Ikev2SuccessWithPingIsEstablished) {
    Report report = fixture("ikev2-success.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.outcome, Outcome::established);
    EXPECT_TRUE(session.has_finding("esp-both-ways"));
    EXPECT_TRUE(session.has_finding("nat-t"));  // kernel-libipsec forces UDP encapsulation
    EXPECT_FALSE(report.any_failure());
}

// ---- L2TP (xl2tpd LAC 192.0.2.1 → LNS 192.0.2.2; control plane only, the kernel has no PPP) ----

TEST(LabFixtures, L2tpBlocked1701IsSccrqUnanswered) {
    Report report = fixture("l2tp-blocked-1701.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.protocol, "L2TP");
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("l2tp-sccrq-unanswered");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->severity, Severity::failure);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_NE(finding->summary.find("SCCRQ sent 4 times to 192.0.2.2:1701 without an SCCRP"), std::string::npos)
        << finding->summary;
    EXPECT_EQ(session.initiator.to_string(), "192.0.2.1:1701");
    EXPECT_TRUE(report.any_failure());
}

TEST(LabFixtures, L2tpChallengeMismatchIsStopCcnWithTheResultCode) {
    Report report = fixture("l2tp-auth-failure.pcap");
    const Session& session = only_session(report);
    EXPECT_EQ(session.outcome, Outcome::failed);
    EXPECT_FALSE(session.has_finding("l2tp-sccrq-unanswered"));  // the SCCRP came (frame 2)
    const Finding* finding = session.finding("l2tp-stopccn");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{4}));
    EXPECT_NE(finding->summary.find("the LAC (initiator) closed the tunnel"), std::string::npos) << finding->summary;
    EXPECT_NE(finding->summary.find("Invalid challenge authentication"), std::string::npos) << finding->summary;
    EXPECT_NE(finding->advice.find("secret"), std::string::npos) << finding->advice;
}

TEST(LabFixtures, L2tpSessionTornDownByCdnAfterIccn) {
    Report report = fixture("l2tp-session-cdn.pcap");
    const Session& session = only_session(report);
    EXPECT_FALSE(session.has_finding("l2tp-stopccn"));
    EXPECT_FALSE(session.has_finding("l2tp-sccrq-unanswered"));
    // The tunnel is up (SCCRQ 1, SCCRP 2, SCCCN 3); the call (ICRQ 4, ICRP 6, ICCN 8) ends with the
    // LNS's CDN at frame 10, "loss of carrier" (pppd could not start).
    const Finding* cdn = session.finding("l2tp-call-closed");
    ASSERT_NE(cdn, nullptr) << (session.findings.empty() ? "" : session.findings.front().code);
    EXPECT_EQ(cdn->frames, (std::vector<std::uint64_t>{4, 8, 10}));
    EXPECT_NE(cdn->summary.find("after it connected, frame 8"), std::string::npos) << cdn->summary;
    // 27.4 ms between ICCN and CDN and no L2TP data message: PPP never ran.
    const Finding* no_ppp = session.finding("l2tp-call-no-ppp");
    ASSERT_NE(no_ppp, nullptr);
    EXPECT_EQ(no_ppp->severity, Severity::failure);
    EXPECT_EQ(no_ppp->frames, (std::vector<std::uint64_t>{4, 8, 10}));
    EXPECT_NE(no_ppp->summary.find("disconnected 27 ms later"), std::string::npos) << no_ppp->summary;
    EXPECT_EQ(session.outcome, Outcome::failed);
    EXPECT_EQ(session.cause, no_ppp->summary);
}

}  // namespace
}  // namespace portcullis::diagnose::testing
