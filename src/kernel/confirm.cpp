#include "kernel/confirm.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "kernel/table_text.hpp"
#include "kernel/transaction.hpp"

namespace portcullis::kernel {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPendingPrefix = "pending.";
constexpr std::int32_t kPidRecord = 1;
constexpr std::int32_t kExecErrorRecord = 2;
constexpr const char* kOutcomePrefixes[] = {"confirmed.", "rollingback.", "rolledback.", "cancelled.", "previous."};

std::string errno_text() { return std::strerror(errno); }

// Holds flock(LOCK_EX) on the directory's lock file for its lifetime.
class DirectoryLock {
public:
    static Result<DirectoryLock> take(const std::string& directory) {
        std::error_code ec;
        fs::create_directories(directory, ec);
        if (ec) return fail(fmt::format("cannot create state directory {}: {}", directory, ec.message()));
        std::string path = directory + "/lock";
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return fail(fmt::format("cannot open {}: {}", path, errno_text()));
        if (::flock(fd, LOCK_EX) != 0) {
            std::string why = errno_text();
            ::close(fd);
            return fail(fmt::format("cannot lock {}: {}", path, why));
        }
        return DirectoryLock(fd);
    }
    DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    DirectoryLock& operator=(DirectoryLock&&) = delete;
    ~DirectoryLock() {
        if (fd_ >= 0) ::close(fd_);  // closing releases the flock
    }

private:
    explicit DirectoryLock(int fd) : fd_(fd) {}
    int fd_;
};

// Write to a temporary name, fsync, rename: readers see the old file or the new, never half.
Result<void> write_atomically(const std::string& path, const std::string& content) {
    std::string temporary = path + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(fmt::format("cannot write {}: {}", temporary, errno_text()));
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::string why = errno_text();
            ::close(fd);
            return fail(fmt::format("cannot write {}: {}", temporary, why));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) return fail(fmt::format("cannot write {}: {}", temporary, errno_text()));
    if (::rename(temporary.c_str(), path.c_str()) != 0)
        return fail(fmt::format("cannot rename {} to {}: {}", temporary, path, errno_text()));
    return {};
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

std::vector<std::string> names_with_prefix(const std::string& directory, const std::string& prefix) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(directory, ec)) {
        std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && name.find(".tmp") == std::string::npos) out.push_back(name.substr(prefix.size()));
    }
    std::sort(out.begin(), out.end());
    return out;
}

Result<PendingConfirm> parse_pending(const std::string& id, const std::string& text) {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded() || !json.is_object()) return fail(fmt::format("pending.{} is not valid JSON", id));
    PendingConfirm pending;
    pending.id = id;
    pending.applied_unix_ms = json.value("applied_unix_ms", std::int64_t{0});
    pending.deadline_unix_ms = json.value("deadline_unix_ms", std::int64_t{0});
    pending.previous_absent = json.value("previous_absent", false);
    pending.waiter_pid = json.value("waiter_pid", std::int64_t{0});
    return pending;
}

std::string render_pending(const PendingConfirm& pending) {
    nlohmann::json json{{"id", pending.id},
                        {"applied_unix_ms", pending.applied_unix_ms},
                        {"deadline_unix_ms", pending.deadline_unix_ms},
                        {"previous_absent", pending.previous_absent},
                        {"waiter_pid", pending.waiter_pid}};
    return json.dump() + "\n";
}

}  // namespace

ConfirmStore::ConfirmStore(std::string directory) : directory_(std::move(directory)) {}

std::string ConfirmStore::default_directory() {
    const char* from_env = std::getenv("PORTCULLIS_RUN_DIR");
    if (from_env != nullptr && *from_env != '\0') return from_env;
    return "/run/portcullis";
}

std::string ConfirmStore::path(const std::string& name) const { return directory_ + "/" + name; }

Result<std::optional<PendingConfirm>> ConfirmStore::pending() const {
    auto ids = names_with_prefix(directory_, kPendingPrefix);
    if (ids.empty()) return std::optional<PendingConfirm>{};
    auto text = read_file(path(kPendingPrefix + ids.back()));
    if (!text) return std::optional<PendingConfirm>{};  // confirmed or claimed just now
    auto parsed = parse_pending(ids.back(), *text);
    if (!parsed) return fail(parsed.error().message);
    return std::optional<PendingConfirm>(*parsed);
}

