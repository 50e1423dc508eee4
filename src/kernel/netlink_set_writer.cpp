#include "kernel/netlink_set_writer.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "kernel/netlink_socket.hpp"

namespace portcullis::kernel {

namespace {

constexpr std::size_t kAttrHeader = 4;
constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

std::size_t key_bytes(const Prefix& prefix) { return prefix.address.width_bits() / 8; }

// One kernel element: list-elem nest, key nest + data value, flags, timeout, userdata.
std::size_t one_element_bytes(std::size_t key_length) {
    return kAttrHeader                                            // NFTA_LIST_ELEM
           + kAttrHeader + kAttrHeader + align4(key_length)       // KEY { DATA_VALUE }
           + kAttrHeader + 4                                      // FLAGS
           + kAttrHeader + 8                                      // TIMEOUT
           + kAttrHeader + align4(8);                             // USERDATA (open interval)
}

// a + 1 over the big-endian key; returns false on overflow (a was all ones).
bool increment(std::array<std::uint8_t, 16>& key, std::size_t length) {
    for (std::size_t i = length; i-- > 0;) {
        if (++key[i] != 0) return true;
    }
    return false;
}

using u128 = unsigned __int128;

u128 to_integer(const Address& address) {
    u128 value = 0;
    for (std::size_t i = 0; i < address.width_bits() / 8; ++i) value = (value << 8) | address.bytes[i];
    return value;
}

Address from_integer(u128 value, Family family) {
    Address out;
    out.family = family;
    std::size_t length = family == Family::ipv4 ? 4 : 16;
    for (std::size_t i = length; i-- > 0;) {
        out.bytes[i] = static_cast<std::uint8_t>(value & 0xff);
        value >>= 8;
    }
    return out;
}

}  // namespace

std::size_t element_wire_bytes(const ElementChange& change) {
    std::size_t one = one_element_bytes(key_bytes(change.prefix));
    if (!change.interval) return one;
    return interval_keys(change.prefix).has_end ? 2 * one : one;
}

IntervalKeys interval_keys(const Prefix& prefix) {
    IntervalKeys keys;
    std::size_t length = key_bytes(prefix);
    keys.start = prefix.address.bytes;
    keys.end = prefix.address.bytes;
    for (unsigned bit = prefix.length; bit < prefix.address.width_bits(); ++bit)
        keys.end[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    keys.has_end = increment(keys.end, length);
    return keys;
}

std::vector<Prefix> range_to_prefixes(const Address& start, const Address* end_exclusive) {
    std::vector<Prefix> out;
    unsigned width = static_cast<unsigned>(start.width_bits());
    u128 top = width == 32 ? u128{0xffffffffu} : ~u128{0};
    u128 first = to_integer(start);
    // Work with an inclusive last so the top of the address space needs no 129th bit.
    u128 last;
    if (end_exclusive) {
        u128 end = to_integer(*end_exclusive);
        if (end == 0 || end <= first) return out;
        last = end - 1;
    } else {
        last = top;
    }
    while (true) {
        // Largest block aligned at `first` that does not pass `last`.
        unsigned host_bits = 0;
        while (host_bits < width) {
            unsigned next = host_bits + 1;
            if (next == 128) {  // 2^128 does not fit: only ::/0 gets here
                if (first == 0 && last == top) host_bits = 128;
                break;
            }
            u128 size = u128{1} << next;
            if ((first & (size - 1)) != 0 || last - first < size - 1) break;
            host_bits = next;
        }
        Prefix prefix;
        prefix.address = from_integer(first, start.family);
        prefix.length = static_cast<std::uint8_t>(width - host_bits);
        out.push_back(prefix);
        u128 block_last = host_bits >= 128 ? top : first + ((u128{1} << host_bits) - 1);
        if (block_last >= last) break;
        first = block_last + 1;
    }
    return out;
}

std::vector<PlannedBatch> plan_batches(std::span<const ElementChange> changes,
                                       std::size_t max_nest_bytes, std::size_t max_batch_bytes) {
    // Per message: header, nfgenmsg, table/set names and the elements nest header.
    constexpr std::size_t kMessageOverhead = 16 + 4 + 2 * (kAttrHeader + 256) + kAttrHeader + 16;
    std::vector<PlannedBatch> batches;
    PlannedBatch current;
    std::size_t current_batch_bytes = 0;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        const ElementChange& change = changes[i];
        std::size_t bytes = element_wire_bytes(change);
        bool same_run = !current.empty() && current.back().set == change.set &&
                        current.back().op == change.op;
        bool fits = same_run && current.back().bytes + bytes <= max_nest_bytes;
        if (!fits) {
            if (!current.empty() && current_batch_bytes + kMessageOverhead + bytes > max_batch_bytes) {
                batches.push_back(std::move(current));
                current.clear();
                current_batch_bytes = 0;
            }
            PlannedMessage message;
            message.set = change.set;
            message.op = change.op;
            current.push_back(std::move(message));
            current_batch_bytes += kMessageOverhead;
        }
        current.back().changes.push_back(i);
        current.back().bytes += bytes;
        current_batch_bytes += bytes;
    }
    if (!current.empty()) batches.push_back(std::move(current));
    return batches;
}

// ---- wire encoding -----------------------------------------------------------------------------

namespace {

// nft marks an interval without an end element so `nft list` prints it as a prefix.
constexpr unsigned char kOpenIntervalUserdata[6] = {1, 4, 1, 0, 0, 0};

void put_element(nlmsghdr* header, const std::uint8_t* key, std::size_t length, std::uint32_t flags,
                 std::uint64_t timeout_ms, bool open_ended) {
    nlattr* element = mnl_attr_nest_start(header, NFTA_LIST_ELEM);
    nlattr* key_nest = mnl_attr_nest_start(header, NFTA_SET_ELEM_KEY);
    mnl_attr_put(header, NFTA_DATA_VALUE, length, key);
    mnl_attr_nest_end(header, key_nest);
    if (flags) mnl_attr_put_u32(header, NFTA_SET_ELEM_FLAGS, htonl(flags));
    if (timeout_ms) mnl_attr_put_u64(header, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
    if (open_ended) mnl_attr_put(header, NFTA_SET_ELEM_USERDATA, sizeof kOpenIntervalUserdata, kOpenIntervalUserdata);
    mnl_attr_nest_end(header, element);
}

void put_change(nlmsghdr* header, const ElementChange& change) {
    std::size_t length = key_bytes(change.prefix);
    // The kernel refuses a timeout on an interval's end element (EINVAL) and on a removal.
    std::uint64_t timeout = change.op == ElementOp::add && change.timeout.count() > 0
                                ? static_cast<std::uint64_t>(change.timeout.count()) : 0;
    if (!change.interval) {
        put_element(header, change.prefix.address.bytes.data(), length, 0, timeout, false);
        return;
    }
    IntervalKeys keys = interval_keys(change.prefix);
    put_element(header, keys.start.data(), length, 0, timeout, !keys.has_end);
    if (keys.has_end) put_element(header, keys.end.data(), length, NFT_SET_ELEM_INTERVAL_END, 0, false);
}

}  // namespace

void encode_batch(std::span<const ElementChange> changes, const PlannedBatch& batch,
                  std::uint8_t family, const std::string& table, std::uint32_t first_seq,
                  std::vector<char>& out) {
    // Upper bound: the plan's nest sizes are over-estimates; names and headers are added here.
    std::size_t needed = 2 * NLMSG_ALIGN(NLMSG_HDRLEN + sizeof(nfgenmsg));
    for (const auto& message : batch)
        needed += message.bytes + NLMSG_HDRLEN + 64 + align4(table.size() + 1) + align4(message.set.size() + 1);
    out.resize(needed);
    std::size_t used = 0;
    auto at = [&] { return out.data() + used; };
    used += nftnl_batch_begin(at(), first_seq)->nlmsg_len;
    for (std::size_t m = 0; m < batch.size(); ++m) {
        const PlannedMessage& message = batch[m];
        std::uint16_t type = message.op == ElementOp::add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM;
        std::uint16_t flags = message.op == ElementOp::add ? NLM_F_CREATE : 0;
        nlmsghdr* header = nftnl_nlmsg_build_hdr(at(), type, family, flags,
                                                 first_seq + 1 + static_cast<std::uint32_t>(m));
        mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
        mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_SET, message.set.c_str());
        nlattr* elements = mnl_attr_nest_start(header, NFTA_SET_ELEM_LIST_ELEMENTS);
        for (std::size_t index : message.changes) put_change(header, changes[index]);
        mnl_attr_nest_end(header, elements);
        used += NLMSG_ALIGN(header->nlmsg_len);
    }
    used += nftnl_batch_end(at(), first_seq + 1 + static_cast<std::uint32_t>(batch.size()))->nlmsg_len;
    out.resize(used);
}

// ---- NetlinkSetWriter --------------------------------------------------------------------------

struct NetlinkSetWriter::Impl {
    std::unique_ptr<NetlinkSocket> socket;
    std::string family_name;
    std::uint8_t family = NFPROTO_INET;
    std::string table;
    std::vector<char> buffer;  // reused by every batch: no allocation once it has grown

