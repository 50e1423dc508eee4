// Scan detection wired to the runtime state: logged drops in, bans (through the recording kernel
// fake) and events out. No root, no sockets.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compile/compile.hpp"
#include "daemon/scan_detection.hpp"
#include "kernel/netlink_recording_writer.hpp"
#include "policy/load.hpp"

namespace portcullis::daemon {
namespace {

constexpr std::uint8_t kSyn = 0x02, kFin = 0x01, kPsh = 0x08, kUrg = 0x20, kAck = 0x10, kRst = 0x04;

void put16(std::vector<std::byte>& out, std::size_t at, std::uint16_t value) {
    out[at] = std::byte(value >> 8);
    out[at + 1] = std::byte(value & 0xff);
}

// IP header (v4 or v6 by the source's family) + a TCP or UDP header, checksums left zero.
std::vector<std::byte> packet(const char* source, std::uint8_t protocol, std::uint16_t port, std::uint8_t flags = kSyn) {
    Address from = *Address::parse(source);
    std::size_t l4 = protocol == 6 ? 20 : 8;
    std::vector<std::byte> out;
    std::size_t ip;
    if (from.family == Family::ipv4) {
        ip = 20;
        out.assign(ip + l4, std::byte{0});
        out[0] = std::byte{0x45};
        put16(out, 2, static_cast<std::uint16_t>(ip + l4));
        out[8] = std::byte{64};
        out[9] = std::byte{protocol};
        for (int i = 0; i < 4; ++i) out[12 + i] = std::byte{from.bytes[i]};
        out[16] = std::byte{192}, out[17] = std::byte{0}, out[18] = std::byte{2}, out[19] = std::byte{1};
    } else {
        ip = 40;
        out.assign(ip + l4, std::byte{0});
        out[0] = std::byte{0x60};
        put16(out, 4, static_cast<std::uint16_t>(l4));
        out[6] = std::byte{protocol};
        out[7] = std::byte{64};
        for (int i = 0; i < 16; ++i) out[8 + i] = std::byte{from.bytes[i]};
        out[24] = std::byte{0x20}, out[25] = std::byte{0x01}, out[26] = std::byte{0x0d}, out[27] = std::byte{0xb8};
        out[39] = std::byte{1};
    }
    put16(out, ip, 40000);
    put16(out, ip + 2, port);
    if (protocol == 6) {
        out[ip + 12] = std::byte{0x50};
        out[ip + 13] = std::byte{flags};
        put16(out, ip + 14, 1024);
    } else {
        put16(out, ip + 4, 8);
    }
    return out;
}

class ScanDetectionTest : public ::testing::Test {
protected:
    ScanDetectionTest()
        : batcher_(fake_),
          runtime_(batcher_, events_, [this] { return now_; }),
          scan_(runtime_, events_, [this] { return now_; }, [] { return 0.5; }) {  // 0.5: no jitter
        fake_.create_set("ban4");
        fake_.create_set("ban6");
        events_path_ = ::testing::TempDir() + "scan_events_" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl";
        std::remove(events_path_.c_str());
        EXPECT_TRUE(events_.open_file(events_path_));
        configure("");
    }

    void configure(const std::string& extra_detect, const std::string& rest = "", const char* base = "10s") {
        auto loaded = policy::load_string("[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlog_drops = 3\n\n[detect]\nban_base = \"" +
                                              std::string(base) + "\"\n" + extra_detect + "\n" + rest,
                                          "test.toml");
        std::string problems;
        for (const auto& d : loaded.diagnostics) problems += policy::format(d) + "\n";
        ASSERT_TRUE(loaded.ok()) << problems;
        scan_.configure(scan_detection_config(*loaded.policy));
    }

    void drop(const char* source, std::uint8_t protocol, std::uint16_t port, std::uint8_t flags = kSyn,
              const char* prefix = compile::kLogPrefixClosed) {
        auto bytes = packet(source, protocol, port, flags);
        intake::NflogPacket logged;
        logged.prefix = prefix;
        logged.payload = bytes;
        scan_.on_packet(logged);
    }

    std::vector<nlohmann::json> events_of(const std::string& type) {
        std::vector<nlohmann::json> out;
        std::FILE* file = std::fopen(events_path_.c_str(), "r");
        if (!file) return out;
        char line[8192];
        while (std::fgets(line, sizeof line, file)) {
            auto event = nlohmann::json::parse(line);
            if (event["type"] == type) out.push_back(event);
        }
        std::fclose(file);
        return out;
    }

    std::chrono::milliseconds ban_timeout(const char* set, const char* prefix) {
        auto& elements = fake_.sets[set];
        auto it = elements.find(*Prefix::parse(prefix));
        return it == elements.end() ? std::chrono::milliseconds(-1) : it->second;
    }