Result<PendingConfirm> ConfirmStore::begin(const std::optional<std::string>& previous_table,
                                           std::int64_t now_unix_ms, std::int64_t deadline_unix_ms) {
    auto lock = DirectoryLock::take(directory_);
    if (!lock) return fail(lock.error().message);
    auto existing = pending();
    if (!existing) return fail(existing.error().message);
    if (*existing) {
        return fail(fmt::format(
            "an earlier `apply --confirm` is still waiting for confirmation (rollback in {} s); run "
            "`portcullis confirm` to keep it, or wait for the rollback, then apply again",
            std::max<std::int64_t>(0, ((*existing)->deadline_unix_ms - now_unix_ms + 999) / 1000)));
    }
    // Only the newest confirm's history is kept: `confirm` reports on that one.
    for (const char* prefix : kOutcomePrefixes)
        for (const auto& old : names_with_prefix(directory_, prefix)) ::unlink(path(prefix + old).c_str());

    PendingConfirm pending;
    pending.id = fmt::format("{:016x}-{}", now_unix_ms, ::getpid());
    pending.applied_unix_ms = now_unix_ms;
    pending.deadline_unix_ms = deadline_unix_ms;
    pending.previous_absent = !previous_table.has_value();
    if (previous_table) {
        auto written = write_atomically(path("previous." + pending.id + ".nft"), *previous_table);
        if (!written) return fail(written.error().message);
    }
    auto written = write_atomically(path(kPendingPrefix + pending.id), render_pending(pending));
    if (!written) return fail(written.error().message);
    return pending;
}

Result<void> ConfirmStore::set_waiter_pid(const std::string& id, std::int64_t pid) {
    auto lock = DirectoryLock::take(directory_);
    if (!lock) return fail(lock.error().message);
    auto text = read_file(path(kPendingPrefix + id));
    if (!text) return {};  // already confirmed or claimed
    auto pending = parse_pending(id, *text);
    if (!pending) return fail(pending.error().message);
    pending->waiter_pid = pid;
    return write_atomically(path(kPendingPrefix + id), render_pending(*pending));
}

Result<void> ConfirmStore::cancel(const std::string& id) {
    auto lock = DirectoryLock::take(directory_);
    if (!lock) return fail(lock.error().message);
    if (::rename(path(kPendingPrefix + id).c_str(), path("cancelled." + id).c_str()) != 0 && errno != ENOENT)
        return fail(fmt::format("cannot withdraw pending.{}: {}", id, errno_text()));
    return {};
}

Result<ConfirmReport> ConfirmStore::confirm() {
    auto lock = DirectoryLock::take(directory_);
    if (!lock) return fail(lock.error().message);
    ConfirmReport report;
    auto ids = names_with_prefix(directory_, kPendingPrefix);
    if (!ids.empty()) {
        report.id = ids.back();
        if (::rename(path(kPendingPrefix + report.id).c_str(), path("confirmed." + report.id).c_str()) == 0) {
            report.outcome = ConfirmOutcome::confirmed;
            return report;
        }
        if (errno != ENOENT) return fail(fmt::format("cannot confirm pending.{}: {}", report.id, errno_text()));
    }
    auto finished = names_with_prefix(directory_, "rolledback.");
    auto started = names_with_prefix(directory_, "rollingback.");
    if (!finished.empty()) {
        report.outcome = ConfirmOutcome::too_late;
        report.id = finished.back();
        report.rollback_result = read_file(path("rolledback." + report.id)).value_or("");
    } else if (!started.empty()) {
        report.outcome = ConfirmOutcome::too_late;
        report.id = started.back();
    } else {
        report.outcome = ConfirmOutcome::nothing_pending;
    }
    return report;
}

bool ConfirmStore::is_pending(const std::string& id) const {
    return ::access(path(kPendingPrefix + id).c_str(), F_OK) == 0;
}

