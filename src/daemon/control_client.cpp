#include "daemon/control_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::daemon {

Result<nlohmann::json> control_request(const std::string& socket_path, const nlohmann::json& request,
                                       std::chrono::milliseconds timeout) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof address.sun_path) return fail("control socket path too long");
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
        int saved = errno;
        std::string hint = saved == ENOENT || saved == ECONNREFUSED
            ? " (is `portcullis run` running? use --control to point elsewhere)"
            : saved == EACCES ? " (the control socket is root-only)" : "";
        return fail("cannot reach the daemon at " + socket_path + ": " + std::strerror(saved) + hint);
    }
    std::string line = request.dump() + "\n";
    std::size_t sent = 0;
    while (sent < line.size()) {
        ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("sending to the daemon: ") + std::strerror(errno));
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (reply.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail("the daemon did not answer in time");
        pollfd waiting{fd, POLLIN, 0};
        int ready = ::poll(&waiting, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return fail("the daemon did not answer in time");
        char buffer[65536];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail(std::string("reading the daemon's reply: ") + std::strerror(errno));
        }
        if (n == 0) return fail("the daemon closed the connection without a reply");
        reply.append(buffer, static_cast<std::size_t>(n));
    }
    reply.resize(reply.find('\n'));
    auto parsed = nlohmann::json::parse(reply, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return fail("unreadable reply from the daemon");
    return parsed;
}

}  // namespace portcullis::daemon

namespace portcullis::daemon {
Result<nlohmann::json> control_call(const std::string& socket_path, const nlohmann::json& request,
                                    std::chrono::milliseconds timeout) {
    auto reply = control_request(socket_path, request, timeout);
    if (!reply) return reply;
    if (!reply->value("ok", false)) {
        auto error = reply->find("error");
        return fail(error != reply->end() && error->is_string() ? error->get<std::string>() : "daemon error");
    }
    return reply;
}
}  // namespace portcullis::daemon
