#include "cli/policy_input.hpp"

#include <unistd.h>

#include <fmt/core.h>

namespace portcullis::cli {

std::optional<policy::Policy> load_policy(const std::string& path, bool quiet_warnings) {
    policy::LoadResult loaded = policy::load_file(path);
    for (const auto& diagnostic : loaded.diagnostics) {
        if (quiet_warnings && diagnostic.severity == policy::Severity::warning) continue;
        fmt::print(stderr, "{}\n", policy::format(diagnostic));
    }
    if (!loaded.ok()) return std::nullopt;
    return std::move(*loaded.policy);
}

std::string self_executable() {
    char buffer[4096];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0) return "/proc/self/exe";
    return std::string(buffer, static_cast<std::size_t>(n));
}

}  // namespace portcullis::cli
