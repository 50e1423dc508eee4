// Expected findings on the public captures in ../shared/captures (see its README for what each
// one shows). Frame numbers are tshark's.
#include <gtest/gtest.h>

#include "diagnose_test_util.hpp"

namespace portcullis::diagnose::testing {
namespace {

TEST(SharedCaptures, Ikev2InitiatorOnlyIsUnansweredOn500) {
    Report report = diagnose_file(shared_capture("tcpdump/ikev2pI2.pcap"));
    ASSERT_EQ(report.sessions.size(), 1u);
    const Session& session = report.sessions[0];
    EXPECT_EQ(session.protocol, "IKEv2");
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("ike-no-answer-500");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->severity, Severity::failure);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(session.initiator.address.to_string(), "192.1.2.45");
    EXPECT_EQ(session.responder.to_string(), "192.1.2.23:500");
    // Frame 2 carries the responder's SPI: the report must say the capture may be one-way.
    EXPECT_TRUE(session.has_finding("one-direction-capture"));
    EXPECT_TRUE(report.any_failure());
}

TEST(SharedCaptures, IpsecCapNoProposalChosenThenRecovered) {
    Report report = diagnose_file(shared_capture("zeek-spicy-ipsec/ipsec.cap"));
    const Session* session = find_session(report, "IKEv1");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::recovered);
    const Finding* finding = session->finding("ike-no-proposal-chosen");
    ASSERT_NE(finding, nullptr);
    EXPECT_TRUE(contains(finding->frames, 3));
    // Both offers are shown: the initiator's (frame 1) and the responder's (frame 2).
    EXPECT_NE(finding->summary.find("initiator offered (frame 1)"), std::string::npos) << finding->summary;
    EXPECT_NE(finding->summary.find("responder proposed (frame 2)"), std::string::npos);
    EXPECT_NE(finding->summary.find("3DES/SHA1/PSK/modp1024"), std::string::npos);
    EXPECT_TRUE(session->has_finding("esp-both-ways"));
    EXPECT_TRUE(session->has_finding("no-nat"));  // NAT-D (MD5/SHA per the SA) matches
    EXPECT_FALSE(session->has_finding("ike-request-unanswered"));  // QM3 needs no answer
    EXPECT_FALSE(report.any_failure());
}

TEST(SharedCaptures, NdpiInvalidKeThenRetryWithRequestedGroup) {
    Report report = diagnose_file(shared_capture("ndpi/ipsec_isakmp_esp.pcap"));
    int invalid_ke = 0;
    for (const Session& session : report.sessions) {
        const Finding* finding = session.finding("ike-invalid-ke");
        if (finding == nullptr) continue;
        ++invalid_ke;
        EXPECT_EQ(session.outcome, Outcome::recovered) << session.id;
        EXPECT_EQ(finding->severity, Severity::info);
        EXPECT_NE(finding->summary.find("asked for group 14"), std::string::npos) << finding->summary;
        EXPECT_NE(finding->summary.find("retried with group 14"), std::string::npos) << finding->summary;
        EXPECT_TRUE(contains(finding->frames, 263) || contains(finding->frames, 619) ||
                    contains(finding->frames, 704));
    }
    EXPECT_EQ(invalid_ke, 3);
    int established = 0;
    for (const Session& session : report.sessions) established += session.outcome == Outcome::established;
    EXPECT_GE(established, 30);
    EXPECT_FALSE(report.any_failure());
}

TEST(SharedCaptures, IpsecClientFragmentedIkeAuthLostWithoutFragmentation) {
    Report report = diagnose_file(shared_capture("zeek-spicy-ipsec/ipsec_client.pcap"));
    ASSERT_EQ(report.sessions.size(), 1u);
    const Session& session = report.sessions[0];
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("ike-ip-fragments-lost");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 9, 10, 11}));
    EXPECT_NE(finding->summary.find("sent 3 times"), std::string::npos) << finding->summary;
    EXPECT_NE(finding->summary.find("IKEV2_FRAGMENTATION_SUPPORTED"), std::string::npos);
    EXPECT_EQ(session.cause, finding->summary);
    // NAT-D: the responder saw the client at another address than 192.168.0.10:500.
    const Finding* nat = session.finding("nat-detected");
    ASSERT_NE(nat, nullptr);
    EXPECT_EQ(nat->frames, (std::vector<std::uint64_t>{2}));
    EXPECT_NE(nat->summary.find("initiator is behind NAT"), std::string::npos);
}

TEST(SharedCaptures, NdpiPptpCallConnectedButNoGre) {
    Report report = diagnose_file(shared_capture("ndpi/pptp.pcap"));
    ASSERT_EQ(report.sessions.size(), 1u);
    const Session& session = report.sessions[0];
    EXPECT_EQ(session.protocol, "PPTP");
    EXPECT_EQ(session.outcome, Outcome::failed);
    const Finding* finding = session.finding("pptp-no-gre");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->frames, (std::vector<std::uint64_t>{8, 10}));  // OCRQ, OCRP
    EXPECT_EQ(session.id, "call 0/11755");
    EXPECT_FALSE(session.has_finding("pptp-reset"));  // the final RST follows the teardown
}

