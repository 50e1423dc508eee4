#pragma once
// Reading a TOML policy: parse, expand presets, validate. All problems are collected and
// returned together, each with file:line:column, so an admin fixes them in one pass.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.hpp"

namespace portcullis::policy {

struct LoadResult {
    std::optional<Policy> policy;          // present only when there is no error
    std::vector<Diagnostic> diagnostics;  // errors and warnings, in file order
    bool ok() const { return policy.has_value(); }
};

LoadResult load_file(const std::string& path);
LoadResult load_string(std::string_view toml_text, const std::string& source_name);

// "policy.toml:12:5: error: <message>"
std::string format(const Diagnostic& diagnostic);

}  // namespace portcullis::policy
