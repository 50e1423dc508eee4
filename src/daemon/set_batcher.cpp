#include "daemon/set_batcher.hpp"

#include <algorithm>

namespace portcullis::daemon {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
    auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
    ++counts[static_cast<std::size_t>(bucket)];
    sum += value;
    ++count;
}

SetBatcher::SetBatcher(kernel::SetElementWriter& writer)
    : writer_(writer),
      flush_sizes_({1, 10, 100, 1000, 10000, 100000}),
      flush_seconds_({0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}) {}

void SetBatcher::enqueue(kernel::ElementChange change, Completion completion) {
    queue_.push_back(std::move(change));
    completions_.push_back(std::move(completion));
}

kernel::WriteReport SetBatcher::flush() {
    if (queue_.empty()) return {};
    // Swap out first: a completion may enqueue follow-up changes for the next flush.
    std::vector<kernel::ElementChange> changes;
    std::vector<Completion> completions;
    changes.swap(queue_);
    completions.swap(completions_);

    kernel::WriteReport report = writer_.write(changes);
    batches_ += report.batches;
    messages_ += report.messages;
    flush_sizes_.observe(static_cast<double>(changes.size()));
    flush_seconds_.observe(static_cast<double>(report.latency.count()) / 1e6);

    std::vector<const std::string*> errors(changes.size(), nullptr);
    for (const auto& failure : report.failures)
        if (failure.index < errors.size()) errors[failure.index] = &failure.message;
    if (!report.transport_error.empty()) {
        ++transport_errors_;
        for (auto& error : errors) error = &report.transport_error;
    }
    for (std::size_t i = 0; i < changes.size(); ++i) {
        if (errors[i]) ++element_failures_;
        else ++elements_written_;
        if (completions[i]) completions[i](errors[i]);
    }
    return report;
}

}  // namespace portcullis::daemon
