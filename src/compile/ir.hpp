#pragma once
// The compiled table as structured data. compile() builds it from a Policy; render() turns it into
// nft text; `simulate` (issue 6) evaluates the very same structure on packets, so the semantics of
// a rule exist once. Every match and statement here has a meaning a packet evaluator can compute
// without parsing nft text; there is deliberately no "raw text" rule kind.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/net.hpp"
#include "policy/model.hpp"

namespace portcullis::compile::ir {

// ---------------------------------------------------------------------------------------------
// Packet fields that rules read and set keys are built from.
enum class Field : std::uint8_t {
    meta_nfproto,           // ipv4 / ipv6
    meta_l4proto,           // IP protocol number after extension headers
    iifname,                // input interface name
    oifname,                // output interface name
    ip_saddr,
    ip_daddr,
    ip6_saddr,
    ip6_daddr,
    ip6_hoplimit,
    th_dport,               // transport destination port (as the packet carries it now)
    th_sport,               // transport source port
    ct_original_proto_dst,  // destination port of the connection's original tuple (before DNAT)
    icmpv6_type,
};

// nft data types for set keys and map data.
enum class DataType : std::uint8_t { ipv4_addr, ipv6_addr, inet_proto, inet_service, ifname, verdict };

// One component of a set key, a literal to compare with, or map data.
struct Proto {
    std::uint8_t number = 0;
    bool operator==(const Proto&) const = default;
};
struct Number {
    std::uint32_t value = 0;
    bool operator==(const Number&) const = default;
};
struct IfName {
    std::string name;
    bool operator==(const IfName&) const = default;
};
// Prefix covers single addresses (full-length prefixes); PortRange covers single ports.
using Value = std::variant<Prefix, Proto, policy::PortRange, IfName, Number>;

struct Verdict {
    enum class Kind : std::uint8_t { accept, drop, jump, go_to, return_ };
    Kind kind = Kind::accept;
    std::string chain;  // jump / goto target
    bool operator==(const Verdict&) const = default;
};

// DNAT map data: the new destination, and the new port when it changes.
struct NatTarget {
    Address address;
    std::optional<std::uint16_t> port;
    bool operator==(const NatTarget&) const = default;
};

using MapData = std::variant<std::monostate, Verdict, NatTarget>;

struct Element {
    std::vector<Value> key;  // one Value per key component (concatenations have several)
    MapData data;
    // In a counted set: the logical counter this element's packets belong to (rendered as the
    // element's comment, so the daemon and the simulator can sum elements per service).
    std::string counter{};
};

struct SetFlags {
    bool interval = false;
    bool timeout = false;
    bool dynamic = false;
};

// A raw header field (`@th,40,8`) as a component of a set key: keys nft has no name for, such as
// the byte pairs of the IKE length check (issue 5). At most 32 bits.
struct RawField {
    enum class Base : std::uint8_t { network, transport, inner };  // @nh, @th, @ih
    Base base = Base::transport;
    std::uint16_t offset_bits = 0;
    std::uint8_t length_bits = 8;
    bool operator==(const RawField&) const = default;
};

// A named set or map. Runtime sets are filled by the daemon and keep their elements across applies.
struct Set {
    std::string name;
    std::vector<DataType> key;   // several = concatenation
    // Instead of `key`: raw header fields (rendered `typeof @th,40,8 . @th,280,8`); the elements'
    // key components are Numbers.
    std::vector<RawField> raw_key;
    std::vector<DataType> data;  // empty = plain set; {verdict} = verdict map
    SetFlags flags;
    std::optional<std::uint32_t> timeout_seconds;  // default element lifetime
    std::vector<Element> elements;
    bool runtime = false;
    // Every element carries its own packet/byte counter (nft `counter` in the set); a lookup hit
    // counts. Thousands of services share a few such sets instead of a chain and counters each.
    bool counted = false;
    bool is_map() const { return !data.empty(); }
};

struct Counter {
    std::string name;
};

// A shared rate limiter: every rule naming it draws from the same budget.
struct Limit {
    std::string name;
    std::uint32_t rate_per_second = 10;
    std::uint32_t burst_packets = 0;  // 0: nft default
};

struct CtHelper {
    std::string name;
    std::string type;  // kernel helper name, e.g. "pptp"
    Proto protocol;    // the helper's control protocol
    Family l3proto = Family::ipv4;
};

// ---------------------------------------------------------------------------------------------
// Matches: a rule's statements run only when every match holds.

// `key @set` (or `!=`): key is one field or a concatenation.
struct SetLookup {
    std::vector<Field> key;
    std::string set;
    bool negate = false;
};
// `field value` or `field { v1, v2 }` (or `!=`): an anonymous set of literals.
struct Compare {
    Field field;
    std::vector<Value> values;
    bool negate = false;
};
enum CtStateBits : std::uint8_t {
    ct_new = 1,
    ct_established = 2,
    ct_related = 4,
    ct_invalid = 8,
    ct_untracked = 16,
};
struct CtState {
    std::uint8_t any_of = 0;  // CtStateBits
};
// `ct status dnat`: the connection's destination was translated.
struct CtStatusDnat {};
// `meta secpath exists|missing`: the packet was (not) decapsulated by IPsec.
struct Secpath {
    bool exists = true;
};
// `limit name "x"`: holds while the named limiter has budget.
struct LimitRef {
    std::string name;
};
// `limit rate [over] N/second burst B packets`: an anonymous per-rule limiter.
struct LimitRate {
    std::uint32_t rate_per_second = 0;
    std::uint32_t burst_packets = 0;
    bool over = false;
};

// Raw header bits (`@th,64,8 0x22`, optionally masked): protocol conformance checks (issue 5)
// on fields nft has no name for. Offsets in bits from the start of the chosen header; at most 32.
struct Payload {
    using Base = RawField::Base;
    Base base = Base::transport;
    std::uint16_t offset_bits = 0;
    std::uint8_t length_bits = 8;
    std::optional<std::uint32_t> mask;  // compare (bits & mask)
    std::vector<std::uint32_t> values;  // holds when equal to any
    bool negate = false;
};
// `@th,40,8 . @th,280,8 @set` (or `!=`): raw header fields looked up in a set whose raw_key is the
// same fields. nft cannot compare two packet fields with each other, but a set of the allowed
// pairs can (the IKE length against the UDP length).
struct RawLookup {
    std::vector<RawField> key;
    std::string set;
    bool negate = false;
};
// `add|update @set { key [timeout T] [limit rate [over] N/second] }`: writes the packet's key into
// a dynamic set from the packet path (knock stages, per-source rate limits; issues 4 and 5). Without
// a limit it always holds; with one it holds only while that element's own limiter says so, which
// is how per-source flood limits are expressed.
struct SetUpdate {
    // remove: `delete @set { key }` takes the packet's key out of the set (knock resets; always
    // holds, also when the key was absent). No timeout or limit with remove.
    enum class Op : std::uint8_t { add, update, remove };
    Op op = Op::add;
    std::string set;
    std::vector<Field> key;
    std::optional<std::uint32_t> timeout_seconds;
    std::optional<LimitRate> limit;
};

using Match = std::variant<SetLookup, Compare, CtState, CtStatusDnat, Secpath, LimitRef, LimitRate, Payload, SetUpdate,
                           RawLookup>;

// ---------------------------------------------------------------------------------------------
// Statements, executed in order.
struct CounterRef {
    std::string name;
};
struct Log {
    std::uint16_t group = 0;
    std::string prefix;
};
struct Reject {
    enum class Kind : std::uint8_t { tcp_reset, icmpx_admin_prohibited };
    Kind kind = Kind::icmpx_admin_prohibited;
};
struct VerdictStmt {
    Verdict verdict;
};
// `key vmap @map`: the map's verdict decides; no verdict when the key is absent.
struct VerdictMapStmt {
    std::vector<Field> key;
    std::string map;
};
// `dnat ip|ip6 to key map @map`: a NatTarget from the map; nothing when the key is absent.
struct DnatMapStmt {
    Family family = Family::ipv4;
    std::vector<Field> key;
    std::string map;
};
struct Masquerade {};
struct CtHelperSet {
    std::string helper;
};

using Statement =
    std::variant<CounterRef, Log, Reject, VerdictStmt, VerdictMapStmt, DnatMapStmt, Masquerade, CtHelperSet>;

struct Rule {
    std::vector<Match> matches;
    std::vector<Statement> statements;
    std::string comment;  // rendered as nft `comment`, for admins reading `nft list`
};

struct BaseChain {
    enum class Type : std::uint8_t { filter, nat };
    enum class Hook : std::uint8_t { prerouting, input, forward, output, postrouting };
    Type type = Type::filter;
    Hook hook = Hook::input;
    std::string priority;  // a standard priority name: "filter", "dstnat", "srcnat"
    Verdict::Kind policy = Verdict::Kind::accept;
};

struct Chain {
    std::string name;
    std::optional<BaseChain> base;  // empty: a regular chain reached by jump/goto/vmap
    std::vector<Rule> rules;
};

struct Table {
    std::string family = "inet";
    std::string name = "portcullis";
    std::vector<CtHelper> ct_helpers;
    std::vector<Limit> limits;
    std::vector<Counter> counters;
    std::vector<Set> sets;
    std::vector<Chain> chains;  // regular chains first, so base chains only ever see defined targets

    const Set* find_set(const std::string& name) const;
    const Chain* find_chain(const std::string& name) const;
};

// ---------------------------------------------------------------------------------------------
// Rendering to nft text (deterministic: same Table, same bytes).
std::string render(const Table& table);
std::string render(const Rule& rule);
std::string render(const Match& match);
std::string render(const Statement& statement);
std::string render(const Value& value, DataType type);
std::string render_field(Field field);
std::string render_proto(Proto proto);
std::string render_duration(std::uint32_t seconds);  // "1h", "90s", "1d2h"

// A valid nft identifier for any text, deterministic: [A-Za-z0-9_-] kept, anything else becomes
// '_', and when something had to change a short hash of the original is appended so two different
// inputs never collide. `prefix` must start with a letter (identifiers cannot start with a digit).
std::string identifier(const std::string& prefix, const std::string& text);

}  // namespace portcullis::compile::ir
