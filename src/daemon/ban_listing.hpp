#pragma once
// `bans list` with a million bans (docs/control-protocol.md "Paging", docs/benchmarks.md):
//
// - KernelBanLister dumps the ban sets on a thread of its own with its own netlink socket. A dump
//   of 1M elements takes ~27 s in the kernel (it restarts its walk for every 32 KiB reply), and
//   the loop must keep answering status, grants, bans add and SPA meanwhile. Requests that arrive
//   while a dump runs wait for that dump and share its result.
// - BanPager keeps the merged, sorted result of one listing (a snapshot) and hands it out in
//   pages addressed by an opaque cursor, so no reply has to hold a million bans. Snapshots are
//   bounded (kMaxOpenListings, freed after the last page or kListingIdleSeconds without a page).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/net.hpp"
#include "common/result.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/event_loop.hpp"
#include "kernel/netlink_set_writer.hpp"

namespace portcullis::daemon {

// One ban of a listing snapshot. A ban with a history is rendered from its record when its page
// is served (current values; left out if it ended meanwhile); an adopted one (in the kernel, no
// history) from what the dump said.
struct BanListEntry {
    Prefix prefix;
    std::int64_t expires_at = 0;  // unix seconds; 0: no timeout
    bool adopted = false;
};

// Sorts by prefix and keeps one element per prefix, the one that expires last (no timeout first).
void sort_distinct(std::vector<kernel::ListedElement>& elements);

class KernelBanLister {
public:
    using WriterFactory = std::function<Result<std::unique_ptr<kernel::SetElementWriter>>()>;
    struct SetToList {
        std::string name;
        bool interval = true;
    };
    struct Outcome {
        std::vector<kernel::ListedElement> elements;   // every set, sorted and distinct (sort_distinct)
        std::map<std::string, std::size_t> per_set;    // elements per listed set
        std::map<std::string, std::string> errors;     // sets that could not be listed
        bool interrupted = false;                      // the kernel flagged a change during the dump
        std::int64_t finished_at = 0;                  // unix seconds
        double seconds = 0;                            // wall time of the dump
    };
    using Done = std::function<void(const Outcome&)>;

    static Result<std::unique_ptr<KernelBanLister>> create(EventLoop& loop, WriterFactory factory);
    ~KernelBanLister();  // cancels a running dump and waits for its thread
    KernelBanLister(const KernelBanLister&) = delete;
    KernelBanLister& operator=(const KernelBanLister&) = delete;

    // Calls `done` on the loop thread once a dump of `sets` has finished: a new one, or the one
    // already running (whose sets are the same: the current ban layout).
    void request(std::vector<SetToList> sets, Done done);

    bool running() const { return running_; }
    std::uint64_t elements_read() const { return progress_ ? progress_->elements.load() : 0; }
    std::uint64_t dumps() const { return dumps_; }

private:
    KernelBanLister(EventLoop& loop, WriterFactory factory) : loop_(loop), factory_(std::move(factory)) {}
    void finished();

    EventLoop& loop_;
    WriterFactory factory_;
    int event_fd_ = -1;
    bool running_ = false;
    std::thread thread_;
    std::unique_ptr<kernel::ListProgress> progress_;
    std::mutex mutex_;
    std::optional<Outcome> result_;  // written by the thread, taken by the loop
    std::vector<Done> waiting_;
    std::uint64_t dumps_ = 0;
};

inline constexpr std::size_t kMaxOpenListings = 4;
inline constexpr std::int64_t kListingIdleSeconds = 60;

class BanPager {
public:
    using Clock = std::function<std::int64_t()>;  // seconds, monotonic
    BanPager(Clock clock, std::uint64_t id_salt);

    struct Info {
        request::BanSource source = request::BanSource::kernel;
        std::int64_t listed_at = 0;  // unix seconds the snapshot was taken
        bool interrupted = false;
    };
    // Keeps `entries` (sorted, distinct) as a new listing; the least recently used one goes
    // when kMaxOpenListings are open. Returns its id.
    std::uint64_t open(std::vector<BanListEntry> entries, Info info);

    struct Page {
        std::vector<BanListEntry> entries;
        std::optional<BanCursor> next;  // absent: that was the last page (the listing is freed)
        std::size_t total = 0;          // entries in the snapshot
        Info info;
    };
    Result<Page> page(const BanCursor& cursor, std::uint32_t limit);

    void expire();  // frees listings idle for kListingIdleSeconds
    std::size_t open_listings() const { return listings_.size(); }
    std::size_t entries_held() const;

private:
    struct Listing {
        std::vector<BanListEntry> entries;
        Info info;
        std::int64_t touched = 0;
    };
    Clock clock_;
    std::uint64_t salt_;
    std::uint64_t counter_ = 0;
    std::map<std::uint64_t, Listing> listings_;
};

}  // namespace portcullis::daemon
