#pragma once
// Reads the known-answer vectors written by vectors/make_vectors.sh (key=value lines).
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "auth/spa_keys.hpp"

namespace portcullis::auth::testing {

inline std::string vector_dir() { return std::string(PC_SOURCE_ROOT) + "/tests/unit/auth/vectors"; }

inline std::map<std::string, std::string> read_vector(const std::string& name) {
    std::map<std::string, std::string> fields;
    std::ifstream file(vector_dir() + "/" + name + ".vec");
    std::string line;
    while (std::getline(file, line)) {
        if (line.empty() || line.front() == '#') continue;
        auto equals = line.find('=');
        if (equals == std::string::npos) continue;
        fields[line.substr(0, equals)] = line.substr(equals + 1);
    }
    return fields;
}

// The vector's keys; `fallback_hmac_base64` for vectors made without an HMAC key.
inline KeyMaterial vector_keys(const std::map<std::string, std::string>& vec,
                               const std::string& fallback_hmac_base64 = "") {
    std::string text;
    for (const char* name : {"key_base64", "hmac_key_base64", "key", "hmac_key"}) {
        auto found = vec.find(name);
        if (found == vec.end()) continue;
        std::string upper_name = name;
        for (char& c : upper_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        text += upper_name + " " + found->second + "\n";
    }
    if (!vec.count("hmac_key_base64") && !vec.count("hmac_key")) text += "HMAC_KEY_BASE64 " + fallback_hmac_base64 + "\n";
    auto material = parse_key_text(text);
    if (!material) throw std::runtime_error("vector keys: " + material.error().message);
    return *material;
}

}  // namespace portcullis::auth::testing
