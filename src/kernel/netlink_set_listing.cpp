#include "kernel/netlink_set_listing.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <span>

#include <fmt/core.h>

#include "kernel/netlink_element_counters.hpp"
#include "kernel/netlink_socket.hpp"

namespace portcullis::kernel {
namespace {

constexpr unsigned kConcatTypeBits = 6;
constexpr std::uint32_t kDataVerdict = 0xffffff00;  // NFT_DATA_VERDICT as a set's data type

std::size_t field_bytes(std::uint32_t type) {
    switch (type) {
        case kTypeIpv4: return 4;
        case kTypeIpv6: return 16;
        case kTypeInetProto: return 1;
        case kTypeInetService: return 2;
        default: return 0;
    }
}

std::string print_address(const std::uint8_t* bytes, std::size_t length) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(length == 4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
    return text;
}

// "a/len" when [first, last] is exactly one prefix, the address alone for one address, else "a-b".
std::string print_address_range(const std::uint8_t* first, const std::uint8_t* last, std::size_t length) {
    if (std::memcmp(first, last, length) == 0) return print_address(first, length);
    unsigned bits = static_cast<unsigned>(length * 8);
    unsigned prefix = 0;
    while (prefix < bits) {
        unsigned byte = prefix / 8;
        std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (prefix % 8));
        if ((first[byte] & mask) != (last[byte] & mask)) break;
        ++prefix;
    }
    bool is_prefix = true;
    for (unsigned bit = prefix; bit < bits && is_prefix; ++bit) {
        std::uint8_t mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        is_prefix = (first[bit / 8] & mask) == 0 && (last[bit / 8] & mask) != 0;
    }
    if (is_prefix) return fmt::format("{}/{}", print_address(first, length), prefix);
    return print_address(first, length) + "-" + print_address(last, length);
}

std::string print_proto(std::uint8_t number) {
    // nft prints protocol names from the protocols database, numbers for the rest.
    // The reentrant lookup: sets may be listed on two threads at once.
    protoent entry{};
    protoent* found = nullptr;
    char buffer[1024];
    if (getprotobynumber_r(number, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr)
        return std::string(found->p_name);
    return std::to_string(number);
}

std::string print_field(std::uint32_t type, const std::uint8_t* first, const std::uint8_t* last) {
    switch (type) {
        case kTypeIpv4: return print_address_range(first, last, 4);
        case kTypeIpv6: return print_address_range(first, last, 16);
        case kTypeInetProto:
            return first[0] == last[0] ? print_proto(first[0]) : print_proto(first[0]) + "-" + print_proto(last[0]);
        case kTypeInetService: {
            unsigned a = (unsigned{first[0]} << 8) | first[1];
            unsigned b = (unsigned{last[0]} << 8) | last[1];
            return a == b ? std::to_string(a) : fmt::format("{}-{}", a, b);
        }
        default: return {};
    }
}

std::string print_verdict(std::int32_t verdict, const char* chain) {
    switch (verdict) {
        case NF_ACCEPT: return "accept";
        case NF_DROP: return "drop";
        case NFT_CONTINUE: return "continue";
        case NFT_RETURN: return "return";
        case NFT_JUMP: return std::string("jump ") + (chain ? chain : "");
        case NFT_GOTO: return std::string("goto ") + (chain ? chain : "");
        default: return {};
    }
}

std::vector<std::uint8_t> bytes_of(nftnl_set_elem* element, std::uint16_t attribute) {
    std::uint32_t length = 0;
    const void* data = nftnl_set_elem_get(element, attribute, &length);
    if (data == nullptr) return {};
    const auto* begin = static_cast<const std::uint8_t*>(data);
    return {begin, begin + length};
}

// last = end - 1 over a big-endian key (the kernel's interval end is exclusive).
void decrement(std::vector<std::uint8_t>& key) {
    for (std::size_t i = key.size(); i-- > 0;) {
        if (key[i]-- != 0) return;
    }
}

// Big-endian keys of one set all have the same length; a shorter one sorts first.
int compare_keys(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

struct RawElement {
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> key_end;  // concatenated ranges (inclusive)
    bool interval_end = false;
    std::string data;  // printed
    std::string comment;
    bool data_ok = true;
};

}  // namespace

std::vector<std::uint32_t> split_concat_type(std::uint32_t type) {
    std::vector<std::uint32_t> fields;
    if (type == 0) return fields;
    while (type != 0) {
        std::uint32_t field = type & ((1u << kConcatTypeBits) - 1);
        if (field_bytes(field) == 0) return {};
        fields.push_back(field);
        type >>= kConcatTypeBits;
    }
    std::reverse(fields.begin(), fields.end());
    return fields;
}

std::optional<std::string> print_value(const std::vector<std::uint32_t>& fields, const std::vector<std::uint8_t>& first,
                                       const std::vector<std::uint8_t>* last) {
    if (fields.empty()) return std::nullopt;
    const bool padded = fields.size() > 1;
    std::size_t expected = 0;
    for (auto type : fields) expected += padded ? (field_bytes(type) + 3) / 4 * 4 : field_bytes(type);
    if (first.size() != expected || (last && last->size() != expected)) return std::nullopt;
    std::string out;
    std::size_t at = 0;
    for (auto type : fields) {
        if (!out.empty()) out += " . ";
        out += print_field(type, first.data() + at, (last ? last->data() : first.data()) + at);
        at += padded ? (field_bytes(type) + 3) / 4 * 4 : field_bytes(type);
    }
    return out;
}

Result<NetlinkSetListing> list_set_over_netlink(NetlinkSocket& socket, const std::string& family,
                                                const std::string& table, const std::string& kind,
                                                const std::string& name) {
    const std::uint8_t nfproto = nfproto_from_name(family);
    if (nfproto == 0xff) return fail("unknown nftables family '" + family + "'");
    std::vector<char> request(MNL_SOCKET_BUFFER_SIZE);

    // The set's declaration: key and data types, flags.
    std::uint32_t seq = socket.next_seq();
    nlmsghdr* header = nftnl_nlmsg_build_hdr(request.data(), NFT_MSG_GETSET, nfproto, NLM_F_ACK, seq);
    nftnl_set* query = nftnl_set_alloc();
    nftnl_set_set_str(query, NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(query, NFTNL_SET_NAME, name.c_str());
    nftnl_set_nlmsg_build_payload(header, query);
    nftnl_set_free(query);
    std::uint32_t flags = 0, key_type = 0, data_type = 0;
    bool found = false;
    auto got = socket.dump(std::span<const char>(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr* reply) {
        nftnl_set* set = nftnl_set_alloc();
        if (nftnl_set_nlmsg_parse(reply, set) == 0) {
            found = true;
            flags = nftnl_set_get_u32(set, NFTNL_SET_FLAGS);
            key_type = nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE);
            if (nftnl_set_is_set(set, NFTNL_SET_DATA_TYPE)) data_type = nftnl_set_get_u32(set, NFTNL_SET_DATA_TYPE);
        }
        nftnl_set_free(set);
    });
    if (!got) return fail("listing " + kind + " " + name + ": " + got.error().message);
    if (!found) return fail("listing " + kind + " " + name + ": no reply");

    NetlinkSetListing listing;
    const bool is_map = (flags & NFT_SET_MAP) != 0;
    const bool interval = (flags & NFT_SET_INTERVAL) != 0;
    const auto key_fields = split_concat_type(key_type);
    const bool verdict_data = is_map && (data_type == kDataVerdict || data_type == kTypeVerdict);
    const auto data_fields = is_map && !verdict_data ? split_concat_type(data_type) : std::vector<std::uint32_t>{};
    if (key_fields.empty() || (is_map && !verdict_data && data_fields.empty()) || (flags & NFT_SET_OBJECT) != 0 ||
        (kind == "map") != is_map) {
        listing.supported = false;
        return listing;
    }

    seq = socket.next_seq();
    header = nftnl_nlmsg_build_hdr(request.data(), NFT_MSG_GETSETELEM, nfproto, NLM_F_DUMP | NLM_F_ACK, seq);
    query = nftnl_set_alloc();
    nftnl_set_set_str(query, NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(query, NFTNL_SET_NAME, name.c_str());
    nftnl_set_elems_nlmsg_build_payload(header, query);
    nftnl_set_free(query);
    std::vector<RawElement> raw;
    bool parse_error = false;
    auto dumped = socket.dump(std::span<const char>(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr* reply) {
        nftnl_set* set = nftnl_set_alloc();
        if (nftnl_set_elems_nlmsg_parse(reply, set) < 0) {
            parse_error = true;
            nftnl_set_free(set);
            return;
        }
        nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(set);
        for (nftnl_set_elem* e = it ? nftnl_set_elems_iter_next(it) : nullptr; e != nullptr;
             e = nftnl_set_elems_iter_next(it)) {
            RawElement element;
            element.key = bytes_of(e, NFTNL_SET_ELEM_KEY);
            element.key_end = bytes_of(e, NFTNL_SET_ELEM_KEY_END);
            if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
                element.interval_end = (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END) != 0;
            std::uint32_t length = 0;
            const void* userdata = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &length);
            if (userdata != nullptr) element.comment = element_comment(userdata, length);
            if (is_map && !element.interval_end) {
                if (verdict_data) {
                    const char* chain = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)
                                            ? nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN) : nullptr;
                    element.data = print_verdict(static_cast<std::int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)), chain);
                    element.data_ok = !element.data.empty();
                } else {
                    auto value = print_value(data_fields, bytes_of(e, NFTNL_SET_ELEM_DATA), nullptr);
                    element.data_ok = value.has_value();
                    if (value) element.data = std::move(*value);
                }
            }
            raw.push_back(std::move(element));
        }
        if (it) nftnl_set_elems_iter_destroy(it);
        nftnl_set_free(set);
    });
    if (!dumped) return fail("listing " + kind + " " + name + ": " + dumped.error().message);
    if (parse_error) return fail("listing " + kind + " " + name + ": unparsable reply");

    std::vector<std::string> printed;
    printed.reserve(raw.size());
    auto emit = [&](const RawElement& element, const std::vector<std::uint8_t>* last) -> bool {
        auto key = print_value(key_fields, element.key, last);
        if (!key || !element.data_ok) return false;
        std::string text = std::move(*key);
        if (is_map) text += " : " + element.data;
        if (!element.comment.empty()) text += " comment \"" + element.comment + "\"";
        printed.push_back(std::move(text));
        return true;
    };
    bool ok = true;
    if (interval && key_fields.size() == 1) {
        // One field: start elements and end-flagged elements holding the exclusive end.
        std::stable_sort(raw.begin(), raw.end(), [](const RawElement& a, const RawElement& b) {
            int order = compare_keys(a.key, b.key);
            return order < 0 || (order == 0 && a.interval_end && !b.interval_end);
        });
        for (std::size_t i = 0; i < raw.size() && ok; ++i) {
            if (raw[i].interval_end) continue;  // a lone end closes nothing
            const RawElement& start = raw[i];
            std::vector<std::uint8_t> last;
            if (i + 1 < raw.size() && raw[i + 1].interval_end) {
                last = raw[i + 1].key;
                decrement(last);
                ++i;
            } else {
                last.assign(start.key.size(), 0xff);  // open-ended: to the top of the range
            }
            ok = emit(start, &last);
        }
    } else {
        for (const auto& element : raw) {
            if (element.interval_end) continue;
            ok = emit(element, element.key_end.empty() ? nullptr : &element.key_end);
            if (!ok) break;
        }
    }
    if (!ok) {
        listing.supported = false;
        return listing;
    }
    listing.text = fmt::format("table {} {} {{\n\t{} {} {{\n", family, table, kind, name);
    if (!printed.empty()) {
        listing.text += "\t\telements = { ";
        for (std::size_t i = 0; i < printed.size(); ++i) {
            if (i) listing.text += ",\n\t\t\t     ";
            listing.text += printed[i];
        }
        listing.text += " }\n";
    }
    listing.text += "\t}\n}\n";
    return listing;
}

}  // namespace portcullis::kernel
