#include <gtest/gtest.h>

#include "detect/escalation.hpp"
#include "detect/trw.hpp"

namespace portcullis::detect {
namespace {

Address addr(const char* text) { return *Address::parse(text); }

Contact probe(const char* source, std::uint16_t port, Outcome outcome,
              ProbeKind kind = ProbeKind::tcp_syn, std::uint32_t now = 100) {
    return Contact{addr(source), 6, port, outcome, kind, now};
}

TEST(Trw, FourStraightFailuresFlagAScannerThreeDoNot) {
    TrwDetector detector;
    for (std::uint16_t port = 1; port <= 3; ++port)
        EXPECT_FALSE(detector.observe(probe("203.0.113.66", port, Outcome::failure)));
    auto detection = detector.observe(probe("203.0.113.66", 4, Outcome::failure));
    ASSERT_TRUE(detection);
    EXPECT_STREQ(detection->reason, "trw");
    EXPECT_EQ(detection->failed_probes, 4);
    EXPECT_EQ(detection->dominant_kind, ProbeKind::tcp_syn);
    EXPECT_EQ(detector.stats().tracked, 0u);  // forgotten after detection: the caller bans it
}

TEST(Trw, DetectionListsTheFailedPortsOldestFirstWithoutTheSuccesses) {
    TrwDetector detector;
    EXPECT_FALSE(detector.observe(Contact{addr("203.0.113.7"), 17, 500, Outcome::success, ProbeKind::udp, 1}));
    for (std::uint16_t port : {23, 25, 80, 110, 143})
        if (auto detection = detector.observe(probe("203.0.113.7", port, Outcome::failure))) {
            std::vector<ContactKey> expected{{6, 23}, {6, 25}, {6, 80}, {6, 110}, {6, 143}};
            EXPECT_EQ(detection->failed_ports, expected);
            EXPECT_EQ(detection->failed_probes, 5);
            return;
        }
    ADD_FAILURE() << "five failures after one success must flag the source";
}

TEST(Trw, RetransmissionsToTheSamePortAreNotNewTrials) {
    TrwDetector detector;
    for (int i = 0; i < 50; ++i)
        EXPECT_FALSE(detector.observe(probe("203.0.113.5", 500, Outcome::failure)));
    EXPECT_EQ(detector.stats().repeated_contacts, 49u);
}

TEST(Trw, SuccessesOffsetFailures) {
    TrwDetector detector;
    // A legitimate VPN client: IKE and NAT-T succeed, then one stray closed port.
    EXPECT_FALSE(detector.observe(Contact{addr("198.51.100.20"), 17, 500, Outcome::success, ProbeKind::udp, 1}));
    EXPECT_FALSE(detector.observe(Contact{addr("198.51.100.20"), 17, 4500, Outcome::success, ProbeKind::udp, 1}));
    for (std::uint16_t port = 1; port <= 4; ++port)
        EXPECT_FALSE(detector.observe(probe("198.51.100.20", port, Outcome::failure)));
    // Two successes (×1/16) need two more failures (×16) to reach the same point.
    EXPECT_FALSE(detector.observe(probe("198.51.100.20", 5, Outcome::failure)));
    EXPECT_TRUE(detector.observe(probe("198.51.100.20", 6, Outcome::failure)));
}

TEST(Trw, SourcesAreIndependentAndIpv6Works) {
    TrwDetector detector;
    for (std::uint16_t port = 1; port <= 3; ++port) {
        EXPECT_FALSE(detector.observe(probe("2001:db8::1", port, Outcome::failure)));
        EXPECT_FALSE(detector.observe(probe("2001:db8::2", port, Outcome::failure)));
    }
    EXPECT_TRUE(detector.observe(probe("2001:db8::1", 9, Outcome::failure)));
    EXPECT_EQ(detector.stats().tracked, 1u);
}

TEST(Trw, DistinctPortsWindowIsASecondOpinion) {
    TrwSettings settings;
    settings.theta0 = 0.8;
    settings.theta1 = 0.7;  // a walk that barely moves
    settings.window_distinct_ports = 5;
    settings.window_seconds = 10;
    TrwDetector detector(settings);
    for (std::uint16_t port = 1; port <= 4; ++port)
        EXPECT_FALSE(detector.observe(probe("192.0.2.99", port, Outcome::failure, ProbeKind::udp, 50)));
    auto detection = detector.observe(probe("192.0.2.99", 5, Outcome::failure, ProbeKind::udp, 55));
    ASSERT_TRUE(detection);
    EXPECT_STREQ(detection->reason, "distinct-ports");
    EXPECT_EQ(detection->dominant_kind, ProbeKind::udp);
}

TEST(Trw, LruEvictionBoundsState) {
    TrwSettings settings;
    settings.max_sources = 8;
    TrwDetector detector(settings);
    for (int i = 0; i < 100; ++i) {
        Address source = addr("203.0.113.0");
        source.bytes[3] = static_cast<std::uint8_t>(i);
        detector.observe(Contact{source, 6, 1, Outcome::failure, ProbeKind::tcp_syn, 1});
    }
    EXPECT_EQ(detector.stats().tracked, 8u);
    EXPECT_EQ(detector.stats().evictions, 92u);
    // The most recent sources are still tracked: three more failures flag the newest one.
    Address newest = addr("203.0.113.99");
    for (std::uint16_t port = 2; port <= 3; ++port)
        EXPECT_FALSE(detector.observe(Contact{newest, 6, port, Outcome::failure, ProbeKind::tcp_syn, 2}));
    EXPECT_TRUE(detector.observe(Contact{newest, 6, 4, Outcome::failure, ProbeKind::tcp_syn, 2}));
}

TEST(Trw, StateStaysWithinBudget) {
    // 1M sources in at most 128 MiB (issue 5).
    EXPECT_LE(TrwDetector::bytes_per_source(), 128u);
}

TEST(Trw, LabelsNmapScanTypes) {
    EXPECT_EQ(classify_tcp_flags(0x02), ProbeKind::tcp_syn);
    EXPECT_EQ(classify_tcp_flags(0x01), ProbeKind::tcp_fin);
    EXPECT_EQ(classify_tcp_flags(0x00), ProbeKind::tcp_null);
    EXPECT_EQ(classify_tcp_flags(0x29), ProbeKind::tcp_xmas);
    EXPECT_EQ(classify_tcp_flags(0x10), ProbeKind::tcp_ack);
    EXPECT_EQ(classify_tcp_flags(0x12), ProbeKind::tcp_other);
    EXPECT_STREQ(to_string(ProbeKind::tcp_xmas), "tcp-xmas");
}

TEST(Escalation, DoublesUpToTheCapWithBoundedJitter) {
    EscalationSettings settings{60, 600, 0.10};
    auto middle = [] { return 0.5; };
    EXPECT_EQ(ban_seconds(settings, 1, middle), 60u);
    EXPECT_EQ(ban_seconds(settings, 2, middle), 120u);
    EXPECT_EQ(ban_seconds(settings, 4, middle), 480u);
    EXPECT_EQ(ban_seconds(settings, 5, middle), 600u);
    EXPECT_EQ(ban_seconds(settings, 1000, middle), 600u);
    EXPECT_EQ(ban_seconds(settings, 1, [] { return 0.0; }), 54u);
    EXPECT_EQ(ban_seconds(settings, 1, [] { return 0.999999; }), 66u);
    EXPECT_LE(ban_seconds(settings, 9, [] { return 0.999999; }), 600u);  // jitter never beats the cap
}

TEST(Escalation, Ipv6AggregationAndTrust) {
    auto prefix = ban_prefix(addr("2001:db8:1:2:3:4:5:6"), true);
    EXPECT_EQ(prefix.to_string(), "2001:db8:1:2::/64");
    EXPECT_EQ(ban_prefix(addr("2001:db8:1:2:3:4:5:6"), false).length, 128);
    EXPECT_EQ(ban_prefix(addr("203.0.113.9"), true).to_string(), "203.0.113.9/32");
    std::vector<Prefix> trusted{*Prefix::parse("203.0.113.10"), *Prefix::parse("2001:db8:aa::/48")};
    EXPECT_TRUE(is_trusted(addr("203.0.113.10"), trusted));
    EXPECT_TRUE(is_trusted(addr("2001:db8:aa::5"), trusted));
    EXPECT_FALSE(is_trusted(addr("203.0.113.11"), trusted));
}

}  // namespace
}  // namespace portcullis::detect
