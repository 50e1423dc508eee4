// Diagnoses of failing sessions recorded with real strongSwan peers in the lab
// (lab/fixtures/make_diagnose_fixtures.sh wrote tests/fixtures/diagnose/*.pcap).
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

}  // namespace
}  // namespace portcullis::diagnose::testing
