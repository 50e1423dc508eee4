#include "daemon/event_loop.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portcullis::daemon {

namespace {
itimerspec to_itimerspec(std::chrono::milliseconds first, std::chrono::milliseconds period) {
    itimerspec spec{};
    if (first.count() <= 0) first = std::chrono::milliseconds(1);  // 0 would disarm
    spec.it_value.tv_sec = first.count() / 1000;
    spec.it_value.tv_nsec = (first.count() % 1000) * 1000000;
    spec.it_interval.tv_sec = period.count() / 1000;
    spec.it_interval.tv_nsec = (period.count() % 1000) * 1000000;
    return spec;
}
}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
    std::unique_ptr<EventLoop> loop(new EventLoop());
    loop->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epoll_fd_ < 0) return fail(std::string("epoll_create1: ") + std::strerror(errno));
    return loop;
}

EventLoop::~EventLoop() {
    for (auto& [fd, callback] : callbacks_) {
        if (timer_armed_.count(fd)) ::close(fd);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Result<void> EventLoop::add(int fd, std::uint32_t events, Callback callback) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) < 0)
        return fail(std::string("epoll_ctl add: ") + std::strerror(errno));
    callbacks_[fd] = std::make_shared<Callback>(std::move(callback));
    return {};
}

void EventLoop::modify(int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
}

void EventLoop::remove(int fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    callbacks_.erase(fd);
}

Result<EventLoop::TimerId> EventLoop::every(std::chrono::milliseconds period,
                                            std::function<void()> callback) {
    auto timer = once(std::move(callback));
    if (!timer) return timer;
    itimerspec spec = to_itimerspec(period, period);
    timerfd_settime(*timer, 0, &spec, nullptr);
    timer_armed_[*timer] = true;
    return timer;
}

Result<EventLoop::TimerId> EventLoop::once(std::function<void()> callback) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return fail(std::string("timerfd_create: ") + std::strerror(errno));
    timer_armed_[fd] = false;
    auto added = add(fd, EPOLLIN, [this, fd, callback = std::move(callback)](std::uint32_t) {
        std::uint64_t expirations = 0;
        if (::read(fd, &expirations, sizeof expirations) != sizeof expirations) return;
        itimerspec current{};
        timerfd_gettime(fd, &current);
        if (current.it_interval.tv_sec == 0 && current.it_interval.tv_nsec == 0)
            timer_armed_[fd] = false;
        callback();
    });
    if (!added) {
        ::close(fd);
        timer_armed_.erase(fd);
        return tl::unexpected(added.error());
    }
    return fd;
}

void EventLoop::arm(TimerId timer, std::chrono::milliseconds delay) {
    itimerspec spec = to_itimerspec(delay, std::chrono::milliseconds(0));
    timerfd_settime(timer, 0, &spec, nullptr);
    timer_armed_[timer] = true;
}

bool EventLoop::armed(TimerId timer) const {
    auto it = timer_armed_.find(timer);
    return it != timer_armed_.end() && it->second;
}

Result<void> EventLoop::on_signals(std::initializer_list<int> signals,
                                   std::function<void(int)> callback) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int signal_number : signals) sigaddset(&mask, signal_number);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0)
        return fail(std::string("sigprocmask: ") + std::strerror(errno));
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return fail(std::string("signalfd: ") + std::strerror(errno));
    return add(fd, EPOLLIN, [fd, callback = std::move(callback)](std::uint32_t) {
        signalfd_siginfo info{};
        while (::read(fd, &info, sizeof info) == sizeof info)
            callback(static_cast<int>(info.ssi_signo));
    });
}

void EventLoop::run() {
    running_ = true;
    epoll_event events[64];
    while (running_) {
        int ready = epoll_wait(epoll_fd_, events, 64, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < ready && running_; ++i) {
            auto it = callbacks_.find(events[i].data.fd);
            if (it == callbacks_.end()) continue;  // removed by an earlier callback this round
            auto callback = it->second;            // keeps it alive if it removes itself
            (*callback)(events[i].events);
        }
    }
}

}  // namespace portcullis::daemon
