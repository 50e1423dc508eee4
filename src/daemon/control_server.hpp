#pragma once
// The control socket: a unix stream socket, mode 0600 in a 0700 directory (root only), one JSON
// request per line (control_protocol.hpp). Many clients at once, each served in turn by the one
// loop thread; a slow reader gets its replies buffered, never blocks the loop.
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/event_loop.hpp"

namespace portcullis::daemon {

inline constexpr const char* kDefaultControlPath = "/run/portcullis/control.sock";
inline constexpr std::size_t kMaxControlClients = 64;
inline constexpr std::size_t kMaxQueuedRequests = 256;  // per client, behind a deferred reply

class ControlServer {
public:
    // Delivers a reply later, on the loop thread; calling it after the client left does nothing.
    using Reply = std::function<void(std::string line)>;
    // Gets one request line (already framed, not yet parsed) and returns the reply line — or
    // nullopt, after keeping `later` to answer with once the work is done (a long listing runs
    // on another thread). Replies stay in request order: the client's next requests wait (they
    // are read and queued, at most kMaxQueuedRequests) until the deferred one is answered; the
    // loop serves every other client meanwhile.
    using Handler = std::function<std::optional<std::string>(std::string_view line, const Reply& later)>;

    static Result<std::unique_ptr<ControlServer>> listen(EventLoop& loop, const std::string& path,
                                                         Handler handler);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    std::size_t clients() const { return clients_.size(); }
    std::uint64_t requests() const { return requests_; }
    std::uint64_t rejected() const { return rejected_; }

private:
    struct Client {
        std::uint64_t id = 0;
        LineFramer framer;
        std::string output;
        std::deque<LineFramer::Line> queued;  // read while a deferred reply was outstanding
        bool waiting = false;                 // a deferred reply is outstanding
        bool closing = false;                 // the peer sent EOF: answer what it asked, then close
    };
    ControlServer(EventLoop& loop, std::string path, Handler handler)
        : loop_(loop), path_(std::move(path)), handler_(std::move(handler)) {}
    void accept_clients();
    void on_client(int fd, std::uint32_t events);
    void serve_queued(int fd, Client& client);
    void deliver(std::uint64_t id, std::string line);
    void update_interest(int fd, Client& client);
    void flush(int fd, Client& client);
    void drop(int fd);

    EventLoop& loop_;
    std::string path_;
    Handler handler_;
    int listen_fd_ = -1;
    std::map<int, std::unique_ptr<Client>> clients_;
    std::map<std::uint64_t, int> fd_by_id_;  // deferred replies find their client by id (fds are reused)
    std::uint64_t next_id_ = 1;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // replies after destruction do nothing
    std::uint64_t requests_ = 0;
    std::uint64_t rejected_ = 0;
};

}  // namespace portcullis::daemon
