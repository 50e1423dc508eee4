#pragma once
// Shared by the policy tests: load a policy from text and find diagnostics by a phrase.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "policy/load.hpp"

namespace portcullis::policy::testing {

inline LoadResult load(std::string_view text) { return load_string(text, "test.toml"); }

inline std::string dump(const LoadResult& result) {
    std::string out;
    for (const auto& d : result.diagnostics) out += format(d) + "\n";
    return out;
}

inline std::size_t count(const LoadResult& result, Severity severity) {
    std::size_t n = 0;
    for (const auto& d : result.diagnostics) n += d.severity == severity;
    return n;
}

// The one diagnostic of this severity whose message contains `phrase`; fails the test otherwise.
inline Diagnostic find(const LoadResult& result, Severity severity, std::string_view phrase) {
    const Diagnostic* found = nullptr;
    std::size_t matches = 0;
    for (const auto& d : result.diagnostics) {
        if (d.severity == severity && d.message.find(phrase) != std::string::npos) {
            found = &d;
            ++matches;
        }
    }
    EXPECT_EQ(matches, 1u) << "looking for \"" << phrase << "\" in:\n" << dump(result);
    return found ? *found : Diagnostic{severity, {}, "<missing>"};
}

// Asserts that an error containing `phrase` is reported at line:column (1-based).
#define EXPECT_DIAG_AT(result, severity, phrase, line_, column_)                             \
    do {                                                                                       \
        auto found_diag = ::portcullis::policy::testing::find(result, severity, phrase);      \
        EXPECT_EQ(found_diag.where.line, static_cast<std::uint32_t>(line_)) << found_diag.message;   \
        EXPECT_EQ(found_diag.where.column, static_cast<std::uint32_t>(column_)) << found_diag.message; \
    } while (0)

#define EXPECT_ERROR_AT(result, phrase, line_, column_) \
    EXPECT_DIAG_AT(result, ::portcullis::policy::Severity::error, phrase, line_, column_)
#define EXPECT_WARNING_AT(result, phrase, line_, column_) \
    EXPECT_DIAG_AT(result, ::portcullis::policy::Severity::warning, phrase, line_, column_)

// A minimal valid header: host mode on eth0 with management, so tests add only what they probe.
inline constexpr std::string_view kHostHeader = R"([firewall]
mode = "host"
wan = "eth0"
[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]
)";  // 6 lines; the test's own text starts on line 7

inline constexpr std::string_view kGatewayHeader = R"([firewall]
mode = "gateway"
wan = "eth0"
lan = "eth1"
[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]
)";  // 7 lines; the test's own text starts on line 8

}  // namespace portcullis::policy::testing
