#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "daemon/events.hpp"

namespace portcullis::daemon {
namespace {

TEST(FormatEvent, TimestampAndTypeComeFirstAndFieldsFollow) {
    auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
    std::string line = format_event("ban_added", {{"prefix", "192.0.2.1"}, {"seconds", 60}}, when);
    EXPECT_EQ(line.rfind(R"({"ts":"2023-11-14T22:13:20.123Z","type":"ban_added",)", 0), 0u) << line;
    auto parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed["prefix"], "192.0.2.1");
    EXPECT_EQ(parsed["seconds"], 60);
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(FormatEvent, FieldsCannotOverrideTsOrType) {
    auto line = format_event("applied", {{"type", "forged"}, {"ts", "x"}}, std::chrono::system_clock::now());
    auto parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed["type"], "applied");
    EXPECT_NE(parsed["ts"], "x");
}

TEST(FormatEvent, InvalidUtf8IsReplacedNotThrown) {
    std::string bad = "\xff\xfe";
    std::string line;
    EXPECT_NO_THROW(line = format_event("config_error", {{"error", bad}}, std::chrono::system_clock::now()));
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded());
}

TEST(FormatTimestamp, IsRfc3339Utc) {
    std::regex shape(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
    EXPECT_TRUE(std::regex_match(format_timestamp(std::chrono::system_clock::now()), shape));
}

TEST(EventLog, CountsByTypeAndAppendsToTheFile) {
    std::string path = std::filesystem::temp_directory_path() / ("pc-events-" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(path);
    {
        EventLog log;
        ASSERT_TRUE(log.open_file(path));
        log.emit(event::kBanAdded, {{"prefix", "192.0.2.1"}});
        log.emit(event::kBanAdded, {{"prefix", "192.0.2.2"}});
        log.emit(event::kReloaded);
        EXPECT_EQ(log.counts().at("ban_added"), 2u);
        EXPECT_EQ(log.counts().at("reloaded"), 1u);
    }
    std::ifstream in(path);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
        auto parsed = nlohmann::json::parse(line);
        EXPECT_TRUE(parsed.contains("ts"));
        ++lines;
    }
    EXPECT_EQ(lines, 3);
    std::filesystem::remove(path);
}

TEST(EventLog, UnwritableFileIsAnError) {
    EventLog log;
    EXPECT_FALSE(log.open_file("/nonexistent-dir/events.jsonl"));
}

}  // namespace
}  // namespace portcullis::daemon
