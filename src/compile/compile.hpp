#pragma once
// Policy → the one `table inet portcullis`. The output is deterministic (same policy, same bytes)
// so it can be golden-tested and diffed by admins.
#include <string>
#include <vector>

#include "policy/model.hpp"

namespace portcullis::compile {

inline constexpr const char* kTableFamily = "inet";
inline constexpr const char* kTableName = "portcullis";

// Names of the sets the runtime fills. They are part of the contract between the compiler, the
// kernel adapter (which keeps their elements across re-applies) and the daemon (which writes them).
inline constexpr const char* kBanSetV4 = "ban4";  // ipv4_addr, flags interval,timeout
inline constexpr const char* kBanSetV6 = "ban6";  // ipv6_addr, flags interval,timeout
std::string grant_set_v4(const std::string& service_name);  // "grant4_<service>", flags timeout
std::string grant_set_v6(const std::string& service_name);  // "grant6_<service>", flags timeout

// Every named object the table text defines, so the kernel adapter can replace the old table's
// objects in one transaction while keeping the runtime sets (and their elements) in place.
struct TableManifest {
    std::vector<std::string> chains;
    std::vector<std::string> sets;          // non-runtime sets and maps, recreated on apply
    std::vector<std::string> runtime_sets;  // kept across applies (elements survive)
    std::vector<std::string> counters;      // named counters (kept when still defined)
    std::vector<std::string> ct_helpers;
};

struct Compiled {
    std::string table_text;  // "table inet portcullis { ... }\n", loadable by nft -f
    TableManifest manifest;
};

Compiled compile(const policy::Policy& policy);

}  // namespace portcullis::compile
