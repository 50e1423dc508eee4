#pragma once
// Runtime set elements (grants, bans) written over one persistent NETLINK_NETFILTER socket with
// libmnl + libnftnl. Not libnftables: every libnftables call re-dumps all interval sets on the
// box, which collapses to a few elements per second when another program keeps a big blocklist.
//
// Changes are grouped into NEWSETELEM / DELSETELEM messages per (set, operation), each message
// kept under the 64 KiB a netlink attribute nest can describe (nla_len is 16 bits), and messages
// are sent in NFNL_MSG_BATCH_BEGIN/END transactions, one sendmsg() per batch. Messages are encoded
// straight into one reused buffer (libmnl attribute writers, no per-element allocation) and ask
// for no ACK: the kernel only answers what it rejects. When it rejects one (an overlapping
// interval, a missing element, a full set), it aborts the whole batch, so the writer re-sends the
// good messages and bisects the bad one until the offending element is isolated and reported,
// and every other change still lands.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernel/netlink_limits.hpp"
#include "common/net.hpp"
#include "common/result.hpp"

namespace portcullis::kernel {

enum class ElementOp : std::uint8_t { add, remove };

struct ElementChange {
    std::string set;            // e.g. "ban4", "grant4_vpn"
    ElementOp op = ElementOp::add;
    Prefix prefix;              // a host (/32, /128) or a prefix; prefixes need an interval set
    bool interval = false;      // the set has `flags interval`: encode start + end elements
    std::chrono::milliseconds timeout{0};  // 0: the set's default timeout (or none)
};

struct ListedElement {
    Prefix prefix;
    std::chrono::milliseconds timeout{0};  // 0: no timeout
    std::chrono::milliseconds expires{0};  // time left; 0: no timeout
};

struct ChangeFailure {
    std::size_t index = 0;  // into the span given to write()
    std::string message;    // the kernel's reason
};

struct WriteReport {
    std::size_t changes = 0;   // changes that landed
    std::size_t messages = 0;  // NEWSETELEM/DELSETELEM messages sent (including retries)
    std::size_t batches = 0;   // sendmsg() batches (including retries)
    std::vector<ChangeFailure> failures;
    std::chrono::microseconds latency{0};  // wall time of the whole write
    std::string transport_error;           // socket-level failure: nothing is known to have landed
    bool ok() const { return failures.empty() && transport_error.empty(); }
};

// Shared with a thread that lists a big set: how far it got, whether the kernel flagged the dump
// as interrupted by a change (NLM_F_DUMP_INTR), and a request to give up.
struct ListProgress {
    std::atomic<std::uint64_t> elements{0};  // kernel elements read so far
    std::atomic<bool> interrupted{false};
    std::atomic<bool> cancel{false};
};

// The adapter interface: the daemon only ever talks to this, unit tests to the recording fake.
class SetElementWriter {
public:
    virtual ~SetElementWriter() = default;
    virtual WriteReport write(std::span<const ElementChange> changes) = 0;
    // Every element of `set`; interval sets are folded back from start/end pairs into prefixes.
    virtual Result<std::vector<ListedElement>> list(const std::string& set, bool interval) = 0;
    // The same, reporting progress to (and cancellable through) `progress`.
    virtual Result<std::vector<ListedElement>> list_tracked(const std::string& set, bool interval,
                                                            ListProgress& progress) {
        if (progress.cancel.load()) return fail("listing set " + set + ": cancelled");
        auto listed = list(set, interval);
        if (listed) progress.elements += listed->size();
        return listed;
    }
};

// ---- batching plan (pure, unit-tested) ---------------------------------------------------------

// Bytes one change occupies inside the NFTA_SET_ELEM_LIST_ELEMENTS nest (one or two elements).
std::size_t element_wire_bytes(const ElementChange& change);


struct PlannedMessage {
    std::string set;
    ElementOp op = ElementOp::add;
    std::vector<std::size_t> changes;  // indices into the input
    std::size_t bytes = 0;             // size of the elements nest
};
using PlannedBatch = std::vector<PlannedMessage>;

// Consecutive changes of the same (set, op) share a message; order between different (set, op)
// runs is kept because "remove X then add X" must not become "add X then remove X".
std::vector<PlannedBatch> plan_batches(std::span<const ElementChange> changes,
                                       std::size_t max_nest_bytes = kMaxElementsNestBytes,
                                       std::size_t max_batch_bytes = kMaxBatchBytes);

// The wire bytes of one planned batch, appended to `out` (cleared first): BATCH_BEGIN with seq
// `first_seq`, message m of `batch` with seq first_seq + 1 + m, BATCH_END with
// first_seq + 1 + batch.size(). No message sets NLM_F_ACK. `changes` is what `batch` indexes.
void encode_batch(std::span<const ElementChange> changes, const PlannedBatch& batch,
                  std::uint8_t family, const std::string& table, std::uint32_t first_seq,
                  std::vector<char>& out);

// Interval set encoding: [first, last + 1) as a start element and an end-flagged element. The end
// element is omitted when last is the top of the address space (the interval is open-ended).
struct IntervalKeys {
    std::array<std::uint8_t, 16> start{};
    std::array<std::uint8_t, 16> end{};
    bool has_end = true;
};
IntervalKeys interval_keys(const Prefix& prefix);

// Fold [start, end) ranges (end exclusive, `has_end` false = to the top) into CIDR prefixes.
std::vector<Prefix> range_to_prefixes(const Address& start, const Address* end_exclusive);

// ---- the real thing ----------------------------------------------------------------------------

class NetlinkSetWriter final : public SetElementWriter {
public:
    // family: "inet", "ip", "ip6"; the table must exist for writes to succeed.
    static Result<std::unique_ptr<NetlinkSetWriter>> open(const std::string& family,
                                                          const std::string& table);
    ~NetlinkSetWriter() override;
    NetlinkSetWriter(const NetlinkSetWriter&) = delete;
    NetlinkSetWriter& operator=(const NetlinkSetWriter&) = delete;

    WriteReport write(std::span<const ElementChange> changes) override;
    Result<std::vector<ListedElement>> list(const std::string& set, bool interval) override;
    Result<std::vector<ListedElement>> list_tracked(const std::string& set, bool interval,
                                                    ListProgress& progress) override;

private:
    struct Impl;
    explicit NetlinkSetWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::kernel
