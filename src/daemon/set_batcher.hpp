#pragma once
// Coalesces set-element changes for a few milliseconds and writes them in as few netlink
// batches as the message size limits allow. A change repeating the latest queued change of the
// same element (same set, prefix and operation: a detector firing twice on one source) is merged
// into it — the later timeout wins and both completions fire — so the kernel sees each element
// once per flush; "remove X, add X" stays two changes in that order. Each change can carry a completion that learns
// whether the kernel took it, so callers report per-change results (a control request waits
// for its own flush; detectors just fire and forget).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel/netlink_set_writer.hpp"

namespace portcullis::daemon {

// Fixed-bucket histogram (Prometheus "le" buckets).
struct Histogram {
    std::vector<double> bounds;           // upper bounds, ascending
    std::vector<std::uint64_t> counts;    // per bucket (non-cumulative), size bounds+1
    double sum = 0;
    std::uint64_t count = 0;
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);
};

class SetBatcher {
public:
    // Called with nullptr on success, else with the kernel's reason.
    using Completion = std::function<void(const std::string* error)>;

    explicit SetBatcher(kernel::SetElementWriter& writer);

    void enqueue(kernel::ElementChange change, Completion completion = {});
    // For bulk callers (a restore) that know no other queued change touches this element:
    // skips the merge index, which costs more than the netlink encoding of a change.
    void enqueue_distinct(kernel::ElementChange change, Completion completion = {});
    // Writes everything queued; returns the report of that write (empty when nothing queued).
    kernel::WriteReport flush();
    std::size_t pending() const { return queue_.size(); }
    std::uint64_t merged() const { return merged_; }  // changes folded into a queued one

    std::uint64_t elements_written() const { return elements_written_; }
    std::uint64_t element_failures() const { return element_failures_; }
    std::uint64_t transport_errors() const { return transport_errors_; }
    std::uint64_t batches() const { return batches_; }
    std::uint64_t messages() const { return messages_; }
    const Histogram& flush_sizes() const { return flush_sizes_; }
    const Histogram& flush_seconds() const { return flush_seconds_; }

private:
    struct ElementKey {
        std::string set;
        Prefix prefix;
        bool operator==(const ElementKey&) const = default;
    };
    struct ElementKeyHash {
        std::size_t operator()(const ElementKey& key) const noexcept;
    };
    kernel::SetElementWriter& writer_;
    std::vector<kernel::ElementChange> queue_;
    std::vector<Completion> completions_;
    std::unordered_map<ElementKey, std::size_t, ElementKeyHash> latest_;  // → index in queue_
    std::uint64_t merged_ = 0;
    std::uint64_t elements_written_ = 0;
    std::uint64_t element_failures_ = 0;
    std::uint64_t transport_errors_ = 0;
    std::uint64_t batches_ = 0;
    std::uint64_t messages_ = 0;
    Histogram flush_sizes_;
    Histogram flush_seconds_;
};

}  // namespace portcullis::daemon
