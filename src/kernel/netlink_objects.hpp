#pragma once
// The stateful objects of one table (counters, limits, quotas, ct helpers, ...), by kind and name,
// from one NFT_MSG_GETOBJ dump over netlink. libnftables' `list counters table ...` fills its
// whole cache first, set elements included: 5 s with 200k bans in the table, for a list of names.
#include <string>
#include <vector>

#include "common/result.hpp"

namespace portcullis::kernel {

struct TableObjectName {
    std::string kind;  // as nft writes it: "counter", "limit", "quota", "ct helper", ...
    std::string name;
};

Result<std::vector<TableObjectName>> list_table_objects(const std::string& family, const std::string& table);

// nft's keyword for an NFT_OBJECT_* type; empty for a type this build does not know.
std::string object_kind_name(std::uint32_t type);

}  // namespace portcullis::kernel
