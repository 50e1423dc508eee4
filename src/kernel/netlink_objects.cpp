#include "kernel/netlink_objects.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <linux/netfilter/nf_tables.h>

#include <span>
#include <vector>

#include "kernel/netlink_socket.hpp"

namespace portcullis::kernel {

std::string object_kind_name(std::uint32_t type) {
    switch (type) {
        case NFT_OBJECT_COUNTER: return "counter";
        case NFT_OBJECT_QUOTA: return "quota";
        case NFT_OBJECT_CT_HELPER: return "ct helper";
        case NFT_OBJECT_LIMIT: return "limit";
        case NFT_OBJECT_CONNLIMIT: return "connlimit";
        case NFT_OBJECT_TUNNEL: return "tunnel";
        case NFT_OBJECT_CT_TIMEOUT: return "ct timeout";
        case NFT_OBJECT_SECMARK: return "secmark";
        case NFT_OBJECT_CT_EXPECT: return "ct expectation";
        case NFT_OBJECT_SYNPROXY: return "synproxy";
        default: return {};
    }
}

Result<void> dump_table_objects(NetlinkSocket& socket, std::uint8_t family, const std::string& table,
                                std::optional<std::uint32_t> type,
                                const std::function<void(nftnl_obj*)>& on_object) {
    std::vector<char> request(MNL_SOCKET_BUFFER_SIZE);
    std::uint32_t seq = socket.next_seq();
    nlmsghdr* header = nftnl_nlmsg_build_hdr(request.data(), NFT_MSG_GETOBJ, family, NLM_F_DUMP | NLM_F_ACK, seq);
    nftnl_obj* query = nftnl_obj_alloc();
    nftnl_obj_set_str(query, NFTNL_OBJ_TABLE, table.c_str());
    if (type) nftnl_obj_set_u32(query, NFTNL_OBJ_TYPE, *type);
    nftnl_obj_nlmsg_build_payload(header, query);
    nftnl_obj_free(query);
    return socket.dump(std::span<const char>(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr* reply) {
        nftnl_obj* object = nftnl_obj_alloc();
        if (nftnl_obj_nlmsg_parse(reply, object) == 0) {
            const char* in_table = nftnl_obj_get_str(object, NFTNL_OBJ_TABLE);
            bool wanted_type = !type || nftnl_obj_get_u32(object, NFTNL_OBJ_TYPE) == *type;
            if (in_table && table == in_table && wanted_type) on_object(object);
        }
        nftnl_obj_free(object);
    });
}

Result<std::vector<TableObjectName>> list_table_objects(const std::string& family, const std::string& table) {
    const std::uint8_t nfproto = nfproto_from_name(family);
    if (nfproto == 0xff) return fail("unknown nftables family '" + family + "'");
    auto socket = NetlinkSocket::open(1024 * 1024);
    if (!socket) return tl::unexpected(socket.error());
    std::vector<TableObjectName> out;
    std::vector<std::uint32_t> unknown;
    auto dumped = dump_table_objects(**socket, nfproto, table, std::nullopt, [&](nftnl_obj* object) {
        const char* name = nftnl_obj_get_str(object, NFTNL_OBJ_NAME);
        if (name == nullptr) return;
        std::uint32_t type = nftnl_obj_get_u32(object, NFTNL_OBJ_TYPE);
        auto kind = object_kind_name(type);
        if (kind.empty()) unknown.push_back(type);
        else out.push_back({std::move(kind), name});
    });
    if (!dumped) return fail("listing the table's objects: " + dumped.error().message);
    if (!unknown.empty())
        return fail("the table holds an object of a type this build does not know (" + std::to_string(unknown.front()) +
                    "); remove it by hand or `portcullis flush`");
    return out;
}

}  // namespace portcullis::kernel
