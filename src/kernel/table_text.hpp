#pragma once
// A small reader for nft table text — the compiler's output and the kernel's own `nft list
// table` listing have the same shape — that finds the table's top-level objects (chains, sets,
// maps, counters, ct helpers, ...) and their bodies. It understands just enough syntax to be
// exact about that: braces, quoted strings, `#` comments. It does not interpret rules.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "compile/compile.hpp"

namespace portcullis::kernel {

// One named object inside the table block: `set ban4 { ... }`, `ct helper pptp { ... }`.
struct TableObject {
    std::string kind;  // "chain", "set", "map", "counter", "ct helper", "quota", "limit", ...
    std::string name;
    std::string_view body;       // text between the object's braces
    std::size_t begin = 0;       // offset of the kind keyword in the scanned text
    std::size_t end = 0;         // offset one past the closing brace
};

struct TableText {
    std::string family;
    std::string name;
    std::vector<TableObject> objects;  // in text order

    // By kind and name; O(1) (tables with 10,000 services have 40,000 objects).
    const TableObject* find(std::string_view kind, std::string_view name) const;
    void index();  // scan_table calls it; call again after changing `objects`

private:
    std::unordered_map<std::string, std::size_t> by_key_;
};

// Reads the first `table FAMILY NAME { ... }` block of `text`. The views point into `text`.
Result<TableText> scan_table(std::string_view text);

// What a set declaration says about its key and flags, normalised so that the compiler's text and
// the kernel's listing compare equal when the kernel would accept one in place of the other.
struct SetShape {
    bool is_map = false;
    std::string key;  // "type ipv4_addr . inet_service" or "typeof ip saddr"; whitespace collapsed
    std::vector<std::string> flags;  // sorted; "timeout" added when a default timeout is declared
    std::optional<std::string> default_timeout;  // "1h", as written
    bool operator==(const SetShape&) const = default;
};
SetShape set_shape(const TableObject& set_or_map);

// Removes `elements = { ... }` from the named sets (used when restoring a snapshot: the runtime
// sets' current elements are kept, not replaced by the snapshot's older ones).
std::string strip_set_elements(std::string_view text, const std::vector<std::string>& set_names);

// The elements of a set or map declaration (the compiler's text or a kernel listing), each as
// its identity: key (and ` : data` for maps) with whitespace collapsed and the listing's
// annotations (counter values, expiry, timeout, comment) removed, so both sides compare equal.
std::vector<std::string> set_elements(const TableObject& set_or_map);
struct ElementText {
    std::string identity;  // as set_elements() gives it
    std::string text;      // the element as written (comment included), whitespace collapsed
};
std::vector<ElementText> set_elements_with_text(const TableObject& set_or_map);
// `text` with the `elements = { ... }` of the named sets replaced by just the given elements (none:
// the statement is blanked), padded with newlines to the original line count.
std::string replace_set_elements(std::string_view text, const std::map<std::string, std::vector<std::string>>& sets);
// The key part of an element identity (what `delete element` needs).
std::string element_key(std::string_view identity);
// A base chain's `type ... hook ... priority ...; policy ...` statement, whitespace collapsed;
// nullopt for a regular chain.
std::optional<std::string> base_chain_header(const TableObject& chain);

// The bodies of every `table FAMILY NAME { ... }` block in `listing` (several `nft list sets`,
// `list chains`, ... outputs, which also show other tables), merged into one table block.
std::string merge_table_blocks(std::string_view listing, std::string_view family, std::string_view name);

// The runtime set naming contract of compile.hpp: ban4, ban6, banh4, banh6, grant4_*, grant6_*.
bool is_runtime_set_name(std::string_view name);

// The manifest of a table text the compiler did not produce (a saved snapshot): its objects,
// with sets named by the runtime contract listed as runtime sets.
Result<compile::TableManifest> manifest_from_text(std::string_view table_text);

}  // namespace portcullis::kernel
