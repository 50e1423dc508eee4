#pragma once
// Per-service counters that live in set elements: the compiler puts unguarded services into a few
// shared sets declared with `counter`, each element commented with its logical counter name
// ("svc_<service>_accepted" / "_dropped"). This reader dumps those sets' elements over netlink
// (libnftnl, no libnftables) and sums packets and bytes per comment, so metrics see the same
// counter names whether a service counts in a named counter or in set elements.
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kernel/netlink_counters.hpp"

namespace portcullis::kernel {

class NetlinkSocket;

// Sums element counters by comment. Elements without a comment (interval ends) are skipped.
class NetlinkElementCounterReader final : public CounterReader {
public:
    static Result<std::unique_ptr<NetlinkElementCounterReader>> open(const std::string& family,
                                                                     const std::string& table);
    static Result<std::unique_ptr<NetlinkElementCounterReader>> open(const std::string& family, const std::string& table,
                                                                     std::shared_ptr<NetlinkSocket> socket);
    ~NetlinkElementCounterReader() override;
    // Which sets to read (the compiled table's counted sets); replaced on every policy apply.
    void set_sets(std::vector<std::string> names) { sets_ = std::move(names); }
    Result<std::vector<NamedCounter>> read() override;

private:
    NetlinkElementCounterReader() = default;
    std::shared_ptr<NetlinkSocket> socket_;
    std::uint8_t family_ = 0;
    std::string table_;
    std::vector<std::string> sets_;
};

// Both readers at once: named counter objects, then element counters; names appear once (summed).
class CombinedCounterReader final : public CounterReader {
public:
    CombinedCounterReader(std::unique_ptr<CounterReader> named, std::unique_ptr<NetlinkElementCounterReader> elements)
        : named_(std::move(named)), elements_(std::move(elements)) {}
    NetlinkElementCounterReader* elements() { return elements_.get(); }
    // Named counters and element counters of `table`, both read over one netlink socket.
    static Result<std::unique_ptr<CombinedCounterReader>> open_netlink(const std::string& family,
                                                                       const std::string& table);
    Result<std::vector<NamedCounter>> read() override;

private:
    std::unique_ptr<CounterReader> named_;
    std::unique_ptr<NetlinkElementCounterReader> elements_;
};

// The comment stored in an element's user data (nftnl udata TLVs), if any. Bounds-checked.
std::string element_comment(const void* userdata, std::uint32_t length);

}  // namespace portcullis::kernel
