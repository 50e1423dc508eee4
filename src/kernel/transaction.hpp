#pragma once
// The one atomic nft script that replaces `table inet portcullis` with a newly compiled one while
// the runtime sets (bans, grants) and their elements stay in place. Verified against nft 1.0.6 on
// kernel 6.18 (see docs/cli.md "How apply replaces the table"):
//   - `add set` of an existing set with the same type and flags is a no-op (elements kept); with a
//     different type or flags the kernel refuses the whole transaction ("File exists");
//   - `add counter` of an existing counter keeps its packet/byte values;
//   - `add ct helper` of an existing helper silently keeps the OLD definition, so helpers are
//     always deleted and re-added;
//   - a chain can be deleted in the same transaction after it was flushed, and a set or object
//     after the rules referring to it were flushed; verdict maps refer to chains, so maps go first.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "compile/compile.hpp"
#include "kernel/nft_kernel.hpp"
#include "kernel/table_text.hpp"

namespace portcullis::kernel {

struct Transaction {
    std::string script;
    // Lines before the new table text; nft's error locations past this are in the table text.
    std::size_t prelude_lines = 0;
    std::vector<std::string> kept_runtime_sets;       // elements survive
    std::vector<std::string> kept_static_sets;        // updated element by element, never re-created
    std::vector<std::string> recreated_runtime_sets;  // incompatible change: elements are lost
    std::vector<std::string> warnings;                // what the admin should know, in plain words
    std::size_t kept_elements_deleted = 0;            // elements of kept sets deleted / added
    std::size_t kept_elements_added = 0;
};

// Lists one set or map (kind "set" / "map") of the live table with its elements.
using SetLister = std::function<Result<std::string>(const std::string& kind, const std::string& name)>;

// `live` is the kernel's current table as text (a terse `nft list table` is enough; nullopt when
// the table is absent). Fails only when `live` or `next.table_text` cannot be read.
// With `list_set`, static sets and maps the new table declares with the same shape are kept and
// updated element by element (and chains the new table still has are flushed, not re-created), so
// nothing a packet can match is ever absent between the old table and the new one. Without it,
// static sets are deleted and re-created.
Result<Transaction> build_replace(const std::optional<std::string>& live, const compile::Compiled& next,
                                  const SetLister& list_set = {});

// Removes the whole table (flush): `delete table inet portcullis`.
std::string build_delete();

// nft reports script locations as "transaction:LINE:COL..."; turn those that fall in the table
// text into "table:LINE':COL..." relative to the compiled text (what `portcullis compile` prints),
// so the admin can find the line.
std::string relocate_error(std::string_view nft_error, std::size_t prelude_lines);

// A first apply (no table yet) of a compiled policy whose static sets hold elements: those sets'
// elements are written over netlink (netlink_static_sets.hpp) between a transaction that creates
// the table without chains and one that adds the chains, instead of nft parsing them as text.
// These are the sets that path writes (those encode_static_set() accepts, with elements).
std::vector<WireSet> staged_sets(const compile::Compiled& next);
// `text` with every chain block replaced by as many newlines (so line numbers stay those of `text`).
std::string blank_chains(std::string_view text);

// Commits the replacement as one transaction (dry_run_only: only checks it with the kernel, the
// `nft -c` equivalent). Any failure leaves the kernel unchanged; the error carries nft's message.
// When there is no table yet and the adapter writes set elements over netlink, the table is
// created in three steps (see staged_sets): no packet sees it before its chains arrive with all
// their rules in one transaction, and a failed step deletes the table again.
struct ApplyOutcome {
    Transaction transaction;
    bool table_existed = false;
};
Result<ApplyOutcome> apply_table(Nftables& nft, const compile::Compiled& next, bool dry_run_only = false);

// Removes our table. Returns false when there was no table to remove.
Result<bool> delete_table(Nftables& nft);

}  // namespace portcullis::kernel
