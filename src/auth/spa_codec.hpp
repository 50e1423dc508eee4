#pragma once
// The wire layer of an fwknop SPA packet (Rijndael + HMAC-SHA256 mode, fwknop 2.5+):
//   plaintext  = fields ":" b64(sha256(fields))                      (spa_message.hpp)
//   ciphertext = "Salted__" salt[8] AES-256-CBC(EVP_BytesToKey(MD5, key, salt), plaintext)
//   body       = b64(ciphertext) without '=' and without its constant first 10 chars "U2FsdGVkX1"
//   wire       = body b64(HMAC-SHA256(hmac_key, "U2FsdGVkX1" body)) without '='
// Opening is strict: sizes, alphabet and prefix first, then the HMAC in constant time against the
// candidate keys, and only then any decryption.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "auth/spa_keys.hpp"
#include "auth/spa_types.hpp"

namespace portcullis::auth {

inline constexpr std::string_view kSaltedPrefixBase64 = "U2FsdGVkX1";  // base64 of "Salted__", cut
inline constexpr std::size_t kHmacBase64Length = base64_unpadded_length(32);  // 43
// The smallest message fwknop can produce is ~200 characters on the wire; fwknopd refuses < 140.
inline constexpr std::size_t kMinPacketLength = 140;
// The largest message we accept (64-char user, 256-char access message, timeout) is ~760
// characters; fwknopd's limit is 1500. Anything longer is not a packet we would accept.
inline constexpr std::size_t kMaxPacketLength = 1024;

struct EncodeOptions {
    std::optional<std::array<std::uint8_t, 8>> salt;  // fixed salt for reproducible tests
    // Only for testing the verifier's refusals: produce what pre-2.5 clients sent (IV derived
    // from the key padded with '0' to 16 bytes) or leave the HMAC off.
    bool legacy_iv = false;
    bool omit_hmac = false;
};

// Builds the wire text fwknopd (and our verifier) accepts.
tl::expected<std::string, std::string> encode_packet(const SpaMessage& message, const KeyMaterial& keys,
                                                     const EncodeOptions& options = {});

// Checks that need no key: size bounds, alphabet, the salt prefix. nullopt if none fails.
std::optional<Reject> precheck(std::string_view wire);

struct OpenedPacket {
    std::size_t key_index = 0;  // which of the candidates authenticated it
    SpaMessage message;
};

// precheck, then HMAC against each candidate (constant-time compare, every candidate tried),
// then decryption and plaintext parsing with the key whose HMAC matched.
tl::expected<OpenedPacket, Reject> open_packet(std::string_view wire, std::span<const KeyMaterial* const> candidates);

}  // namespace portcullis::auth
