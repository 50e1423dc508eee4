// The daemon's SPA observer: logged IP/UDP packets in, grants and named outcomes out. Packets are
// made by our own fwknop-format client (auth/spa_client) with the keys of the policy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "auth/spa_client.hpp"
#include "compile/compile.hpp"
#include "daemon/spa_intake.hpp"
#include "daemon/state_file.hpp"
#include "policy/load.hpp"

namespace portcullis::daemon {
namespace {

constexpr const char* kKey = "bhvkmHEp/5IZJyAoO4R7JONqwtDzY5R+jZ0NKylDDI8=";
constexpr const char* kHmac =
    "rM7KtwvE0DHGduo1pEA22D74q48Ry22tbvOHGQD5dqwWksbf+EwfQDmrnVih8ha2FTkr2KhsP2bT0fHg2IaebA==";
constexpr const char* kOtherKey = "rtp8ghH7Zg+KeuRXsAgBuMMcz+jMy471DQYBqXO7k2c=";
constexpr const char* kOtherHmac =
    "xkMswFuWuU1HtmovacQbcQA8AO4+xBJedxLIfFjD7pTFn9oqUayamNE9VRpOBq0hoRgzGl8frYsBsFkLJ16NEg==";
constexpr std::int64_t kNow = 1'800'000'000;

std::string policy_text(const std::string& key_extra = "") {
    return std::string(R"([firewall]
mode = "host"
wan = "eth0"
[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]
[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "spa"
[[service]]
name = "vpn"
preset = "ipsec"
allow_from = ["any"]
guard = "spa"
[[service]]
name = "web"
ports = ["tcp/443"]
allow_from = ["any"]
guard = "spa"
[spa]
log_group = 77
[[spa.key]]
name = "alice"
key = ")") + kKey + "\"\nhmac_key = \"" + kHmac + "\"\nservices = [\"ssh\", \"vpn\"]\nmax_open = \"10m\"\n" + key_extra;
}

policy::Policy load_policy(const std::string& text) {
    auto result = policy::load_string(text, "spa.toml");
    std::string errors;
    for (const auto& d : result.diagnostics) errors += policy::format(d) + "\n";
    EXPECT_TRUE(result.ok()) << errors;
    return result.ok() ? *result.policy : policy::Policy{};
}

struct Granted {
    std::string address;
    std::string service;
    std::uint32_t seconds;
};

// IPv4 or IPv6 header + UDP header around a payload, as NFLOG hands it over.
std::vector<std::byte> ip_udp(const std::string& source, const std::string& payload) {
    auto address = *Address::parse(source);
    std::vector<std::uint8_t> out;
    const std::size_t udp_length = 8 + payload.size();
    if (address.family == Family::ipv4) {
        const std::size_t total = 20 + udp_length;
        out = {0x45, 0, static_cast<std::uint8_t>(total >> 8), static_cast<std::uint8_t>(total), 0, 1, 0x40, 0,
               64,   17, 0, 0};
        out.insert(out.end(), address.bytes.begin(), address.bytes.begin() + 4);
        out.insert(out.end(), {192, 0, 2, 1});
    } else {
        out = {0x60, 0, 0, 0, static_cast<std::uint8_t>(udp_length >> 8), static_cast<std::uint8_t>(udp_length), 17, 64};
        out.insert(out.end(), address.bytes.begin(), address.bytes.end());
        auto destination = *Address::parse("2001:db8::1");
        out.insert(out.end(), destination.bytes.begin(), destination.bytes.end());
    }
    out.insert(out.end(), {0xc0, 0x01, 0xf2, 0xf9, static_cast<std::uint8_t>(udp_length >> 8),
                           static_cast<std::uint8_t>(udp_length), 0, 0});
    out.insert(out.end(), payload.begin(), payload.end());
    std::vector<std::byte> bytes(out.size());
    std::memcpy(bytes.data(), out.data(), out.size());
    return bytes;
}

std::string packet(const std::string& access, std::int64_t now = kNow, std::int64_t offset = 0,
                   const char* key = kKey, const char* hmac = kHmac, std::optional<std::uint32_t> timeout = {},
                   const std::string& allow = "0.0.0.0") {
    auth::SpaRequest request;
    request.access = *auth::parse_access_argument(access);
    request.username = "alice";
    request.time_offset = offset;
    request.timeout = timeout;
    request.allow_address = allow;
    auto wire = auth::build_spa_packet(request, *auth::key_material_from_base64(key, hmac), now);
    EXPECT_TRUE(wire) << (wire ? "" : wire.error().message);
    return wire ? *wire : std::string();
}

class SpaIntakeTest : public ::testing::Test {
protected:
    SpaIntakeTest()
        : intake_(events_,
                  [this](const Address& address, const std::string& service, std::uint32_t seconds,
                         std::function<void(const std::string*)> done) -> Result<void> {
                      granted_.push_back({address.to_string(), service, seconds});
                      done(nullptr);
                      return {};
                  },
                  [this] { return now_; }) {}

    void configure(const std::string& text = policy_text()) {
        auto configured = intake_.configure(load_policy(text));
        ASSERT_TRUE(configured) << configured.error().message;
    }
    void feed(const std::string& source, const std::string& wire) {
        auto bytes = ip_udp(source, wire);
        intake_.handle(Bytes(bytes.data(), bytes.size()));
    }
    std::uint64_t outcome(const std::string& name) const { return intake_.outcomes().at(name); }

    EventLog events_;
    std::vector<Granted> granted_;
    std::int64_t now_ = kNow;
    SpaIntake intake_;
};

TEST_F(SpaIntakeTest, ValidPacketGrantsItsSourceForTheKeysMaximum) {
    configure();
    EXPECT_EQ(intake_.group(), std::optional<std::uint16_t>{77});
    feed("203.0.113.10", packet("tcp/22"));
    ASSERT_EQ(granted_.size(), 1u);
    EXPECT_EQ(granted_[0].address, "203.0.113.10");
    EXPECT_EQ(granted_[0].service, "ssh");
    EXPECT_EQ(granted_[0].seconds, 600u);
    EXPECT_EQ(outcome(kSpaOutcomeGranted), 1u);
    EXPECT_EQ(events_.counts().at(event::kSpaAccepted), 1u);
    EXPECT_TRUE(intake_.replay_dirty());
    EXPECT_EQ(intake_.replay_entries(), 1u);
    // The daemon flushes the grant at once when told so, once.
    EXPECT_TRUE(intake_.take_granted());
    EXPECT_FALSE(intake_.take_granted());
}

TEST_F(SpaIntakeTest, ClientTimeoutIsCappedByTheKey) {
    configure();
    feed("203.0.113.10", packet("tcp/22", kNow, 0, kKey, kHmac, 30));
    feed("203.0.113.11", packet("tcp/22", kNow, 0, kKey, kHmac, 7200));
    ASSERT_EQ(granted_.size(), 2u);
    EXPECT_EQ(granted_[0].seconds, 30u);
    EXPECT_EQ(granted_[1].seconds, 600u);
}

TEST_F(SpaIntakeTest, Udp500OpensTheWholeIpsecService) {
    configure();
    feed("203.0.113.10", packet("udp/500"));
    ASSERT_EQ(granted_.size(), 1u);
    EXPECT_EQ(granted_[0].service, "vpn");
}

TEST_F(SpaIntakeTest, IPv6SourceIsGranted) {
    configure();
    feed("2001:db8:5::10", packet("tcp/22", kNow, 0, kKey, kHmac, std::nullopt, "::"));
    ASSERT_EQ(granted_.size(), 1u);
    EXPECT_EQ(granted_[0].address, "2001:db8:5::10");
}

TEST_F(SpaIntakeTest, ReplayOfTheSameBytesIsRefused) {
    configure();
    auto wire = packet("tcp/22");
    feed("203.0.113.10", wire);
    feed("203.0.113.10", wire);
    feed("198.51.100.99", wire);  // from elsewhere too
    EXPECT_EQ(granted_.size(), 1u);
    EXPECT_EQ(outcome("replay"), 2u);
    EXPECT_EQ(events_.counts().at(event::kSpaRejected), 2u);
}

TEST_F(SpaIntakeTest, ReplayCacheSurvivesThroughItsJson) {
    configure();
    auto wire = packet("tcp/22");
    feed("203.0.113.10", wire);
    std::string saved = intake_.replay_json();

    EventLog other_events;
    std::size_t grants = 0;
    SpaIntake restarted(
        other_events,
        [&](const Address&, const std::string&, std::uint32_t, std::function<void(const std::string*)>) -> Result<void> {
            ++grants;
            return {};
        },
        [] { return kNow + 60; });
    ASSERT_TRUE(restarted.configure(load_policy(policy_text())));
    ASSERT_TRUE(restarted.load_replay(saved, kNow + 60));
    auto bytes = ip_udp("203.0.113.10", wire);
    restarted.handle(Bytes(bytes.data(), bytes.size()));
    EXPECT_EQ(grants, 0u);
    EXPECT_EQ(restarted.outcomes().at("replay"), 1u);
}

TEST_F(SpaIntakeTest, ReplayEntriesLastAtLeastTwiceTheWindow) {
    configure();
    auto wire = packet("tcp/22");
    feed("203.0.113.10", wire);
    now_ = kNow + 239;  // 2 x 120 s - 1: still remembered (and the packet would be stale anyway)
    feed("203.0.113.10", wire);
    EXPECT_EQ(outcome("replay"), 1u);
    EXPECT_EQ(outcome("stale"), 0u);
}

TEST_F(SpaIntakeTest, StaleBothDirections) {
    configure();
    feed("203.0.113.10", packet("tcp/22", kNow, -121));
    feed("203.0.113.10", packet("tcp/22", kNow, +121));
    EXPECT_EQ(granted_.size(), 0u);
    EXPECT_EQ(outcome("stale"), 2u);
    feed("203.0.113.10", packet("tcp/22", kNow, -119));
    EXPECT_EQ(granted_.size(), 1u);
}

TEST_F(SpaIntakeTest, WrongHmacKeyIsBadHmac) {
    configure();
    feed("203.0.113.10", packet("tcp/22", kNow, 0, kKey, kOtherHmac));
    feed("203.0.113.10", packet("tcp/22", kNow, 0, kOtherKey, kOtherHmac));  // someone else's pair
    EXPECT_EQ(granted_.size(), 0u);
    EXPECT_EQ(outcome("bad_hmac"), 2u);
    // Forgeries are not remembered (nothing to save) and ask for no flush.
    EXPECT_FALSE(intake_.replay_dirty());
    EXPECT_FALSE(intake_.take_granted());
}

TEST_F(SpaIntakeTest, FlippedByteIsRefusedBeforeDecryption) {
    configure();
    auto wire = packet("tcp/22");
    wire[wire.size() / 2] = wire[wire.size() / 2] == 'A' ? 'B' : 'A';
    feed("203.0.113.10", wire);
    EXPECT_EQ(granted_.size(), 0u);
    EXPECT_EQ(outcome("bad_hmac"), 1u);
    EXPECT_EQ(outcome("decrypt_failed"), 0u);
}

TEST_F(SpaIntakeTest, ServiceTheKeyMayNotOpen) {
    configure();
    feed("203.0.113.10", packet("tcp/443"));  // "web" is SPA-guarded, but alice may not open it
    feed("203.0.113.10", packet("tcp/8080"));  // no service at all
    EXPECT_EQ(granted_.size(), 0u);
    EXPECT_EQ(outcome("service_not_allowed"), 2u);
    // Authenticated and in the window: remembered (and to be saved) although refused.
    EXPECT_TRUE(intake_.replay_dirty());
    EXPECT_EQ(intake_.replay_entries(), 2u);
    EXPECT_FALSE(intake_.take_granted());
}

TEST_F(SpaIntakeTest, KeyRestrictedToSourcesIsUnknownElsewhere) {
    configure(policy_text("sources = [\"198.51.100.0/24\"]\n"));
    feed("203.0.113.10", packet("tcp/22"));
    EXPECT_EQ(outcome("unknown_key"), 1u);
    feed("198.51.100.20", packet("tcp/22"));
    EXPECT_EQ(granted_.size(), 1u);
}

TEST_F(SpaIntakeTest, EmbeddedAddressOnlyWhenTheKeyAllowsIt) {
    configure();
    feed("203.0.113.10", packet("tcp/22", kNow, 0, kKey, kHmac, std::nullopt, "198.51.100.50"));
    EXPECT_EQ(outcome("embedded_address_not_allowed"), 1u);
    EXPECT_EQ(granted_.size(), 0u);
    configure(policy_text("allow_embedded_address = true\n"));
    feed("203.0.113.10", packet("tcp/22", kNow, 0, kKey, kHmac, std::nullopt, "198.51.100.50"));
    ASSERT_EQ(granted_.size(), 1u);
    EXPECT_EQ(granted_[0].address, "198.51.100.50");
}

TEST_F(SpaIntakeTest, MalformedPacketsAreCountedNeverGranted) {
    configure();
    const std::uint8_t tcp[] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 203, 0, 113, 10, 192, 0, 2, 1};
    std::vector<std::byte> bytes(sizeof tcp);
    std::memcpy(bytes.data(), tcp, sizeof tcp);
    intake_.handle(Bytes(bytes.data(), bytes.size()));  // not UDP
    intake_.handle(Bytes(bytes.data(), 3));            // truncated
    auto fragment = ip_udp("203.0.113.10", packet("tcp/22"));
    fragment[6] = std::byte{0x20};  // more fragments
    intake_.handle(Bytes(fragment.data(), fragment.size()));
    auto garbage = ip_udp("203.0.113.10", std::string(200, '!'));
    intake_.handle(Bytes(garbage.data(), garbage.size()));
    EXPECT_EQ(outcome(kSpaOutcomeBadPacket), 3u);
    EXPECT_EQ(outcome("not_base64"), 1u);
    EXPECT_EQ(granted_.size(), 0u);
}

TEST_F(SpaIntakeTest, OnlyItsOwnGroupAndPrefix) {
    configure();
    auto bytes = ip_udp("203.0.113.10", packet("tcp/22"));
    intake::NflogPacket logged;
    logged.group = 5;
    logged.prefix = compile::kLogPrefixSpa;
    logged.payload = Bytes(bytes.data(), bytes.size());
    intake_.on_packet(logged);  // another group: ignored
    logged.group = 77;
    logged.prefix = "portcullis drop=closed ";
    intake_.on_packet(logged);  // a drop log on the same group: ignored
    EXPECT_EQ(granted_.size(), 0u);
    logged.prefix = compile::kLogPrefixSpa;
    intake_.on_packet(logged);
    EXPECT_EQ(granted_.size(), 1u);
}

TEST_F(SpaIntakeTest, RejectionEventsAreRateLimitedButAllCounted) {
    configure();
    for (int i = 0; i < 50; ++i) feed("203.0.113.10", packet("tcp/22", kNow, 0, kKey, kOtherHmac));
    EXPECT_EQ(outcome("bad_hmac"), 50u);
    EXPECT_EQ(events_.counts().at(event::kSpaRejected), 20u);
    EXPECT_EQ(intake_.suppressed_events(), 30u);
}

TEST_F(SpaIntakeTest, GrantsAreSentBeforeTheAcceptedEventIsWritten) {
    configure();
    std::vector<std::string> order;
    intake_.set_send_grants([&] {
        order.push_back("send " + std::to_string(granted_.size()) + " grants, " +
                        std::to_string(events_.counts().count(event::kSpaAccepted)) + " accepted events");
    });
    const std::string wire = packet("tcp/22");
    feed("203.0.113.10", wire);
    ASSERT_EQ(order.size(), 1u);
    EXPECT_EQ(order[0], "send 1 grants, 0 accepted events");
    EXPECT_EQ(events_.counts().at(event::kSpaAccepted), 1u);
    // A refused packet sends nothing.
    feed("203.0.113.10", wire);  // the same bytes again: a replay
    EXPECT_EQ(order.size(), 1u);
    EXPECT_EQ(outcome("replay"), 1u);
}

TEST_F(SpaIntakeTest, GrantFailureIsAnEvent) {
    EventLog events;
    SpaIntake failing(
        events,
        [](const Address&, const std::string&, std::uint32_t, std::function<void(const std::string*)> done) -> Result<void> {
            std::string error = "No such file or directory";
            done(&error);
            return {};
        },
        [] { return kNow; });
    ASSERT_TRUE(failing.configure(load_policy(policy_text())));
    auto bytes = ip_udp("203.0.113.10", packet("tcp/22"));
    failing.handle(Bytes(bytes.data(), bytes.size()));
    EXPECT_EQ(failing.grant_failures(), 1u);
    EXPECT_EQ(events.counts().at(event::kSpaGrantFailed), 1u);
}

TEST_F(SpaIntakeTest, DisabledWithoutSpaServices) {
    auto text = policy_text();
    text = text.substr(0, text.find("[spa]"));
    for (auto at = text.find("guard = \"spa\""); at != std::string::npos; at = text.find("guard = \"spa\""))
        text.replace(at, 13, "guard = \"grant\"");
    configure(text);
    EXPECT_FALSE(intake_.enabled());
    EXPECT_FALSE(intake_.group());
    feed("203.0.113.10", packet("tcp/22"));
    EXPECT_EQ(granted_.size(), 0u);
}

TEST(SpaStateFile, ReplayCacheIsStoredBesideTheBans) {
    auto directory = std::filesystem::temp_directory_path() / ("pc-spa-state-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    auto path = (directory / "state.json").string();
    auth::ReplayCache cache;
    cache.insert(auth::ReplayCache::digest_of("packet"), kNow + 240, kNow);
    DaemonState state;
    state.bans.push_back({*Prefix::parse("198.51.100.7"), 1000, 4600, 3, 3600, "scan"});
    state.spa_replay = cache.to_json();
    ASSERT_TRUE(save_state_file(path, state));
    StateLoad loaded = load_state_file(path, kNow);
    ASSERT_FALSE(loaded.problem) << *loaded.problem;
    EXPECT_EQ(loaded.state.bans.size(), 1u);
    ASSERT_TRUE(loaded.state.spa_replay);
    auth::ReplayCache restored;
    ASSERT_TRUE(restored.from_json(*loaded.state.spa_replay, kNow));
    EXPECT_TRUE(restored.contains(auth::ReplayCache::digest_of("packet"), kNow + 240));
    // A state file without it (older daemons) still loads.
    state.spa_replay.reset();
    ASSERT_TRUE(save_state_file(path, state));
    EXPECT_FALSE(load_state_file(path, kNow).state.spa_replay);
    // spa_replay that is not an object: corrupt, reported.
    std::ofstream(path) << R"({"version": 1, "bans": [], "spa_replay": 5})";
    auto bad = load_state_file(path, kNow);
    ASSERT_TRUE(bad.problem);
    EXPECT_NE(bad.problem->find("spa_replay: expected an object"), std::string::npos);
    std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace portcullis::daemon
