#include "auth/spa_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "auth/spa_codec.hpp"
#include "auth/spa_message.hpp"

namespace portcullis::auth {
namespace {

std::string errno_text() { return std::strerror(errno); }

class Socket {
public:
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

}  // namespace

std::optional<AccessPort> well_known_service_port(std::string_view name) {
    struct Entry {
        std::string_view name;
        AccessPort port;
    };
    static constexpr Entry kTable[] = {
        {"ssh", {AccessProtocol::tcp, 22}},         {"ipsec", {AccessProtocol::udp, 500}},
        {"ikev2", {AccessProtocol::udp, 500}},      {"l2tp-ipsec", {AccessProtocol::udp, 500}},
        {"pptp", {AccessProtocol::tcp, 1723}},      {"openvpn", {AccessProtocol::udp, 1194}},
        {"openvpn-tcp", {AccessProtocol::tcp, 1194}}, {"wireguard", {AccessProtocol::udp, 51820}},
        {"sstp", {AccessProtocol::tcp, 443}},
    };
    for (const Entry& entry : kTable)
        if (entry.name == name) return entry.port;
    return std::nullopt;
}

Result<std::vector<AccessPort>> parse_access_argument(std::string_view text) {
    if (auto port = well_known_service_port(text)) return std::vector<AccessPort>{*port};
    auto list = parse_access_list(text);
    if (!list) return fail("'" + std::string(text) + "': " + list.error() + " (or name a well-known service)");
    return *list;
}

std::string default_username() {
    std::string name;
    if (const char* user = std::getenv("USER"); user && *user) {
        name = user;
    } else if (const passwd* entry = ::getpwuid(::getuid()); entry && entry->pw_name) {
        name = entry->pw_name;
    }
    if (name.size() > kMaxUsernameLength) name.resize(kMaxUsernameLength);
    return valid_username(name) ? name : "portcullis";
}

Result<std::string> build_spa_packet(const SpaRequest& request, const KeyMaterial& keys, std::int64_t now) {
    SpaMessage message;
    std::uint8_t random[16];
    if (!random_bytes(random)) return fail("no randomness available");
    for (std::size_t i = 0; i < 16; ++i) message.random.push_back(static_cast<char>('0' + random[i] % 10));
    if (message.random.front() == '0') message.random.front() = '1';
    message.username = !request.username.empty() ? request.username
                       : keys.username       ? *keys.username
                                             : default_username();
    message.timestamp = now + request.time_offset;
    message.version = "3.0.0";
    message.allow_address = request.allow_address;
    message.access = request.access;
    if (request.timeout) {
        message.type = MessageType::client_timeout_access;
        message.client_timeout = *request.timeout;
    }
    auto wire = encode_packet(message, keys);
    if (!wire) return fail(wire.error());
    return *wire;
}

Result<KnockStep> parse_knock_step(std::string_view text) {
    KnockStep step;
    std::string_view port_text = text;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        std::string_view protocol = text.substr(0, slash);
        if (protocol == "tcp") {
            step.protocol = AccessProtocol::tcp;
        } else if (protocol == "udp") {
            step.protocol = AccessProtocol::udp;
        } else {
            return fail("knock '" + std::string(text) + "': protocol must be tcp or udp");
        }
        port_text = text.substr(slash + 1);
    }
    auto parsed = parse_access_port("tcp/" + std::string(port_text));
    if (!parsed) return fail("knock '" + std::string(text) + "': port must be 1-65535");
    step.port = parsed->port;
    return step;
}

Result<Endpoint> resolve_endpoint(const std::string& host, std::uint16_t port, int family) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* results = nullptr;
    std::string service = std::to_string(port);
    int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &results);
    if (status != 0) return fail("cannot resolve '" + host + "': " + ::gai_strerror(status));
    Endpoint endpoint;
    std::memcpy(&endpoint.address, results->ai_addr, results->ai_addrlen);
    endpoint.length = results->ai_addrlen;
    endpoint.family = results->ai_family;
    ::freeaddrinfo(results);
    char numeric[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length, numeric, sizeof numeric,
                      nullptr, 0, NI_NUMERICHOST) == 0)
        endpoint.text = numeric;
    return endpoint;
}

Endpoint with_port(const Endpoint& endpoint, std::uint16_t port) {
    Endpoint copy = endpoint;
    if (copy.family == AF_INET) {
        sockaddr_in v4;
        std::memcpy(&v4, &copy.address, sizeof v4);
        v4.sin_port = htons(port);
        std::memcpy(&copy.address, &v4, sizeof v4);
    } else {
        sockaddr_in6 v6;
        std::memcpy(&v6, &copy.address, sizeof v6);
        v6.sin6_port = htons(port);
        std::memcpy(&copy.address, &v6, sizeof v6);
    }
    return copy;
}

Result<void> send_datagram(const Endpoint& to, std::string_view payload) {
    Socket socket(::socket(to.family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (socket.get() < 0) return fail("cannot open a UDP socket: " + errno_text());
    ssize_t sent = ::sendto(socket.get(), payload.data(), payload.size(), 0,
                            reinterpret_cast<const sockaddr*>(&to.address), to.length);
    if (sent < 0) return fail("sending to " + to.text + " failed: " + errno_text());
    if (static_cast<std::size_t>(sent) != payload.size()) return fail("short UDP send to " + to.text);
    return {};
}

Result<void> send_syn(const Endpoint& to) {
    Socket socket(::socket(to.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (socket.get() < 0) return fail("cannot open a TCP socket: " + errno_text());
    int status = ::connect(socket.get(), reinterpret_cast<const sockaddr*>(&to.address), to.length);
    if (status == 0 || errno == EINPROGRESS) return {};
    // A local refusal (RST already seen on loopback) still means the SYN went out.
    if (errno == ECONNREFUSED) return {};
    return fail("knocking on " + to.text + " failed: " + errno_text());
}

}  // namespace portcullis::auth
