#pragma once
// Writes the state file off the event loop. An fsync on a busy disk can take a hundred
// milliseconds (measured during the SPA latency bench), and the loop must not stall on it: SPA
// senders wait for their grant, NFLOG must be drained, the control socket must answer. The loop
// serializes (cheap) and submits the text; one thread writes it atomically (temp file, fsync,
// rename, directory fsync). Submissions coalesce: only the newest pending text is written.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace portcullis::daemon {

class StateWriter {
public:
    explicit StateWriter(std::string path);
    ~StateWriter();  // writes what is pending, then stops
    StateWriter(const StateWriter&) = delete;
    StateWriter& operator=(const StateWriter&) = delete;

    void submit(std::string text);
    // Blocks until everything submitted so far is on disk (or failed).
    void drain();
    // The latest write error since the last call, if any (reported by the loop as an event).
    std::optional<std::string> take_error();
    std::uint64_t writes() const;

private:
    void run();

    const std::string path_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::optional<std::string> pending_;
    bool busy_ = false;
    bool stop_ = false;
    std::optional<std::string> error_;
    std::uint64_t writes_ = 0;
    std::thread thread_;
};

}  // namespace portcullis::daemon
