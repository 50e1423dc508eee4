#include <gtest/gtest.h>

#include "daemon/runtime_state.hpp"
#include "kernel/netlink_recording_writer.hpp"

namespace portcullis::daemon {
namespace {

class RuntimeStateTest : public ::testing::Test {
protected:
    RuntimeStateTest() : batcher_(fake_), state_(batcher_, events_, [this] { return now_; }) {
        for (const char* set : {"ban4", "ban6", "grant4_vpn", "grant6_vpn"}) fake_.create_set(set);
        RuntimeConfig config;
        config.guarded_services = {"vpn"};
        config.default_grant_seconds = 300;
        config.default_ban_seconds = 600;
        state_.configure(config);
    }
    std::optional<std::string> flush_one() {
        std::optional<std::string> error;
        batcher_.flush();
        return error;
    }
    Prefix P(const char* text) { return *Prefix::parse(text); }
    Address A(const char* text) { return *Address::parse(text); }

    kernel::RecordingSetWriter fake_;
    SetBatcher batcher_;
    EventLog events_;
    std::int64_t now_ = 1000;
    RuntimeState state_;
};

TEST_F(RuntimeStateTest, GrantGoesToTheFamilysSetWithItsTimeout) {
    ASSERT_TRUE(state_.add_grant(A("203.0.113.5"), "vpn", 60));
    ASSERT_TRUE(state_.add_grant(A("2001:db8::5"), "vpn", std::nullopt));
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 1u);  // both coalesced into one write
    ASSERT_EQ(fake_.writes[0].size(), 2u);
    EXPECT_EQ(fake_.writes[0][0].set, "grant4_vpn");
    EXPECT_FALSE(fake_.writes[0][0].interval);
    EXPECT_EQ(fake_.writes[0][0].timeout, std::chrono::milliseconds(60000));
    EXPECT_EQ(fake_.writes[0][1].set, "grant6_vpn");
    EXPECT_EQ(fake_.writes[0][1].timeout, std::chrono::milliseconds(300000));  // policy default
    EXPECT_EQ(state_.active_grants(), 2u);
    EXPECT_EQ(events_.counts().at("grant_opened"), 2u);
}

TEST_F(RuntimeStateTest, GrantForAnUnguardedServiceIsRefusedWithoutTouchingTheKernel) {
    auto result = state_.add_grant(A("203.0.113.5"), "web", 60);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("guard"), std::string::npos);
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());
}

TEST_F(RuntimeStateTest, ExpiredGrantIsReportedByReconcile) {
    ASSERT_TRUE(state_.add_grant(A("203.0.113.5"), "vpn", 60));
    batcher_.flush();
    fake_.sets["grant4_vpn"].clear();  // the kernel's timeout fired
    std::map<std::string, std::vector<kernel::ListedElement>> kernel = {{"vpn", {}}};
    state_.reconcile_grants(kernel);
    EXPECT_EQ(state_.active_grants(), 0u);
    EXPECT_EQ(events_.counts().at("grant_expired"), 1u);
}

TEST_F(RuntimeStateTest, ReconcileAdoptsGrantsItDidNotMake) {
    kernel::ListedElement element{P("198.51.100.9"), std::chrono::milliseconds(5000), std::chrono::milliseconds(4000)};
    state_.reconcile_grants({{"vpn", {element}}});
    EXPECT_EQ(state_.active_grants(), 1u);
    EXPECT_FALSE(events_.counts().count("grant_expired"));
}

TEST_F(RuntimeStateTest, BanEscalationHistoryGrowsWithEachBan) {
    std::optional<std::string> error;
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 60, "scan"));
    batcher_.flush();
    now_ += 100;  // the first ban ended
    state_.expire_bans();
    EXPECT_EQ(events_.counts().at("ban_removed"), 1u);
    EXPECT_EQ(state_.active_bans(), 0u);
    fake_.sets["ban4"].clear();
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 120, "scan"));
    batcher_.flush();
    DaemonState saved = state_.export_state();
    ASSERT_EQ(saved.bans.size(), 1u);
    EXPECT_EQ(saved.bans[0].offences, 2u);
    EXPECT_EQ(saved.bans[0].last_duration, 120u);
    EXPECT_EQ(saved.bans[0].expires_at, now_ + 120);
    EXPECT_EQ(saved.bans[0].reason, "scan");
    EXPECT_TRUE(fake_.writes.back()[0].interval);
    EXPECT_EQ(fake_.writes.back()[0].set, "ban4");
}

