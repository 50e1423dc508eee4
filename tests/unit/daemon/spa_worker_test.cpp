// The SPA thread's hand-offs: the note queue to the loop (order, wake-ups, bound), the settings
// slot the loop publishes reloads through, and the intake's settings swap and replay reports. The
// thread itself (NFLOG, netlink, SCHED_FIFO) is exercised by the lab tests (spa_daemon_test).
#include <gtest/gtest.h>
#include <poll.h>

#include <cstring>
#include <thread>

#include "auth/spa_client.hpp"
#include "daemon/spa_worker.hpp"
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

bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

SpaNote numbered(std::int64_t n) {
    SpaNote note;
    note.kind = SpaNote::Kind::remembered;
    note.expires_at = n;
    return note;
}

TEST(SpaHandoff, NotesComeOutInOrderAndTheFdSaysWhenThereAreAny) {
    auto handoff = SpaHandoff::create();
    ASSERT_TRUE(handoff) << handoff.error().message;
    auto& queue = **handoff;
    EXPECT_FALSE(readable(queue.fd()));
    EXPECT_TRUE(queue.push(numbered(1)));
    EXPECT_TRUE(queue.push(numbered(2)));
    EXPECT_TRUE(readable(queue.fd()));
    auto notes = queue.take();
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_EQ(notes[0].expires_at, 1);
    EXPECT_EQ(notes[1].expires_at, 2);
    EXPECT_FALSE(readable(queue.fd()));
    EXPECT_TRUE(queue.take().empty());
    // A push after a take wakes the reader again.
    EXPECT_TRUE(queue.push(numbered(3)));
    EXPECT_TRUE(readable(queue.fd()));
}

SpaNote event_note() {
    SpaNote note;
    note.kind = SpaNote::Kind::event;
    note.type = "spa_accepted";
    return note;
}

TEST(SpaHandoff, FullQueueDropsAndCountsInsteadOfWaiting) {
    auto handoff = SpaHandoff::create(2);
    ASSERT_TRUE(handoff);
    auto& queue = **handoff;
    EXPECT_TRUE(queue.push(event_note()));
    EXPECT_TRUE(queue.push(event_note()));
    EXPECT_FALSE(queue.push(event_note()));
    EXPECT_EQ(queue.dropped(), 1u);
    EXPECT_EQ(queue.take().size(), 2u);
    EXPECT_TRUE(queue.push(event_note()));
}

// Replay-cache entries fail closed: a full queue still takes them (a lost one would let a captured
// packet be accepted again once the cache is rebuilt from the loop's copy).
TEST(SpaHandoff, FullQueueStillTakesReplayEntries) {
    auto handoff = SpaHandoff::create(1);
    ASSERT_TRUE(handoff);
    auto& queue = **handoff;
    EXPECT_TRUE(queue.push(event_note()));
    EXPECT_FALSE(queue.push(event_note()));
    EXPECT_TRUE(queue.push(numbered(7)));
    EXPECT_EQ(queue.dropped(), 1u);
    auto notes = queue.take();
    ASSERT_EQ(notes.size(), 2u);
    EXPECT_EQ(notes[1].kind, SpaNote::Kind::remembered);
    EXPECT_EQ(notes[1].expires_at, 7);
}

// A producer thread and a consumer that sleeps in poll() like the loop: every note arrives, in
// order, and no wake-up is lost (a lost one would leave the consumer blocked: the test hangs).
TEST(SpaHandoff, ThreadedProducerNeverLosesANoteOrAWakeUp) {
    constexpr std::int64_t kNotes = 20000;
    auto handoff = SpaHandoff::create(kNotes);
    ASSERT_TRUE(handoff);
    auto& queue = **handoff;
    std::thread producer([&] {
        for (std::int64_t i = 0; i < kNotes; ++i) ASSERT_TRUE(queue.push(numbered(i)));
    });
    std::int64_t next = 0;
    while (next < kNotes) {
        pollfd p{queue.fd(), POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, -1), 1);
        for (const auto& note : queue.take()) {
            ASSERT_EQ(note.expires_at, next);
            ++next;
        }
    }
    producer.join();
    EXPECT_EQ(queue.dropped(), 0u);
}

