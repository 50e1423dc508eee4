#pragma once
// SPA key material and the per-user stanza. Keys are what `fwknop --key-gen` prints: a base64
// Rijndael key (KEY_BASE64, 32 bytes) and a base64 HMAC-SHA256 key (HMAC_KEY_BASE64, 64 bytes).
// Key files use fwknop's rc syntax (`KEY_BASE64 value`, optional `[stanza]` sections), so a user's
// existing ~/.fwknoprc works, and must not be readable by group or others.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/spa_crypto.hpp"
#include "common/net.hpp"
#include "common/result.hpp"

namespace portcullis::auth {

inline constexpr std::size_t kMaxRijndaelKeyLength = 32;  // fwknop RIJNDAEL_MAX_KEYSIZE
inline constexpr std::size_t kMaxHmacKeyLength = 128;     // fwknop MAX_DIGEST_BLOCK_LEN
inline constexpr std::size_t kMinHmacKeyLength = 16;      // stricter than fwknop: no toy HMAC keys

struct KeyMaterial {
    ByteVector key;        // Rijndael passphrase bytes, 1..32
    ByteVector hmac_key;   // HMAC-SHA256 key, 16..128
    std::optional<std::string> username;  // SPOOF_USER, used by the client only
};

// A user's stanza: who they are, their keys, and what they may open.
struct SpaKey {
    std::string name;
    KeyMaterial material;
    std::vector<std::string> services;  // service names this key may open
    std::uint32_t max_open_seconds = 3600;
    bool allow_embedded_address = false;  // honour the address inside the packet (CGNAT users)
    std::vector<Prefix> sources;          // packets only from these; empty = from anywhere
};

// From base64 texts as `fwknop --key-gen` prints them.
Result<KeyMaterial> key_material_from_base64(std::string_view key_base64, std::string_view hmac_key_base64);

// Parses rc-style text. With `stanza`, reads that [stanza]; without, the file must hold keys
// outside any section or exactly one section. Needs a Rijndael key (KEY_BASE64 or KEY) and an
// HMAC key (HMAC_KEY_BASE64 or HMAC_KEY); `ENCRYPTION_MODE legacy`, GPG options and
// `USE_HMAC N` are refused. Errors name the line.
Result<KeyMaterial> parse_key_text(std::string_view text, std::optional<std::string_view> stanza = std::nullopt);

// Reads a key file after checking it is a regular file with no group/other permission bits.
Result<KeyMaterial> load_key_file(const std::string& path, std::optional<std::string_view> stanza = std::nullopt);

}  // namespace portcullis::auth