Result<bool> ConfirmStore::claim_rollback(const std::string& id) {
    auto lock = DirectoryLock::take(directory_);
    if (!lock) return fail(lock.error().message);
    if (::rename(path(kPendingPrefix + id).c_str(), path("rollingback." + id).c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    return fail(fmt::format("cannot claim pending.{}: {}", id, errno_text()));
}

Result<std::optional<std::string>> ConfirmStore::previous_table(const std::string& id) const {
    for (const char* state : {"rollingback.", "pending."}) {
        auto text = read_file(path(state + id));
        if (!text) continue;
        auto pending = parse_pending(id, *text);
        if (!pending) return fail(pending.error().message);
        if (pending->previous_absent) return std::optional<std::string>{};
        auto snapshot = read_file(path("previous." + id + ".nft"));
        if (!snapshot) return fail(fmt::format("the saved previous table previous.{}.nft is missing", id));
        return std::optional<std::string>(*snapshot);
    }
    return fail(fmt::format("no record of confirm {}", id));
}

Result<void> ConfirmStore::finish_rollback(const std::string& id, const std::string& result) {
    auto lock = DirectoryLock::take(directory_);
    if (!lock) return fail(lock.error().message);
    auto written = write_atomically(path("rolledback." + id), result + "\n");
    if (!written) return fail(written.error().message);
    ::unlink(path("rollingback." + id).c_str());
    return {};
}

Result<std::string> restore_previous(Nftables& nft, const std::optional<std::string>& previous_table) {
    if (!previous_table) {
        auto deleted = delete_table(nft);
        if (!deleted) return fail(deleted.error().message);
        return std::string(*deleted ? "removed the table (there was none before the apply)"
                                    : "nothing to do: there was no table before, and there is none now");
    }
    auto manifest = manifest_from_text(*previous_table);
    if (!manifest) return fail("the saved previous table cannot be read: " + manifest.error().message);
    compile::Compiled previous;
    previous.manifest = *manifest;
    // The runtime sets keep what they hold now (bans and grants made since the apply).
    previous.table_text = strip_set_elements(*previous_table, manifest->runtime_sets);
    auto applied = apply_table(nft, previous);
    if (!applied) return fail(applied.error().message);
    return std::string("restored the previous table");
}

WaiterEnd run_waiter(ConfirmStore& store, const std::string& id, std::chrono::steady_clock::time_point deadline,
                     const WaiterClock& clock, const std::function<Result<std::string>()>& rollback) {
    using namespace std::chrono;
    while (clock.now() < deadline) {
        if (!store.is_pending(id)) return WaiterEnd::confirmed_or_cancelled;
        auto left = duration_cast<milliseconds>(deadline - clock.now());
        clock.sleep(std::clamp(left, milliseconds(1), milliseconds(100)));
    }
    auto claimed = store.claim_rollback(id);
    if (!claimed || !*claimed) return WaiterEnd::confirmed_or_cancelled;
    auto result = rollback();
    std::string message = result ? "rolled back: " + *result : "rollback FAILED: " + result.error().message;
    (void)store.finish_rollback(id, message);
    return result ? WaiterEnd::rolled_back : WaiterEnd::rollback_failed;
}

Result<std::int64_t> spawn_detached(const std::vector<std::string>& argv, const std::string& log_path) {
    if (argv.empty()) return fail("spawn_detached: empty command");
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) return fail(fmt::format("pipe: {}", errno_text()));
    pid_t child = ::fork();
    if (child < 0) {
        ::close(report[0]);
        ::close(report[1]);
        return fail(fmt::format("fork: {}", errno_text()));
    }
    if (child == 0) {
        // First child: new session (no controlling terminal, not in the caller's process group),
        // then fork again so the waiter is not a session leader and is reparented to init.
        ::close(report[0]);
        ::setsid();
        pid_t grandchild = ::fork();
        if (grandchild < 0) ::_exit(1);
        if (grandchild > 0) {
            std::int32_t record[2] = {kPidRecord, grandchild};
            (void)!::write(report[1], record, sizeof record);
            ::_exit(0);
        }
        int null_fd = ::open("/dev/null", O_RDWR);
        int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (null_fd >= 0) {
            ::dup2(null_fd, 0);
            ::dup2(null_fd, 1);
        }
        ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
        std::vector<char*> args;
        for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        std::int32_t record[2] = {kExecErrorRecord, errno};
        (void)!::write(report[1], record, sizeof record);
        ::_exit(127);
    }
    ::close(report[1]);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Up to two 8-byte records (pipe writes this small are atomic): the grandchild's pid from the
    // child, and an exec error from the grandchild if exec failed. EOF means all writers are gone.
    char buffer[32];
    std::size_t got = 0;
    while (got < sizeof buffer) {
        ssize_t n = ::read(report[0], buffer + got, sizeof buffer - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(report[0]);
    std::optional<std::int64_t> pid;
    std::optional<int> exec_error;
    for (std::size_t at = 0; at + 8 <= got; at += 8) {
        std::int32_t record[2];
        std::memcpy(record, buffer + at, sizeof record);
        if (record[0] == kPidRecord) pid = record[1];
        if (record[0] == kExecErrorRecord) exec_error = record[1];
    }
    if (exec_error) return fail(fmt::format("cannot run {}: {}", argv[0], std::strerror(*exec_error)));
    if (!pid) return fail("could not start the detached process");
    return *pid;
}

}  // namespace portcullis::kernel
