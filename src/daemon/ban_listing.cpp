#include "daemon/ban_listing.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace portcullis::daemon {

void sort_distinct(std::vector<kernel::ListedElement>& elements) {
    std::sort(elements.begin(), elements.end(), [](const kernel::ListedElement& a, const kernel::ListedElement& b) {
        if (a.prefix != b.prefix) return a.prefix < b.prefix;
        return a.expires.count() == 0 ? b.expires.count() != 0 : (b.expires.count() != 0 && a.expires > b.expires);
    });
    elements.erase(std::unique(elements.begin(), elements.end(),
                               [](const auto& a, const auto& b) { return a.prefix == b.prefix; }),
                   elements.end());
}

// ---- KernelBanLister -----------------------------------------------------------------------------

Result<std::unique_ptr<KernelBanLister>> KernelBanLister::create(EventLoop& loop, WriterFactory factory) {
    std::unique_ptr<KernelBanLister> lister(new KernelBanLister(loop, std::move(factory)));
    lister->event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (lister->event_fd_ < 0) return fail(std::string("eventfd: ") + std::strerror(errno));
    KernelBanLister* raw = lister.get();
    auto added = loop.add(lister->event_fd_, EPOLLIN, [raw](std::uint32_t) { raw->finished(); });
    if (!added) {
        ::close(lister->event_fd_);
        lister->event_fd_ = -1;
        return tl::unexpected(added.error());
    }
    return lister;
}

KernelBanLister::~KernelBanLister() {
    if (progress_) progress_->cancel = true;  // the dump stops at its next reply
    if (thread_.joinable()) thread_.join();
    if (event_fd_ >= 0) {
        loop_.remove(event_fd_);
        ::close(event_fd_);
    }
}

void KernelBanLister::request(std::vector<SetToList> sets, Done done) {
    waiting_.push_back(std::move(done));
    if (running_) return;  // joins the dump that runs
    running_ = true;
    ++dumps_;
    progress_ = std::make_unique<kernel::ListProgress>();
    kernel::ListProgress* progress = progress_.get();
    // Started with every signal blocked: SIGTERM/SIGHUP belong to the loop's signalfd.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    thread_ = std::thread([this, sets = std::move(sets), progress] {
        Outcome outcome;
        auto started = std::chrono::steady_clock::now();
        // Its own socket: the loop's writer socket stays free for grants and bans.
        auto writer = factory_();
        for (const SetToList& set : sets) {
            if (!writer) {
                outcome.errors[set.name] = writer.error().message;
                continue;
            }
            auto listed = (*writer)->list_tracked(set.name, set.interval, *progress);
            if (!listed) {
                outcome.errors[set.name] = listed.error().message;
                continue;
            }
            outcome.per_set[set.name] = listed->size();
            outcome.elements.insert(outcome.elements.end(), listed->begin(), listed->end());
        }
        // Sorted and de-duplicated here, not on the loop: a host in two sets once, with the later
        // expiry (0 = no timeout = latest). The loop then only merges in its records.
        sort_distinct(outcome.elements);
        outcome.interrupted = progress->interrupted.load();
        outcome.finished_at = static_cast<std::int64_t>(std::time(nullptr));
        outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        {
            std::lock_guard lock(mutex_);
            result_ = std::move(outcome);
        }
        std::uint64_t one = 1;
        [[maybe_unused]] auto written = ::write(event_fd_, &one, sizeof one);
    });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void KernelBanLister::finished() {
    std::uint64_t count = 0;
    [[maybe_unused]] auto read = ::read(event_fd_, &count, sizeof count);
    std::optional<Outcome> outcome;
    {
        std::lock_guard lock(mutex_);
        outcome.swap(result_);
    }
    if (!outcome) return;
    if (thread_.joinable()) thread_.join();
    running_ = false;
    std::vector<Done> waiting;
    waiting.swap(waiting_);
    for (const Done& done : waiting) done(*outcome);
}

// ---- BanPager ------------------------------------------------------------------------------------

BanPager::BanPager(Clock clock, std::uint64_t id_salt) : clock_(std::move(clock)), salt_(id_salt) {}

std::uint64_t BanPager::open(std::vector<BanListEntry> entries, Info info) {
    expire();
    while (listings_.size() >= kMaxOpenListings) {
        auto oldest = std::min_element(listings_.begin(), listings_.end(), [](const auto& a, const auto& b) {
            return a.second.touched < b.second.touched;
        });
        listings_.erase(oldest);
    }
    // Ids are not guessable from each other (salted), and never 0.
    std::uint64_t id = 0;
    do {
        id = (++counter_ * 0x9e3779b97f4a7c15ull) ^ salt_;
    } while (id == 0 || listings_.count(id));
    Listing& listing = listings_[id];
    listing.entries = std::move(entries);
    listing.info = info;
    listing.touched = clock_();
    return id;
}

Result<BanPager::Page> BanPager::page(const BanCursor& cursor, std::uint32_t limit) {
    expire();
    auto it = listings_.find(cursor.listing);
    if (it == listings_.end())
        return fail("cursor expired or unknown: a listing is kept " + std::to_string(kListingIdleSeconds) +
                    " s after its last page and at most " + std::to_string(kMaxOpenListings) +
                    " at once; start the listing again");
    Listing& listing = it->second;
    if (cursor.offset > listing.entries.size()) return fail("cursor is past the end of its listing");
    if (limit == 0) limit = 1;
    Page page;
    page.total = listing.entries.size();
    page.info = listing.info;
    std::size_t end = std::min<std::size_t>(listing.entries.size(), cursor.offset + limit);
    page.entries.assign(listing.entries.begin() + static_cast<std::ptrdiff_t>(cursor.offset),
                        listing.entries.begin() + static_cast<std::ptrdiff_t>(end));
    if (end < listing.entries.size()) {
        page.next = BanCursor{cursor.listing, end};
        listing.touched = clock_();
    } else {
        listings_.erase(it);  // the last page: nothing left to ask for
    }
    return page;
}

void BanPager::expire() {
    std::int64_t now = clock_();
    for (auto it = listings_.begin(); it != listings_.end();) {
        if (now - it->second.touched >= kListingIdleSeconds) it = listings_.erase(it);
        else ++it;
    }
}

std::size_t BanPager::entries_held() const {
    std::size_t total = 0;
    for (const auto& [id, listing] : listings_) total += listing.entries.size();
    return total;
}

}  // namespace portcullis::daemon
