#include "daemon/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace portcullis::daemon {

std::string serialize_state(const DaemonState& state) {
    // Written directly rather than through a JSON DOM: a million bans must not cost seconds.
    std::string out = "{\n \"version\": " + std::to_string(kStateVersion) + ",\n \"bans\": [";
    out.reserve(out.size() + state.bans.size() * 128);
    for (std::size_t i = 0; i < state.bans.size(); ++i) {
        const BanRecord& ban = state.bans[i];
        std::string prefix = ban.prefix.is_host() ? ban.prefix.address.to_string() : ban.prefix.to_string();
        out += i ? ",\n  " : "\n  ";
        out += fmt::format(R"({{"prefix": "{}", "banned_at": {}, "expires_at": {}, "offences": {}, "last_duration": {}, "reason": {}}})",
                           prefix, ban.banned_at, ban.expires_at, ban.offences, ban.last_duration,
                           nlohmann::json(ban.reason).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    out += state.bans.empty() ? "]" : "\n ]";
    if (state.spa_replay) out += ",\n \"spa_replay\": " + *state.spa_replay;
    out += "\n}\n";
    return out;
}

namespace {

Result<std::int64_t> integer_field(const nlohmann::json& item, const char* name,
                                   const std::string& where, bool required) {
    auto it = item.find(name);
    if (it == item.end()) {
        if (required) return fail(where + "." + name + ": missing");
        return 0;
    }
    if (!it->is_number_integer()) return fail(where + "." + name + ": expected an integer");
    return it->get<std::int64_t>();
}

}  // namespace

Result<DaemonState> parse_state(std::string_view text) {
    nlohmann::json root = nlohmann::json::parse(text, nullptr, false);
    if (root.is_discarded()) return fail("not valid JSON (truncated or corrupt)");
    if (!root.is_object()) return fail("expected a JSON object at the top level");
    auto version = root.find("version");
    if (version == root.end() || !version->is_number_integer())
        return fail("version: missing or not an integer");
    if (version->get<int>() != kStateVersion)
        return fail("version: " + version->dump() + " is not supported (expected 1)");
    auto bans = root.find("bans");
    if (bans == root.end() || !bans->is_array()) return fail("bans: missing or not an array");
    DaemonState state;
    state.bans.reserve(bans->size());
    for (std::size_t i = 0; i < bans->size(); ++i) {
        const auto& item = (*bans)[i];
        std::string where = "bans[" + std::to_string(i) + "]";
        if (!item.is_object()) return fail(where + ": expected an object");
        auto prefix_field = item.find("prefix");
        if (prefix_field == item.end() || !prefix_field->is_string())
            return fail(where + ".prefix: missing or not a string");
        auto prefix = Prefix::parse(prefix_field->get<std::string>());
        if (!prefix) return fail(where + ".prefix: " + prefix.error().message);
        BanRecord ban;
        ban.prefix = *prefix;
        auto banned_at = integer_field(item, "banned_at", where, false);
        auto expires_at = integer_field(item, "expires_at", where, true);
        auto offences = integer_field(item, "offences", where, false);
        auto last_duration = integer_field(item, "last_duration", where, false);
        for (const auto* field : {&banned_at, &expires_at, &offences, &last_duration})
            if (!*field) return tl::unexpected(field->error());
        if (*offences < 0 || *offences > UINT32_MAX) return fail(where + ".offences: out of range");
        if (*last_duration < 0 || *last_duration > UINT32_MAX)
            return fail(where + ".last_duration: out of range");
        ban.banned_at = *banned_at;
        ban.expires_at = *expires_at;
        ban.offences = static_cast<std::uint32_t>(*offences);
        ban.last_duration = static_cast<std::uint32_t>(*last_duration);
        if (auto reason = item.find("reason"); reason != item.end() && reason->is_string())
            ban.reason = reason->get<std::string>();
        state.bans.push_back(std::move(ban));
    }
    if (auto replay = root.find("spa_replay"); replay != root.end()) {
        if (!replay->is_object()) return fail("spa_replay: expected an object");
        state.spa_replay = replay->dump();
    }
    return state;
}

StateLoad load_state_file(const std::string& path, std::int64_t now) {
    StateLoad out;
    std::error_code ignored;
    if (!std::filesystem::exists(path, ignored)) return out;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        out.problem = "cannot read " + path + ": " + std::strerror(errno);
        return out;
    }
    out.existed = true;
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto parsed = parse_state(buffer.str());
    if (parsed) {
        out.state = std::move(*parsed);
        return out;
    }
    out.problem = path + ": " + parsed.error().message;
    std::string aside = path + ".corrupt-" + std::to_string(now);
    if (std::rename(path.c_str(), aside.c_str()) == 0) out.kept_aside = aside;
    return out;
}

Result<void> save_state_file(const std::string& path, const DaemonState& state) {
    return write_state_text(path, serialize_state(state));
}

Result<void> write_state_text(const std::string& path, const std::string& text) {
    std::filesystem::path target(path);
    std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
    std::string temporary = path + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("cannot write " + temporary + ": " + std::strerror(errno));
    std::size_t written = 0;
    while (written < text.size()) {
        ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            ::close(fd);
            ::unlink(temporary.c_str());
            return fail("cannot write " + temporary + ": " + std::strerror(saved));
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        int saved = errno;
        ::close(fd);
        ::unlink(temporary.c_str());
        return fail("fsync " + temporary + ": " + std::strerror(saved));
    }
    ::close(fd);
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        int saved = errno;
        ::unlink(temporary.c_str());
        return fail("rename to " + path + ": " + std::strerror(saved));
    }
    // The rename is durable only once the directory entry is.
    int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
    return {};
}

}  // namespace portcullis::daemon
