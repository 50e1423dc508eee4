#pragma once
// The client side of SPA and knocking, kept out of the CLI so it can be tested: building an
// fwknop-format request from command-line values, parsing knock steps, and the three socket
// operations the clients need (resolve, one UDP datagram, one abandoned TCP SYN).
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/spa_keys.hpp"
#include "auth/spa_types.hpp"
#include "common/result.hpp"

namespace portcullis::auth {

inline constexpr std::uint16_t kDefaultSpaPort = 62201;  // fwknop's default

struct SpaRequest {
    std::vector<AccessPort> access;         // what to open (at least one)
    std::string allow_address = "0.0.0.0";  // 0.0.0.0: "the address this packet comes from"
    std::string username;                   // empty: from the key file, else the login name
    std::optional<std::uint32_t> timeout;   // asks for a shorter (or capped) open time
    std::int64_t time_offset = 0;           // added to the timestamp (tests of the window)
};

// The port a well-known service name stands for in a request: the server opens the whole
// service that contains it (e.g. "ipsec" -> udp/500 opens 500, 4500 and ESP). Mirrors the
// policy presets plus "ssh"; a client cannot know the server's own service names.
std::optional<AccessPort> well_known_service_port(std::string_view name);

// "tcp/22,udp/500" or a well-known service name.
Result<std::vector<AccessPort>> parse_access_argument(std::string_view text);

// Fills the message (16 random digits, username, timestamp = now + offset, version 3.0.0,
// type access or client-timeout access) and encodes the wire packet.
Result<std::string> build_spa_packet(const SpaRequest& request, const KeyMaterial& keys, std::int64_t now);

// The local login name made safe for the SPA username field, or "portcullis".
std::string default_username();

struct KnockStep {
    AccessProtocol protocol = AccessProtocol::tcp;
    std::uint16_t port = 0;
};

// "tcp/7000", "udp/8000", or a bare "7000" (TCP, like knockd's client).
Result<KnockStep> parse_knock_step(std::string_view text);

struct Endpoint {
    sockaddr_storage address{};
    socklen_t length = 0;
    int family = 0;  // AF_INET or AF_INET6
    std::string text;  // numeric, for messages
};

// family: AF_UNSPEC, AF_INET or AF_INET6.
Result<Endpoint> resolve_endpoint(const std::string& host, std::uint16_t port, int family);
Endpoint with_port(const Endpoint& endpoint, std::uint16_t port);

// One UDP datagram.
Result<void> send_datagram(const Endpoint& to, std::string_view payload);
// A non-blocking connect that is abandoned at once: the kernel has sent one SYN by the time
// connect() returns EINPROGRESS (or has connected, on loopback); the socket is then closed.
Result<void> send_syn(const Endpoint& to);

}  // namespace portcullis::auth
