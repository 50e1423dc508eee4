// The full acceptance path with an injected clock: window, replay (also across save/load), keys
// per source, and what a verified packet opens.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "auth/spa_codec.hpp"
#include "auth/spa_verifier.hpp"
#include "vector_file.hpp"

namespace portcullis::auth {
namespace {

constexpr std::int64_t kNow = 1800000000;

Address addr(const char* text) { return *Address::parse(text); }

std::vector<ServiceSpec> catalog() {
    return {
        {"ssh", {{6, 22, 22}}},
        {"ipsec", {{17, 500, 500}, {17, 4500, 4500}, {50, 0, 0}}},
        {"pptp", {{6, 1723, 1723}, {47, 0, 0}}},
        {"wireguard", {{17, 51820, 51820}}},
        {"range", {{17, 40000, 40100}}},
    };
}

SpaKey alice_key() {
    SpaKey key;
    key.name = "alice";
    key.material = testing::vector_keys(testing::read_vector("access_tcp22"));
    key.services = {"ssh", "ipsec", "pptp", "range"};
    key.max_open_seconds = 600;
    return key;
}

SpaMessage message_for(const char* address, std::vector<AccessPort> access, std::int64_t timestamp = kNow) {
    SpaMessage message;
    message.random = "9876543210987654";
    message.username = "alice";
    message.timestamp = timestamp;
    message.version = "3.0.0";
    message.allow_address = address;
    message.access = std::move(access);
    return message;
}

std::string wire_for(const SpaMessage& message, const SpaKey& key = alice_key()) {
    auto wire = encode_packet(message, key.material);
    EXPECT_TRUE(wire) << wire.error();
    return wire.value_or("");
}

struct Harness {
    ReplayCache cache;
    SpaVerifier verifier;
    explicit Harness(std::vector<SpaKey> keys = {alice_key()}, VerifierConfig config = {})
        : verifier(*SpaVerifier::create(std::move(keys), catalog(), config, cache)) {}
};

Reject refusal(tl::expected<Verdict, Reject> result) {
    EXPECT_FALSE(result);
    return result ? Reject::malformed : result.error();
}

TEST(SpaVerifier, GrantsTheRequestedServiceToThePacketSource) {
    Harness h;
    auto verdict = h.verifier.verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}})),
                                     addr("203.0.113.10"), kNow);
    ASSERT_TRUE(verdict) << to_string(verdict.error());
    EXPECT_EQ(verdict->decision.key_name, "alice");
    EXPECT_EQ(verdict->decision.services, std::vector<std::string>{"ssh"});
    EXPECT_EQ(verdict->decision.address, addr("203.0.113.10"));
    EXPECT_EQ(verdict->decision.open_seconds, 600u);
    EXPECT_EQ(h.verifier.accepted(), 1u);
}

TEST(SpaVerifier, RealFwknopPacketWithInjectedClock) {
    auto vec = testing::read_vector("access_tcp22");
    std::int64_t stamp = std::stoll(vec["timestamp"]);
    Harness h;
    auto verdict = h.verifier.verify(vec["packet"], addr("203.0.113.10"), stamp + 30);
    ASSERT_TRUE(verdict) << to_string(verdict.error());
    EXPECT_EQ(verdict->decision.services, std::vector<std::string>{"ssh"});
    EXPECT_EQ(verdict->message.username, "alice");
    // The same capture again: replay.
    EXPECT_EQ(refusal(h.verifier.verify(vec["packet"], addr("203.0.113.10"), stamp + 31)), Reject::replay);
}

TEST(SpaVerifier, TimestampWindowBothDirections) {
    for (std::int64_t offset : {-121, 121, -100000, 100000}) {
        Harness h;
        auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}, kNow + offset));
        EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow)), Reject::stale) << offset;
        EXPECT_EQ(h.verifier.rejected(Reject::stale), 1u);
    }
    for (std::int64_t offset : {-120, 0, 120}) {
        Harness h;
        auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}, kNow + offset));
        EXPECT_TRUE(h.verifier.verify(wire, addr("203.0.113.10"), kNow)) << offset;
    }
}

