#pragma once
// Named counters of our table, read at scrape time with one NFT_MSG_GETOBJ dump over netlink
// (libnftnl), so a metrics scrape never goes through libnftables and its full-ruleset dumps.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace portcullis::kernel {

struct NamedCounter {
    std::string name;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
};

class CounterReader {
public:
    virtual ~CounterReader() = default;
    virtual Result<std::vector<NamedCounter>> read() = 0;
};

class NetlinkSocket;

class NetlinkCounterReader final : public CounterReader {
public:
    static Result<std::unique_ptr<NetlinkCounterReader>> open(const std::string& family,
                                                              const std::string& table);
    // Over a socket shared with other readers (metrics read everything over one socket).
    static Result<std::unique_ptr<NetlinkCounterReader>> open(const std::string& family, const std::string& table,
                                                              std::shared_ptr<NetlinkSocket> socket);
    ~NetlinkCounterReader() override;
    Result<std::vector<NamedCounter>> read() override;

private:
    NetlinkCounterReader() = default;
    std::shared_ptr<NetlinkSocket> socket_;
    std::uint8_t family_ = 0;
    std::string table_;
};

}  // namespace portcullis::kernel
