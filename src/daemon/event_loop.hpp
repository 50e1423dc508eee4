#pragma once
// A single-threaded epoll loop: file descriptors with callbacks, periodic and one-shot timers on
// timerfd, and signals on signalfd (so a signal is just another readable descriptor, handled
// between requests, never in an async-signal context).
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>

#include "common/result.hpp"

namespace portcullis::daemon {

class EventLoop {
public:
    using Callback = std::function<void(std::uint32_t events)>;
    using TimerId = int;

    static Result<std::unique_ptr<EventLoop>> create();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    Result<void> add(int fd, std::uint32_t events, Callback callback);
    void modify(int fd, std::uint32_t events);
    void remove(int fd);  // safe to call from inside that fd's own callback

    // Repeats every `period` (first after `period`); returns the timer's id.
    Result<TimerId> every(std::chrono::milliseconds period, std::function<void()> callback);
    // Fires once after `delay`; re-arming an armed one-shot moves it.
    Result<TimerId> once(std::function<void()> callback);
    void arm(TimerId timer, std::chrono::milliseconds delay);
    bool armed(TimerId timer) const;

    // Blocks these signals and delivers them through the loop.
    Result<void> on_signals(std::initializer_list<int> signals, std::function<void(int)> callback);

    void run();  // until stop()
    void stop() { running_ = false; }

private:
    EventLoop() = default;
    int epoll_fd_ = -1;
    bool running_ = false;
    std::map<int, std::shared_ptr<Callback>> callbacks_;
    std::map<int, bool> timer_armed_;
};

}  // namespace portcullis::daemon