TEST(SpaVerifier, RealClientTimeOffsetsOf121SecondsAreStale) {
    // fwknop --time-offset-minus/--time-offset-plus 121s, as in the lab scenario.
    for (auto [name, direction] : {std::pair{"stale_minus_121", -1}, std::pair{"stale_plus_121", +1}}) {
        auto vec = testing::read_vector(name);
        ASSERT_FALSE(vec["packet"].empty()) << name;
        std::int64_t stamp = std::stoll(vec["timestamp"]);
        std::int64_t generated = std::stoll(vec["generated_at"]);
        std::int64_t applied = (stamp - generated) * direction;
        EXPECT_GE(applied, 119) << name << ": the client applied its offset";
        EXPECT_LE(applied, 122) << name;

        SpaKey key = alice_key();
        key.material = testing::vector_keys(vec);
        // The gateway's clock is where the client's would have been without the offset.
        std::int64_t gateway_now = stamp - 121 * direction;
        Harness stale({key});
        EXPECT_EQ(refusal(stale.verifier.verify(vec["packet"], addr("203.0.113.10"), gateway_now)), Reject::stale)
            << name;
        Harness edge({key});
        auto verdict = edge.verifier.verify(vec["packet"], addr("203.0.113.10"), stamp - 120 * direction);
        EXPECT_TRUE(verdict) << name << ": 120 s is still inside the window";
    }
}

TEST(SpaVerifier, ConfigurableWindow) {
    VerifierConfig config;
    config.window_seconds = 30;
    Harness h({alice_key()}, config);
    EXPECT_EQ(h.verifier.retention_seconds(), 60);
    auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}, kNow - 31));
    EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow)), Reject::stale);
}

TEST(SpaVerifier, StalePacketIsNotRemembered) {
    Harness h;
    auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}, kNow + 200));
    EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow)), Reject::stale);
    EXPECT_EQ(h.cache.size(), 0u);
    // Once the clock catches up it is fresh (the sender's clock was ahead).
    EXPECT_TRUE(h.verifier.verify(wire, addr("203.0.113.10"), kNow + 200));
}

TEST(SpaVerifier, ReplayIsRefusedUntilRetentionEndsAndAfterSaveLoad) {
    std::string path = (std::filesystem::temp_directory_path() / ("pc-auth-verifier-" + std::to_string(::getpid()) + ".json")).string();
    auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}));
    {
        Harness h;
        ASSERT_TRUE(h.verifier.verify(wire, addr("203.0.113.10"), kNow));
        EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow + 1)), Reject::replay);
        // From another source too: the packet is what is remembered.
        EXPECT_EQ(refusal(h.verifier.verify(wire, addr("198.51.100.1"), kNow + 1)), Reject::replay);
        EXPECT_EQ(h.verifier.rejected(Reject::replay), 2u);
        ASSERT_TRUE(h.cache.save(path));
    }
    {
        // "Daemon restart": a new verifier with the cache loaded from disk.
        ReplayCache cache;
        ASSERT_TRUE(cache.load(path, kNow + 60));
        auto verifier = SpaVerifier::create({alice_key()}, catalog(), {}, cache);
        ASSERT_TRUE(verifier);
        EXPECT_EQ(refusal(verifier->verify(wire, addr("203.0.113.10"), kNow + 60)), Reject::replay);
    }
    {
        // Without the saved cache, the same packet would pass again: that is what persistence prevents.
        ReplayCache empty;
        auto verifier = SpaVerifier::create({alice_key()}, catalog(), {}, empty);
        EXPECT_TRUE(verifier->verify(wire, addr("203.0.113.10"), kNow + 60));
    }
    std::filesystem::remove(path);
}

TEST(SpaVerifier, RetentionCoversTheWholeWindow) {
    Harness h;
    EXPECT_EQ(h.verifier.retention_seconds(), 240);
    // Timestamp at the back edge of the window, accepted at the front edge: the entry must
    // outlive the time in which the timestamp check would still pass.
    auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}, kNow + 120));
    ASSERT_TRUE(h.verifier.verify(wire, addr("203.0.113.10"), kNow));
    EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow + 240)), Reject::replay);
    EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow + 241)), Reject::stale);
}