TEST_F(RuntimeStateTest, OverlappingBanFailsWithAnExplanationAndRecordsNothing) {
    ASSERT_TRUE(state_.add_ban(P("192.0.2.0/24"), 60, "manual"));
    batcher_.flush();
    std::optional<std::string> error;
    ASSERT_TRUE(state_.add_ban(P("192.0.2.5"), 60, "manual", [&](const std::string* e) {
        if (e) error = *e;
    }));
    batcher_.flush();
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("overlaps"), std::string::npos);
    EXPECT_EQ(state_.ban_records(), 1u);
    EXPECT_EQ(events_.counts().at("ban_added"), 1u);
}

TEST_F(RuntimeStateTest, RemovingAMissingBanSaysSo) {
    std::optional<std::string> error;
    ASSERT_TRUE(state_.remove_ban(P("2001:db8::/48"), [&](const std::string* e) {
        if (e) error = *e;
    }));
    batcher_.flush();
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("not banned"), std::string::npos);
    EXPECT_EQ(fake_.writes[0][0].set, "ban6");
}

TEST_F(RuntimeStateTest, RestoreReaddsWhatTheKernelLostWithTheTimeLeft) {
    DaemonState saved;
    saved.bans.push_back({P("198.51.100.7"), 500, 1500, 2, 1000, "scan"});     // 500 s left
    saved.bans.push_back({P("2001:db8::/48"), 500, 1200, 1, 700, "manual"});   // in the kernel
    saved.bans.push_back({P("203.0.113.9"), 100, 900, 4, 800, "scan"});        // ended: history
    RuntimeState::KernelView kernel;
    kernel.bans.push_back({P("2001:db8::/48"), std::chrono::milliseconds(700000), std::chrono::milliseconds(200000)});
    kernel.bans.push_back({P("192.0.2.0/24"), std::chrono::milliseconds(60000), std::chrono::milliseconds(30000)});
    std::size_t readded = state_.restore(saved, kernel);
    batcher_.flush();
    EXPECT_EQ(readded, 1u);
    ASSERT_EQ(fake_.writes.size(), 1u);
    ASSERT_EQ(fake_.writes[0].size(), 1u);
    EXPECT_EQ(fake_.writes[0][0].prefix, P("198.51.100.7"));
    EXPECT_EQ(fake_.writes[0][0].timeout, std::chrono::milliseconds(500000));
    EXPECT_EQ(state_.active_bans(), 3u);  // re-added + kept + adopted from the kernel
    EXPECT_EQ(state_.adopted_bans(), 1u);
    DaemonState exported = state_.export_state();
    // History of 203.0.113.9 is kept for escalation; the kernel's ban without a history is not
    // mirrored into the daemon (nor into its state file).
    EXPECT_EQ(exported.bans.size(), 3u);
    auto adopted = std::find_if(exported.bans.begin(), exported.bans.end(),
                                [&](const BanRecord& r) { return r.prefix == P("192.0.2.0/24"); });
    EXPECT_EQ(adopted, exported.bans.end());
    EXPECT_EQ(state_.ban_records(), 3u);
}

