#include "kernel/netlink_socket.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace portcullis::kernel {

std::uint8_t nfproto_from_name(const std::string& family) {
    if (family == "inet") return NFPROTO_INET;
    if (family == "ip") return NFPROTO_IPV4;
    if (family == "ip6") return NFPROTO_IPV6;
    if (family == "arp") return NFPROTO_ARP;
    if (family == "bridge") return NFPROTO_BRIDGE;
    if (family == "netdev") return NFPROTO_NETDEV;
    return 0xff;
}

bool NetlinkSocket::BatchOutcome::any_error() const {
    return std::any_of(errors.begin(), errors.end(), [](int e) { return e != 0; });
}

Result<std::unique_ptr<NetlinkSocket>> NetlinkSocket::open(std::size_t buffer_bytes) {
    std::unique_ptr<NetlinkSocket> self(new NetlinkSocket());
    self->socket_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!self->socket_) return fail(std::string("netlink socket: ") + std::strerror(errno));
    if (mnl_socket_bind(self->socket_, 0, MNL_SOCKET_AUTOPID) < 0)
        return fail(std::string("netlink bind: ") + std::strerror(errno));
    self->portid_ = mnl_socket_get_portid(self->socket_);
    // Big batches need a send buffer to match; FORCE variants need CAP_NET_ADMIN, which we have
    // whenever we can change nftables at all. Fall back silently to the plain limits otherwise.
    int size = static_cast<int>(buffer_bytes);
    int fd = mnl_socket_get_fd(self->socket_);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    int on = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);  // errors without the request
    timeval timeout{5, 0};  // a kernel that never answers must not hang the daemon forever
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    self->receive_buffer_.resize(std::max<std::size_t>(MNL_SOCKET_BUFFER_SIZE * 4, 65536));
    self->seq_ = static_cast<std::uint32_t>(time(nullptr));
    return self;
}

NetlinkSocket::~NetlinkSocket() {
    if (socket_) mnl_socket_close(socket_);
}

void fold_batch_replies(std::span<const char> datagram, std::uint32_t first_seq,
                        std::vector<int>& errors) {
    std::size_t at = 0;
    while (at + sizeof(nlmsghdr) <= datagram.size()) {
        nlmsghdr header;
        std::memcpy(&header, datagram.data() + at, sizeof header);
        if (header.nlmsg_len < sizeof header || header.nlmsg_len > datagram.size() - at) break;
        std::size_t next = at + NLMSG_ALIGN(header.nlmsg_len);
        if (header.nlmsg_type == NLMSG_ERROR && header.nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
            nlmsgerr error_message;
            std::memcpy(&error_message, datagram.data() + at + NLMSG_HDRLEN, sizeof error_message);
            if (error_message.error != 0) {
                // The failing request's seq is in the echoed header (ours set it); the reply's own
                // seq equals it too, but the echoed one is what the kernel copied from our message.
                std::uint32_t seq = error_message.msg.nlmsg_seq;
                int code = -error_message.error;
                std::uint32_t offset = seq - first_seq;  // wraps for BATCH_BEGIN (first_seq - 1)
                if (offset < errors.size()) {
                    errors[offset] = code;
                } else if (seq == first_seq - 1 || offset == errors.size()) {
                    for (int& slot : errors)
                        if (slot == 0) slot = code;
                }  // else: a stale reply to something earlier, not ours to judge
            }
        }
        at = next;
    }
}

Result<NetlinkSocket::BatchOutcome> NetlinkSocket::send_batch(std::span<const char> buffer,
                                                             std::uint32_t first_seq,
                                                             std::size_t count) {
    if (mnl_socket_sendto(socket_, buffer.data(), buffer.size()) < 0)
        return fail(std::string("netlink send: ") + std::strerror(errno));
    BatchOutcome outcome;
    outcome.errors.assign(count, 0);
    int fd = mnl_socket_get_fd(socket_);
    while (true) {
        ssize_t received = ::recv(fd, receive_buffer_.data(), receive_buffer_.size(), MSG_DONTWAIT);
        if (received < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // every reply has been read
            // ENOBUFS: replies were dropped, so success can no longer be told from failure.
            return fail(std::string("netlink receive: ") + std::strerror(errno));
        }
        fold_batch_replies({receive_buffer_.data(), static_cast<std::size_t>(received)}, first_seq,
                           outcome.errors);
    }
    return outcome;
}

Result<void> NetlinkSocket::dump(std::span<const char> request, std::uint32_t seq,
                                 const std::function<void(const nlmsghdr*)>& on_message,
                                 const std::atomic<bool>* cancel) {
    if (mnl_socket_sendto(socket_, request.data(), request.size()) < 0)
        return fail(std::string("netlink send: ") + std::strerror(errno));
    struct Context {
        const std::function<void(const nlmsghdr*)>* callback;
    } context{&on_message};
    auto trampoline = [](const nlmsghdr* header, void* data) -> int {
        (*static_cast<Context*>(data)->callback)(header);
        return MNL_CB_OK;
    };
    while (true) {
        if (cancel && cancel->load(std::memory_order_relaxed)) return fail("netlink dump: cancelled");
        ssize_t received =
            mnl_socket_recvfrom(socket_, receive_buffer_.data(), receive_buffer_.size());
        if (received < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("netlink receive: ") + std::strerror(errno));
        }
        int result = mnl_cb_run(receive_buffer_.data(), static_cast<std::size_t>(received), seq,
                                portid_, trampoline, &context);
        if (result == MNL_CB_STOP) return {};
        if (result < 0) return fail(std::string("netlink dump: ") + std::strerror(errno));
    }
}

}  // namespace portcullis::kernel
