#include "auth/replay_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace portcullis::auth {
namespace {

constexpr std::string_view kFormat = "portcullis-spa-replay";
constexpr int kVersion = 1;

std::string to_hex(const Sha256& digest) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(64);
    for (std::uint8_t byte : digest) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 15]);
    }
    return out;
}

std::optional<Sha256> from_hex(std::string_view text) {
    if (text.size() != 64) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    Sha256 digest{};
    for (std::size_t i = 0; i < 32; ++i) {
        int high = nibble(text[2 * i]), low = nibble(text[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        digest[i] = static_cast<std::uint8_t>((high << 4) | low);
    }
    return digest;
}

std::string errno_text() { return std::strerror(errno); }

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return fail(path + ": write failed: " + errno_text());
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return {};
}

}  // namespace

bool ReplayCache::contains(const Sha256& digest, std::int64_t now) const {
    auto found = entries_.find(digest);
    return found != entries_.end() && found->second >= now;
}

bool ReplayCache::insert(const Sha256& digest, std::int64_t expires_at, std::int64_t now) {
    auto found = entries_.find(digest);
    if (found != entries_.end()) {
        found->second = std::max(found->second, expires_at);
        return true;
    }
    if (entries_.size() >= capacity_) expire(now);
    if (entries_.size() >= capacity_) return false;
    entries_.emplace(digest, expires_at);
    return true;
}

std::size_t ReplayCache::expire(std::int64_t now) {
    return std::erase_if(entries_, [now](const auto& entry) { return entry.second < now; });
}

// Written as text directly rather than through nlohmann::json objects: the daemon saves the cache
// after every accepted packet, and building a json object per entry cost ~0.5 ms at 1,000 entries
// on the lab machine (CPU taken right when the sender's connection is being let through).
std::string ReplayCache::to_json() const {
    std::string out;
    out.reserve(96 + entries_.size() * 104);
    out += "{\n \"entries\": [";
    bool first = true;
    for (const auto& [digest, expires] : entries_) {
        out += first ? "\n  {\"expires\": " : ",\n  {\"expires\": ";
        out += std::to_string(expires);
        out += ", \"sha256\": \"";
        out += to_hex(digest);
        out += "\"}";
        first = false;
    }
    out += first ? "]" : "\n ]";
    out += ",\n \"format\": \"";
    out += kFormat;
    out += "\",\n \"version\": ";
    out += std::to_string(kVersion);
    out += "\n}\n";
    return out;
}

Result<void> ReplayCache::from_json(std::string_view text, std::int64_t now) {
    nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) return fail("replay cache is not valid JSON");
    if (!document.is_object() || document.value("format", "") != kFormat)
        return fail("replay cache: missing \"format\": \"portcullis-spa-replay\"");
    auto version = document.find("version");
    if (version == document.end() || !version->is_number_integer() || version->get<int>() != kVersion)
        return fail("replay cache: unsupported \"version\" (expected 1)");
    auto list = document.find("entries");
    if (list == document.end() || !list->is_array()) return fail("replay cache: \"entries\" is not an array");

    std::map<Sha256, std::int64_t> loaded;
    std::size_t index = 0;
    for (const auto& entry : *list) {
        std::string where = "replay cache: entry " + std::to_string(index++) + ": ";
        if (!entry.is_object()) return fail(where + "not an object");
        auto hex = entry.find("sha256");
        auto expires = entry.find("expires");
        if (hex == entry.end() || !hex->is_string()) return fail(where + "\"sha256\" missing");
        if (expires == entry.end() || !expires->is_number_integer()) return fail(where + "\"expires\" missing");
        auto digest = from_hex(hex->get<std::string>());
        if (!digest) return fail(where + "\"sha256\" is not 64 lowercase hex digits");
        std::int64_t expiry = expires->get<std::int64_t>();
        if (expiry < now) continue;
        loaded[*digest] = std::max(loaded[*digest], expiry);
    }
    if (loaded.size() > capacity_)
        return fail("replay cache: " + std::to_string(loaded.size()) + " live entries exceed the capacity " +
                    std::to_string(capacity_));
    entries_ = std::move(loaded);
    return {};
}

Result<void> ReplayCache::save(const std::string& path) const {
    std::string temporary = path + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(temporary + ": cannot create: " + errno_text());
    auto written = write_all(fd, to_json(), temporary);
    if (written && ::fsync(fd) != 0) written = fail(temporary + ": fsync failed: " + errno_text());
    ::close(fd);
    if (!written) {
        ::unlink(temporary.c_str());
        return written;
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        std::string error = errno_text();
        ::unlink(temporary.c_str());
        return fail(path + ": rename failed: " + error);
    }
    // The rename itself must survive a crash too.
    std::string directory = std::filesystem::path(path).parent_path().string();
    if (directory.empty()) directory = ".";
    int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
    return {};
}

Result<void> ReplayCache::load(const std::string& path, std::int64_t now) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
        if (error) return fail(path + ": " + error.message());
        entries_.clear();
        return {};
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) return fail(path + ": cannot open the replay cache");
    std::ostringstream content;
    content << file.rdbuf();
    auto loaded = from_json(content.str(), now);
    if (!loaded) return fail(path + ": " + loaded.error().message);
    return {};
}

}  // namespace portcullis::auth