TEST_F(RuntimeStateTest, RestoreWithoutAKernelListingReaddsEveryRunningBanInKeyOrder) {
    DaemonState saved;
    for (const char* text : {"203.0.113.9", "198.51.100.7", "192.0.2.0/24", "2001:db8::/48", "198.51.100.1"})
        saved.bans.push_back({P(text), 500, 1500, 1, 1000, "scan"});
    saved.bans.push_back({P("192.0.2.99"), 100, 900, 1, 800, "scan"});  // ended: history only
    fake_.sets["ban4"][P("198.51.100.7")] = std::chrono::milliseconds(1000);  // already there
    EXPECT_EQ(state_.restore(saved, {}), 5u);
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 1u);
    std::vector<std::string> order;
    for (const auto& change : fake_.writes[0]) order.push_back(change.prefix.to_string());
    EXPECT_EQ(order, (std::vector<std::string>{"192.0.2.0/24", "198.51.100.1/32", "198.51.100.7/32",
                                               "203.0.113.9/32", "2001:db8::/48"}));
    EXPECT_EQ(batcher_.element_failures(), 0u);  // re-adding an element the kernel has is no error
    EXPECT_EQ(state_.active_bans(), 5u);
    EXPECT_EQ(state_.ban_records(), 6u);
}

TEST_F(RuntimeStateTest, AdoptedBansAreCountedUntilTheyEndAndListedFromTheKernel) {
    RuntimeState::KernelView kernel;
    for (int i = 0; i < 1000; ++i) {
        Prefix prefix = P("10.0.0.0");
        prefix.address.bytes[2] = static_cast<std::uint8_t>(i >> 8);
        prefix.address.bytes[3] = static_cast<std::uint8_t>(i & 0xff);
        prefix.length = 32;
        auto left = std::chrono::milliseconds((i < 400 ? 10 : 100) * 1000);
        kernel.bans.push_back({prefix, std::chrono::milliseconds(3600000), left});
    }
    EXPECT_EQ(state_.restore({}, kernel), 0u);
    batcher_.flush();
    EXPECT_TRUE(fake_.writes.empty());   // nothing to put back
    EXPECT_EQ(state_.ban_records(), 0u);  // and nothing mirrored
    EXPECT_EQ(state_.active_bans(), 1000u);
    now_ += 11;
    state_.expire_bans();
    EXPECT_EQ(state_.active_bans(), 600u);
    std::vector<kernel::ListedElement> listed(kernel.bans.begin() + 400, kernel.bans.end());
    auto json = state_.bans_json(&listed);
    ASSERT_EQ(json.size(), 600u);
    EXPECT_EQ(json[0]["prefix"], "10.0.1.144");
    EXPECT_EQ(json[0]["reason"], "adopted");
    EXPECT_EQ(state_.bans_json().size(), 0u);  // without the kernel's listing: only histories
    // Removing one of them (the kernel has it) leaves one fewer counted.
    fake_.sets["ban4"][P("10.0.1.144")] = std::chrono::milliseconds(1);
    std::optional<std::string> error;
    ASSERT_TRUE(state_.remove_ban(P("10.0.1.144"), [&](const std::string* e) { if (e) error = *e; }));
    batcher_.flush();
    EXPECT_FALSE(error);
    EXPECT_EQ(state_.active_bans(), 599u);
    now_ += 100;
    state_.expire_bans();
    EXPECT_EQ(state_.active_bans(), 0u);
}

class SplitBanLayoutTest : public RuntimeStateTest {
protected:
    SplitBanLayoutTest() {
        fake_.create_set("banh4");
        fake_.create_set("banh6");
        RuntimeConfig config = state_.config();
        config.split_ban_sets = true;
        state_.configure(config);
    }
};

TEST_F(SplitBanLayoutTest, HostsGoToTheHashSetsAndPrefixesToTheIntervalSets) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 60, "scan"));
    ASSERT_TRUE(state_.add_ban(P("198.51.100.0/24"), 60, "scan"));
    ASSERT_TRUE(state_.add_ban(P("2001:db8::1"), 60, "scan"));
    ASSERT_TRUE(state_.add_ban(P("2001:db8:1::/48"), 60, "scan"));
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 1u);
    const auto& written = fake_.writes[0];
    ASSERT_EQ(written.size(), 4u);
    EXPECT_EQ(written[0].set, "banh4");
    EXPECT_FALSE(written[0].interval);
    EXPECT_EQ(written[1].set, "ban4");
    EXPECT_TRUE(written[1].interval);
    EXPECT_EQ(written[2].set, "banh6");
    EXPECT_FALSE(written[2].interval);
    EXPECT_EQ(written[3].set, "ban6");
    EXPECT_TRUE(written[3].interval);
    EXPECT_EQ(written[0].timeout, std::chrono::seconds(60));
    EXPECT_EQ(state_.active_bans(), 4u);  // a host inside a banned prefix is no overlap here
    auto sets = state_.ban_sets();
    ASSERT_EQ(sets.size(), 4u);
    EXPECT_EQ(sets[0].name, "banh4");
    EXPECT_FALSE(sets[0].interval);
    EXPECT_EQ(sets[1].name, "banh6");
    EXPECT_EQ(sets[2].name, "ban4");
    EXPECT_TRUE(sets[2].interval);
    EXPECT_EQ(sets[3].name, "ban6");
}

