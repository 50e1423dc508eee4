#include "auth/spa_keys.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace portcullis::auth {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

std::string upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
}

// Standard base64 as fwknop writes keys: with '=' padding.
std::optional<ByteVector> decode_key_base64(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    return base64_decode_unpadded(text);
}

Result<ByteVector> checked_rijndael_key(ByteVector key) {
    if (key.empty() || key.size() > kMaxRijndaelKeyLength)
        return fail("Rijndael key must be 1-32 bytes, got " + std::to_string(key.size()));
    return key;
}

Result<ByteVector> checked_hmac_key(ByteVector key) {
    if (key.size() < kMinHmacKeyLength || key.size() > kMaxHmacKeyLength)
        return fail("HMAC key must be 16-128 bytes, got " + std::to_string(key.size()));
    return key;
}

}  // namespace

Result<KeyMaterial> key_material_from_base64(std::string_view key_base64, std::string_view hmac_key_base64) {
    auto key = decode_key_base64(trim(key_base64));
    if (!key) return fail("KEY_BASE64 is not valid base64");
    auto hmac_key = decode_key_base64(trim(hmac_key_base64));
    if (!hmac_key) return fail("HMAC_KEY_BASE64 is not valid base64");
    auto checked_key = checked_rijndael_key(std::move(*key));
    if (!checked_key) return tl::unexpected(checked_key.error());
    auto checked_hmac = checked_hmac_key(std::move(*hmac_key));
    if (!checked_hmac) return tl::unexpected(checked_hmac.error());
    return KeyMaterial{std::move(*checked_key), std::move(*checked_hmac), std::nullopt};
}

Result<KeyMaterial> parse_key_text(std::string_view text, std::optional<std::string_view> stanza) {
    // First pass: which sections exist, so "exactly one section" can be resolved.
    std::vector<std::string> sections;
    bool keys_outside_sections = false;
    {
        std::istringstream lines{std::string(text)};
        std::string line;
        bool in_section = false;
        while (std::getline(lines, line)) {
            std::string_view content = trim(line);
            if (content.empty() || content.front() == '#') continue;
            if (content.front() == '[' && content.back() == ']') {
                sections.emplace_back(trim(content.substr(1, content.size() - 2)));
                in_section = true;
            } else if (!in_section) {
                keys_outside_sections = true;
            }
        }
    }
    std::optional<std::string> wanted;
    if (stanza) {
        if (std::find(sections.begin(), sections.end(), *stanza) == sections.end())
            return fail("no [" + std::string(*stanza) + "] stanza in the key file");
        wanted = std::string(*stanza);
    } else if (!keys_outside_sections) {
        // fwknop's rc files carry a [default] section; skip it when picking the only real one.
        std::vector<std::string> named;
        std::copy_if(sections.begin(), sections.end(), std::back_inserter(named),
                     [](const std::string& s) { return s != "default"; });
        if (named.size() != 1)
            return fail("the key file has " + std::to_string(named.size()) + " stanzas; name one");
        wanted = named.front();
    }

    std::optional<ByteVector> key, hmac_key;
    std::optional<std::string> username;
    std::istringstream lines{std::string(text)};
    std::string line;
    std::optional<std::string> current;  // nullopt: outside any section
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        std::string where = "line " + std::to_string(number) + ": ";
        std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;
        if (content.front() == '[' && content.back() == ']') {
            current = std::string(trim(content.substr(1, content.size() - 2)));
            continue;
        }
        if (current != wanted) continue;
        // "NAME value", "NAME: value" (as --key-gen prints) or "NAME=value".
        std::size_t split_at = content.find_first_of(" \t:=");
        if (split_at == std::string_view::npos) return fail(where + "expected 'NAME value'");
        std::string name = upper(content.substr(0, split_at));
        std::string_view value = content.substr(split_at + 1);
        while (!value.empty() && (value.front() == ':' || value.front() == '=' ||
                                  std::isspace(static_cast<unsigned char>(value.front()))))
            value.remove_prefix(1);
        value = trim(value);
        if (value.empty()) return fail(where + name + " has no value");
        if (value.find_first_of(" \t") != std::string_view::npos && name.find("KEY") != std::string::npos)
            return fail(where + name + " contains whitespace (fwknop would use only the first word)");

        if (name == "KEY_BASE64" || name == "HMAC_KEY_BASE64") {
            auto decoded = decode_key_base64(value);
            if (!decoded) return fail(where + name + " is not valid base64");
            auto checked = name == "KEY_BASE64" ? checked_rijndael_key(std::move(*decoded))
                                                : checked_hmac_key(std::move(*decoded));
            if (!checked) return fail(where + checked.error().message);
            (name == "KEY_BASE64" ? key : hmac_key) = std::move(*checked);
        } else if (name == "KEY" || name == "HMAC_KEY") {
            auto checked = name == "KEY" ? checked_rijndael_key(ByteVector(value.begin(), value.end()))
                                         : checked_hmac_key(ByteVector(value.begin(), value.end()));
            if (!checked) return fail(where + checked.error().message);
            (name == "KEY" ? key : hmac_key) = std::move(*checked);
        } else if (name == "ENCRYPTION_MODE") {
            if (upper(value) != "CBC")
                return fail(where + "only ENCRYPTION_MODE CBC is accepted (legacy IV and other modes are refused)");
        } else if (name == "USE_HMAC") {
            if (upper(value) != "Y") return fail(where + "USE_HMAC must be Y: packets without an HMAC are refused");
        } else if (name == "HMAC_DIGEST_TYPE" || name == "DIGEST_TYPE") {
            if (upper(value) != "SHA256") return fail(where + name + " must be SHA256");
        } else if (name.rfind("GPG", 0) == 0 || name == "USE_GPG") {
            return fail(where + "GnuPG mode is not supported; use KEY_BASE64 and HMAC_KEY_BASE64");
        } else if (name == "SPOOF_USER") {
            username = std::string(value);
        }
        // Other fwknop client settings (SPA_SERVER, ACCESS, ALLOW_IP, ...) are not key material.
    }
    if (!key) return fail("no KEY_BASE64 (or KEY) in the key file");
    if (!hmac_key) return fail("no HMAC_KEY_BASE64 (or HMAC_KEY) in the key file: an HMAC key is required");
    return KeyMaterial{std::move(*key), std::move(*hmac_key), std::move(username)};
}

Result<KeyMaterial> load_key_file(const std::string& path, std::optional<std::string_view> stanza) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return fail(path + ": cannot stat the key file");
    if (!S_ISREG(info.st_mode)) return fail(path + ": not a regular file");
    if ((info.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
        return fail(path + ": mode " + mode + " lets others read the keys; chmod 600 it");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) return fail(path + ": cannot open the key file");
    std::ostringstream content;
    content << file.rdbuf();
    auto material = parse_key_text(content.str(), stanza);
    if (!material) return fail(path + ": " + material.error().message);
    return material;
}

}  // namespace portcullis::auth
