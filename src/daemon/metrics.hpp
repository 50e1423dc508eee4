#pragma once
// Prometheus text exposition (format 0.0.4) and a tiny HTTP/1.0 responder for GET /metrics.
// Not a library: the one endpoint needs a request line and a Content-Length, the responder is
// ~100 lines on the loop we already run, and a scrape must never start a thread or pull in an
// HTTP stack with its own parsing surface on a firewall.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "daemon/event_loop.hpp"

namespace portcullis::daemon {

inline constexpr const char* kDefaultMetricsAddress = "127.0.0.1:9795";

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
public:
    // Starts a metric family: "# HELP" and "# TYPE" lines (once per name).
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, const Labels& labels, double value);
    void sample(std::string_view name, double value) { sample(name, {}, value); }
    const std::string& text() const { return text_; }

private:
    std::string text_;
    std::map<std::string, bool> declared_;
};

std::string escape_label_value(std::string_view value);

// "127.0.0.1:9795", "[::1]:9795" → address + port.
struct ListenAddress {
    std::string host;
    std::uint16_t port = 0;
    bool ipv6 = false;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

// The whole HTTP response for a request head (request line + headers, up to the blank line).
std::string http_response(std::string_view request_head, const std::function<std::string()>& metrics);

class MetricsServer {
public:
    static Result<std::unique_ptr<MetricsServer>> listen(EventLoop& loop, const ListenAddress& address,
                                                         std::function<std::string()> producer);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    std::uint64_t scrapes() const { return scrapes_; }

private:
    struct Connection {
        std::string input;
        std::string output;
    };
    MetricsServer(EventLoop& loop, std::function<std::string()> producer)
        : loop_(loop), producer_(std::move(producer)) {}
    void accept_connections();
    void on_connection(int fd, std::uint32_t events);
    void close_connection(int fd);

    EventLoop& loop_;
    std::function<std::string()> producer_;
    int listen_fd_ = -1;
    std::map<int, Connection> connections_;
    std::uint64_t scrapes_ = 0;
};

}  // namespace portcullis::daemon