TEST_F(SplitBanLayoutTest, RemovingAHostDeletesItFromBothSetsAndSucceedsIfEitherHeldIt) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 60, "manual"));
    batcher_.flush();
    std::optional<std::string> error;
    bool finished = false;
    ASSERT_TRUE(state_.remove_ban(P("198.51.100.7"), [&](const std::string* e) {
        finished = true;
        if (e) error = *e;
    }));
    batcher_.flush();
    ASSERT_EQ(fake_.writes.size(), 2u);
    const auto& removed = fake_.writes[1];
    ASSERT_EQ(removed.size(), 2u);
    EXPECT_EQ(removed[0].set, "banh4");
    EXPECT_FALSE(removed[0].interval);
    EXPECT_EQ(removed[1].set, "ban4");
    EXPECT_TRUE(removed[1].interval);
    EXPECT_EQ(removed[0].op, kernel::ElementOp::remove);
    EXPECT_EQ(removed[1].op, kernel::ElementOp::remove);
    EXPECT_TRUE(finished);
    EXPECT_FALSE(error) << *error;  // ban4 lacked it (ENOENT), banh4 held it: removed
    EXPECT_TRUE(fake_.sets["banh4"].empty());
    EXPECT_EQ(state_.active_bans(), 0u);
    EXPECT_EQ(events_.counts().at("ban_removed"), 1u);  // one event, not one per set
}

TEST_F(SplitBanLayoutTest, AHostAnOlderVersionPutInTheIntervalSetCanBeRemoved) {
    fake_.sets["ban6"][P("2001:db8::5")] = std::chrono::milliseconds(0);  // as an upgrade finds it
    std::optional<std::string> error;
    bool finished = false;
    ASSERT_TRUE(state_.remove_ban(P("2001:db8::5"), [&](const std::string* e) {
        finished = true;
        if (e) error = *e;
    }));
    batcher_.flush();
    EXPECT_TRUE(finished);
    EXPECT_FALSE(error) << *error;
    EXPECT_TRUE(fake_.sets["ban6"].empty());
    EXPECT_EQ(events_.counts().at("ban_removed"), 1u);
}

TEST_F(SplitBanLayoutTest, RemovingAHostNeitherSetHoldsSaysSoOnce) {
    int calls = 0;
    std::optional<std::string> error;
    ASSERT_TRUE(state_.remove_ban(P("192.0.2.9"), [&](const std::string* e) {
        ++calls;
        if (e) error = *e;
    }));
    batcher_.flush();
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("192.0.2.9 is not banned"), std::string::npos);
    EXPECT_EQ(events_.counts().count("ban_removed"), 0u);
}

TEST_F(SplitBanLayoutTest, RemovingAPrefixTouchesOnlyTheIntervalSet) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.0/24"), 60, "manual"));
    batcher_.flush();
    ASSERT_TRUE(state_.remove_ban(P("198.51.100.0/24")));
    batcher_.flush();
    ASSERT_EQ(fake_.writes[1].size(), 1u);
    EXPECT_EQ(fake_.writes[1][0].set, "ban4");
    EXPECT_TRUE(fake_.sets["ban4"].empty());
}

