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

std::size_t SetBatcher::ElementKeyHash::operator()(const ElementKey& key) const noexcept {
    std::size_t hash = std::hash<std::string>{}(key.set);
    auto mix = [&](std::uint8_t byte) { hash = (hash ^ byte) * 1099511628211ull; };
    for (std::uint8_t byte : key.prefix.address.bytes) mix(byte);
    mix(key.prefix.length);
    mix(static_cast<std::uint8_t>(key.prefix.address.family));
    return hash;
}

void SetBatcher::enqueue(kernel::ElementChange change, Completion completion) {
    ElementKey key{change.set, change.prefix};
    auto [it, inserted] = latest_.try_emplace(std::move(key), queue_.size());
    if (!inserted) {
        std::size_t index = it->second;
        if (queue_[index].op == change.op && queue_[index].interval == change.interval) {
            queue_[index].timeout = change.timeout;
            if (completion) {
                Completion& first = completions_[index];
                if (first) {
                    first = [earlier = std::move(first), later = std::move(completion)](const std::string* error) {
                        earlier(error);
                        later(error);
                    };
                } else {
                    first = std::move(completion);
                }
            }
            ++merged_;
            return;
        }
        it->second = queue_.size();
    }
    queue_.push_back(std::move(change));
    completions_.push_back(std::move(completion));
}

void SetBatcher::enqueue_distinct(kernel::ElementChange change, Completion completion) {
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
    // A big flush (a restore) must not leave its index allocated for the daemon's lifetime.
    if (latest_.bucket_count() > 4096) decltype(latest_)().swap(latest_);
    else latest_.clear();

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
