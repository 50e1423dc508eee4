#include "kernel/netlink_element_counters.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "kernel/netlink_socket.hpp"

namespace portcullis::kernel {
namespace {

// libnftnl's element comment tag (NFTNL_UDATA_SET_ELEM_COMMENT in nft's userdata layout).
constexpr std::uint8_t kUdataElementComment = 0;

struct CounterSum {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    bool found = false;
};

int add_counter_expr(struct nftnl_expr* expr, void* data) {
    auto* sum = static_cast<CounterSum*>(data);
    const char* name = nftnl_expr_get_str(expr, NFTNL_EXPR_NAME);
    if (name != nullptr && std::strcmp(name, "counter") == 0) {
        sum->packets += nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_PACKETS);
        sum->bytes += nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_BYTES);
        sum->found = true;
    }
    return 0;
}

}  // namespace

std::string element_comment(const void* userdata, std::uint32_t length) {
    const auto* bytes = static_cast<const unsigned char*>(userdata);
    std::uint32_t at = 0;
    while (bytes != nullptr && at + 2 <= length) {
        std::uint8_t type = bytes[at];
        std::uint8_t size = bytes[at + 1];
        if (at + 2 + size > length) break;
        if (type == kUdataElementComment) {
            std::string text(bytes + at + 2, bytes + at + 2 + size);
            if (auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
            return text;
        }
        at += 2u + size;
    }
    return {};
}

Result<std::unique_ptr<NetlinkElementCounterReader>> NetlinkElementCounterReader::open(const std::string& family,
                                                                                       const std::string& table) {
    auto socket = NetlinkSocket::open(4 * 1024 * 1024);
    if (!socket) return tl::unexpected(socket.error());
    return open(family, table, std::shared_ptr<NetlinkSocket>(std::move(*socket)));
}

Result<std::unique_ptr<NetlinkElementCounterReader>> NetlinkElementCounterReader::open(
    const std::string& family, const std::string& table, std::shared_ptr<NetlinkSocket> socket) {
    std::unique_ptr<NetlinkElementCounterReader> reader(new NetlinkElementCounterReader());
    reader->family_ = nfproto_from_name(family);
    if (reader->family_ == 0xff) return fail("unknown nftables family '" + family + "'");
    reader->table_ = table;
    reader->socket_ = std::move(socket);
    return reader;
}

NetlinkElementCounterReader::~NetlinkElementCounterReader() = default;

Result<std::vector<NamedCounter>> NetlinkElementCounterReader::read() {
    std::map<std::string, CounterSum> sums;
    std::vector<char> request(MNL_SOCKET_BUFFER_SIZE);
    for (const auto& name : sets_) {
        std::uint32_t seq = socket_->next_seq();
        nlmsghdr* header = nftnl_nlmsg_build_hdr(request.data(), NFT_MSG_GETSETELEM, family_,
                                                 NLM_F_DUMP | NLM_F_ACK, seq);
        nftnl_set* query = nftnl_set_alloc();
        nftnl_set_set_str(query, NFTNL_SET_TABLE, table_.c_str());
        nftnl_set_set_str(query, NFTNL_SET_NAME, name.c_str());
        nftnl_set_elems_nlmsg_build_payload(header, query);
        nftnl_set_free(query);
        auto dumped = socket_->dump(
            std::span<const char>(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr* reply) {
                nftnl_set* set = nftnl_set_alloc();
                if (nftnl_set_elems_nlmsg_parse(reply, set) == 0) {
                    nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(set);
                    for (nftnl_set_elem* e = it ? nftnl_set_elems_iter_next(it) : nullptr; e != nullptr;
                         e = nftnl_set_elems_iter_next(it)) {
                        std::uint32_t length = 0;
                        const void* userdata = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &length);
                        std::string comment = userdata ? element_comment(userdata, length) : std::string();
                        if (comment.empty()) continue;
                        CounterSum element;
                        nftnl_set_elem_expr_foreach(e, add_counter_expr, &element);
                        auto& sum = sums[comment];
                        sum.packets += element.packets;
                        sum.bytes += element.bytes;
                        sum.found = true;
                    }
                    if (it) nftnl_set_elems_iter_destroy(it);
                }
                nftnl_set_free(set);
            });
        // A set the current table does not have (policy changed) is not an error for a scrape.
        if (!dumped && dumped.error().message.find("No such file") == std::string::npos)
            return fail("reading element counters of set " + name + ": " + dumped.error().message);
    }
    std::vector<NamedCounter> out;
    for (const auto& [name, sum] : sums) out.push_back({name, sum.packets, sum.bytes});
    return out;
}

Result<std::unique_ptr<CombinedCounterReader>> CombinedCounterReader::open_netlink(const std::string& family,
                                                                                 const std::string& table) {
    // Element dumps of the counted sets are the larger replies: size the one socket for them.
    auto opened = NetlinkSocket::open(4 * 1024 * 1024);
    if (!opened) return tl::unexpected(opened.error());
    std::shared_ptr<NetlinkSocket> socket(std::move(*opened));
    auto named = NetlinkCounterReader::open(family, table, socket);
    if (!named) return tl::unexpected(named.error());
    auto elements = NetlinkElementCounterReader::open(family, table, socket);
    if (!elements) return tl::unexpected(elements.error());
    return std::make_unique<CombinedCounterReader>(std::move(*named), std::move(*elements));
}

Result<std::vector<NamedCounter>> CombinedCounterReader::read() {
    std::map<std::string, NamedCounter> merged;
    for (CounterReader* reader : {named_.get(), static_cast<CounterReader*>(elements_.get())}) {
        if (reader == nullptr) continue;
        auto counters = reader->read();
        if (!counters) return fail(counters.error().message);
        for (const auto& c : *counters) {
            auto& slot = merged[c.name];
            slot.name = c.name;
            slot.packets += c.packets;
            slot.bytes += c.bytes;
        }
    }
    std::vector<NamedCounter> out;
    for (auto& [name, counter] : merged) out.push_back(std::move(counter));
    return out;
}

}  // namespace portcullis::kernel
