#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "daemon/ban_listing.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/control_server.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/runtime_state.hpp"
#include "kernel/netlink_recording_writer.hpp"

namespace portcullis::daemon {
namespace {

// ---- protocol: paging fields ---------------------------------------------------------------------

TEST(BansListPaging, OldFormIsUnpagedFromTheKernel) {
    auto parsed = parse_request(R"({"cmd":"bans.list"})");
    ASSERT_TRUE(parsed) << parsed.error().message;
    const auto& list = std::get<request::BansList>(*parsed);
    EXPECT_FALSE(list.paged());
    EXPECT_EQ(list.source, request::BanSource::kernel);
}

TEST(BansListPaging, LimitCursorAndSourceParse) {
    auto first = parse_request(R"({"cmd":"bans.list","limit":500,"source":"records"})");
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(std::get<request::BansList>(*first).limit, 500u);
    EXPECT_EQ(std::get<request::BansList>(*first).source, request::BanSource::records);
    EXPECT_TRUE(std::get<request::BansList>(*first).paged());
    std::string cursor = format_cursor({0x0123456789abcdefull, 1500});
    EXPECT_EQ(cursor, "0123456789abcdef.1500");
    auto next = parse_request(R"({"cmd":"bans.list","cursor":")" + cursor + R"("})");
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(std::get<request::BansList>(*next).cursor, cursor);
    EXPECT_TRUE(std::get<request::BansList>(*next).paged());
    auto count = parse_request(R"({"cmd":"bans.count","kernel":true})");
    ASSERT_TRUE(count) << count.error().message;
    EXPECT_TRUE(std::get<request::BansCount>(*count).kernel);
    EXPECT_FALSE(std::get<request::BansCount>(*parse_request(R"({"cmd":"bans.count"})")).kernel);
}

TEST(BansListPaging, CursorRoundTrips) {
    for (BanCursor cursor : {BanCursor{1, 0}, BanCursor{~0ull, ~0ull}, BanCursor{0xfeed, 123456789}}) {
        auto parsed = parse_cursor(format_cursor(cursor));
        ASSERT_TRUE(parsed) << format_cursor(cursor);
        EXPECT_EQ(parsed->listing, cursor.listing);
        EXPECT_EQ(parsed->offset, cursor.offset);
    }
}

struct BadPaging {
    const char* line;
    const char* expected;
};
class BansListPagingRejects : public ::testing::TestWithParam<BadPaging> {};

TEST_P(BansListPagingRejects, WithAClearMessage) {
    auto result = parse_request(GetParam().line);
    ASSERT_FALSE(result) << GetParam().line;
    EXPECT_NE(result.error().message.find(GetParam().expected), std::string::npos) << "got: " << result.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, BansListPagingRejects,
    ::testing::Values(
        BadPaging{R"({"cmd":"bans.list","limit":0})", "\"limit\" must be between 1 and 10000"},
        BadPaging{R"({"cmd":"bans.list","limit":10001})", "\"limit\" must be between 1 and 10000"},
        BadPaging{R"({"cmd":"bans.list","limit":-5})", "\"limit\" must be between"},
        BadPaging{R"({"cmd":"bans.list","limit":"100"})", "\"limit\" must be an integer"},
        BadPaging{R"({"cmd":"bans.list","limit":1.5})", "\"limit\" must be an integer"},
        BadPaging{R"({"cmd":"bans.list","cursor":17})", "\"cursor\" must be a string"},
        BadPaging{R"({"cmd":"bans.list","cursor":""})", "not a cursor of this daemon"},
        BadPaging{R"({"cmd":"bans.list","cursor":"0123456789abcdef"})", "not a cursor of this daemon"},
        BadPaging{R"({"cmd":"bans.list","cursor":"0123456789ABCDEF.5"})", "not a cursor of this daemon"},
        BadPaging{R"({"cmd":"bans.list","cursor":"0123456789abcdef.-5"})", "not a cursor of this daemon"},
        BadPaging{R"({"cmd":"bans.list","cursor":"0123456789abcdef.99999999999999999999"})", "not a cursor"},
        BadPaging{R"({"cmd":"bans.list","cursor":"xyz.1"})", "not a cursor of this daemon"},
        BadPaging{R"({"cmd":"bans.list","source":"disk"})", "\"source\" must be \"kernel\" or \"records\""},
        BadPaging{R"({"cmd":"bans.list","cursor":"0123456789abcdef.5","source":"kernel"})",
                  "\"source\" belongs to the first page only"},
        BadPaging{R"({"cmd":"bans.list","page":2})", "unknown field \"page\""},
        BadPaging{R"({"cmd":"bans.count","kernel":"yes"})", "\"kernel\" must be true or false"},
        BadPaging{R"({"cmd":"bans.count","limit":3})", "unknown field \"limit\""}));

// ---- BanPager --------------------------------------------------------------------------------------

std::vector<BanListEntry> numbered(std::size_t count) {
    std::vector<BanListEntry> out;
    for (std::size_t i = 0; i < count; ++i) {
        Prefix prefix = *Prefix::parse("10.0.0.0/32");
        prefix.address.bytes[2] = static_cast<std::uint8_t>(i >> 8);
        prefix.address.bytes[3] = static_cast<std::uint8_t>(i & 0xff);
        out.push_back({prefix, 0, true});
    }
    return out;
}

class BanPagerTest : public ::testing::Test {
protected:
    std::int64_t now_ = 100;
    BanPager pager_{[this] { return now_; }, 0x5eed};
};

TEST_F(BanPagerTest, PagesCoverTheSnapshotOnceInOrderAndTheLastPageFreesIt) {
    auto id = pager_.open(numbered(2345), {});
    EXPECT_EQ(pager_.entries_held(), 2345u);
    std::set<Prefix> seen;
    std::optional<BanCursor> cursor = BanCursor{id, 0};
    std::size_t pages = 0;
    Prefix previous{};
    while (cursor) {
        auto page = pager_.page(*cursor, 500);
        ASSERT_TRUE(page) << page.error().message;
        EXPECT_EQ(page->total, 2345u);
        for (const auto& entry : page->entries) {
            EXPECT_TRUE(seen.insert(entry.prefix).second) << "listed twice: " << entry.prefix.to_string();
            if (seen.size() > 1) {
                EXPECT_TRUE(previous < entry.prefix);
            }
            previous = entry.prefix;
        }
        cursor = page->next;
        ++pages;
    }
    EXPECT_EQ(seen.size(), 2345u);
    EXPECT_EQ(pages, 5u);
    EXPECT_EQ(pager_.open_listings(), 0u);  // freed with its last page
    auto again = pager_.page({id, 2000}, 500);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("cursor expired or unknown"), std::string::npos);
}

TEST_F(BanPagerTest, AnEmptyListingIsOneEmptyLastPage) {
    auto id = pager_.open({}, {});
    auto page = pager_.page({id, 0}, 100);
    ASSERT_TRUE(page);
    EXPECT_TRUE(page->entries.empty());
    EXPECT_FALSE(page->next);
    EXPECT_EQ(pager_.open_listings(), 0u);
}

TEST_F(BanPagerTest, UnknownOrPastTheEndCursorsAreErrors) {
    auto id = pager_.open(numbered(10), {});
    auto unknown = pager_.page({id ^ 1, 0}, 5);
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("start the listing again"), std::string::npos);
    auto past = pager_.page({id, 11}, 5);
    ASSERT_FALSE(past);
    EXPECT_NE(past.error().message.find("past the end"), std::string::npos);
    EXPECT_TRUE(pager_.page({id, 0}, 5));  // the listing itself is still fine
}