    kernel::RecordingSetWriter fake_;
    SetBatcher batcher_;
    EventLog events_;
    std::string events_path_;
    std::int64_t now_ = 1'000'000;
    RuntimeState runtime_;
    ScanDetection scan_;
};

TEST_F(ScanDetectionTest, FourClosedPortsBanTheSourceWithTheScanType) {
    for (std::uint16_t port : {21, 23, 25}) drop("203.0.113.66", 6, port, kFin);
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
    drop("203.0.113.66", 6, 80, kFin);
    batcher_.flush();
    EXPECT_EQ(ban_timeout("ban4", "203.0.113.66/32"), std::chrono::milliseconds(10'000));
    auto detected = events_of("scan_detected");
    ASSERT_EQ(detected.size(), 1u);
    EXPECT_EQ(detected[0]["source"], "203.0.113.66");
    EXPECT_EQ(detected[0]["probes"], 4);
    EXPECT_EQ(detected[0]["scan_type"], "tcp-fin");
    EXPECT_EQ(detected[0]["reason"], "trw");
    EXPECT_EQ(detected[0]["ports"], (nlohmann::json{"tcp/21", "tcp/23", "tcp/25", "tcp/80"}));
    auto added = events_of("ban_added");
    ASSERT_EQ(added.size(), 1u);
    EXPECT_EQ(added[0]["reason"], "scan");
    EXPECT_EQ(scan_.counters().bans_placed, 1u);
    EXPECT_EQ(runtime_.active_bans_by_reason().at("scan"), 1u);
}

TEST_F(ScanDetectionTest, ScanTypesAreLabelledFromTheFlags) {
    struct Case {
        const char* source;
        std::uint8_t protocol;
        std::uint8_t flags;
        const char* label;
    };
    for (const Case& c : {Case{"203.0.113.1", 6, kSyn, "tcp-syn"}, Case{"203.0.113.2", 6, 0, "tcp-null"},
                          Case{"203.0.113.3", 6, kFin | kPsh | kUrg, "tcp-xmas"},
                          Case{"203.0.113.4", 6, kAck, "tcp-ack"}, Case{"203.0.113.5", 17, 0, "udp"}})
        for (std::uint16_t port = 1000; port < 1004; ++port) drop(c.source, c.protocol, port, c.flags);
    batcher_.flush();
    auto detected = events_of("scan_detected");
    ASSERT_EQ(detected.size(), 5u);
    EXPECT_EQ(detected[0]["scan_type"], "tcp-syn");
    EXPECT_EQ(detected[1]["scan_type"], "tcp-null");
    EXPECT_EQ(detected[2]["scan_type"], "tcp-xmas");
    EXPECT_EQ(detected[3]["scan_type"], "tcp-ack");
    EXPECT_EQ(detected[4]["scan_type"], "udp");
    EXPECT_EQ(detected[4]["ports"][0], "udp/1000");
    EXPECT_EQ(fake_.sets["ban4"].size(), 5u);
}

TEST_F(ScanDetectionTest, RepeatOffencesDoubleTheBanUpToTheCap) {
    configure("ban_cap = \"30s\"");
    std::vector<std::chrono::milliseconds> durations;
    for (int round = 0; round < 3; ++round) {
        for (std::uint16_t port = 1; port <= 4; ++port) drop("198.51.100.9", 6, port);
        batcher_.flush();
        durations.push_back(ban_timeout("ban4", "198.51.100.9/32"));
        now_ += 3600;                        // the ban ran out...
        fake_.sets["ban4"].clear();          // ...in the kernel
        runtime_.expire_bans();
    }
    EXPECT_EQ(durations, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(10'000),
                                                                  std::chrono::milliseconds(20'000),
                                                                  std::chrono::milliseconds(30'000)}));
    auto detected = events_of("scan_detected");
    ASSERT_EQ(detected.size(), 3u);
    EXPECT_EQ(detected[2]["offence"], 3);
    EXPECT_EQ(runtime_.ban_offences(*Prefix::parse("198.51.100.9/32")), 3u);
}

TEST_F(ScanDetectionTest, OffencesComeBackFromTheStateFile) {
    DaemonState saved;
    saved.bans.push_back(BanRecord{*Prefix::parse("198.51.100.9/32"), now_ - 7200, now_ - 3600, 2, 20, "scan"});
    runtime_.restore(saved, {});
    for (std::uint16_t port = 1; port <= 4; ++port) drop("198.51.100.9", 6, port);
    batcher_.flush();
    EXPECT_EQ(ban_timeout("ban4", "198.51.100.9/32"), std::chrono::milliseconds(40'000));  // third offence
}

TEST_F(ScanDetectionTest, JitterStaysWithinTheConfiguredFraction) {
    ScanDetection jittery(runtime_, events_, [this] { return now_; }, [] { return 0.0; });  // lowest draw
    auto loaded = policy::load_string("[firewall]\nmode = \"host\"\nwan = \"eth0\"\nlog_drops = 3\n[detect]\nban_base = \"100s\"\njitter = 0.2\n", "t");
    ASSERT_TRUE(loaded.ok());
    jittery.configure(scan_detection_config(*loaded.policy));
    for (std::uint16_t port = 1; port <= 4; ++port) {
        auto p = packet("203.0.113.77", 6, port);
        intake::NflogPacket logged;
        logged.prefix = compile::kLogPrefixService;
        logged.payload = p;
        jittery.on_packet(logged);
    }
    batcher_.flush();
    EXPECT_EQ(ban_timeout("ban4", "203.0.113.77/32"), std::chrono::milliseconds(80'000));  // 100 s − 20%
}

TEST_F(ScanDetectionTest, ManagementAndTrustedSourcesAreNeverBanned) {
    configure("", R"([management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]

[[service]]
name = "partners"
ports = ["tcp/8443"]
allow_from = ["198.51.100.0/24"]
trusted = true
)");
    for (std::uint16_t port = 1; port <= 30; ++port) {
        drop("203.0.113.10", 6, port);
        drop("198.51.100.50", 17, port);
    }
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
    EXPECT_TRUE(events_of("scan_detected").empty());
    EXPECT_EQ(scan_.counters().trusted, 60u);
}

TEST_F(ScanDetectionTest, SuccessesOffsetFailuresOfALegitimateClient) {
    scan_.on_new_connection(*Address::parse("198.51.100.20"), 17, 500);
    scan_.on_new_connection(*Address::parse("198.51.100.20"), 17, 4500);
    scan_.on_new_connection(*Address::parse("198.51.100.20"), 17, 500);  // reconnect: not a new trial
    for (std::uint16_t port : {53, 123, 137, 5353}) drop("198.51.100.20", 17, port, 0);
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
    EXPECT_EQ(scan_.counters().successes, 3u);
    EXPECT_EQ(scan_.trw_stats().repeated_contacts, 1u);
}

TEST_F(ScanDetectionTest, RetransmissionsToOneClosedPortNeverBan) {
    for (int i = 0; i < 100; ++i) drop("198.51.100.21", 17, 500, 0);
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
}

TEST_F(ScanDetectionTest, BackscatterFloodDropsAndOtherPrefixesAreNotProbes) {
    for (std::uint16_t port = 1; port <= 10; ++port) {
        drop("203.0.113.90", 6, port, kSyn | kAck);
        drop("203.0.113.91", 6, port, kRst);
        drop("203.0.113.92", 6, port, kSyn, compile::kLogPrefixFlood);
    }
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
    EXPECT_EQ(scan_.counters().backscatter, 20u);
    EXPECT_EQ(scan_.counters().not_a_probe, 10u);
}

TEST_F(ScanDetectionTest, GarbageIsCountedNotFatal) {
    const std::vector<std::vector<std::byte>> garbage{
        {}, {std::byte{0x45}}, std::vector<std::byte>(20, std::byte{0x45}), std::vector<std::byte>(60, std::byte{0xff})};
    for (const auto& bytes : garbage) {
        intake::NflogPacket logged;
        logged.prefix = compile::kLogPrefixClosed;
        logged.payload = bytes;
        scan_.on_packet(logged);
    }
    auto truncated = packet("203.0.113.5", 6, 80);
    truncated.resize(24);  // TCP header cut short
    intake::NflogPacket logged;
    logged.prefix = compile::kLogPrefixClosed;
    logged.payload = truncated;
    scan_.on_packet(logged);
    EXPECT_EQ(scan_.counters().failures, 0u);
    EXPECT_EQ(scan_.counters().undecodable + scan_.counters().not_a_probe, 5u);
}

TEST_F(ScanDetectionTest, Ipv6ScannersAreBannedPerAddressOrPer64) {
    for (std::uint16_t port = 1; port <= 4; ++port) drop("2001:db8:5::1", 6, port);
    batcher_.flush();
    EXPECT_EQ(ban_timeout("ban6", "2001:db8:5::1/128"), std::chrono::milliseconds(10'000));

    configure("ipv6_prefix = 64");
    // Four different addresses of one /64, one probe each: one scanner.
    drop("2001:db8:6::1", 6, 1);
    drop("2001:db8:6::2", 6, 2);
    drop("2001:db8:6::3", 6, 3);
    drop("2001:db8:6::4", 6, 4);
    batcher_.flush();
    EXPECT_EQ(ban_timeout("ban6", "2001:db8:6::/64"), std::chrono::milliseconds(10'000));
    auto detected = events_of("scan_detected");
    ASSERT_EQ(detected.size(), 2u);
    EXPECT_EQ(detected[1]["prefix"], "2001:db8:6::/64");
    EXPECT_EQ(detected[1]["source"], "2001:db8:6::4");
}

TEST_F(ScanDetectionTest, A64HoldingATrustedAddressBansOnlyTheScanner) {
    configure("ipv6_prefix = 64", "[management]\nsources = [\"2001:db8:7::10\"]\nports = [\"tcp/22\"]\n");
    for (std::uint16_t port = 1; port <= 4; ++port) drop("2001:db8:7::66", 6, port);
    batcher_.flush();
    EXPECT_EQ(ban_timeout("ban6", "2001:db8:7::66/128"), std::chrono::milliseconds(10'000));
    EXPECT_EQ(fake_.sets["ban6"].size(), 1u);
}

TEST_F(ScanDetectionTest, ProbesInFlightAfterTheBanAreNotANewOffence) {
    configure("", "", "60s");
    for (std::uint16_t port = 1; port <= 8; ++port) drop("203.0.113.44", 6, port);  // 2nd detection before flush
    batcher_.flush();
    for (std::uint16_t port = 9; port <= 12; ++port) drop("203.0.113.44", 6, port);  // logged before the ban landed
    batcher_.flush();
    EXPECT_EQ(events_of("scan_detected").size(), 1u);
    EXPECT_EQ(events_of("ban_added").size(), 1u);
    EXPECT_EQ(scan_.counters().already_banned, 8u);  // ports 5-12: not fed to a new walk

    now_ += kScanRebanGraceSeconds + 1;  // still banned, flagged again later: refreshed, escalated
    for (std::uint16_t port = 13; port <= 16; ++port) drop("203.0.113.44", 6, port);
    batcher_.flush();
    auto detected = events_of("scan_detected");
    ASSERT_EQ(detected.size(), 2u);
    EXPECT_EQ(detected[1]["refresh"], true);
    EXPECT_EQ(ban_timeout("ban4", "203.0.113.44/32"), std::chrono::milliseconds(120'000));
}

TEST_F(ScanDetectionTest, DisabledDetectionIgnoresEverything) {
    configure("enabled = false");
    for (std::uint16_t port = 1; port <= 10; ++port) drop("203.0.113.8", 6, port);
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
    EXPECT_FALSE(scan_.enabled());
}

TEST_F(ScanDetectionTest, TrackedSourcesAreBoundedAndEvictionsCounted) {
    configure("max_sources = 2");
    drop("203.0.113.1", 6, 1);
    drop("203.0.113.2", 6, 1);
    drop("203.0.113.3", 6, 1);  // evicts .1, the least recently seen
    EXPECT_EQ(scan_.trw_stats().tracked, 2u);
    EXPECT_EQ(scan_.trw_stats().evictions, 1u);
    MetricsText text;
    scan_.write_metrics(text);
    EXPECT_NE(text.text().find("portcullis_detect_evicted_sources_total 1\n"), std::string::npos) << text.text();
}

TEST_F(ScanDetectionTest, AReloadKeepsTheWalksUnlessTheTrwSettingsChange) {
    for (std::uint16_t port = 1; port <= 3; ++port) drop("203.0.113.9", 6, port);
    configure("ban_cap = \"1d\"");  // escalation settings only: walks survive
    drop("203.0.113.9", 6, 4);
    batcher_.flush();
    EXPECT_EQ(events_of("scan_detected").size(), 1u);
    for (std::uint16_t port = 1; port <= 3; ++port) drop("203.0.113.10", 6, port);
    configure("theta1 = 0.3");  // a different walk: start over
    drop("203.0.113.10", 6, 4);
    batcher_.flush();
    EXPECT_EQ(events_of("scan_detected").size(), 1u);
}

TEST_F(ScanDetectionTest, MetricsNameTrackedEvictedDetectionsAndBans) {
    for (std::uint16_t port = 1; port <= 4; ++port) drop("203.0.113.66", 6, port);
    drop("203.0.113.67", 6, 1);
    batcher_.flush();
    MetricsText text;
    scan_.write_metrics(text);
    const std::string out = text.text();
    EXPECT_NE(out.find("portcullis_detect_tracked_sources 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("portcullis_detect_evicted_sources_total 0\n"), std::string::npos) << out;
    EXPECT_NE(out.find("portcullis_detect_detections_total{reason=\"trw\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("portcullis_detect_bans_total{result=\"placed\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("portcullis_detect_scan_types_total{type=\"tcp-syn\"} 1\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace portcullis::daemon
