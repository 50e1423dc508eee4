#include "kernel/netlink_counters.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>

#include "kernel/netlink_objects.hpp"
#include "kernel/netlink_socket.hpp"

namespace portcullis::kernel {

Result<std::unique_ptr<NetlinkCounterReader>> NetlinkCounterReader::open(const std::string& family,
                                                                         const std::string& table) {
    auto socket = NetlinkSocket::open(1024 * 1024);
    if (!socket) return tl::unexpected(socket.error());
    return open(family, table, std::shared_ptr<NetlinkSocket>(std::move(*socket)));
}

Result<std::unique_ptr<NetlinkCounterReader>> NetlinkCounterReader::open(const std::string& family,
                                                                         const std::string& table,
                                                                         std::shared_ptr<NetlinkSocket> socket) {
    std::unique_ptr<NetlinkCounterReader> reader(new NetlinkCounterReader());
    reader->family_ = nfproto_from_name(family);
    if (reader->family_ == 0xff) return fail("unknown nftables family '" + family + "'");
    reader->table_ = table;
    reader->socket_ = std::move(socket);
    return reader;
}

NetlinkCounterReader::~NetlinkCounterReader() = default;

Result<std::vector<NamedCounter>> NetlinkCounterReader::read() {
    std::vector<NamedCounter> counters;
    auto dumped = dump_table_objects(*socket_, family_, table_, NFT_OBJECT_COUNTER, [&](nftnl_obj* object) {
        const char* name = nftnl_obj_get_str(object, NFTNL_OBJ_NAME);
        if (name == nullptr) return;
        counters.push_back({name, nftnl_obj_get_u64(object, NFTNL_OBJ_CTR_PKTS), nftnl_obj_get_u64(object, NFTNL_OBJ_CTR_BYTES)});
    });
    if (!dumped) return fail("reading counters: " + dumped.error().message);
    std::sort(counters.begin(), counters.end(),
              [](const NamedCounter& a, const NamedCounter& b) { return a.name < b.name; });
    return counters;
}

}  // namespace portcullis::kernel