TEST_F(BanPagerTest, AnIdleListingExpiresAndAnActiveOneStays) {
    auto idle = pager_.open(numbered(10), {});
    auto active = pager_.page({pager_.open(numbered(10), {}), 0}, 2);
    ASSERT_TRUE(active && active->next);
    now_ += kListingIdleSeconds - 1;
    auto step = pager_.page(*active->next, 2);  // touches it
    ASSERT_TRUE(step && step->next);
    now_ += 1;
    pager_.expire();
    EXPECT_EQ(pager_.open_listings(), 1u);
    EXPECT_FALSE(pager_.page({idle, 0}, 2));
    EXPECT_TRUE(pager_.page(*step->next, 2));
}

TEST_F(BanPagerTest, OpenListingsAreBoundedTheLeastRecentlyUsedGoes) {
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < kMaxOpenListings; ++i) {
        ids.push_back(pager_.open(numbered(10), {}));
        ++now_;
    }
    ASSERT_TRUE(pager_.page({ids[0], 0}, 1));  // the oldest is used again
    ++now_;
    auto newest = pager_.open(numbered(10), {});
    EXPECT_EQ(pager_.open_listings(), kMaxOpenListings);
    EXPECT_TRUE(pager_.page({ids[0], 1}, 1));
    EXPECT_FALSE(pager_.page({ids[1], 0}, 1));  // evicted
    EXPECT_TRUE(pager_.page({newest, 0}, 1));
    EXPECT_NE(ids[0], ids[1]);
}

