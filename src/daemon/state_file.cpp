#include "daemon/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

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

// Streams the file through nlohmann's SAX interface: no DOM, so 100k bans parse in a fraction of
// the time and memory a tree would take. Every problem stops the parse with a message that says
// where ("bans[3].prefix: ...").
class StateReader final : public nlohmann::json_sax<nlohmann::json> {
public:
    explicit StateReader(DaemonState& state) : state_(state) {}

    std::optional<std::string> problem;  // set when a value had the wrong shape
    std::optional<std::int64_t> version;
    bool saw_bans = false;

    bool null() override { return capturing() ? captured(nlohmann::json(nullptr)) : scalar(Scalar::other, 0, nullptr); }
    bool boolean(bool value) override {
        return capturing() ? captured(nlohmann::json(value)) : scalar(Scalar::other, 0, nullptr);
    }
    bool number_integer(number_integer_t value) override {
        return capturing() ? captured(nlohmann::json(value)) : scalar(Scalar::integer, value, nullptr);
    }
    bool number_unsigned(number_unsigned_t value) override {
        if (capturing()) return captured(nlohmann::json(value));
        if (value > static_cast<number_unsigned_t>(INT64_MAX)) return scalar(Scalar::too_big, 0, nullptr);
        return scalar(Scalar::integer, static_cast<std::int64_t>(value), nullptr);
    }
    bool number_float(number_float_t value, const string_t&) override {
        return capturing() ? captured(nlohmann::json(value)) : scalar(Scalar::other, 0, nullptr);
    }
    bool string(string_t& value) override {
        return capturing() ? captured(nlohmann::json(value)) : scalar(Scalar::text, 0, &value);
    }
    bool binary(binary_t&) override { return capturing() ? captured(nlohmann::json(nullptr)) : scalar(Scalar::other, 0, nullptr); }