TEST(SharedCaptures, Isakmp4500IsNatTraversalSuccess) {
    Report report = diagnose_file(shared_capture("tcpdump/isakmp4500.pcap"));
    ASSERT_EQ(report.sessions.size(), 1u);
    const Session& session = report.sessions[0];
    EXPECT_EQ(session.protocol, "IKEv1");
    EXPECT_EQ(session.outcome, Outcome::established);
    const Finding* natt = session.finding("nat-t");
    ASSERT_NE(natt, nullptr);
    EXPECT_EQ(natt->frames, (std::vector<std::uint64_t>{7}));  // first message on 4500
    EXPECT_TRUE(session.has_finding("nat-detected"));
    EXPECT_FALSE(report.any_failure());
}

TEST(SharedCaptures, TcpdumpPptpSingleGrePacketIsNotCalledAFailure) {
    Report report = diagnose_file(shared_capture("tcpdump/pptp.pcap"));
    ASSERT_EQ(report.sessions.size(), 1u);
    const Session& session = report.sessions[0];
    const Finding* finding = session.finding("pptp-gre-sparse");
    ASSERT_NE(finding, nullptr);
    EXPECT_EQ(finding->severity, Severity::warning);
    EXPECT_TRUE(contains(finding->frames, 16));
    EXPECT_NE(session.outcome, Outcome::failed);
}

TEST(SharedCaptures, Ikev2FourWithCookieIsEstablished) {
    Report report = diagnose_file(shared_capture("tcpdump/ikev2four.pcap"));
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::established);
    const Finding* cookie = session->finding("ike-cookie");
    ASSERT_NE(cookie, nullptr);
    EXPECT_EQ(cookie->frames, (std::vector<std::uint64_t>{2, 3}));
    // Frame 21 belongs to an SA set up before the capture: not a failure.
    const Session* later = find_session(report, "IKEv2", 1);
    ASSERT_NE(later, nullptr);
    EXPECT_EQ(later->outcome, Outcome::incomplete);
    EXPECT_FALSE(report.any_failure());
}

TEST(SharedCaptures, SuccessfulIkev1CapturesAreEstablished) {
    for (const char* name : {"tcpdump/ISAKMP_sa_setup.pcap", "zeek-spicy-ipsec/ipsec-ikev1-isakmp-main-mode.pcap",
                             "zeek-spicy-ipsec/ipsec-ikev1-isakmp-aggressive-mode.pcap",
                             "zeek-spicy-ipsec/ikev1-certs.pcap"}) {
        Report report = diagnose_file(shared_capture(name));
        const Session* session = find_session(report, "IKEv1");
        ASSERT_NE(session, nullptr) << name;
        EXPECT_EQ(session->outcome, Outcome::established) << name << ": " << session->cause;
    }
}

TEST(SharedCaptures, NdpiEspPcapngIsEstablished) {
    Report report = diagnose_file(shared_capture("ndpi/esp.pcapng"));
    const Session* session = find_session(report, "IKEv2");
    ASSERT_NE(session, nullptr);
    EXPECT_EQ(session->outcome, Outcome::established);
    EXPECT_TRUE(session->has_finding("esp-both-ways"));
}

TEST(SharedCaptures, OneWayRawEspIsReportedAsOneWay) {
    Report report = diagnose_file(shared_capture("tcpdump/02-sunrise-sunset-esp.pcap"));
    const Session* session = find_session(report, "ESP");
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(session->has_finding("esp-one-way"));
    EXPECT_TRUE(session->has_finding("esp-without-ike"));
    EXPECT_EQ(session->outcome, Outcome::incomplete);  // no evidence of a failure either way
}

TEST(SharedCaptures, MalformedCapturesAreSurvivedAndCounted) {
    std::uint64_t malformed = 0;
    for (const char* name :
         {"tcpdump/l2tp-avp-overflow.pcap", "tcpdump/isakmp-rfc3948-oobr.pcap", "tcpdump/isakmp-3948-oobr-2.pcap",
          "tcpdump/isakmp-various-oobr.pcap", "tcpdump/isakmpv1-attr-oobr.pcap", "tcpdump/isakmp-pointer-loop.pcap",
          "tcpdump/isakmp-delete-segfault.pcap", "tcpdump/isakmp-identification-segfault.pcap",
          "tcpdump/isakmp-ikev1_n_print-oobr.pcap", "tcpdump/ikev1_id_ipv6_addr_subnet-oobr.pcap",
          "tcpdump/gre-heapoverflow-1.pcap", "tcpdump/gre-heapoverflow-2.pcap", "tcpdump/esp_truncated.pcap",
          "zeek-spicy-ipsec/ipsec-ikev1-payload-bad-length.pcap", "zeek-spicy-ipsec/ipsec-ikev1-zero-length.pcap"}) {
        Report report = diagnose_file(shared_capture(name));
        EXPECT_GT(report.frames, 0u) << name;
        malformed += report.malformed;
    }
    EXPECT_GT(malformed, 0u);
}

}  // namespace
}  // namespace portcullis::diagnose::testing
