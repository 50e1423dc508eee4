#pragma once
// "Did you mean": the closest known word to a misspelt one, so a typo costs one glance to fix.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace portcullis::policy {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo: within a third of
// the word's length (at least 1, at most 3 edits), or one is a prefix of the other (3+ characters).
std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string_view> candidates);

}  // namespace portcullis::policy
