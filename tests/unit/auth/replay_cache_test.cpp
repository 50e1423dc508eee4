#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "auth/replay_cache.hpp"

namespace portcullis::auth {
namespace {

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "pc-auth-replay-XXXXXX").string();
        path_ = ::mkdtemp(pattern.data());
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

TEST(ReplayCache, RemembersUntilExpiry) {
    ReplayCache cache;
    Sha256 digest = ReplayCache::digest_of("packet one");
    EXPECT_FALSE(cache.contains(digest, 1000));
    EXPECT_TRUE(cache.insert(digest, 1240, 1000));
    EXPECT_TRUE(cache.contains(digest, 1000));
    EXPECT_TRUE(cache.contains(digest, 1240));
    EXPECT_FALSE(cache.contains(digest, 1241));
    EXPECT_FALSE(cache.contains(ReplayCache::digest_of("packet two"), 1000));
    EXPECT_EQ(cache.expire(1240), 0u);
    EXPECT_EQ(cache.expire(1241), 1u);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(ReplayCache, ReinsertKeepsTheLaterExpiry) {
    ReplayCache cache;
    Sha256 digest = ReplayCache::digest_of("p");
    cache.insert(digest, 2000, 0);
    cache.insert(digest, 1500, 0);
    EXPECT_TRUE(cache.contains(digest, 2000));
    EXPECT_EQ(cache.size(), 1u);
}

TEST(ReplayCache, BoundedRefusesWhenFullOfLiveEntries) {
    ReplayCache cache(2);
    EXPECT_TRUE(cache.insert(ReplayCache::digest_of("a"), 100, 0));
    EXPECT_TRUE(cache.insert(ReplayCache::digest_of("b"), 200, 0));
    EXPECT_FALSE(cache.insert(ReplayCache::digest_of("c"), 300, 50));  // nothing expired yet
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_FALSE(cache.insert(ReplayCache::digest_of("c"), 300, 100));  // "a" lives through 100
    EXPECT_TRUE(cache.insert(ReplayCache::digest_of("c"), 300, 150));   // "a" expired and is dropped
    EXPECT_FALSE(cache.contains(ReplayCache::digest_of("a"), 150));
    EXPECT_TRUE(cache.contains(ReplayCache::digest_of("b"), 150));
    EXPECT_TRUE(cache.contains(ReplayCache::digest_of("c"), 150));
}

TEST(ReplayCache, SaveAndLoadRoundTripSkippingExpired) {
    TempDir dir;
    ReplayCache cache;
    cache.insert(ReplayCache::digest_of("live"), 5000, 1000);
    cache.insert(ReplayCache::digest_of("dying"), 1999, 1000);
    ASSERT_TRUE(cache.save(dir.file("replay.json")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("replay.json.tmp")));
    struct stat info {};
    ASSERT_EQ(::stat(dir.file("replay.json").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);

    ReplayCache restored;
    ASSERT_TRUE(restored.load(dir.file("replay.json"), 2000));
    EXPECT_TRUE(restored.contains(ReplayCache::digest_of("live"), 2000));
    EXPECT_FALSE(restored.contains(ReplayCache::digest_of("dying"), 2000));
    EXPECT_EQ(restored.size(), 1u);
}

TEST(ReplayCache, MissingFileIsAnEmptyCache) {
    TempDir dir;
    ReplayCache cache;
    cache.insert(ReplayCache::digest_of("x"), 100, 0);
    ASSERT_TRUE(cache.load(dir.file("absent.json"), 0));
    EXPECT_EQ(cache.size(), 0u);
}

TEST(ReplayCache, CorruptFilesAreClearErrorsAndChangeNothing) {
    TempDir dir;
    const std::string hex(64, 'a');
    struct Case {
        std::string content;
        std::string expected;
    };
    std::vector<Case> cases = {
        {"{not json", "not valid JSON"},
        {"[]", "format"},
        {R"({"format":"portcullis-spa-replay","version":2,"entries":[]})", "version"},
        {R"({"format":"portcullis-spa-replay","version":1,"entries":{}})", "entries"},
        {R"({"format":"portcullis-spa-replay","version":1,"entries":[{"sha256":"xyz","expires":5}]})", "entry 0"},
        {R"({"format":"portcullis-spa-replay","version":1,"entries":[{"sha256":")" + hex + R"("}]})", "expires"},
        {R"({"format":"portcullis-spa-replay","version":1,"entries":[5]})", "not an object"},
    };
    for (const Case& c : cases) {
        write_file(dir.file("bad.json"), c.content);
        ReplayCache cache;
        cache.insert(ReplayCache::digest_of("kept"), 9999, 0);
        auto loaded = cache.load(dir.file("bad.json"), 0);
        ASSERT_FALSE(loaded) << c.content;
        EXPECT_NE(loaded.error().message.find(c.expected), std::string::npos) << loaded.error().message;
        EXPECT_NE(loaded.error().message.find("bad.json"), std::string::npos);
        EXPECT_TRUE(cache.contains(ReplayCache::digest_of("kept"), 0)) << "a failed load must not clear the cache";
    }
}

TEST(ReplayCache, JsonTextIsTheDocumentTheLoaderReads) {
    ReplayCache empty;
    auto empty_doc = nlohmann::json::parse(empty.to_json());
    EXPECT_EQ(empty_doc["format"], "portcullis-spa-replay");
    EXPECT_EQ(empty_doc["version"], 1);
    EXPECT_TRUE(empty_doc["entries"].is_array());
    EXPECT_TRUE(empty_doc["entries"].empty());

    ReplayCache cache;
    const auto first = ReplayCache::digest_of("one"), second = ReplayCache::digest_of("two");
    ASSERT_TRUE(cache.insert(first, 1800000240, 1800000000));
    ASSERT_TRUE(cache.insert(second, 1800000300, 1800000000));
    auto doc = nlohmann::json::parse(cache.to_json());
    ASSERT_EQ(doc["entries"].size(), 2u);
    std::set<std::pair<std::string, std::int64_t>> entries;
    for (const auto& entry : doc["entries"])
        entries.insert({entry["sha256"].get<std::string>(), entry["expires"].get<std::int64_t>()});
    EXPECT_TRUE(entries.count({"7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed", 1800000240}));
    EXPECT_EQ(entries.size(), 2u);

    ReplayCache restored;
    ASSERT_TRUE(restored.from_json(cache.to_json(), 1800000000));
    EXPECT_TRUE(restored.contains(first, 1800000000));
    EXPECT_TRUE(restored.contains(second, 1800000250));
    EXPECT_FALSE(restored.contains(first, 1800000250));  // expiry kept
}

TEST(ReplayCache, LoadRefusesMoreLiveEntriesThanCapacity) {
    ReplayCache big;
    big.insert(ReplayCache::digest_of("1"), 100, 0);
    big.insert(ReplayCache::digest_of("2"), 100, 0);
    ReplayCache small(1);
    auto loaded = small.from_json(big.to_json(), 0);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("capacity"), std::string::npos);
}

TEST(ReplayCache, SaveToAnUnwritablePlaceFails) {
    ReplayCache cache;
    auto saved = cache.save("/nonexistent-dir-pc-auth/replay.json");
    ASSERT_FALSE(saved);
    EXPECT_NE(saved.error().message.find("cannot create"), std::string::npos);
}

}  // namespace
}  // namespace portcullis::auth