TEST(SpaVerifier, FullReplayCacheRefusesRatherThanForgets) {
    ReplayCache cache(1);
    auto verifier = SpaVerifier::create({alice_key()}, catalog(), {}, cache);
    ASSERT_TRUE(verifier);
    ASSERT_TRUE(verifier->verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}})),
                                 addr("203.0.113.10"), kNow));
    EXPECT_EQ(refusal(verifier->verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}})),
                                       addr("203.0.113.10"), kNow)),
              Reject::replay_cache_full);
}

TEST(SpaVerifier, UnknownKeyWhenNoKeyServesTheSource) {
    SpaKey key = alice_key();
    key.sources = {*Prefix::parse("192.0.2.0/24")};
    Harness h({key});
    auto wire = wire_for(message_for("0.0.0.0", {{AccessProtocol::tcp, 22}}));
    EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow)), Reject::unknown_key);
    EXPECT_TRUE(h.verifier.verify(wire, addr("192.0.2.9"), kNow));

    Harness none(std::vector<SpaKey>{});
    EXPECT_EQ(refusal(none.verifier.verify(wire, addr("192.0.2.9"), kNow)), Reject::unknown_key);
}

TEST(SpaVerifier, WrongHmacKeyIsBadHmac) {
    SpaKey stranger = alice_key();
    stranger.material = testing::vector_keys(testing::read_vector("access_multi"));
    Harness h;
    auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}), stranger);
    EXPECT_EQ(refusal(h.verifier.verify(wire, addr("203.0.113.10"), kNow)), Reject::bad_hmac);
    EXPECT_EQ(h.cache.size(), 0u);
}

TEST(SpaVerifier, PrecheckReasonsAreCounted) {
    Harness h;
    EXPECT_EQ(refusal(h.verifier.verify("short", addr("203.0.113.10"), kNow)), Reject::too_short);
    EXPECT_EQ(refusal(h.verifier.verify(std::string(2000, 'A'), addr("203.0.113.10"), kNow)), Reject::too_long);
    auto wire = wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}}));
    EXPECT_EQ(refusal(h.verifier.verify(std::string(kSaltedPrefixBase64) + wire, addr("203.0.113.10"), kNow)),
              Reject::salt_prefix);
    EXPECT_EQ(h.verifier.rejected(Reject::too_short), 1u);
    EXPECT_EQ(h.verifier.rejected(Reject::too_long), 1u);
    EXPECT_EQ(h.verifier.rejected(Reject::salt_prefix), 1u);
}

TEST(SpaDecision, AnyPortOfABundleOpensTheWholeService) {
    Harness h;
    auto ike = h.verifier.verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::udp, 500}})),
                                 addr("203.0.113.10"), kNow);
    ASSERT_TRUE(ike);
    EXPECT_EQ(ike->decision.services, std::vector<std::string>{"ipsec"});
    auto pptp = h.verifier.verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 1723}})),
                                  addr("203.0.113.10"), kNow);
    ASSERT_TRUE(pptp);
    EXPECT_EQ(pptp->decision.services, std::vector<std::string>{"pptp"});
    auto both = h.verifier.verify(
        wire_for(message_for("203.0.113.10",
                             {{AccessProtocol::udp, 4500}, {AccessProtocol::tcp, 22}, {AccessProtocol::udp, 500}})),
        addr("203.0.113.10"), kNow);
    ASSERT_TRUE(both);
    EXPECT_EQ(both->decision.services, (std::vector<std::string>{"ipsec", "ssh"}));
    auto range = h.verifier.verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::udp, 40050}})),
                                   addr("203.0.113.10"), kNow);
    ASSERT_TRUE(range);
    EXPECT_EQ(range->decision.services, std::vector<std::string>{"range"});
}

TEST(SpaDecision, PortsOutsideTheKeysServicesAreRefused) {
    Harness h;
    // wireguard exists but alice may not open it; tcp/500 matches no protocol; mixed requests fail whole.
    for (std::vector<AccessPort> request : {std::vector<AccessPort>{{AccessProtocol::udp, 51820}},
                                            std::vector<AccessPort>{{AccessProtocol::tcp, 500}},
                                            std::vector<AccessPort>{{AccessProtocol::tcp, 22}, {AccessProtocol::tcp, 23}}}) {
        EXPECT_EQ(refusal(h.verifier.verify(wire_for(message_for("203.0.113.10", request)), addr("203.0.113.10"), kNow)),
                  Reject::service_not_allowed);
    }
}