    bool start_object(std::size_t) override {
        if (capturing()) return capture_open('{');
        if (skipping_) return ++skipping_, true;
        if (level_ == Level::root && key_ == "spa_replay") {
            // The SPA replay cache (small) is kept as JSON text for auth::ReplayCache::from_json.
            capture_.clear();
            return capture_open('{');
        }
        switch (level_) {
            case Level::document: level_ = Level::root; return true;
            case Level::root:
                if (key_ == "bans") return shape_error("bans: missing or not an array");
                if (key_ == "version") return shape_error("version: missing or not an integer");
                return ++skipping_, true;
            case Level::bans:
                level_ = Level::ban;
                ban_ = BanRecord{};
                has_prefix_ = has_expires_ = false;
                return true;
            case Level::ban: return field_shape_error() && (++skipping_, true);
        }
        return true;
    }
    bool end_object() override {
        if (capturing()) return capture_close('}');
        if (skipping_) return --skipping_, true;
        if (level_ == Level::ban) {
            if (!has_prefix_) return shape_error(where() + ".prefix: missing or not a string");
            if (!has_expires_) return shape_error(where() + ".expires_at: missing");
            state_.bans.push_back(std::move(ban_));
            ++index_;
            level_ = Level::bans;
        } else if (level_ == Level::root) {
            level_ = Level::document;
        }
        return true;
    }
    bool start_array(std::size_t) override {
        if (capturing()) return capture_open('[');
        if (skipping_) return ++skipping_, true;
        if (level_ == Level::root && key_ == "spa_replay") return shape_error("spa_replay: expected an object");
        switch (level_) {
            case Level::document: return shape_error("expected a JSON object at the top level");
            case Level::root:
                if (key_ == "bans") {
                    level_ = Level::bans;
                    saw_bans = true;
                    return true;
                }
                if (key_ == "version") return shape_error("version: missing or not an integer");
                return ++skipping_, true;
            case Level::bans: return shape_error(where() + ": expected an object");
            case Level::ban: return field_shape_error() && (++skipping_, true);
        }
        return true;
    }
    bool end_array() override {
        if (capturing()) return capture_close(']');
        if (skipping_) return --skipping_, true;
        if (level_ == Level::bans) level_ = Level::root;
        return true;
    }
    bool key(string_t& value) override {
        if (capturing()) {
            if (!capture_first_.back()) capture_ += ',';
            capture_first_.back() = false;
            capture_ += nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            capture_ += ':';
            capture_after_key_ = true;
            return true;
        }
        if (!skipping_) key_ = value;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

private:
    enum class Level { document, root, bans, ban };

    // Re-emits the events inside "spa_replay" as JSON text (the object is small; bans stay streamed).
    bool capturing() const { return !capture_first_.empty(); }
    void capture_separator() {
        if (capture_after_key_) {
            capture_after_key_ = false;
            return;
        }
        if (!capture_first_.empty()) {
            if (!capture_first_.back()) capture_ += ',';
            capture_first_.back() = false;
        }
    }
    bool captured(const nlohmann::json& value) {
        capture_separator();
        capture_ += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return true;
    }
    bool capture_open(char bracket) {
        capture_separator();
        capture_ += bracket;
        capture_first_.push_back(true);
        return true;
    }
    bool capture_close(char bracket) {
        capture_ += bracket;
        capture_first_.pop_back();
        if (!capturing()) state_.spa_replay = std::move(capture_);
        return true;
    }
    enum class Scalar { integer, too_big, text, other };

    std::string where() const { return "bans[" + std::to_string(index_) + "]"; }
    bool shape_error(std::string message) {
        problem = std::move(message);
        return false;
    }
    // A field we read has an object or array as its value.
    bool field_shape_error() {
        if (key_ == "prefix") return shape_error(where() + ".prefix: missing or not a string");
        for (const char* name : {"banned_at", "expires_at", "offences", "last_duration"})
            if (key_ == name) return shape_error(where() + "." + name + ": expected an integer");
        return true;
    }

    bool scalar(Scalar kind, std::int64_t value, const std::string* text) {
        if (skipping_) return true;
        switch (level_) {
            case Level::document: return shape_error("expected a JSON object at the top level");
            case Level::root:
                if (key_ == "version") {
                    if (kind != Scalar::integer) return shape_error("version: missing or not an integer");
                    version = value;
                } else if (key_ == "bans") {
                    return shape_error("bans: missing or not an array");
                } else if (key_ == "spa_replay") {
                    return shape_error("spa_replay: expected an object");
                }
                return true;
            case Level::bans: return shape_error(where() + ": expected an object");
            case Level::ban: return ban_field(kind, value, text);
        }
        return true;
    }

    bool ban_field(Scalar kind, std::int64_t value, const std::string* text) {
        if (key_ == "prefix") {
            if (kind != Scalar::text) return shape_error(where() + ".prefix: missing or not a string");
            auto prefix = Prefix::parse(*text);
            if (!prefix) return shape_error(where() + ".prefix: " + prefix.error().message);
            ban_.prefix = *prefix;
            has_prefix_ = true;
            return true;
        }
        if (key_ == "reason") {
            if (kind == Scalar::text) ban_.reason = *text;
            return true;
        }
        std::int64_t* target = nullptr;
        bool unsigned32 = false;
        if (key_ == "banned_at") target = &ban_.banned_at;
        else if (key_ == "expires_at") target = &ban_.expires_at, has_expires_ = kind == Scalar::integer;
        else if (key_ == "offences" || key_ == "last_duration") unsigned32 = true;
        else return true;  // unknown fields are ignored (a newer writer may add some)
        if (kind == Scalar::too_big && unsigned32) return shape_error(where() + "." + key_ + ": out of range");
        if (kind != Scalar::integer) return shape_error(where() + "." + key_ + ": expected an integer");
        if (target) {
            *target = value;
            return true;
        }
        if (value < 0 || value > UINT32_MAX) return shape_error(where() + "." + key_ + ": out of range");
        (key_ == "offences" ? ban_.offences : ban_.last_duration) = static_cast<std::uint32_t>(value);
        return true;
    }

    DaemonState& state_;
    Level level_ = Level::document;
    std::size_t skipping_ = 0;  // depth inside a value we do not read
    std::string key_;
    std::string capture_;
    std::vector<bool> capture_first_;  // per open container inside spa_replay: no element yet
    bool capture_after_key_ = false;
    BanRecord ban_;
    bool has_prefix_ = false, has_expires_ = false;
    std::size_t index_ = 0;
};

}  // namespace

Result<DaemonState> parse_state(std::string_view text) {
    DaemonState state;
    StateReader reader(state);
    bool parsed = nlohmann::json::sax_parse(text, &reader);
    if (reader.problem) return fail(*reader.problem);
    if (!parsed) return fail("not valid JSON (truncated or corrupt)");
    if (!reader.version) return fail("version: missing or not an integer");
    if (*reader.version != kStateVersion)
        return fail("version: " + std::to_string(*reader.version) + " is not supported (expected 1)");
    if (!reader.saw_bans) return fail("bans: missing or not an array");
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
    std::string text;
    in.seekg(0, std::ios::end);
    auto size = in.tellg();
    in.seekg(0, std::ios::beg);
    if (size > 0) {
        text.resize(static_cast<std::size_t>(size));
        in.read(text.data(), size);
        text.resize(static_cast<std::size_t>(in.gcount()));
    }
    auto parsed = parse_state(text);
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
