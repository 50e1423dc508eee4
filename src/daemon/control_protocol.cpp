#include "daemon/control_protocol.hpp"

#include <cstdint>
#include <cstdio>
#include <set>

namespace portcullis::daemon {

const std::vector<std::string>& command_names() {
    static const std::vector<std::string> names = {
        "status", "grants.list", "grants.add", "grants.revoke", "bans.list",
        "bans.count", "bans.add", "bans.remove", "reload", "confirm"};
    return names;
}

namespace {

using nlohmann::json;

Result<std::string> string_field(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end()) return fail(std::string("missing field \"") + name + "\"");
    if (!it->is_string()) return fail(std::string("field \"") + name + "\" must be a string");
    return it->get<std::string>();
}

Result<std::optional<std::uint32_t>> seconds_field(const json& object) {
    auto it = object.find("seconds");
    if (it == object.end() || it->is_null()) return std::optional<std::uint32_t>{};
    if (!it->is_number_integer())
        return fail("field \"seconds\" must be a positive integer");
    auto value = it->get<std::int64_t>();
    if (value < 1 || value > kMaxTimeoutSeconds)
        return fail("field \"seconds\" must be between 1 and " + std::to_string(kMaxTimeoutSeconds));
    return std::optional<std::uint32_t>(static_cast<std::uint32_t>(value));
}

Result<void> only_fields(const json& object, std::set<std::string> allowed) {
    allowed.insert("cmd");
    allowed.insert("id");
    for (auto it = object.begin(); it != object.end(); ++it)
        if (!allowed.count(it.key())) return fail("unknown field \"" + it.key() + "\"");
    return {};
}

bool valid_service_name(const std::string& name) {
    if (name.empty() || name.size() > 32) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    return true;
}

Result<Request> parse_grant(const json& object, bool adding) {
    auto source_text = string_field(object, "source");
    if (!source_text) return tl::unexpected(source_text.error());
    auto source = Address::parse(*source_text);
    if (!source) return fail("field \"source\": " + source.error().message);
    auto service = string_field(object, "service");
    if (!service) return tl::unexpected(service.error());
    if (!valid_service_name(*service)) return fail("field \"service\": not a service name");
    if (!adding) {
        if (auto ok = only_fields(object, {"source", "service"}); !ok) return tl::unexpected(ok.error());
        return request::GrantRevoke{*source, *service};
    }
    if (auto ok = only_fields(object, {"source", "service", "seconds"}); !ok)
        return tl::unexpected(ok.error());
    auto seconds = seconds_field(object);
    if (!seconds) return tl::unexpected(seconds.error());
    return request::GrantAdd{*source, *service, *seconds};
}

Result<Request> parse_ban(const json& object, bool adding) {
    auto prefix_text = string_field(object, "prefix");
    if (!prefix_text) return tl::unexpected(prefix_text.error());
    auto prefix = Prefix::parse(*prefix_text);
    if (!prefix) return fail("field \"prefix\": " + prefix.error().message);
    if (!adding) {
        if (auto ok = only_fields(object, {"prefix"}); !ok) return tl::unexpected(ok.error());
        return request::BanRemove{*prefix};
    }
    if (auto ok = only_fields(object, {"prefix", "seconds", "reason"}); !ok)
        return tl::unexpected(ok.error());
    auto seconds = seconds_field(object);
    if (!seconds) return tl::unexpected(seconds.error());
    request::BanAdd ban{*prefix, *seconds, "manual"};
    if (auto reason = object.find("reason"); reason != object.end()) {
        if (!reason->is_string() || reason->get<std::string>().size() > 64)
            return fail("field \"reason\" must be a string of at most 64 characters");
        ban.reason = reason->get<std::string>();
    }
    return ban;
}

Result<Request> parse_bans_list(const json& object) {
    if (auto ok = only_fields(object, {"limit", "cursor", "source"}); !ok) return tl::unexpected(ok.error());
    request::BansList list;
    if (auto it = object.find("limit"); it != object.end()) {
        if (!it->is_number_integer())
            return fail("field \"limit\" must be an integer between 1 and " + std::to_string(kMaxPageBans));
        auto value = it->get<std::int64_t>();
        if (value < 1 || value > kMaxPageBans)
            return fail("field \"limit\" must be between 1 and " + std::to_string(kMaxPageBans));
        list.limit = static_cast<std::uint32_t>(value);
    }
    if (auto it = object.find("cursor"); it != object.end()) {
        if (!it->is_string()) return fail("field \"cursor\" must be a string (the \"next\" of the previous page)");
        auto cursor = parse_cursor(it->get<std::string>());
        if (!cursor) return tl::unexpected(cursor.error());
        list.cursor = it->get<std::string>();
    }
    if (auto it = object.find("source"); it != object.end()) {
        if (list.cursor) return fail("field \"source\" belongs to the first page only (a cursor continues its listing)");
        if (!it->is_string() || (*it != "kernel" && *it != "records"))
            return fail("field \"source\" must be \"kernel\" or \"records\"");
        list.source = *it == "kernel" ? request::BanSource::kernel : request::BanSource::records;
    }
    return list;
}

Result<Request> parse_bans_count(const json& object) {
    if (auto ok = only_fields(object, {"kernel"}); !ok) return tl::unexpected(ok.error());
    request::BansCount count;
    if (auto it = object.find("kernel"); it != object.end()) {
        if (!it->is_boolean()) return fail("field \"kernel\" must be true or false");
        count.kernel = it->get<bool>();
    }
    return count;
}

}  // namespace

