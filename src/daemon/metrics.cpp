#include "daemon/metrics.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/core.h>

namespace portcullis::daemon {

namespace {
constexpr std::size_t kMaxRequestHead = 8192;
constexpr std::size_t kMaxConnections = 16;

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
    return fmt::format("{}", value);
}
}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void MetricsText::family(std::string_view name, std::string_view type, std::string_view help) {
    auto [it, inserted] = declared_.emplace(std::string(name), true);
    if (!inserted) return;
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void MetricsText::sample(std::string_view name, const Labels& labels, double value) {
    text_ += name;
    if (!labels.empty()) {
        text_ += '{';
        for (std::size_t i = 0; i < labels.size(); ++i) {
            if (i) text_ += ',';
            text_ += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
        }
        text_ += '}';
    }
    text_ += ' ';
    text_ += format_value(value);
    text_ += '\n';
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
    ListenAddress out;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return fail("metrics address '" + std::string(text) + "': expected [IPv6]:PORT");
        out.host = std::string(text.substr(1, close - 1));
        out.ipv6 = true;
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fail("metrics address '" + std::string(text) + "': expected ADDRESS:PORT");
        out.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
        return fail("metrics address '" + std::string(text) + "': bad port");
    out.port = static_cast<std::uint16_t>(port);
    unsigned char probe[16];
    if (inet_pton(out.ipv6 ? AF_INET6 : AF_INET, out.host.c_str(), probe) != 1)
        return fail("metrics address '" + std::string(text) + "': '" + out.host + "' is not an IP address");
    return out;
}

std::string http_response(std::string_view request_head, const std::function<std::string()>& metrics) {
    std::string_view line = request_head.substr(0, request_head.find('\n'));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto respond = [](int code, std::string_view reason, std::string_view type, const std::string& body) {
        return fmt::format("HTTP/1.0 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                           code, reason, type, body.size(), body);
    };
    auto first_space = line.find(' ');
    auto second_space = line.find(' ', first_space == std::string_view::npos ? 0 : first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos ||
        line.substr(second_space + 1).rfind("HTTP/", 0) != 0)
        return respond(400, "Bad Request", "text/plain", "bad request\n");
    std::string_view method = line.substr(0, first_space);
    std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    if (method != "GET" && method != "HEAD")
        return respond(405, "Method Not Allowed", "text/plain", "only GET\n");
    auto query = target.find('?');
    if (target.substr(0, query) != "/metrics")
        return respond(404, "Not Found", "text/plain", "try /metrics\n");
    std::string response = respond(200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics());
    if (method == "HEAD") response.erase(response.find("\r\n\r\n") + 4);
    return response;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::listen(EventLoop& loop, const ListenAddress& address,
                                                             std::function<std::string()> producer) {
    std::unique_ptr<MetricsServer> server(new MetricsServer(loop, std::move(producer)));
    int family = address.ipv6 ? AF_INET6 : AF_INET;
    server->listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (server->listen_fd_ < 0) return fail(std::string("metrics socket: ") + std::strerror(errno));
    int on = 1;
    setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    int bound = -1;
    if (address.ipv6) {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(address.port);
        inet_pton(AF_INET6, address.host.c_str(), &in6.sin6_addr);
        bound = ::bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&in6), sizeof in6);
    } else {
        sockaddr_in in4{};
        in4.sin_family = AF_INET;
        in4.sin_port = htons(address.port);
        inet_pton(AF_INET, address.host.c_str(), &in4.sin_addr);
        bound = ::bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&in4), sizeof in4);
    }
    if (bound < 0)
        return fail(fmt::format("cannot listen for metrics on {}:{}: {}", address.host, address.port,
                                std::strerror(errno)));
    if (::listen(server->listen_fd_, 16) < 0) return fail(std::string("metrics listen: ") + std::strerror(errno));
    MetricsServer* raw = server.get();
    auto added = loop.add(server->listen_fd_, EPOLLIN, [raw](std::uint32_t) { raw->accept_connections(); });
    if (!added) return tl::unexpected(added.error());
    return server;
}

MetricsServer::~MetricsServer() {
    for (auto& [fd, connection] : connections_) {
        loop_.remove(fd);
        ::close(fd);
    }
    if (listen_fd_ >= 0) {
        loop_.remove(listen_fd_);
        ::close(listen_fd_);
    }
}

void MetricsServer::accept_connections() {
    while (true) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (connections_.size() >= kMaxConnections) {
            ::close(fd);
            continue;
        }
        if (!loop_.add(fd, EPOLLIN | EPOLLRDHUP, [this, fd](std::uint32_t events) { on_connection(fd, events); })) {
            ::close(fd);
            continue;
        }
        connections_[fd] = Connection{};
    }
}

void MetricsServer::on_connection(int fd, std::uint32_t events) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    Connection& connection = it->second;
    if (connection.output.empty() && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        char buffer[2048];
        while (true) {
            ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                connection.input.append(buffer, static_cast<std::size_t>(n));
                if (connection.input.size() > kMaxRequestHead) {
                    close_connection(fd);
                    return;
                }
                continue;
            }
            if (n == 0) break;
            if (errno == EAGAIN || errno == EINTR) break;
            close_connection(fd);
            return;
        }
        auto head_end = connection.input.find("\r\n\r\n");
        if (head_end == std::string::npos) head_end = connection.input.find("\n\n");
        if (head_end == std::string::npos) {
            if (events & (EPOLLRDHUP | EPOLLHUP)) close_connection(fd);
            return;
        }
        ++scrapes_;
        connection.output = http_response(connection.input.substr(0, head_end), producer_);
    }
    while (!connection.output.empty()) {
        ssize_t n = ::send(fd, connection.output.data(), connection.output.size(), MSG_NOSIGNAL);
        if (n > 0) {
            connection.output.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            loop_.modify(fd, EPOLLOUT);
            return;
        }
        break;
    }
    close_connection(fd);  // HTTP/1.0: one response per connection
}

void MetricsServer::close_connection(int fd) {
    loop_.remove(fd);
    ::close(fd);
    connections_.erase(fd);
}

}  // namespace portcullis::daemon