// ---- RuntimeState: the snapshot and its rendering --------------------------------------------------

class BanSnapshotTest : public ::testing::Test {
protected:
    BanSnapshotTest() : batcher_(fake_), state_(batcher_, events_, [this] { return now_; }) {
        for (const char* set : {"ban4", "ban6", "banh4", "banh6"}) fake_.create_set(set);
        RuntimeConfig config;
        config.split_ban_sets = true;
        state_.configure(config);
    }
    Prefix P(const char* text) { return *Prefix::parse(text); }
    kernel::RecordingSetWriter fake_;
    SetBatcher batcher_;
    EventLog events_;
    std::int64_t now_ = 1000;
    RuntimeState state_;
};

TEST_F(BanSnapshotTest, RecordsAndAdoptedKernelBansMergeSortedAndDistinct) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 600, "scan"));
    ASSERT_TRUE(state_.add_ban(P("2001:db8::/48"), 600, "manual"));
    batcher_.flush();
    std::vector<kernel::ListedElement> kernel{
        {P("198.51.100.7"), std::chrono::seconds(600), std::chrono::seconds(590)},  // has a history
        {P("203.0.113.9"), std::chrono::seconds(60), std::chrono::seconds(50)},     // adopted
        {P("192.0.2.0/24"), std::chrono::seconds(0), std::chrono::seconds(0)},      // adopted, no timeout
    };
    auto entries = state_.ban_list_entries(&kernel);
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].prefix, P("192.0.2.0/24"));
    EXPECT_EQ(entries[1].prefix, P("198.51.100.7"));
    EXPECT_FALSE(entries[1].adopted);
    EXPECT_EQ(entries[2].prefix, P("203.0.113.9"));
    EXPECT_TRUE(entries[2].adopted);
    EXPECT_EQ(entries[3].prefix, P("2001:db8::/48"));
    auto seven = state_.ban_entry_json(entries[1]);
    ASSERT_TRUE(seven);
    EXPECT_EQ((*seven)["reason"], "scan");
    EXPECT_EQ((*seven)["offences"], 1);
    auto open_ended = state_.ban_entry_json(entries[0]);
    ASSERT_TRUE(open_ended);
    EXPECT_FALSE(open_ended->contains("remaining"));
    EXPECT_EQ(state_.ban_list_entries(nullptr).size(), 2u);  // records only
    auto by_set = state_.live_bans_by_set();
    EXPECT_EQ(by_set.at("banh4"), 1u);
    EXPECT_EQ(by_set.at("ban6"), 1u);
    EXPECT_EQ(by_set.at("ban4"), 0u);
}

TEST_F(BanSnapshotTest, BansThatEndDuringTheListingAreLeftOutOfLaterPages) {
    ASSERT_TRUE(state_.add_ban(P("198.51.100.7"), 600, "scan"));
    ASSERT_TRUE(state_.add_ban(P("198.51.100.8"), 600, "scan"));
    batcher_.flush();
    std::vector<kernel::ListedElement> kernel{{P("203.0.113.9"), std::chrono::seconds(60), std::chrono::seconds(50)}};
    auto entries = state_.ban_list_entries(&kernel);
    ASSERT_EQ(entries.size(), 3u);
    ASSERT_TRUE(state_.remove_ban(P("198.51.100.8")));
    batcher_.flush();
    EXPECT_TRUE(state_.ban_entry_json(entries[0]));
    EXPECT_FALSE(state_.ban_entry_json(entries[1]));  // removed since the snapshot
    now_ += 51;
    EXPECT_FALSE(state_.ban_entry_json(entries[2]));  // the adopted one ran out
    EXPECT_TRUE(state_.ban_entry_json(entries[0]));
}

