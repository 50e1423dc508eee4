#include "daemon/events.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/core.h>

namespace portcullis::daemon {

std::string format_timestamp(std::chrono::system_clock::time_point when) {
    auto since_epoch = when.time_since_epoch();
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    std::time_t whole = static_cast<std::time_t>(seconds.count());
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:03d}Z", text, static_cast<int>(millis.count()));
}

std::string format_event(std::string_view type, const nlohmann::json& fields,
                         std::chrono::system_clock::time_point when) {
    // ts and type first so a human scanning the journal reads them first.
    nlohmann::ordered_json line;
    line["ts"] = format_timestamp(when);
    line["type"] = std::string(type);
    if (fields.is_object()) {
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            if (it.key() == "ts" || it.key() == "type") continue;
            line[it.key()] = it.value();
        }
    }
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

EventLog::~EventLog() {
    if (file_) std::fclose(file_);
}

Result<void> EventLog::open_file(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "ae");
    if (!file) return fail("cannot open events file " + path + ": " + std::strerror(errno));
    setvbuf(file, nullptr, _IOLBF, 0);
    if (file_) std::fclose(file_);
    file_ = file;
    return {};
}

void EventLog::emit(std::string_view type, const nlohmann::json& fields) {
    ++counts_[std::string(type)];
    std::string line = format_event(type, fields, std::chrono::system_clock::now());
    line += '\n';
    for (std::FILE* out : {stdout_, file_}) {
        if (!out) continue;
        std::fwrite(line.data(), 1, line.size(), out);
        std::fflush(out);
    }
}

}  // namespace portcullis::daemon