std::shared_ptr<const SpaSettings> settings_with_window(std::int64_t window) {
    auto settings = std::make_shared<SpaSettings>();
    settings->verifier.window_seconds = window;
    return settings;
}

TEST(SettingsSlot, ReportsAChangeOnceAndTheNewestSettings) {
    SettingsSlot slot;
    std::uint64_t seen = 0;
    EXPECT_FALSE(slot.changed(seen));
    slot.publish(settings_with_window(10));
    slot.publish(settings_with_window(20));
    auto changed = slot.changed(seen);
    ASSERT_TRUE(changed);
    ASSERT_TRUE(*changed);
    EXPECT_EQ((*changed)->verifier.window_seconds, 20);
    EXPECT_FALSE(slot.changed(seen));
    slot.publish(nullptr);  // SPA switched off
    changed = slot.changed(seen);
    ASSERT_TRUE(changed);
    EXPECT_FALSE(*changed);
}

// The loop publishes while the SPA thread reads: the reader only ever sees whole snapshots, in
// publishing order, and ends on the last one; a snapshot it holds stays valid after a swap.
TEST(SettingsSlot, ConcurrentPublishAndRead) {
    constexpr std::int64_t kVersions = 2000;
    SettingsSlot slot;
    slot.publish(settings_with_window(1));
    std::thread reader([&] {
        std::uint64_t seen = 0;
        std::shared_ptr<const SpaSettings> held;
        std::int64_t last = 0;
        while (last < kVersions) {
            if (auto changed = slot.changed(seen)) {
                held = *changed;
                ASSERT_TRUE(held);
                ASSERT_GE(held->verifier.window_seconds, last);
                last = held->verifier.window_seconds;
            }
            std::this_thread::yield();
        }
        EXPECT_EQ(held->verifier.window_seconds, kVersions);
    });
    for (std::int64_t i = 2; i <= kVersions; ++i) slot.publish(settings_with_window(i));
    reader.join();
}

std::string policy_text(const char* key, const char* hmac) {
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
[spa]
log_group = 77
priority = "normal"
[[spa.key]]
name = "alice"
key = ")") + key + "\"\nhmac_key = \"" + hmac + "\"\nservices = [\"ssh\"]\nmax_open = \"10m\"\n";
}

std::shared_ptr<SpaSettings> settings_for(const char* key, const char* hmac) {
    auto loaded = policy::load_string(policy_text(key, hmac), "spa.toml");
    EXPECT_TRUE(loaded.ok());
    if (!loaded.ok()) return nullptr;
    auto settings = SpaIntake::settings_for(*loaded.policy);
    EXPECT_TRUE(settings) << settings.error().message;
    return settings ? *settings : nullptr;
}

std::vector<std::byte> ip_udp(const std::string& payload) {
    const std::size_t udp_length = 8 + payload.size();
    const std::size_t total = 20 + udp_length;
    std::vector<std::uint8_t> out = {0x45, 0, static_cast<std::uint8_t>(total >> 8), static_cast<std::uint8_t>(total),
                                     0,    1, 0x40, 0, 64, 17, 0, 0, 203, 0, 113, 10, 192, 0, 2, 1,
                                     0xc0, 0x01, 0xf2, 0xf9, static_cast<std::uint8_t>(udp_length >> 8),
                                     static_cast<std::uint8_t>(udp_length), 0, 0};
    out.insert(out.end(), payload.begin(), payload.end());
    std::vector<std::byte> bytes(out.size());
    std::memcpy(bytes.data(), out.data(), out.size());
    return bytes;
}

std::string packet(const char* key, const char* hmac, std::int64_t now) {
    auth::SpaRequest request;
    request.access = *auth::parse_access_argument("tcp/22");
    request.username = "alice";
    request.allow_address = "0.0.0.0";
    auto wire = auth::build_spa_packet(request, *auth::key_material_from_base64(key, hmac), now);
    EXPECT_TRUE(wire);
    return wire ? *wire : std::string();
}

