#pragma once
// The cryptographic primitives of the fwknop SPA format, as thin wrappers over OpenSSL's EVP API:
// strict unpadded base64, SHA-256, HMAC-SHA256, the OpenSSL `Salted__` key/IV derivation
// (EVP_BytesToKey with MD5 and one round) and AES-256-CBC with PKCS#7 padding.
// None of these throw; failures are empty optionals.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::auth {

using ByteVector = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using Sha256 = std::array<std::uint8_t, 32>;

inline ByteView view_of(std::string_view text) {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Standard alphabet, '=' padding stripped (the way fwknop writes every base64 field).
std::string base64_encode_unpadded(ByteView data);

// Accepts only the standard alphabet without '=', a length that unpadded base64 can have
// (not 1 mod 4), and zero unused trailing bits, so every byte string has exactly one encoding.
std::optional<ByteVector> base64_decode_unpadded(std::string_view text);

bool is_base64_char(char c);

// Length of the unpadded base64 text for `bytes` bytes.
constexpr std::size_t base64_unpadded_length(std::size_t bytes) { return (bytes * 4 + 2) / 3; }

Sha256 sha256(ByteView data);
Sha256 hmac_sha256(ByteView key, ByteView data);

// Constant-time equality of two equally long buffers (false if the lengths differ).
bool constant_time_equal(ByteView a, ByteView b);

// Fills `out` from the system CSPRNG; false if OpenSSL could not.
bool random_bytes(std::span<std::uint8_t> out);

struct AesKeyIv {
    std::array<std::uint8_t, 32> key{};
    std::array<std::uint8_t, 16> iv{};
};

// OpenSSL `enc`-compatible derivation: EVP_BytesToKey(AES-256-CBC, MD5, salt, passphrase, 1 round).
std::optional<AesKeyIv> derive_key_iv(ByteView passphrase, std::span<const std::uint8_t, 8> salt);

// AES-256-CBC with PKCS#7 padding.
std::optional<ByteVector> aes256_cbc_encrypt(const AesKeyIv& key_iv, ByteView plaintext);
// Empty on a ciphertext that is not whole blocks or whose padding is wrong.
std::optional<ByteVector> aes256_cbc_decrypt(const AesKeyIv& key_iv, ByteView ciphertext);

// Overwrites the buffer in a way the optimiser keeps (OPENSSL_cleanse).
void wipe(std::span<std::uint8_t> secret);

// Runs every primitive once on dummy data: OpenSSL loads its providers and fills its method
// caches lazily, which made the first SPA packet after start take over a millisecond to verify.
void warm_up_crypto();

}  // namespace portcullis::auth
