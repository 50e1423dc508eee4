#pragma once
// Elements of the compiled table's static sets and maps written over netlink (NEWSETELEM in
// NFNL batches, libmnl + libnftnl helpers) instead of as nft text. A first apply of a large policy
// spent most of its time in nft parsing and evaluating the element lists (the 10k-service table:
// ~130 ms of nft user space for 25,000 elements, the kernel ~70 ms); encoded here straight from
// the compiler's IR they cost a few milliseconds of user space.
//
// The bytes are the ones nft 1.0.6 sends for the same text, so `nft list` prints the table the
// same either way:
//  - each key field in network byte order; in a concatenation every field padded to 4 bytes;
//  - concatenated interval sets (pipapo): NFTA_SET_ELEM_KEY = the first value of every field,
//    NFTA_SET_ELEM_KEY_END = the last (a prefix is first address .. last address);
//  - single-field interval sets (rbtree): a start element and an end element holding last + 1
//    with NFT_SET_ELEM_INTERVAL_END;
//  - the element comment as nftnl userdata (type 0, the text with its NUL);
//  - map data (DNAT targets) in NFTA_SET_ELEM_DATA, concatenations padded like keys.
// Element counters come from the set's own `counter` expression (the kernel clones it into every
// element), so nothing is sent for them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compile/ir.hpp"
#include "kernel/netlink_limits.hpp"

namespace portcullis::kernel {

struct WireElement {
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> key_end;  // pipapo only: the range's last value in every field
    std::vector<std::uint8_t> data;     // maps only
    std::string comment;                // empty: none
    std::uint32_t flags = 0;            // NFT_SET_ELEM_INTERVAL_END for an rbtree end element
    bool operator==(const WireElement&) const = default;
};

struct WireSet {
    std::string name;
    std::vector<WireElement> elements;
};

// The kernel elements of `set`, or nullopt when the set is not one this encoder writes: runtime
// sets, sets with timeouts or `dynamic`, verdict maps (their chains do not exist yet when the
// elements are written), ifname keys, and an rbtree range ending at the top of its type (nft
// marks those with extra userdata). Such sets keep their elements in the nft text.
std::optional<WireSet> encode_static_set(const compile::ir::Set& set);

// Bytes one element occupies inside the NFTA_SET_ELEM_LIST_ELEMENTS nest.
std::size_t wire_element_bytes(const WireElement& element);

// The batches (each one sendmsg(): BATCH_BEGIN, NEWSETELEM messages whose element nests stay under
// `max_nest_bytes`, BATCH_END) that write every element of `sets`. Sequence numbers start at
// `first_seq` and run on across batches: batch b's begin takes the next free one, its messages
// the following ones, its end the one after. No message asks for an ACK.
struct EncodedBatch {
    std::vector<char> bytes;
    std::uint32_t first_message_seq = 0;
    std::size_t messages = 0;
    std::vector<std::string> message_sets;  // the set each message writes, for error reports
};
std::vector<EncodedBatch> encode_static_batches(std::span<const WireSet> sets, std::uint8_t family,
                                                const std::string& table, std::uint32_t first_seq,
                                                std::size_t max_nest_bytes = kMaxElementsNestBytes,
                                                std::size_t max_batch_bytes = kMaxBatchBytes);

}  // namespace portcullis::kernel
