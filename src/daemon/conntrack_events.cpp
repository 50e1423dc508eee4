#include "daemon/conntrack_events.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

namespace portcullis::daemon {

namespace {
bool has_ports(std::uint8_t protocol) {
    return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP ||
           protocol == IPPROTO_UDPLITE || protocol == IPPROTO_DCCP;
}

int on_event(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* self) {
    auto* events = static_cast<ConntrackEvents*>(self);
    NewConnection connection;
    const std::uint8_t l3 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
    if (l3 == AF_INET) {
        connection.source.family = Family::ipv4;
        const std::uint32_t address = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC);  // network order
        std::memcpy(connection.source.bytes.data(), &address, 4);
    } else if (l3 == AF_INET6) {
        const void* address = nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC);
        if (!address) return NFCT_CB_CONTINUE;
        connection.source.family = Family::ipv6;
        std::memcpy(connection.source.bytes.data(), address, 16);
    } else {
        return NFCT_CB_CONTINUE;
    }
    connection.protocol = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
    if (has_ports(connection.protocol) && nfct_attr_is_set(ct, ATTR_ORIG_PORT_DST) > 0)
        connection.port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
    events->deliver(connection);
    return NFCT_CB_CONTINUE;
}
}  // namespace

Result<std::unique_ptr<ConntrackEvents>> ConntrackEvents::open(Callback callback, std::size_t receive_buffer) {
    std::unique_ptr<ConntrackEvents> events(new ConntrackEvents());
    events->callback_ = std::move(callback);
    events->handle_ = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW);
    if (!events->handle_) return fail(std::string("conntrack events: ") + std::strerror(errno));
    int fd = nfct_fd(events->handle_);
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return fail(std::string("conntrack events: ") + std::strerror(errno));
    int size = static_cast<int>(receive_buffer);
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN (which the daemon has); fall back to the capped one.
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    nfct_callback_register(events->handle_, NFCT_T_NEW, on_event, events.get());
    return events;
}

ConntrackEvents::~ConntrackEvents() {
    if (handle_) nfct_close(handle_);
}

int ConntrackEvents::fd() const { return nfct_fd(handle_); }


void ConntrackEvents::on_readable() {
    // nfct_catch loops until recv fails: EAGAIN on the non-blocking socket ends one drain.
    for (int round = 0; round < 64; ++round) {
        int result = nfct_catch(handle_);
        if (result >= 0) continue;
        if (errno == ENOBUFS) {
            ++overruns_;
            continue;
        }
        break;
    }
}

}  // namespace portcullis::daemon
