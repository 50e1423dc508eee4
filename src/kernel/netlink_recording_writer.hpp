#pragma once
// Test fake for SetElementWriter: records every write() call and keeps the sets in memory with
// the kernel's rules that matter to callers — removing a missing element fails with ENOENT, an
// interval overlapping another in an interval set fails with EEXIST, unknown sets fail with
// ENOENT, re-adding an identical element refreshes its timeout.
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernel/netlink_set_writer.hpp"

namespace portcullis::kernel {

class RecordingSetWriter final : public SetElementWriter {
public:
    std::vector<std::vector<ElementChange>> writes;  // one entry per write() call
    std::map<std::string, std::map<Prefix, std::chrono::milliseconds>> sets;  // name → elements
    std::string transport_error;  // when set, every write fails with it (nothing lands)

    void create_set(const std::string& name) { sets[name]; }

    WriteReport write(std::span<const ElementChange> changes) override {
        writes.emplace_back(changes.begin(), changes.end());
        WriteReport report;
        report.batches = plan_batches(changes).size();
        for (const auto& batch : plan_batches(changes)) report.messages += batch.size();
        if (!transport_error.empty()) {
            report.transport_error = transport_error;
            return report;
        }
        for (std::size_t i = 0; i < changes.size(); ++i) {
            const ElementChange& change = changes[i];
            auto set = sets.find(change.set);
            if (set == sets.end()) {
                report.failures.push_back({i, std::strerror(ENOENT)});
                continue;
            }
            auto& elements = set->second;
            if (change.op == ElementOp::remove) {
                if (elements.erase(change.prefix) == 0) report.failures.push_back({i, std::strerror(ENOENT)});
                else ++report.changes;
                continue;
            }
            bool overlap = false;
            for (const auto& [existing, timeout] : elements) {
                if (existing == change.prefix) continue;
                if (existing.contains(change.prefix.address) || change.prefix.contains(existing.address))
                    overlap = true;
            }
            if (overlap) {
                report.failures.push_back({i, std::strerror(EEXIST)});
                continue;
            }
            elements[change.prefix] = change.timeout;
            ++report.changes;
        }
        return report;
    }

    Result<std::vector<ListedElement>> list(const std::string& set, bool) override {
        auto it = sets.find(set);
        if (it == sets.end()) return fail("listing set " + set + ": No such file or directory");
        std::vector<ListedElement> out;
        for (const auto& [prefix, timeout] : it->second) out.push_back({prefix, timeout, timeout});
        return out;
    }

    std::size_t total_changes() const {
        std::size_t total = 0;
        for (const auto& write : writes) total += write.size();
        return total;
    }
};

}  // namespace portcullis::kernel
