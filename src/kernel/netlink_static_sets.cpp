#include "kernel/netlink_static_sets.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <arpa/inet.h>

#include <variant>

namespace portcullis::kernel {
namespace {

using compile::ir::DataType;

constexpr std::size_t kAttrHeader = 4;
constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }
constexpr std::size_t kUserdataCommentType = 0;  // NFTNL_UDATA_SET_ELEM_COMMENT

// The first and last value of one key field, unpadded; false when the value does not fit `type`.
bool field_bytes(const compile::ir::Value& value, DataType type, std::vector<std::uint8_t>& first,
                 std::vector<std::uint8_t>& last) {
    first.clear();
    last.clear();
    if (type == DataType::ipv4_addr || type == DataType::ipv6_addr) {
        const auto* prefix = std::get_if<Prefix>(&value);
        if (prefix == nullptr) return false;
        const bool v4 = prefix->address.family == Family::ipv4;
        if (v4 != (type == DataType::ipv4_addr)) return false;
        const std::size_t length = v4 ? 4 : 16;
        if (prefix->length > length * 8) return false;
        first.assign(prefix->address.bytes.begin(), prefix->address.bytes.begin() + static_cast<long>(length));
        last = first;
        for (unsigned bit = prefix->length; bit < length * 8; ++bit)
            last[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
        return true;
    }
    if (type == DataType::inet_service) {
        const auto* ports = std::get_if<policy::PortRange>(&value);
        if (ports == nullptr || ports->first > ports->last) return false;
        first = {static_cast<std::uint8_t>(ports->first >> 8), static_cast<std::uint8_t>(ports->first & 0xff)};
        last = {static_cast<std::uint8_t>(ports->last >> 8), static_cast<std::uint8_t>(ports->last & 0xff)};
        return true;
    }
    if (type == DataType::inet_proto) {
        const auto* proto = std::get_if<compile::ir::Proto>(&value);
        if (proto == nullptr) return false;
        first = {proto->number};
        last = first;
        return true;
    }
    return false;  // ifname, verdict: not written here
}

void append_field(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& field, bool concatenated) {
    out.insert(out.end(), field.begin(), field.end());
    if (concatenated) out.resize(out.size() + (align4(field.size()) - field.size()), 0);
}

// Big-endian + 1; false when the value was all ones.
bool increment(std::vector<std::uint8_t>& value) {
    for (std::size_t i = value.size(); i-- > 0;)
        if (++value[i] != 0) return true;
    return false;
}

bool encode_data(const compile::ir::Set& set, const compile::ir::MapData& data, std::vector<std::uint8_t>& out) {
    const auto* target = std::get_if<compile::ir::NatTarget>(&data);
    if (target == nullptr) return false;
    const bool concatenated = set.data.size() > 1;
    std::vector<std::uint8_t> first, last;
    if (set.data.empty() || !field_bytes(Prefix{target->address, static_cast<std::uint8_t>(target->address.width_bits())},
                                         set.data[0], first, last))
        return false;
    append_field(out, first, concatenated);
    if (set.data.size() == 1) return !target->port.has_value();
    if (set.data.size() != 2 || set.data[1] != DataType::inet_service || !target->port) return false;
    if (!field_bytes(policy::PortRange{*target->port, *target->port}, DataType::inet_service, first, last))
        return false;
    append_field(out, first, concatenated);
    return true;
}

}  // namespace

std::optional<WireSet> encode_static_set(const compile::ir::Set& set) {
    if (set.runtime || set.flags.timeout || set.flags.dynamic || set.timeout_seconds || set.key.empty())
        return std::nullopt;
    const bool is_map = set.is_map();
    const bool concatenated = set.key.size() > 1;
    WireSet out;
    out.name = set.name;
    out.elements.reserve(set.elements.size() * (set.flags.interval && !concatenated ? 2 : 1));
    std::vector<std::uint8_t> first, last;
    for (const auto& element : set.elements) {
        if (element.key.size() != set.key.size()) return std::nullopt;
        if (element.counter.size() + 1 > 255) return std::nullopt;  // one userdata TLV
        if (is_map != !std::holds_alternative<std::monostate>(element.data)) return std::nullopt;
        WireElement wire;
        wire.comment = element.counter;
        std::vector<std::uint8_t> end;
        for (std::size_t i = 0; i < set.key.size(); ++i) {
            if (!field_bytes(element.key[i], set.key[i], first, last)) return std::nullopt;
            if (!set.flags.interval && first != last) return std::nullopt;  // a range needs an interval set
            append_field(wire.key, first, concatenated);
            append_field(end, last, concatenated);
        }
        if (is_map && !encode_data(set, element.data, wire.data)) return std::nullopt;
        if (!set.flags.interval) {
            out.elements.push_back(std::move(wire));
            continue;
        }
        if (concatenated) {
            wire.key_end = std::move(end);
            out.elements.push_back(std::move(wire));
            continue;
        }
        // rbtree: [first, last + 1) as a start and an end element.
        if (!increment(end)) return std::nullopt;  // open-ended: nft adds userdata for those
        WireElement closing;
        closing.key = std::move(end);
        closing.flags = NFT_SET_ELEM_INTERVAL_END;
        out.elements.push_back(std::move(wire));
        out.elements.push_back(std::move(closing));
    }
    return out;
}

std::size_t wire_element_bytes(const WireElement& element) {
    auto nested_value = [](std::size_t length) { return kAttrHeader + kAttrHeader + align4(length); };
    std::size_t bytes = kAttrHeader + nested_value(element.key.size());
    if (!element.key_end.empty()) bytes += nested_value(element.key_end.size());
    if (!element.data.empty()) bytes += nested_value(element.data.size());
    if (element.flags != 0) bytes += kAttrHeader + 4;
    if (!element.comment.empty()) bytes += kAttrHeader + align4(2 + element.comment.size() + 1);
    return bytes;
}

namespace {

void put_value(nlmsghdr* header, std::uint16_t type, const std::vector<std::uint8_t>& value) {
    nlattr* nest = mnl_attr_nest_start(header, type);
    mnl_attr_put(header, NFTA_DATA_VALUE, value.size(), value.data());
    mnl_attr_nest_end(header, nest);
}

void put_element(nlmsghdr* header, const WireElement& element) {
    nlattr* nest = mnl_attr_nest_start(header, NFTA_LIST_ELEM);
    put_value(header, NFTA_SET_ELEM_KEY, element.key);
    if (!element.key_end.empty()) put_value(header, NFTA_SET_ELEM_KEY_END, element.key_end);
    if (!element.data.empty()) put_value(header, NFTA_SET_ELEM_DATA, element.data);
    if (element.flags != 0) mnl_attr_put_u32(header, NFTA_SET_ELEM_FLAGS, htonl(element.flags));
    if (!element.comment.empty()) {
        std::vector<std::uint8_t> userdata;
        userdata.reserve(2 + element.comment.size() + 1);
        userdata.push_back(static_cast<std::uint8_t>(kUserdataCommentType));
        userdata.push_back(static_cast<std::uint8_t>(element.comment.size() + 1));
        userdata.insert(userdata.end(), element.comment.begin(), element.comment.end());
        userdata.push_back(0);
        mnl_attr_put(header, NFTA_SET_ELEM_USERDATA, userdata.size(), userdata.data());
    }
    mnl_attr_nest_end(header, nest);
}

struct PlannedMessage {
    const WireSet* set = nullptr;
    std::size_t begin = 0, end = 0;  // element indices
    std::size_t bytes = 0;           // whole message, aligned
};

}  // namespace

std::vector<EncodedBatch> encode_static_batches(std::span<const WireSet> sets, std::uint8_t family,
                                                const std::string& table, std::uint32_t first_seq,
                                                std::size_t max_nest_bytes, std::size_t max_batch_bytes) {
    const std::size_t control = NLMSG_ALIGN(NLMSG_HDRLEN + sizeof(nfgenmsg));  // BATCH_BEGIN / END
    std::vector<std::vector<PlannedMessage>> plan;
    std::vector<PlannedMessage> current;
    std::size_t current_bytes = 2 * control;
    auto close_message = [&](PlannedMessage message) {
        if (!current.empty() && current_bytes + message.bytes > max_batch_bytes) {
            plan.push_back(std::move(current));
            current.clear();
            current_bytes = 2 * control;
        }
        current_bytes += message.bytes;
        current.push_back(message);
    };
    for (const WireSet& set : sets) {
        const std::size_t overhead = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)) + kAttrHeader +
                                     align4(table.size() + 1) + kAttrHeader + align4(set.name.size() + 1) +
                                     kAttrHeader;
        PlannedMessage message{&set, 0, 0, 0};
        std::size_t nest = 0;
        for (std::size_t i = 0; i < set.elements.size(); ++i) {
            std::size_t bytes = wire_element_bytes(set.elements[i]);
            if (message.end > message.begin && nest + bytes > max_nest_bytes) {
                message.bytes = NLMSG_ALIGN(overhead + nest);
                close_message(message);
                message = PlannedMessage{&set, i, i, 0};
                nest = 0;
            }
            nest += bytes;
            message.end = i + 1;
        }
        if (message.end > message.begin) {
            message.bytes = NLMSG_ALIGN(overhead + nest);
            close_message(message);
        }
    }
    if (!current.empty()) plan.push_back(std::move(current));

    std::vector<EncodedBatch> out;
    std::uint32_t seq = first_seq;
    for (const auto& messages : plan) {
        EncodedBatch batch;
        std::size_t needed = 2 * control;
        for (const auto& message : messages) needed += message.bytes;
        batch.bytes.assign(needed, 0);
        std::size_t used = 0;
        auto at = [&] { return batch.bytes.data() + used; };
        used += NLMSG_ALIGN(nftnl_batch_begin(at(), seq++)->nlmsg_len);
        batch.first_message_seq = seq;
        for (const auto& message : messages) {
            nlmsghdr* header = nftnl_nlmsg_build_hdr(at(), NFT_MSG_NEWSETELEM, family, NLM_F_CREATE, seq++);
            mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
            mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_SET, message.set->name.c_str());
            nlattr* elements = mnl_attr_nest_start(header, NFTA_SET_ELEM_LIST_ELEMENTS);
            for (std::size_t i = message.begin; i < message.end; ++i) put_element(header, message.set->elements[i]);
            mnl_attr_nest_end(header, elements);
            used += NLMSG_ALIGN(header->nlmsg_len);
            batch.message_sets.push_back(message.set->name);
        }
        batch.messages = messages.size();
        used += NLMSG_ALIGN(nftnl_batch_end(at(), seq++)->nlmsg_len);
        batch.bytes.resize(used);
        out.push_back(std::move(batch));
    }
    return out;
}

}  // namespace portcullis::kernel
