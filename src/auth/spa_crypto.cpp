#include "auth/spa_crypto.hpp"

#include <memory>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace portcullis::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Algorithms fetched once: OpenSSL 3 looks an algorithm up in its provider tables (with locks)
// every time EVP_sha256() & co. are used implicitly, which was a large part of verifying one SPA
// packet. Fetched objects live for the whole process; the implicit ones stay as a fallback.
const EVP_MD* sha256_md() {
    static EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    return fetched ? fetched : EVP_sha256();
}
const EVP_MD* md5_md() {
    static EVP_MD* fetched = EVP_MD_fetch(nullptr, "MD5", nullptr);
    return fetched ? fetched : EVP_md5();
}
const EVP_CIPHER* aes256_cbc_cipher() {
    static EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return fetched ? fetched : EVP_aes_256_cbc();
}
EVP_MAC* hmac_algorithm() {
    static EVP_MAC* fetched = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return fetched;
}

struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;
struct MacCtxDeleter {
    void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// One context per thread, reset before each use (reset also clears the key schedule).
EVP_CIPHER_CTX* cipher_context() {
    thread_local CipherCtx ctx{EVP_CIPHER_CTX_new()};
    if (ctx) EVP_CIPHER_CTX_reset(ctx.get());
    return ctx.get();
}

std::optional<ByteVector> aes256_cbc(const AesKeyIv& key_iv, ByteView input, bool encrypt) {
    EVP_CIPHER_CTX* ctx = cipher_context();
    if (!ctx) return std::nullopt;
    struct Reset {  // no key material left in the reused context, whatever the outcome
        EVP_CIPHER_CTX* ctx;
        ~Reset() { EVP_CIPHER_CTX_reset(ctx); }
    } reset{ctx};
    if (EVP_CipherInit_ex(ctx, aes256_cbc_cipher(), nullptr, key_iv.key.data(), key_iv.iv.data(),
                          encrypt ? 1 : 0) != 1)
        return std::nullopt;
    ByteVector output(input.size() + 16);
    int written = 0;
    if (EVP_CipherUpdate(ctx, output.data(), &written, input.data(), static_cast<int>(input.size())) != 1)
        return std::nullopt;
    int final_written = 0;
    if (EVP_CipherFinal_ex(ctx, output.data() + written, &final_written) != 1) {
        wipe(output);
        return std::nullopt;
    }
    output.resize(static_cast<std::size_t>(written + final_written));
    return output;
}

}  // namespace

bool is_base64_char(char c) { return base64_value(c) >= 0; }

std::string base64_encode_unpadded(ByteView data) {
    std::string out;
    out.reserve(base64_unpadded_length(data.size()));
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        std::uint32_t triple = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
        out.push_back(kAlphabet[(triple >> 18) & 63]);
        out.push_back(kAlphabet[(triple >> 12) & 63]);
        out.push_back(kAlphabet[(triple >> 6) & 63]);
        out.push_back(kAlphabet[triple & 63]);
    }
    std::size_t rest = data.size() - i;
    if (rest == 1) {
        std::uint32_t v = std::uint32_t{data[i]} << 16;
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
    } else if (rest == 2) {
        std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(kAlphabet[(v >> 6) & 63]);
    }
    return out;
}

std::optional<ByteVector> base64_decode_unpadded(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    ByteVector out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t accumulator = 0;
    int bits = 0;
    for (char c : text) {
        int value = base64_value(c);
        if (value < 0) return std::nullopt;
        accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((accumulator >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero: otherwise two texts would decode to the same bytes.
    if (bits > 0 && (accumulator & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

Sha256 sha256(ByteView data) {
    Sha256 digest{};
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest.data(), &length, sha256_md(), nullptr);
    return digest;
}

Sha256 hmac_sha256(ByteView key, ByteView data) {
    Sha256 mac{};
    unsigned int length = 0;
    if (EVP_MAC* algorithm = hmac_algorithm()) {
        MacCtx ctx{EVP_MAC_CTX_new(algorithm)};
        char digest_name[] = "SHA2-256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                                     OSSL_PARAM_construct_end()};
        std::size_t written = 0;
        if (ctx && EVP_MAC_init(ctx.get(), key.data(), key.size(), params) == 1 &&
            EVP_MAC_update(ctx.get(), data.data(), data.size()) == 1 &&
            EVP_MAC_final(ctx.get(), mac.data(), &written, mac.size()) == 1 && written == mac.size())
            return mac;
    }
    HMAC(sha256_md(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac.data(), &length);
    return mac;
}

bool constant_time_equal(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool random_bytes(std::span<std::uint8_t> out) {
    return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

std::optional<AesKeyIv> derive_key_iv(ByteView passphrase, std::span<const std::uint8_t, 8> salt) {
    AesKeyIv result;
    int key_length = EVP_BytesToKey(aes256_cbc_cipher(), md5_md(), salt.data(), passphrase.data(),
                                    static_cast<int>(passphrase.size()), 1, result.key.data(), result.iv.data());
    if (key_length != 32) return std::nullopt;
    return result;
}

std::optional<ByteVector> aes256_cbc_encrypt(const AesKeyIv& key_iv, ByteView plaintext) {
    return aes256_cbc(key_iv, plaintext, true);
}

std::optional<ByteVector> aes256_cbc_decrypt(const AesKeyIv& key_iv, ByteView ciphertext) {
    if (ciphertext.empty() || ciphertext.size() % 16 != 0) return std::nullopt;
    return aes256_cbc(key_iv, ciphertext, false);
}

void wipe(std::span<std::uint8_t> secret) {
    if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
}

void warm_up_crypto() {
    const std::uint8_t dummy[32] = {};
    const std::uint8_t salt[8] = {};
    (void)sha256(ByteView(dummy, sizeof dummy));
    (void)hmac_sha256(ByteView(dummy, sizeof dummy), ByteView(dummy, sizeof dummy));
    if (auto key_iv = derive_key_iv(ByteView(dummy, sizeof dummy), std::span<const std::uint8_t, 8>(salt))) {
        if (auto sealed = aes256_cbc_encrypt(*key_iv, ByteView(dummy, sizeof dummy))) (void)aes256_cbc_decrypt(*key_iv, *sealed);
        wipe(key_iv->key);
        wipe(key_iv->iv);
    }
}

}  // namespace portcullis::auth
