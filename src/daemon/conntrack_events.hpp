#pragma once
// Successful first contacts for scan detection: conntrack NEW events. The kernel confirms (and
// announces) a conntrack entry only for a packet that every hook accepted, so each event is a
// connection our table let in — exactly TRW's "success" — at no cost on the packet path and
// without a second log stream competing with the drop log's rate limit.
#include <cstdint>
#include <functional>
#include <memory>

#include "common/net.hpp"
#include "common/result.hpp"

struct nfct_handle;

namespace portcullis::daemon {

struct NewConnection {
    Address source;
    std::uint8_t protocol = 0;
    std::uint16_t port = 0;  // original destination port (0 for portless protocols)
};

class ConntrackEvents {
public:
    using Callback = std::function<void(const NewConnection&)>;
    static Result<std::unique_ptr<ConntrackEvents>> open(Callback callback,
                                                        std::size_t receive_buffer = 2 * 1024 * 1024);
    ~ConntrackEvents();
    ConntrackEvents(const ConntrackEvents&) = delete;
    ConntrackEvents& operator=(const ConntrackEvents&) = delete;

    int fd() const;
    void on_readable();  // drains the socket without blocking
    std::uint64_t events() const { return events_; }
    std::uint64_t overruns() const { return overruns_; }

    // Called by the library callback for each decoded NEW event.
    void deliver(const NewConnection& connection) {
        ++events_;
        callback_(connection);
    }

private:
    ConntrackEvents() = default;
    nfct_handle* handle_ = nullptr;
    Callback callback_;
    std::uint64_t events_ = 0;
    std::uint64_t overruns_ = 0;
};

}  // namespace portcullis::daemon
