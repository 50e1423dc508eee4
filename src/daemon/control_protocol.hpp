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
struct BansList {};
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
                             request::GrantRevoke, request::BansList, request::BanAdd,
                             request::BanRemove, request::Reload, request::Confirm>;

// The command names, in the order the docs list them.
const std::vector<std::string>& command_names();

Result<Request> parse_request(std::string_view line);

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
