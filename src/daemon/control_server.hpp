#pragma once
// The control socket: a unix stream socket, mode 0600 in a 0700 directory (root only), one JSON
// request per line (control_protocol.hpp). Many clients at once, each served in turn by the one
// loop thread; a slow reader gets its replies buffered, never blocks the loop.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/event_loop.hpp"

namespace portcullis::daemon {

inline constexpr const char* kDefaultControlPath = "/run/portcullis/control.sock";
inline constexpr std::size_t kMaxControlClients = 64;

class ControlServer {
public:
    // Gets one request line (already framed, not yet parsed) and returns the reply line.
    using Handler = std::function<std::string(std::string_view line)>;

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
        LineFramer framer;
        std::string output;
        bool closing = false;
    };
    ControlServer(EventLoop& loop, std::string path, Handler handler)
        : loop_(loop), path_(std::move(path)), handler_(std::move(handler)) {}
    void accept_clients();
    void on_client(int fd, std::uint32_t events);
    void flush(int fd, Client& client);
    void drop(int fd);

    EventLoop& loop_;
    std::string path_;
    Handler handler_;
    int listen_fd_ = -1;
    std::map<int, std::unique_ptr<Client>> clients_;
    std::uint64_t requests_ = 0;
    std::uint64_t rejected_ = 0;
};

}  // namespace portcullis::daemon
