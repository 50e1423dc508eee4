#include "daemon/control_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace portcullis::daemon {

namespace {

constexpr std::size_t kMaxPendingOutput = 64 * 1024 * 1024;

Result<void> prepare_directory(const std::string& socket_path) {
    std::filesystem::path directory = std::filesystem::path(socket_path).parent_path();
    if (directory.empty()) return {};
    std::error_code error;
    if (!std::filesystem::exists(directory, error)) {
        std::filesystem::create_directories(directory, error);
        if (error) return fail("cannot create " + directory.string() + ": " + error.message());
        ::chmod(directory.c_str(), 0700);
    }
    return {};
}

// Another daemon still answering on the path is an error; a leftover socket file is removed.
Result<void> clear_stale_socket(const std::string& path, const sockaddr_un& address) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) return {};
    if (!S_ISSOCK(info.st_mode)) return fail(path + " exists and is not a socket");
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        bool live = ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
        ::close(probe);
        if (live) return fail("another portcullis daemon is already listening on " + path);
    }
    ::unlink(path.c_str());
    return {};
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::listen(EventLoop& loop, const std::string& path,
                                                             Handler handler) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return fail("control socket path too long: " + path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (auto ok = prepare_directory(path); !ok) return tl::unexpected(ok.error());
    if (auto ok = clear_stale_socket(path, address); !ok) return tl::unexpected(ok.error());

    std::unique_ptr<ControlServer> server(new ControlServer(loop, path, std::move(handler)));
    server->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (server->listen_fd_ < 0) return fail(std::string("control socket: ") + std::strerror(errno));
    // Created 0600 from the start (umask), not chmod-ed afterwards: no window where others connect.
    mode_t previous = ::umask(0177);
    int bound = ::bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    int bind_errno = errno;
    ::umask(previous);
    if (bound < 0) return fail("cannot bind " + path + ": " + std::strerror(bind_errno));
    if (::listen(server->listen_fd_, 64) < 0)
        return fail("cannot listen on " + path + ": " + std::strerror(errno));
    ControlServer* raw = server.get();
    auto added = loop.add(server->listen_fd_, EPOLLIN, [raw](std::uint32_t) { raw->accept_clients(); });
    if (!added) return tl::unexpected(added.error());
    return server;
}

ControlServer::~ControlServer() {
    *alive_ = false;
    for (auto& [fd, client] : clients_) {
        loop_.remove(fd);
        ::close(fd);
    }
    if (listen_fd_ >= 0) {
        loop_.remove(listen_fd_);
        ::close(listen_fd_);
        ::unlink(path_.c_str());
    }
}

void ControlServer::accept_clients() {
    while (true) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;  // EAGAIN: all accepted
        // Only root (or our own uid) may steer the firewall, whatever the file mode says.
        ucred peer{};
        socklen_t length = sizeof peer;
        bool allowed = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 &&
                       (peer.uid == 0 || peer.uid == ::geteuid());
        if (!allowed || clients_.size() >= kMaxControlClients) {
            ++rejected_;
            std::string reply = error_reply(allowed ? "too many control clients" : "permission denied") + "\n";
            [[maybe_unused]] auto ignored = ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
            ::close(fd);
            continue;
        }
        auto client = std::make_unique<Client>();
        client->id = next_id_++;
        auto added = loop_.add(fd, EPOLLIN | EPOLLRDHUP, [this, fd](std::uint32_t events) {
            on_client(fd, events);
        });
        if (!added) {
            ::close(fd);
            continue;
        }
        fd_by_id_[client->id] = fd;
        clients_[fd] = std::move(client);
    }
}

void ControlServer::on_client(int fd, std::uint32_t events) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    Client& client = *it->second;
    if (events & EPOLLOUT) flush(fd, client);
    if (!clients_.count(fd)) return;
    if ((events & (EPOLLHUP | EPOLLERR)) && client.waiting) {
        drop(fd);  // gone for good: nobody to give the deferred reply to
        return;
    }
    if (!client.closing && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        char buffer[8192];
        while (true) {
            ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                for (auto& line : client.framer.feed(std::string_view(buffer, static_cast<std::size_t>(n))))
                    client.queued.push_back(std::move(line));
                if (client.queued.size() > kMaxQueuedRequests) {
                    drop(fd);  // a client piling requests behind a long listing
                    return;
                }
                serve_queued(fd, client);
                if (!clients_.count(fd)) return;
                if (client.output.size() > kMaxPendingOutput) {
                    drop(fd);  // a client that never reads its replies
                    return;
                }
                continue;
            }
            if (n == 0) client.closing = true;
            else if (errno != EAGAIN && errno != EINTR) client.closing = true;
            break;
        }
    }
    flush(fd, client);
}

// Answers queued lines in order until one is deferred.
void ControlServer::serve_queued(int fd, Client& client) {
    std::uint64_t id = client.id;
    while (!client.waiting && !client.queued.empty()) {
        LineFramer::Line line = std::move(client.queued.front());
        client.queued.pop_front();
        ++requests_;
        if (line.oversized) {
            client.output += error_reply("request too large (limit " + std::to_string(kMaxRequestBytes) + " bytes)");
            client.output += '\n';
            continue;
        }
        std::weak_ptr<bool> alive = alive_;
        Reply later = [this, alive, id](std::string reply) {
            if (auto still = alive.lock(); still && *still) deliver(id, std::move(reply));
        };
        client.waiting = true;  // until the handler answers, now or later
        std::optional<std::string> reply = handler_(line.text, later);
        // The handler may have answered through `later` already, or the client may be gone.
        auto it = clients_.find(fd);
        if (it == clients_.end() || it->second->id != id) return;
        if (reply) {
            client.waiting = false;
            client.output += *reply;
            client.output += '\n';
        }
    }
}

void ControlServer::deliver(std::uint64_t id, std::string line) {
    auto found = fd_by_id_.find(id);
    if (found == fd_by_id_.end()) return;  // the client left meanwhile
    int fd = found->second;
    Client& client = *clients_.at(fd);
    if (!client.waiting) return;
    client.waiting = false;
    client.output += line;
    client.output += '\n';
    serve_queued(fd, client);
    if (!clients_.count(fd)) return;
    if (client.output.size() > kMaxPendingOutput) {
        drop(fd);
        return;
    }
    flush(fd, client);
}

void ControlServer::update_interest(int fd, Client& client) {
    std::uint32_t events = 0;
    // After EOF the socket stays readable: stop asking, or level-triggered epoll spins.
    if (!client.closing) events |= EPOLLIN | EPOLLRDHUP;
    if (!client.output.empty()) events |= EPOLLOUT;
    loop_.modify(fd, events);
}

void ControlServer::flush(int fd, Client& client) {
    while (!client.output.empty()) {
        ssize_t n = ::send(fd, client.output.data(), client.output.size(), MSG_NOSIGNAL);
        if (n > 0) {
            client.output.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            update_interest(fd, client);
            return;
        }
        drop(fd);
        return;
    }
    if (client.closing && !client.waiting && client.queued.empty()) {
        drop(fd);
        return;
    }
    update_interest(fd, client);
}

void ControlServer::drop(int fd) {
    loop_.remove(fd);
    ::close(fd);
    auto it = clients_.find(fd);
    if (it != clients_.end()) {
        fd_by_id_.erase(it->second->id);
        clients_.erase(it);
    }
}

}  // namespace portcullis::daemon