TEST_F(SplitBanLayoutTest, RestoreFromTheStateFilePutsHostsInTheHashSets) {
    DaemonState saved;
    for (const char* text : {"198.51.100.7", "198.51.100.0/25", "2001:db8::1"}) {
        BanRecord record;
        record.prefix = P(text);
        record.banned_at = now_ - 10;
        record.expires_at = now_ + 100;
        record.offences = 1;
        record.last_duration = 110;
        saved.bans.push_back(record);
    }
    EXPECT_EQ(state_.restore(saved, {}), 3u);
    batcher_.flush();
    EXPECT_EQ(fake_.sets["banh4"].count(P("198.51.100.7")), 1u);
    EXPECT_EQ(fake_.sets["ban4"].count(P("198.51.100.0/25")), 1u);
    EXPECT_EQ(fake_.sets["banh6"].count(P("2001:db8::1")), 1u);
    EXPECT_TRUE(fake_.sets["ban4"].count(P("198.51.100.7")) == 0);
    EXPECT_EQ(fake_.sets["banh4"].at(P("198.51.100.7")), std::chrono::seconds(100));
}

TEST_F(SplitBanLayoutTest, BansListShowsAHostInBothSetsOnceWithTheLaterExpiry) {
    std::vector<kernel::ListedElement> kernel{
        {P("198.51.100.7"), std::chrono::seconds(60), std::chrono::seconds(30)},   // ban4, old version
        {P("198.51.100.7"), std::chrono::seconds(600), std::chrono::seconds(500)},  // banh4
        {P("198.51.100.0/24"), std::chrono::seconds(60), std::chrono::seconds(40)},
    };
    auto listed = state_.bans_json(&kernel);
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0]["prefix"], "198.51.100.0/24");
    EXPECT_EQ(listed[1]["prefix"], "198.51.100.7");
    EXPECT_EQ(listed[1]["remaining"], 500);
}

TEST_F(RuntimeStateTest, WithoutTheSplitLayoutHostsStayInTheIntervalSets) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 60, "manual"));
    batcher_.flush();
    ASSERT_TRUE(state_.remove_ban(P("198.51.100.7")));
    batcher_.flush();
    EXPECT_EQ(fake_.writes[0][0].set, "ban4");
    EXPECT_TRUE(fake_.writes[0][0].interval);
    ASSERT_EQ(fake_.writes[1].size(), 1u);  // only ban4 exists in that layout
    EXPECT_EQ(fake_.writes[1][0].set, "ban4");
    EXPECT_EQ(state_.ban_sets().size(), 2u);
}

TEST_F(RuntimeStateTest, TransportFailureFailsEveryQueuedChange) {
    fake_.transport_error = "netlink send: No buffer space available";
    int failures = 0;
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 60, "manual", [&](const std::string* e) { failures += e != nullptr; }));
    ASSERT_TRUE(state_.add_grant(A("198.51.100.8"), "vpn", 60, [&](const std::string* e) { failures += e != nullptr; }));
    batcher_.flush();
    EXPECT_EQ(failures, 2);
    EXPECT_EQ(batcher_.transport_errors(), 1u);
    EXPECT_EQ(state_.active_bans(), 0u);
    EXPECT_EQ(state_.active_grants(), 0u);
}

TEST_F(RuntimeStateTest, OldHistoryIsPruned) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 60, "manual"));
    batcher_.flush();
    now_ += 61;
    state_.expire_bans();
    EXPECT_EQ(state_.ban_records(), 1u);
    now_ += kBanHistorySeconds + 1;
    state_.expire_bans();
    EXPECT_EQ(state_.ban_records(), 0u);
}

TEST(SetBatcherHistogram, BucketsAreInclusiveUpperBounds) {
    Histogram h({1, 10});
    h.observe(1);
    h.observe(5);
    h.observe(50);
    EXPECT_EQ(h.counts[0], 1u);
    EXPECT_EQ(h.counts[1], 1u);
    EXPECT_EQ(h.counts[2], 1u);
    EXPECT_EQ(h.count, 3u);
    EXPECT_DOUBLE_EQ(h.sum, 56);
}

}  // namespace
}  // namespace portcullis::daemon