    // Sends one batch of messages; returns per-message errno (0 = ok) or a transport error.
    Result<std::vector<int>> send(std::span<const ElementChange> changes, const PlannedBatch& batch) {
        std::uint32_t begin_seq = socket->reserve_seqs(static_cast<std::uint32_t>(batch.size()) + 2);
        encode_batch(changes, batch, family, table, begin_seq, buffer);
        auto outcome = socket->send_batch(buffer, begin_seq + 1, batch.size());
        if (!outcome) return tl::unexpected(outcome.error());
        return std::move(outcome->errors);
    }

    // Writes `changes` (all of them when `indices` is null, else those indices), bisecting
    // rejected messages so one bad change cannot hold back the rest.
    void apply(std::span<const ElementChange> all, const std::vector<std::size_t>* indices,
               WriteReport& report) {
        std::vector<ElementChange> subset;
        std::span<const ElementChange> changes = all;
        if (indices) {
            if (indices->empty()) return;
            subset.reserve(indices->size());
            for (std::size_t index : *indices) subset.push_back(all[index]);
            changes = subset;
        }
        auto original_index = [&](std::size_t local) { return indices ? (*indices)[local] : local; };
        for (const PlannedBatch& batch : plan_batches(changes)) {
            if (!report.transport_error.empty()) return;
            auto errors = send(changes, batch);
            ++report.batches;
            report.messages += batch.size();
            if (!errors) {
                report.transport_error = errors.error().message;
                return;
            }
            bool any = std::any_of(errors->begin(), errors->end(), [](int e) { return e != 0; });
            if (!any) {
                for (const auto& message : batch) report.changes += message.changes.size();
                continue;
            }
            // The kernel aborted the whole transaction: re-send the innocent messages together
            // and split each guilty one until single bad changes remain.
            std::vector<std::size_t> innocent;
            for (std::size_t m = 0; m < batch.size(); ++m) {
                std::vector<std::size_t> original;
                original.reserve(batch[m].changes.size());
                for (std::size_t local : batch[m].changes) original.push_back(original_index(local));
                if ((*errors)[m] == 0) {
                    innocent.insert(innocent.end(), original.begin(), original.end());
                } else if (original.size() == 1) {
                    report.failures.push_back({original.front(), std::strerror((*errors)[m])});
                } else {
                    std::size_t half = original.size() / 2;
                    std::vector<std::size_t> first(original.begin(), original.begin() + static_cast<long>(half));
                    std::vector<std::size_t> second(original.begin() + static_cast<long>(half), original.end());
                    apply(all, &first, report);
                    apply(all, &second, report);
                }
            }
            apply(all, &innocent, report);
        }
    }
};

NetlinkSetWriter::NetlinkSetWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetlinkSetWriter::~NetlinkSetWriter() = default;

Result<std::unique_ptr<NetlinkSetWriter>> NetlinkSetWriter::open(const std::string& family,
                                                                 const std::string& table) {
    auto impl = std::make_unique<Impl>();
    impl->family = nfproto_from_name(family);
    if (impl->family == 0xff) return fail("unknown nftables family '" + family + "'");
    impl->family_name = family;
    impl->table = table;
    auto socket = NetlinkSocket::open(kSocketBufferBytes);
    if (!socket) return tl::unexpected(socket.error());
    impl->socket = std::move(*socket);
    return std::unique_ptr<NetlinkSetWriter>(new NetlinkSetWriter(std::move(impl)));
}

WriteReport NetlinkSetWriter::write(std::span<const ElementChange> changes) {
    auto started = std::chrono::steady_clock::now();
    WriteReport report;
    impl_->apply(changes, nullptr, report);
    std::sort(report.failures.begin(), report.failures.end(),
              [](const ChangeFailure& a, const ChangeFailure& b) { return a.index < b.index; });
    report.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    return report;
}

Result<std::vector<ListedElement>> NetlinkSetWriter::list(const std::string& set_name, bool interval) {
    ListProgress progress;
    return list_tracked(set_name, interval, progress);
}

Result<std::vector<ListedElement>> NetlinkSetWriter::list_tracked(const std::string& set_name, bool interval,
                                                                  ListProgress& progress) {
    std::vector<char> request(MNL_SOCKET_BUFFER_SIZE);
    std::uint32_t seq = impl_->socket->next_seq();
    nlmsghdr* header = nftnl_nlmsg_build_hdr(request.data(), NFT_MSG_GETSETELEM, impl_->family,
                                             NLM_F_DUMP | NLM_F_ACK, seq);
    nftnl_set* query = nftnl_set_alloc();
    nftnl_set_set_str(query, NFTNL_SET_TABLE, impl_->table.c_str());
    nftnl_set_set_str(query, NFTNL_SET_NAME, set_name.c_str());
    nftnl_set_elems_nlmsg_build_payload(header, query);
    nftnl_set_free(query);

    struct Raw {
        Address key;
        bool end = false;
        std::uint64_t timeout = 0, expires = 0;
    };
    std::vector<Raw> raw;
    bool parse_error = false;
    auto dumped = impl_->socket->dump(
        std::span<const char>(request.data(), header->nlmsg_len), seq, [&](const nlmsghdr* reply) {
            if (reply->nlmsg_flags & NLM_F_DUMP_INTR) progress.interrupted = true;
            std::size_t before = raw.size();
            nftnl_set* set = nftnl_set_alloc();
            if (nftnl_set_elems_nlmsg_parse(reply, set) < 0) {
                parse_error = true;
                nftnl_set_free(set);
                return;
            }
            nftnl_set_elem_foreach(
                set,
                [](nftnl_set_elem* element, void* data) -> int {
                    auto* out = static_cast<std::vector<Raw>*>(data);
                    std::uint32_t length = 0;
                    const void* key = nftnl_set_elem_get(element, NFTNL_SET_ELEM_KEY, &length);
                    if (!key || (length != 4 && length != 16)) return 0;
                    Raw item;
                    item.key.family = length == 4 ? Family::ipv4 : Family::ipv6;
                    std::memcpy(item.key.bytes.data(), key, length);
                    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_FLAGS))
                        item.end = nftnl_set_elem_get_u32(element, NFTNL_SET_ELEM_FLAGS) &
                                   NFT_SET_ELEM_INTERVAL_END;
                    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_TIMEOUT))
                        item.timeout = nftnl_set_elem_get_u64(element, NFTNL_SET_ELEM_TIMEOUT);
                    if (nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_EXPIRATION))
                        item.expires = nftnl_set_elem_get_u64(element, NFTNL_SET_ELEM_EXPIRATION);
                    out->push_back(item);
                    return 0;
                },
                &raw);
            nftnl_set_free(set);
            progress.elements.fetch_add(raw.size() - before, std::memory_order_relaxed);
        },
        &progress.cancel);
    if (!dumped) return fail("listing set " + set_name + ": " + dumped.error().message);
    if (parse_error) return fail("listing set " + set_name + ": unparsable reply");

    std::vector<ListedElement> out;
    out.reserve(raw.size());
    auto emit = [&](const Prefix& prefix, const Raw& from) {
        ListedElement element;
        element.prefix = prefix;
        element.timeout = std::chrono::milliseconds(from.timeout);
        element.expires = std::chrono::milliseconds(from.expires);
        out.push_back(element);
    };
    if (!interval) {
        for (const Raw& item : raw) {
            Prefix prefix{item.key, static_cast<std::uint8_t>(item.key.width_bits())};
            emit(prefix, item);
        }
        return out;
    }
    std::sort(raw.begin(), raw.end(), [](const Raw& a, const Raw& b) {
        return a.key < b.key || (a.key == b.key && a.end && !b.end);
    });
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i].end) continue;  // a lone end element closes nothing we own
        const Address* end = nullptr;
        if (i + 1 < raw.size() && raw[i + 1].end && raw[i + 1].key.family == raw[i].key.family) {
            end = &raw[i + 1].key;
        }
        for (const Prefix& prefix : range_to_prefixes(raw[i].key, end)) emit(prefix, raw[i]);
        if (end) ++i;
    }
    return out;
}

}  // namespace portcullis::kernel
