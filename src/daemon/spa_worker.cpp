#include "daemon/spa_worker.hpp"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/runtime_state.hpp"

namespace portcullis::daemon {

namespace {

void signal_fd(int fd) {
    std::uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the reader will wake anyway.
    while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void clear_fd(int fd) {
    std::uint64_t value = 0;
    while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
    }
}

}  // namespace

Result<std::unique_ptr<SpaHandoff>> SpaHandoff::create(std::size_t capacity) {
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return fail(std::string("eventfd: ") + std::strerror(errno));
    return std::unique_ptr<SpaHandoff>(new SpaHandoff(fd, capacity));
}

SpaHandoff::~SpaHandoff() {
    if (fd_ >= 0) ::close(fd_);
}

bool SpaHandoff::push(SpaNote note) {
    bool was_empty = false;
    {
        std::lock_guard lock(mutex_);
        // A replay-cache entry is never dropped: losing one would let a captured packet be accepted
        // again after a restart or thread replacement. Their rate is bounded by the table's SPA limits.
        if (queue_.size() >= capacity_ && note.kind != SpaNote::Kind::remembered) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        was_empty = queue_.empty();
        queue_.push_back(std::move(note));
    }
    // One wake-up per batch: while the queue is non-empty the reader has one coming.
    if (was_empty) signal_fd(fd_);
    return true;
}

std::vector<SpaNote> SpaHandoff::take() {
    clear_fd(fd_);
    std::vector<SpaNote> out;
    std::lock_guard lock(mutex_);
    out.swap(queue_);
    return out;
}

void SettingsSlot::publish(std::shared_ptr<const SpaSettings> settings) {
    std::lock_guard lock(mutex_);
    settings_ = std::move(settings);
    version_.fetch_add(1, std::memory_order_release);
}

std::optional<std::shared_ptr<const SpaSettings>> SettingsSlot::changed(std::uint64_t& seen) const {
    if (version_.load(std::memory_order_acquire) == seen) return std::nullopt;
    std::lock_guard lock(mutex_);
    seen = version_.load(std::memory_order_relaxed);
    return settings_;
}

Result<std::unique_ptr<SpaWorker>> SpaWorker::open(std::shared_ptr<const SpaSettings> settings,
                                                   std::unique_ptr<kernel::SetElementWriter> writer, Clock clock) {
    if (!settings) return fail("SPA thread without SPA settings");
    if (!writer) return fail("SPA thread without a netlink socket");
    auto reader = intake::NflogReader::open({settings->group}, 2048, 1024 * 1024, 1);
    if (!reader) return tl::unexpected(reader.error());
    auto handoff = SpaHandoff::create();
    if (!handoff) return tl::unexpected(handoff.error());
    int stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop_fd < 0) return fail(std::string("eventfd: ") + std::strerror(errno));
    return std::unique_ptr<SpaWorker>(new SpaWorker(std::move(*reader), std::move(writer), std::move(*handoff),
                                                    stop_fd, std::move(settings), std::move(clock)));
}

SpaWorker::SpaWorker(std::unique_ptr<intake::NflogReader> reader, std::unique_ptr<kernel::SetElementWriter> writer,
                     std::unique_ptr<SpaHandoff> handoff, int stop_fd, std::shared_ptr<const SpaSettings> settings,
                     Clock clock)
    : reader_(std::move(reader)),
      writer_(std::move(writer)),
      handoff_(std::move(handoff)),
      stop_fd_(stop_fd),
      group_(settings->group),
      realtime_(settings->realtime),
      intake_([this](std::string_view type, nlohmann::json fields) { emit(type, std::move(fields)); },
              [this](const Address& address, const std::string& service, std::uint32_t seconds,
                     std::function<void(const std::string*)> done) {
                  return grant(address, service, seconds, std::move(done));
              },
              std::move(clock)) {
    slot_.publish(std::move(settings));
    intake_.set_send_grants([this] { send_grants(); });
    intake_.set_remembered([this](const auth::Sha256& digest, std::int64_t expires_at) {
        SpaNote note;
        note.kind = SpaNote::Kind::remembered;
        note.digest = digest;
        note.expires_at = expires_at;
        handoff_->push(std::move(note));
    });
    reader_->dispatcher().add_observer(&intake_);
}

SpaWorker::~SpaWorker() {
    stop();
    if (stop_fd_ >= 0) ::close(stop_fd_);
}

void SpaWorker::start() {
    if (thread_.joinable()) return;
    refresh_settings();  // the verifier (and the crypto warm-up) before the first packet
    // The loop thread takes SIGHUP/SIGTERM through its signalfd; this thread must never be the
    // one a process signal is delivered to, so it starts with every signal blocked.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void SpaWorker::stop() {
    if (!thread_.joinable()) return;
    signal_fd(stop_fd_);
    thread_.join();
}

