#pragma once
// Shared helpers for the compile tests: loading policies, reading/writing files, running nft.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "compile/compile.hpp"
#include "policy/load.hpp"

namespace pc_test {

namespace fs = std::filesystem;

inline fs::path source_root() { return fs::path(PC_SOURCE_ROOT); }
inline fs::path golden_dir() { return source_root() / "tests/unit/compile/golden"; }

inline std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

inline void write_text(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

// A policy file from the tree, loaded with the real parser; fails the test on any error.
inline portcullis::policy::Policy load_policy(const fs::path& path) {
    auto result = portcullis::policy::load_file(path.string());
    std::string errors;
    for (const auto& d : result.diagnostics)
        if (d.severity == portcullis::policy::Severity::error)
            errors += portcullis::policy::format(d) + "\n";
    EXPECT_TRUE(result.ok()) << path << ":\n" << errors;
    if (!result.ok()) return {};
    return *result.policy;
}

inline portcullis::policy::Policy load_policy_text(const std::string& toml) {
    auto result = portcullis::policy::load_string(toml, "inline.toml");
    std::string errors;
    for (const auto& d : result.diagnostics) errors += portcullis::policy::format(d) + "\n";
    EXPECT_TRUE(result.ok()) << errors;
    if (!result.ok()) return {};
    return *result.policy;
}

struct CommandResult {
    int status = -1;
    std::string output;  // stdout and stderr
};

inline CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return result;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
    result.status = pclose(pipe);
    return result;
}

inline bool nft_available() { return run("command -v nft").status == 0; }

// Check a ruleset with the real nft, inside a private user+network namespace so the test needs no
// root and can never touch the host's ruleset. `load` also commits it there (the kernel then
// validates hooks, chain types and map data), and lists it back.
// As root a throwaway named netns is used instead: a user namespace cannot raise the netlink
// socket buffer past net.core.wmem_max, which the 10,000-service table needs.
inline CommandResult nft_in_private_netns(const fs::path& file, bool load) {
    // Paths come from the source tree or the temp dir; quoting nests three shells deep, so
    // refuse anything that would need it rather than quoting wrongly.
    if (file.string().find_first_of(" '\"\\$`") != std::string::npos)
        return CommandResult{-1, "path needs quoting: " + file.string()};
    std::string inner = load ? "nft -f " + file.string() + " && nft list table inet portcullis"
                             : "nft -c -f " + file.string();
    if (::geteuid() != 0) return run("unshare --user --map-root-user --net sh -c \"" + inner + "\"");
    std::string ns = "pc-compile-t" + std::to_string(::getpid());
    return run("sh -c 'trap \"ip netns del " + ns + " 2>/dev/null\" EXIT; ip netns add " + ns +
               " && ip netns exec " + ns + " sh -c \"" + inner + "\"'");
}

inline std::vector<fs::path> toml_files(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".toml") out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

inline fs::path temp_file(const std::string& name) {
    auto dir = fs::temp_directory_path() / ("pc-compile-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}

// Writes `text` to a temp file and loads it with nft_in_private_netns; the file is removed when
// nft accepted it (a refused table stays on disk for the failure message's reader).
inline CommandResult load_text_in_private_netns(const std::string& text, const std::string& name) {
    auto file = temp_file(name);
    write_text(file, text);
    auto load = nft_in_private_netns(file, true);
    if (load.status == 0) {
        std::error_code ignored;
        fs::remove(file, ignored);
        fs::remove(file.parent_path(), ignored);  // only when no other test's file is left in it
    }
    return load;
}

}  // namespace pc_test
