#include "auth/spa_message.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "auth/spa_crypto.hpp"
#include "common/net.hpp"

namespace portcullis::auth {
namespace {

constexpr std::size_t kRandomLength = 16;
constexpr std::size_t kDigestLength = base64_unpadded_length(32);  // 43
constexpr std::size_t kMaxTimestampDigits = 12;                    // fwknop MAX_SPA_TIMESTAMP_SIZE
constexpr std::size_t kMaxVersionLength = 8;                       // fwknop MAX_SPA_VERSION_SIZE

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

template <typename Integer>
std::optional<Integer> parse_decimal(std::string_view text, std::size_t max_digits) {
    if (!all_digits(text) || text.size() > max_digits) return std::nullopt;
    if (text.size() > 1 && text.front() == '0') return std::nullopt;  // one spelling per number
    Integer value{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t end = text.find(separator, start);
        if (end == std::string_view::npos) {
            parts.push_back(text.substr(start));
            return parts;
        }
        parts.push_back(text.substr(start, end - start));
        start = end + 1;
    }
}

std::optional<std::string> decode_text_field(std::string_view field, std::size_t max_length) {
    if (field.empty()) return std::nullopt;
    auto decoded = base64_decode_unpadded(field);
    if (!decoded || decoded->empty() || decoded->size() > max_length) return std::nullopt;
    std::string text(decoded->begin(), decoded->end());
    bool printable = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (!printable) return std::nullopt;
    return text;
}

bool valid_version(std::string_view version) {
    if (version.empty() || version.size() > kMaxVersionLength) return false;
    auto parts = split(version, '.');
    if (parts.size() != 3) return false;
    return std::all_of(parts.begin(), parts.end(), [](std::string_view p) { return all_digits(p); });
}

bool valid_address_text(std::string_view text) {
    return Address::parse(text).has_value();
}

}  // namespace

bool valid_username(std::string_view username) {
    if (username.empty() || username.size() > kMaxUsernameLength) return false;
    constexpr std::string_view kForbidden = "\"/\\[]:;|=,+*?<>";
    return std::all_of(username.begin(), username.end(), [&](char c) {
        return c >= 0x20 && c <= 0x7e && kForbidden.find(c) == std::string_view::npos;
    });
}

tl::expected<AccessPort, std::string> parse_access_port(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return tl::unexpected("'" + std::string(text) + "' is not proto/port");
    std::string_view protocol = text.substr(0, slash);
    AccessPort access;
    if (protocol == "tcp") {
        access.protocol = AccessProtocol::tcp;
    } else if (protocol == "udp") {
        access.protocol = AccessProtocol::udp;
    } else {
        return tl::unexpected("protocol '" + std::string(protocol) + "' is not tcp or udp");
    }
    auto port = parse_decimal<std::uint32_t>(text.substr(slash + 1), 5);
    if (!port || *port == 0 || *port > 65535)
        return tl::unexpected("port in '" + std::string(text) + "' is not 1-65535");
    access.port = static_cast<std::uint16_t>(*port);
    return access;
}

tl::expected<std::vector<AccessPort>, std::string> parse_access_list(std::string_view text) {
    std::vector<AccessPort> list;
    for (std::string_view item : split(text, ',')) {
        auto access = parse_access_port(item);
        if (!access) return tl::unexpected(access.error());
        list.push_back(*access);
    }
    if (list.empty() || list.size() > kMaxAccessEntries)
        return tl::unexpected(std::string("between 1 and 16 proto/port entries are needed"));
    return list;
}

std::string to_string(const AccessPort& access) {
    return std::string(access.protocol == AccessProtocol::tcp ? "tcp/" : "udp/") + std::to_string(access.port);
}

tl::expected<std::string, std::string> encode_fields(const SpaMessage& message) {
    if (message.random.size() != kRandomLength || !all_digits(message.random))
        return tl::unexpected(std::string("random value must be 16 digits"));
    if (!valid_username(message.username))
        return tl::unexpected("username '" + message.username + "' cannot be carried by the SPA format");
    if (message.timestamp < 0) return tl::unexpected(std::string("negative timestamp"));
    if (!valid_version(message.version)) return tl::unexpected("bad version '" + message.version + "'");
    if (!valid_address_text(message.allow_address))
        return tl::unexpected("'" + message.allow_address + "' is not an IP address");
    if (message.access.empty() || message.access.size() > kMaxAccessEntries)
        return tl::unexpected(std::string("between 1 and 16 proto/port entries are needed"));
    bool with_timeout = message.type == MessageType::client_timeout_access;
    if (message.type != MessageType::access && !with_timeout)
        return tl::unexpected(std::string("only access messages can be encoded"));
    if (with_timeout != message.client_timeout.has_value())
        return tl::unexpected(std::string("a client timeout goes with message type 3 only"));
    if (with_timeout && (*message.client_timeout == 0 || *message.client_timeout > kMaxClientTimeout))
        return tl::unexpected(std::string("client timeout must be 1-65536 seconds"));

    std::string body = message.allow_address;
    for (const AccessPort& access : message.access) body += "," + to_string(access);
    if (body.size() > kMaxMessageLength) return tl::unexpected(std::string("access message too long"));

    std::string fields = message.random;
    fields += ":" + base64_encode_unpadded(view_of(message.username));
    fields += ":" + std::to_string(message.timestamp);
    fields += ":" + message.version;
    fields += ":" + std::to_string(static_cast<int>(message.type));
    fields += ":" + base64_encode_unpadded(view_of(body));
    if (with_timeout) fields += ":" + std::to_string(*message.client_timeout);
    return fields;
}

tl::expected<std::string, std::string> encode_plaintext(const SpaMessage& message) {
    auto fields = encode_fields(message);
    if (!fields) return fields;
    Sha256 digest = sha256(view_of(*fields));
    return *fields + ":" + base64_encode_unpadded(digest);
}

tl::expected<SpaMessage, Reject> parse_plaintext(std::string_view plaintext) {
    auto fail = [](Reject reason) { return tl::unexpected(reason); };
    bool printable = std::all_of(plaintext.begin(), plaintext.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    if (!printable) return fail(Reject::malformed);

    // The digest comes first: nothing inside is trusted until it matches.
    std::size_t last_colon = plaintext.rfind(':');
    if (last_colon == std::string_view::npos) return fail(Reject::malformed);
    std::string_view digest_text = plaintext.substr(last_colon + 1);
    std::string_view fields_text = plaintext.substr(0, last_colon);
    if (digest_text.size() != kDigestLength) return fail(Reject::bad_digest);
    std::string expected_digest = base64_encode_unpadded(sha256(view_of(fields_text)));
    if (!constant_time_equal(view_of(expected_digest), view_of(digest_text))) return fail(Reject::bad_digest);

    auto fields = split(fields_text, ':');
    if (fields.size() < 6) return fail(Reject::malformed);

    SpaMessage message;
    if (fields[0].size() != kRandomLength || !all_digits(fields[0])) return fail(Reject::malformed);
    message.random = std::string(fields[0]);

    auto username = decode_text_field(fields[1], kMaxUsernameLength);
    if (!username || !valid_username(*username)) return fail(Reject::malformed);
    message.username = std::move(*username);

    auto timestamp = parse_decimal<std::int64_t>(fields[2], kMaxTimestampDigits);
    if (!timestamp) return fail(Reject::malformed);
    message.timestamp = *timestamp;

    if (!valid_version(fields[3])) return fail(Reject::malformed);
    message.version = std::string(fields[3]);

    auto type = parse_decimal<unsigned>(fields[4], 1);
    if (!type || *type > 6) return fail(Reject::malformed);
    message.type = static_cast<MessageType>(*type);
    if (message.type != MessageType::access && message.type != MessageType::client_timeout_access)
        return fail(Reject::unsupported_message_type);

    auto body = decode_text_field(fields[5], kMaxMessageLength);
    if (!body) return fail(Reject::malformed);
    std::size_t comma = body->find(',');
    if (comma == std::string::npos) return fail(Reject::malformed);
    message.allow_address = body->substr(0, comma);
    if (!valid_address_text(message.allow_address)) return fail(Reject::malformed);
    auto access = parse_access_list(std::string_view(*body).substr(comma + 1));
    if (!access) return fail(Reject::malformed);
    message.access = std::move(*access);

    // Access carries nothing more; client-timeout access exactly the timeout. A server_auth
    // field (fwknop's legacy "crypt" option) is refused rather than silently ignored.
    if (message.type == MessageType::access) {
        if (fields.size() != 6) return fail(Reject::malformed);
    } else {
        if (fields.size() != 7) return fail(Reject::malformed);
        auto timeout = parse_decimal<std::uint32_t>(fields[6], 5);
        if (!timeout || *timeout == 0 || *timeout > kMaxClientTimeout) return fail(Reject::malformed);
        message.client_timeout = *timeout;
    }
    return message;
}

std::string_view to_string(Reject reason) {
    switch (reason) {
        case Reject::too_short: return "too_short";
        case Reject::too_long: return "too_long";
        case Reject::not_base64: return "not_base64";
        case Reject::salt_prefix: return "salt_prefix";
        case Reject::missing_hmac: return "missing_hmac";
        case Reject::malformed: return "malformed";
        case Reject::unknown_key: return "unknown_key";
        case Reject::bad_hmac: return "bad_hmac";
        case Reject::gpg_unsupported: return "gpg_unsupported";
        case Reject::legacy_iv: return "legacy_iv";
        case Reject::decrypt_failed: return "decrypt_failed";
        case Reject::bad_digest: return "bad_digest";
        case Reject::unsupported_message_type: return "unsupported_message_type";
        case Reject::stale: return "stale";
        case Reject::replay: return "replay";
        case Reject::replay_cache_full: return "replay_cache_full";
        case Reject::service_not_allowed: return "service_not_allowed";
        case Reject::embedded_address_not_allowed: return "embedded_address_not_allowed";
    }
    return "unknown";
}

}  // namespace portcullis::auth