std::string format_cursor(const BanCursor& cursor) {
    char text[48];
    std::snprintf(text, sizeof text, "%016llx.%llu", static_cast<unsigned long long>(cursor.listing),
                  static_cast<unsigned long long>(cursor.offset));
    return text;
}

Result<BanCursor> parse_cursor(std::string_view text) {
    auto bad = [] { return fail("field \"cursor\": not a cursor of this daemon (pass the \"next\" of the previous page unchanged)"); };
    auto dot = text.find('.');
    if (dot != 16 || text.size() < 18 || text.size() > 16 + 1 + 20) return bad();
    BanCursor cursor;
    for (char c : text.substr(0, 16)) {
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) return bad();
        cursor.listing = (cursor.listing << 4) | static_cast<std::uint64_t>(digit);
    }
    for (char c : text.substr(17)) {
        if (c < '0' || c > '9') return bad();
        std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (cursor.offset > (UINT64_MAX - digit) / 10) return bad();
        cursor.offset = cursor.offset * 10 + digit;
    }
    return cursor;
}

Result<Request> parse_request(std::string_view line) {
    if (line.size() > kMaxRequestBytes)
        return fail("request too large (limit " + std::to_string(kMaxRequestBytes) + " bytes)");
    json object = json::parse(line, nullptr, false);
    if (object.is_discarded()) return fail("request is not valid JSON");
    if (!object.is_object()) return fail("request must be a JSON object");
    auto command = string_field(object, "cmd");
    if (!command) return tl::unexpected(command.error());
    auto no_arguments = [&](Request value) -> Result<Request> {
        if (auto ok = only_fields(object, {}); !ok) return tl::unexpected(ok.error());
        return value;
    };
    if (*command == "status") return no_arguments(request::Status{});
    if (*command == "grants.list") return no_arguments(request::GrantsList{});
    if (*command == "bans.list") return parse_bans_list(object);
    if (*command == "bans.count") return parse_bans_count(object);
    if (*command == "reload") return no_arguments(request::Reload{});
    if (*command == "confirm") return no_arguments(request::Confirm{});
    if (*command == "grants.add") return parse_grant(object, true);
    if (*command == "grants.revoke") return parse_grant(object, false);
    if (*command == "bans.add") return parse_ban(object, true);
    if (*command == "bans.remove") return parse_ban(object, false);
    std::string known;
    for (const auto& name : command_names()) known += (known.empty() ? "" : ", ") + name;
    return fail("unknown command \"" + *command + "\" (known: " + known + ")");
}

std::string error_reply(std::string_view message) {
    nlohmann::json reply;
    reply["ok"] = false;
    reply["error"] = std::string(message);
    return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ok_reply(nlohmann::json fields) {
    if (!fields.is_object()) fields = nlohmann::json::object();
    fields["ok"] = true;
    return fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<LineFramer::Line> LineFramer::feed(std::string_view data) {
    std::vector<Line> lines;
    while (!data.empty()) {
        auto newline = data.find('\n');
        std::string_view chunk = data.substr(0, newline);
        if (discarding_) {
            if (newline == std::string_view::npos) return lines;
            discarding_ = false;
        } else if (buffer_.size() + chunk.size() > limit_) {
            lines.push_back({{}, true});
            buffer_.clear();
            discarding_ = newline == std::string_view::npos;
        } else {
            buffer_.append(chunk);
            if (newline != std::string_view::npos) {
                if (!buffer_.empty() && buffer_.back() == '\r') buffer_.pop_back();
                lines.push_back({std::move(buffer_), false});
                buffer_.clear();
            }
        }
        if (newline == std::string_view::npos) break;
        data.remove_prefix(newline + 1);
    }
    return lines;
}

}  // namespace portcullis::daemon
