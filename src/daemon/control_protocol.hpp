#pragma once
// The control socket's wire format (docs/control-protocol.md): one JSON object per line in each
// direction. A request names its command in "cmd"; the reply is {"ok":true,...} or
// {"ok":false,"error":"..."}. Parsing is pure so it is unit-tested against garbage.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/net.hpp"
#include "common/result.hpp"

namespace portcullis::daemon {

inline constexpr std::size_t kMaxRequestBytes = 16 * 1024;  // one line, newline excluded
inline constexpr std::uint32_t kMaxTimeoutSeconds = 365u * 24 * 3600;
// bans.list paging: at most this many bans per page ("limit"); without "limit" and "cursor"
// (the one-reply form of older clients) a listing longer than kMaxUnpagedBans is refused.
inline constexpr std::uint32_t kMaxPageBans = 10000;
inline constexpr std::size_t kMaxUnpagedBans = 100000;

namespace request {
struct Status {};
struct GrantsList {};
struct GrantAdd {
    Address source;
    std::string service;
    std::optional<std::uint32_t> seconds;  // default: the policy's grant_timeout
};
struct GrantRevoke {
    Address source;
    std::string service;
};
// Where a ban listing comes from: the kernel's ban sets merged with the daemon's histories (what
// is enforced, including bans without a history), or the daemon's histories alone (no kernel dump).
enum class BanSource : std::uint8_t { kernel, records };
struct BansList {
    // Paged when either is given: up to `limit` bans (default kMaxPageBans) and a "next" cursor.
    std::optional<std::uint32_t> limit;
    std::optional<std::string> cursor;  // from the previous page's "next"
    BanSource source = BanSource::kernel;
    bool paged() const { return limit.has_value() || cursor.has_value(); }
};
struct BansCount {
    bool kernel = false;  // count the kernel's sets now (a dump, on the listing thread)
};
struct BanAdd {
    Prefix prefix;
    std::optional<std::uint32_t> seconds;  // default: the policy's ban_timeout
    std::string reason = "manual";
};
struct BanRemove {
    Prefix prefix;
};
struct Reload {};
struct Confirm {};
}  // namespace request

using Request = std::variant<request::Status, request::GrantsList, request::GrantAdd,
                             request::GrantRevoke, request::BansList, request::BansCount, request::BanAdd,
                             request::BanRemove, request::Reload, request::Confirm>;

// The command names, in the order the docs list them.
const std::vector<std::string>& command_names();

Result<Request> parse_request(std::string_view line);

// A bans.list cursor: "<listing id in hex>.<offset>", opaque to clients.
struct BanCursor {
    std::uint64_t listing = 0;
    std::uint64_t offset = 0;
};
std::string format_cursor(const BanCursor& cursor);
Result<BanCursor> parse_cursor(std::string_view text);

std::string error_reply(std::string_view message);
std::string ok_reply(nlohmann::json fields = nlohmann::json::object());

// Splits a byte stream into lines of at most `limit` bytes. An over-long line is reported once
// (as Oversized) and its remaining bytes are skipped up to the next newline, so one bad request
// cannot wedge the connection or grow memory without bound.
class LineFramer {
public:
    explicit LineFramer(std::size_t limit = kMaxRequestBytes) : limit_(limit) {}

    struct Line {
        std::string text;
        bool oversized = false;
    };
    // Appends `data` and returns the complete lines it finished.
    std::vector<Line> feed(std::string_view data);
    std::size_t buffered() const { return buffer_.size(); }

private:
    std::size_t limit_;
    std::string buffer_;
    bool discarding_ = false;
};

}  // namespace portcullis::daemon
