#pragma once
// The stateful objects of one table (counters, limits, quotas, ct helpers, ...), by kind and name,
// from one NFT_MSG_GETOBJ dump over netlink. libnftables' `list counters table ...` fills its
// whole cache first, set elements included: 5 s with 200k bans in the table, for a list of names.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

struct nftnl_obj;

namespace portcullis::kernel {

class NetlinkSocket;

// One NFT_MSG_GETOBJ dump of `table` (only objects of `type`, an NFT_OBJECT_*, when given):
// `on_object` sees every parsed object of that table. The apply plan reads kinds and names from it,
// the metrics read counter values.
Result<void> dump_table_objects(NetlinkSocket& socket, std::uint8_t family, const std::string& table,
                                std::optional<std::uint32_t> type,
                                const std::function<void(nftnl_obj*)>& on_object);

struct TableObjectName {
    std::string kind;  // as nft writes it: "counter", "limit", "quota", "ct helper", ...
    std::string name;
};

Result<std::vector<TableObjectName>> list_table_objects(const std::string& family, const std::string& table);

// nft's keyword for an NFT_OBJECT_* type; empty for a type this build does not know.
std::string object_kind_name(std::uint32_t type);

}  // namespace portcullis::kernel
