// The client helpers behind `portcullis spa` and `portcullis knock`: what they build is what the
// verifier accepts, and what they send arrives (loopback only).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>

#include "auth/spa_client.hpp"
#include "auth/spa_codec.hpp"
#include "auth/spa_message.hpp"
#include "auth/spa_verifier.hpp"
#include "vector_file.hpp"

namespace portcullis::auth {
namespace {

KeyMaterial keys() { return testing::vector_keys(testing::read_vector("access_tcp22")); }

TEST(SpaClient, AccessArgumentsAndServiceNames) {
    auto ipsec = parse_access_argument("ipsec");
    ASSERT_TRUE(ipsec);
    EXPECT_EQ(*ipsec, (std::vector<AccessPort>{{AccessProtocol::udp, 500}}));
    auto pptp = parse_access_argument("pptp");
    ASSERT_TRUE(pptp);
    EXPECT_EQ(pptp->front(), (AccessPort{AccessProtocol::tcp, 1723}));
    auto list = parse_access_argument("tcp/22,udp/51820");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->size(), 2u);
    EXPECT_FALSE(parse_access_argument("telnet"));
    EXPECT_FALSE(parse_access_argument("tcp/70000"));
    EXPECT_FALSE(parse_access_argument("icmp/8"));
}

TEST(SpaClient, BuiltPacketsPassTheVerifier) {
    std::int64_t now = 1800000000;
    SpaRequest request;
    request.access = {{AccessProtocol::tcp, 22}};
    request.username = "laptop";
    request.timeout = 30;
    auto wire = build_spa_packet(request, keys(), now);
    ASSERT_TRUE(wire) << wire.error().message;

    ReplayCache cache;
    SpaKey key;
    key.name = "alice";
    key.material = keys();
    key.services = {"ssh"};
    auto verifier = SpaVerifier::create({key}, {{"ssh", {{6, 22, 22}}}}, {}, cache);
    ASSERT_TRUE(verifier);
    auto verdict = verifier->verify(*wire, *Address::parse("2001:db8::7"), now);
    ASSERT_TRUE(verdict) << to_string(verdict.error());
    EXPECT_EQ(verdict->message.username, "laptop");
    EXPECT_EQ(verdict->message.random.size(), 16u);
    EXPECT_EQ(verdict->message.client_timeout, 30u);
    EXPECT_EQ(verdict->decision.address, *Address::parse("2001:db8::7"));
    EXPECT_EQ(verdict->decision.open_seconds, 30u);
}

TEST(SpaClient, TimeOffsetMovesTheTimestamp) {
    SpaRequest request;
    request.access = {{AccessProtocol::tcp, 22}};
    request.time_offset = -121;
    auto wire = build_spa_packet(request, keys(), 1800000000);
    ASSERT_TRUE(wire);
    KeyMaterial material = keys();
    const KeyMaterial* candidates[] = {&material};
    auto opened = open_packet(*wire, candidates);
    ASSERT_TRUE(opened);
    EXPECT_EQ(opened->message.timestamp, 1800000000 - 121);
}

TEST(SpaClient, UsernameFallsBackToKeyFileThenLogin) {
    SpaRequest request;
    request.access = {{AccessProtocol::tcp, 22}};
    KeyMaterial with_user = keys();
    with_user.username = "from-rc";
    auto wire = build_spa_packet(request, with_user, 1800000000);
    ASSERT_TRUE(wire);
    const KeyMaterial* candidates[] = {&with_user};
    EXPECT_EQ(open_packet(*wire, candidates)->message.username, "from-rc");
    EXPECT_TRUE(valid_username(default_username()));
}

TEST(KnockClient, Steps) {
    auto tcp = parse_knock_step("tcp/7000");
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->protocol, AccessProtocol::tcp);
    EXPECT_EQ(tcp->port, 7000);
    auto udp = parse_knock_step("udp/8000");
    ASSERT_TRUE(udp);
    EXPECT_EQ(udp->protocol, AccessProtocol::udp);
    auto bare = parse_knock_step("9000");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->protocol, AccessProtocol::tcp);
    EXPECT_FALSE(parse_knock_step("sctp/1"));
    EXPECT_FALSE(parse_knock_step("tcp/0"));
    EXPECT_FALSE(parse_knock_step("tcp/"));
    EXPECT_FALSE(parse_knock_step("udp/65536"));
}

std::uint16_t bound_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

int bound_socket(int family, int type) {
    int fd = ::socket(family, type, 0);
    sockaddr_storage address{};
    socklen_t length;
    if (family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *v4;
    } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        length = sizeof *v6;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool readable_within(int fd, int milliseconds) {
    pollfd entry{fd, POLLIN, 0};
    return ::poll(&entry, 1, milliseconds) == 1;
}

TEST(ClientNet, SpaDatagramArrivesOverIpv4AndIpv6Loopback) {
    for (auto [family, host] : {std::pair{AF_INET, "127.0.0.1"}, std::pair{AF_INET6, "::1"}}) {
        int receiver = bound_socket(family, SOCK_DGRAM);
        ASSERT_GE(receiver, 0) << host;
        auto endpoint = resolve_endpoint(host, bound_port(receiver), family);
        ASSERT_TRUE(endpoint) << endpoint.error().message;
        EXPECT_EQ(endpoint->text, host);
        SpaRequest request;
        request.access = {{AccessProtocol::tcp, 22}};
        auto wire = build_spa_packet(request, keys(), 1800000000);
        ASSERT_TRUE(wire);
        ASSERT_TRUE(send_datagram(*endpoint, *wire));
        ASSERT_TRUE(readable_within(receiver, 2000));
        char buffer[2048];
        ssize_t got = ::recv(receiver, buffer, sizeof buffer, 0);
        EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(got)), *wire) << "one datagram, exactly the packet";
        ::close(receiver);
    }
}

TEST(ClientNet, TcpKnockReachesAListener) {
    int listener = bound_socket(AF_INET, SOCK_STREAM);
    ASSERT_GE(listener, 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    auto endpoint = resolve_endpoint("127.0.0.1", 1, AF_INET);
    ASSERT_TRUE(endpoint);
    ASSERT_TRUE(send_syn(with_port(*endpoint, bound_port(listener))));
    // The SYN completed a handshake on loopback: the listener has something to accept.
    EXPECT_TRUE(readable_within(listener, 2000));
    ::close(listener);
}

TEST(ClientNet, TcpKnockOnAClosedPortIsNotAnError) {
    int placeholder = bound_socket(AF_INET, SOCK_STREAM);  // bound, never listening: RST
    ASSERT_GE(placeholder, 0);
    auto endpoint = resolve_endpoint("127.0.0.1", bound_port(placeholder), AF_INET);
    ASSERT_TRUE(endpoint);
    EXPECT_TRUE(send_syn(*endpoint));
    ::close(placeholder);
}

TEST(ClientNet, UnresolvableHostIsAnError) {
    auto endpoint = resolve_endpoint("no-such-host.invalid", 62201, AF_UNSPEC);
    ASSERT_FALSE(endpoint);
    EXPECT_NE(endpoint.error().message.find("no-such-host.invalid"), std::string::npos);
    EXPECT_FALSE(resolve_endpoint("127.0.0.1", 62201, AF_INET6));
}

}  // namespace
}  // namespace portcullis::auth