TEST(SpaDecision, EmbeddedAddressOnlyWhenTheKeyAllowsIt) {
    auto wire_a = wire_for(message_for("198.51.100.77", {{AccessProtocol::tcp, 22}}));
    Harness strict;
    EXPECT_EQ(refusal(strict.verifier.verify(wire_a, addr("203.0.113.10"), kNow)), Reject::embedded_address_not_allowed);

    SpaKey cgnat = alice_key();
    cgnat.allow_embedded_address = true;
    Harness lenient({cgnat});
    auto verdict = lenient.verifier.verify(wire_a, addr("203.0.113.10"), kNow);
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->decision.address, addr("198.51.100.77"));

    // "0.0.0.0" (fwknop -s) always means the packet's source.
    auto verdict_source = strict.verifier.verify(wire_for(message_for("0.0.0.0", {{AccessProtocol::tcp, 22}})),
                                                 addr("203.0.113.99"), kNow);
    ASSERT_TRUE(verdict_source);
    EXPECT_EQ(verdict_source->decision.address, addr("203.0.113.99"));
}

TEST(SpaDecision, Ipv6SourcesWork) {
    Harness h;
    auto verdict = h.verifier.verify(wire_for(message_for("2001:db8::5", {{AccessProtocol::tcp, 22}})),
                                     addr("2001:db8::5"), kNow);
    ASSERT_TRUE(verdict) << to_string(verdict.error());
    EXPECT_EQ(verdict->decision.address, addr("2001:db8::5"));
    auto unspecified = h.verifier.verify(wire_for(message_for("0.0.0.0", {{AccessProtocol::udp, 500}})),
                                         addr("2001:db8::6"), kNow);
    ASSERT_TRUE(unspecified);
    EXPECT_EQ(unspecified->decision.address, addr("2001:db8::6"));
    // An IPv4 address inside a packet from an IPv6 source is another address.
    EXPECT_EQ(refusal(h.verifier.verify(wire_for(message_for("203.0.113.10", {{AccessProtocol::tcp, 22}})),
                                        addr("2001:db8::5"), kNow)),
              Reject::embedded_address_not_allowed);
}

TEST(SpaDecision, ClientTimeoutIsCappedByTheKey) {
    Harness h;
    SpaMessage shorter = message_for("203.0.113.10", {{AccessProtocol::tcp, 22}});
    shorter.type = MessageType::client_timeout_access;
    shorter.client_timeout = 45;
    auto verdict = h.verifier.verify(wire_for(shorter), addr("203.0.113.10"), kNow);
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->decision.open_seconds, 45u);

    SpaMessage longer = shorter;
    longer.client_timeout = 86400 / 2;
    verdict = h.verifier.verify(wire_for(longer), addr("203.0.113.10"), kNow);
    ASSERT_TRUE(verdict);
    EXPECT_EQ(verdict->decision.open_seconds, 600u);
}

TEST(SpaVerifier, ConfigurationErrors) {
    ReplayCache cache;
    SpaKey key = alice_key();
    key.services = {"telnet"};
    auto unknown_service = SpaVerifier::create({key}, catalog(), {}, cache);
    ASSERT_FALSE(unknown_service);
    EXPECT_NE(unknown_service.error().message.find("telnet"), std::string::npos);

    VerifierConfig config;
    config.window_seconds = 0;
    EXPECT_FALSE(SpaVerifier::create({alice_key()}, catalog(), config, cache));

    SpaKey weak = alice_key();
    weak.material.hmac_key.resize(8);
    EXPECT_FALSE(SpaVerifier::create({weak}, catalog(), {}, cache));
}

TEST(RejectNames, EveryReasonHasADistinctName) {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < kRejectCount; ++i) {
        std::string_view name = to_string(static_cast<Reject>(i));
        EXPECT_NE(name, "unknown");
        names.insert(name);
    }
    EXPECT_EQ(names.size(), kRejectCount);
}

}  // namespace
}  // namespace portcullis::auth