std::string SpaWorker::scheduling() const {
    int policy = scheduling_.load(std::memory_order_relaxed);
    if (policy < 0) return "";
    return policy == SCHED_FIFO ? "fifo" : policy == SCHED_RR ? "rr" : "normal";
}

void SpaWorker::emit(std::string_view type, nlohmann::json fields) {
    SpaNote note;
    note.kind = SpaNote::Kind::event;
    note.type = std::string(type);
    note.fields = std::move(fields);
    handoff_->push(std::move(note));
}

void SpaWorker::set_scheduling() {
    int current = ::sched_getscheduler(0);
    // Already real-time (the whole daemon started under chrt): keep it, never lower it.
    if (!realtime_ || current == SCHED_FIFO || current == SCHED_RR) {
        scheduling_.store(current, std::memory_order_relaxed);
        return;
    }
    sched_param param{};
    param.sched_priority = 1;  // the lowest real-time priority: above every normal task only
    // SCHED_RESET_ON_FORK: nothing this thread might start inherits the real-time policy.
    if (::sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) == 0) {
        scheduling_.store(SCHED_FIFO, std::memory_order_relaxed);
        return;
    }
    int error = errno;
    scheduling_.store(current, std::memory_order_relaxed);
    emit(event::kSpaPriority,
         {{"requested", "realtime"},
          {"running", "normal"},
          {"error", std::strerror(error)},
          {"hint", "the kernel refused SCHED_FIFO for the SPA thread; grant CAP_SYS_NICE or RLIMIT_RTPRIO >= 1 "
                   "(systemd: LimitRTPRIO=1, RestrictRealtime=no), or set [spa] priority = \"normal\""}});
}

void SpaWorker::refresh_settings() {
    if (auto changed = slot_.changed(seen_version_)) {
        settings_ = std::move(*changed);
        intake_.apply(settings_);
    }
}

void SpaWorker::run() {
    set_scheduling();
    pollfd fds[2] = {{reader_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
        int ready = ::poll(fds, 2, -1);  // blocks: the thread never spins
        if (ready < 0) {
            if (errno == EINTR) continue;
            emit(event::kKernelError, {{"error", std::string("SPA thread stopped: poll: ") + std::strerror(errno)}});
            return;
        }
        if (fds[1].revents != 0) return;
        if (fds[0].revents == 0) continue;
        refresh_settings();
        // At most 64 datagrams (one packet each) per wake-up; the table's limits bound the rate.
        reader_->on_readable(64);
        const auto& counters = reader_->dispatcher().counters();
        nflog_packets_.store(counters.packets, std::memory_order_relaxed);
        nflog_overruns_.store(counters.overruns, std::memory_order_relaxed);
        intake_.trace_finish();
    }
}

Result<void> SpaWorker::grant(const Address& address, const std::string& service, std::uint32_t seconds,
                              std::function<void(const std::string*)> done) {
    if (!settings_ || !settings_->grant_services.count(service))
        return fail("service \"" + service + "\" has no grant set (it needs guard = \"grant\" in the policy)");
    PendingGrant pending;
    pending.change.set = RuntimeState::set_for_grant(address, service);
    pending.change.prefix = Prefix{address, static_cast<std::uint8_t>(address.width_bits())};
    pending.change.timeout = std::chrono::milliseconds(std::int64_t{seconds} * 1000);
    pending.done = std::move(done);
    pending.address = address;
    pending.service = service;
    pending.seconds = seconds;
    pending_.push_back(std::move(pending));
    return {};
}

void SpaWorker::send_grants() {
    if (pending_.empty()) return;
    std::vector<PendingGrant> grants;
    grants.swap(pending_);
    std::vector<kernel::ElementChange> changes;
    changes.reserve(grants.size());
    for (const auto& pending : grants) changes.push_back(pending.change);
    kernel::WriteReport report = writer_->write(changes);
    std::vector<const std::string*> errors(changes.size(), nullptr);
    for (const auto& failure : report.failures)
        if (failure.index < errors.size()) errors[failure.index] = &failure.message;
    if (!report.transport_error.empty())
        for (auto& error : errors) error = &report.transport_error;
    for (std::size_t i = 0; i < grants.size(); ++i) {
        if (!errors[i]) {
            SpaNote note;
            note.kind = SpaNote::Kind::grant_opened;
            note.address = grants[i].address;
            note.service = grants[i].service;
            note.seconds = grants[i].seconds;
            handoff_->push(std::move(note));
        }
        if (grants[i].done) grants[i].done(errors[i]);
    }
}

}  // namespace portcullis::daemon
