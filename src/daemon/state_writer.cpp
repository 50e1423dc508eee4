#include "daemon/state_writer.hpp"

#include <pthread.h>
#include <signal.h>

#include <functional>

#include "daemon/state_file.hpp"

namespace portcullis::daemon {

namespace {

// The thread starts with every signal blocked (a thread inherits its creator's mask): the daemon
// takes SIGTERM/SIGHUP through its loop's signalfd, and a signal delivered to this thread instead
// would kill the process without its orderly exit.
std::thread start_without_signals(std::function<void()> body) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    std::thread thread(std::move(body));
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return thread;
}

}  // namespace

StateWriter::StateWriter(std::string path)
    : path_(std::move(path)), thread_(start_without_signals([this] { run(); })) {}

StateWriter::~StateWriter() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void StateWriter::submit(std::string text) {
    {
        std::lock_guard lock(mutex_);
        pending_ = std::move(text);
    }
    wake_.notify_one();
}

void StateWriter::drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return !pending_ && !busy_; });
}

std::optional<std::string> StateWriter::take_error() {
    std::lock_guard lock(mutex_);
    return std::exchange(error_, std::nullopt);
}

std::uint64_t StateWriter::writes() const {
    std::lock_guard lock(mutex_);
    return writes_;
}

void StateWriter::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return pending_ || stop_; });
        if (!pending_) return;  // stopping with nothing left to write
        std::string text = std::move(*pending_);
        pending_.reset();
        busy_ = true;
        lock.unlock();
        auto written = write_state_text(path_, text);
        lock.lock();
        busy_ = false;
        ++writes_;
        if (!written) error_ = written.error().message;
        if (!pending_) idle_.notify_all();
    }
}

}  // namespace portcullis::daemon