// ---- ControlServer: a deferred reply keeps order and does not hold other clients -------------------

std::string read_line(int fd) {
    std::string line;
    char c = 0;
    while (::recv(fd, &c, 1, 0) == 1) {
        if (c == '\n') return line;
        line += c;
    }
    return line + "<EOF>";
}

int connect_to(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void send_text(int fd, const std::string& text) {
    ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

TEST(ControlServerDeferred, OtherClientsAreServedWhileOneWaitsAndRepliesKeepTheirOrder) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    char directory[] = "/tmp/pc-ctl-test-XXXXXX";
    ASSERT_NE(::mkdtemp(directory), nullptr);
    std::string path = std::string(directory) + "/control.sock";
    std::optional<ControlServer::Reply> slow;
    bool fast2_seen = false;
    std::vector<std::string> handled;  // in the order the server handled them
    auto answer_slow = (*loop)->once([&] { (*slow)("slow-done"); });
    ASSERT_TRUE(answer_slow);
    // The slow reply is released only once fast2 (another client) has been handled, whichever of
    // the two the server read first.
    auto release = [&] {
        if (slow && fast2_seen) (*loop)->arm(*answer_slow, std::chrono::milliseconds(0));
    };
    auto server = ControlServer::listen(**loop, path, [&](std::string_view line, const ControlServer::Reply& later)
                                                          -> std::optional<std::string> {
        handled.emplace_back(line);
        if (line == "slow") {
            slow = later;
            release();
            return std::nullopt;
        }
        if (line == "fast2") {
            fast2_seen = true;
            release();
        }
        if (line == "quit") (*loop)->stop();
        return std::string(line) + "-done";
    });
    ASSERT_TRUE(server) << server.error().message;

    std::vector<std::string> first_replies, second_replies;
    std::thread client([&] {
        int one = connect_to(path);
        int two = connect_to(path);
        ASSERT_GE(one, 0);
        ASSERT_GE(two, 0);
        send_text(one, "slow\nfast1\n");
        // slow's reply is only released after fast2 was handled: so fast2's answer proves the
        // server answered another client while `one` waited.
        send_text(two, "fast2\n");
        second_replies.push_back(read_line(two));
        first_replies.push_back(read_line(one));
        first_replies.push_back(read_line(one));
        send_text(two, "quit\n");
        second_replies.push_back(read_line(two));
        ::close(one);
        ::close(two);
    });
    (*loop)->run();
    client.join();
    server->reset();
    std::filesystem::remove_all(directory);

    EXPECT_EQ(second_replies, (std::vector<std::string>{"fast2-done", "quit-done"}));
    EXPECT_EQ(first_replies, (std::vector<std::string>{"slow-done", "fast1-done"}));
    // fast1 arrived with slow but was handled only after slow's reply, which needed fast2.
    ASSERT_EQ(handled.size(), 4u);
    EXPECT_EQ(handled[2], "fast1");
    EXPECT_EQ(handled[3], "quit");
}

TEST(ControlServerDeferred, AReplyForAClientThatLeftIsDropped) {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    char directory[] = "/tmp/pc-ctl-test-XXXXXX";
    ASSERT_NE(::mkdtemp(directory), nullptr);
    std::string path = std::string(directory) + "/control.sock";
    std::optional<ControlServer::Reply> slow;
    auto server = ControlServer::listen(**loop, path, [&](std::string_view line, const ControlServer::Reply& later)
                                                          -> std::optional<std::string> {
        if (line == "slow") {
            slow = later;
            return std::nullopt;
        }
        if (slow) (*slow)("too late");  // its client has gone by now
        (*loop)->stop();
        return std::string("bye");
    });
    ASSERT_TRUE(server);
    std::string reply;
    std::thread client([&] {
        int one = connect_to(path);
        send_text(one, "slow\n");
        ::close(one);
        int two = connect_to(path);
        // Whether the loop saw `one` hang up before it handles this or not, the late reply must
        // neither crash nor reach anybody else.
        send_text(two, "next\n");
        reply = read_line(two);
        ::close(two);
    });
    (*loop)->run();
    client.join();
    EXPECT_EQ(reply, "bye");
    server->reset();
    std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace portcullis::daemon