// What the SPA thread does with a reload: apply() swaps the keys whole and keeps the replay
// cache; the loop learns of every remembered packet through the callback, with its expiry.
TEST(SpaIntakeThreading, SettingsSwapKeepsTheReplayCacheAndReportsRememberedPackets) {
    std::vector<std::string> events;
    std::vector<std::pair<auth::Sha256, std::int64_t>> remembered;
    std::size_t grants = 0;
    SpaIntake intake([&](std::string_view type, nlohmann::json) { events.emplace_back(type); },
                     [&](const Address&, const std::string&, std::uint32_t, std::function<void(const std::string*)> done)
                         -> Result<void> {
                         ++grants;
                         done(nullptr);
                         return {};
                     },
                     [] { return kNow; });
    intake.set_remembered([&](const auth::Sha256& digest, std::int64_t expires) { remembered.emplace_back(digest, expires); });

    auto first = settings_for(kKey, kHmac);
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->realtime);  // priority = "normal"
    intake.apply(first);
    auto wire = packet(kKey, kHmac, kNow);
    auto bytes = ip_udp(wire);
    intake.handle(Bytes(bytes.data(), bytes.size()));
    EXPECT_EQ(grants, 1u);
    ASSERT_EQ(remembered.size(), 1u);
    EXPECT_EQ(remembered[0].first, auth::ReplayCache::digest_of(wire));
    EXPECT_GE(remembered[0].second, kNow + 2 * 120);

    intake.apply(settings_for(kOtherKey, kOtherHmac));
    // The old key is gone...
    auto old_key = ip_udp(packet(kKey, kHmac, kNow + 1));
    intake.handle(Bytes(old_key.data(), old_key.size()));
    EXPECT_EQ(grants, 1u);
    EXPECT_EQ(intake.outcomes().at("bad_hmac"), 1u);
    // ...the new one works, and the packet seen before the swap is still a replay.
    auto new_key = ip_udp(packet(kOtherKey, kOtherHmac, kNow + 2));
    intake.handle(Bytes(new_key.data(), new_key.size()));
    EXPECT_EQ(grants, 2u);
    auto replay = ip_udp(wire);
    intake.handle(Bytes(replay.data(), replay.size()));
    EXPECT_EQ(grants, 2u);
    EXPECT_EQ(intake.outcomes().at("replay"), 1u);
    EXPECT_EQ(remembered.size(), 2u);  // the replay is not remembered twice
    EXPECT_EQ(intake.replay_entries(), 2u);

    intake.apply(nullptr);  // SPA switched off: nothing is handled
    intake.handle(Bytes(new_key.data(), new_key.size()));
    EXPECT_EQ(intake.outcomes().at("replay"), 1u);
}

TEST(SpaPolicy, PriorityAndGlobalLimitAreRead) {
    auto text = policy_text(kKey, kHmac);
    auto loaded = policy::load_string(text, "spa.toml");
    ASSERT_TRUE(loaded.ok());
    EXPECT_FALSE(loaded.policy->spa->realtime);
    EXPECT_EQ(loaded.policy->spa->global_per_second, std::optional<std::uint32_t>(100));

    auto realtime = text;
    realtime.replace(realtime.find("priority = \"normal\""), 19, "global_limit = \"off\"");
    loaded = policy::load_string(realtime, "spa.toml");
    ASSERT_TRUE(loaded.ok());
    EXPECT_TRUE(loaded.policy->spa->realtime);  // the default
    EXPECT_FALSE(loaded.policy->spa->global_per_second);

    auto wrong = text;
    wrong.replace(wrong.find("\"normal\""), 8, "\"realtme\"");
    loaded = policy::load_string(wrong, "spa.toml");
    ASSERT_FALSE(loaded.ok());
    std::string errors;
    for (const auto& d : loaded.diagnostics) errors += policy::format(d);
    EXPECT_NE(errors.find("did you mean \"realtime\""), std::string::npos) << errors;
}

}  // namespace
}  // namespace portcullis::daemon
