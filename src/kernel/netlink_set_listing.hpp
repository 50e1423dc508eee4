#pragma once
// One static set or map of our table, listed over netlink (GETSET + GETSETELEM with libnftnl) and
// printed the way `nft list set` prints its elements — only as much as the apply plan compares:
// key, ` : data` for maps, and the comment. libnftables takes ~30 ms per 5,000-element set for the
// same listing (its cache fill, then printing and our re-parsing); the plan of a 10k-service
// re-apply listed ~300 ms that way.
//
// Only the element types the compiler writes are printed (ipv4_addr, ipv6_addr, inet_proto,
// inet_service, concatenations of them, ranges and prefixes; map data of those types or verdicts).
// Anything else answers "unsupported", and the caller lists the set with libnftables instead.
// A wrong rendering can only make the plan send an unchanged element again (delete + add in the
// one transaction), never keep a stale one: every kernel element is printed, none merged.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace portcullis::kernel {

class NetlinkSocket;

struct NetlinkSetListing {
    bool supported = true;  // false: a type this printer does not know; list with libnftables
    std::string text;       // "table FAMILY TABLE {\n\tset NAME {\n\t\telements = { ... }\n\t}\n}\n"
};

// `kind`: "set" or "map" (the word used in the text).
Result<NetlinkSetListing> list_set_over_netlink(NetlinkSocket& socket, const std::string& family,
                                                const std::string& table, const std::string& kind,
                                                const std::string& name);

// ---- printing (pure, unit-tested) --------------------------------------------------------------

// nft datatype ids (nftables' datatype.h) of the types printed here.
inline constexpr std::uint32_t kTypeVerdict = 1;
inline constexpr std::uint32_t kTypeIpv4 = 7;
inline constexpr std::uint32_t kTypeIpv6 = 8;
inline constexpr std::uint32_t kTypeInetProto = 12;
inline constexpr std::uint32_t kTypeInetService = 13;

// A set's key or data type: concatenations pack 6-bit type ids, first field most significant.
// Empty when any field is a type not printed here.
std::vector<std::uint32_t> split_concat_type(std::uint32_t type);

// One value of `fields` (each field padded to 4 bytes when there are several), or a range from
// `first` to `last` (inclusive) per field: "198.51.100.0/24 . 40000-40100". nullopt when the bytes
// do not fit the types.
std::optional<std::string> print_value(const std::vector<std::uint32_t>& fields, const std::vector<std::uint8_t>& first,
                                       const std::vector<std::uint8_t>* last);

}  // namespace portcullis::kernel
