#include "kernel/netlink_counters.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>

#include "kernel/netlink_socket.hpp"

namespace portcullis::kernel {

Result<std::unique_ptr<NetlinkCounterReader>> NetlinkCounterReader::open(const std::string& family,
                                                                         const std::string& table) {
    std::unique_ptr<NetlinkCounterReader> reader(new NetlinkCounterReader());
    reader->family_ = nfproto_from_name(family);
    if (reader->family_ == 0xff) return fail("unknown nftables family '" + family + "'");
    reader->table_ = table;
    auto socket = NetlinkSocket::open(1024 * 1024);
    if (!socket) return tl::unexpected(socket.error());
    reader->socket_ = std::move(*socket);
    return reader;
}

NetlinkCounterReader::~NetlinkCounterReader() = default;

Result<std::vector<NamedCounter>> NetlinkCounterReader::read() {
    std::vector<char> request(MNL_SOCKET_BUFFER_SIZE);
    std::uint32_t seq = socket_->next_seq();
    nlmsghdr* header = nftnl_nlmsg_build_hdr(request.data(), NFT_MSG_GETOBJ, family_,
                                             NLM_F_DUMP | NLM_F_ACK, seq);
    nftnl_obj* query = nftnl_obj_alloc();
    nftnl_obj_set_str(query, NFTNL_OBJ_TABLE, table_.c_str());
    nftnl_obj_set_u32(query, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
    nftnl_obj_nlmsg_build_payload(header, query);
    nftnl_obj_free(query);

    std::vector<NamedCounter> counters;
    auto dumped = socket_->dump(std::span<const char>(request.data(), header->nlmsg_len), seq,
                                [&](const nlmsghdr* reply) {
                                    nftnl_obj* object = nftnl_obj_alloc();
                                    if (nftnl_obj_nlmsg_parse(reply, object) == 0 &&
                                        nftnl_obj_get_u32(object, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER) {
                                        const char* table = nftnl_obj_get_str(object, NFTNL_OBJ_TABLE);
                                        const char* name = nftnl_obj_get_str(object, NFTNL_OBJ_NAME);
                                        if (table && name && table_ == table) {
                                            counters.push_back({name,
                                                                nftnl_obj_get_u64(object, NFTNL_OBJ_CTR_PKTS),
                                                                nftnl_obj_get_u64(object, NFTNL_OBJ_CTR_BYTES)});
                                        }
                                    }
                                    nftnl_obj_free(object);
                                });
    if (!dumped) return fail("reading counters: " + dumped.error().message);
    std::sort(counters.begin(), counters.end(),
              [](const NamedCounter& a, const NamedCounter& b) { return a.name < b.name; });
    return counters;
}

}  // namespace portcullis::kernel
