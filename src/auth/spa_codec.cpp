#include "auth/spa_codec.hpp"

#include <algorithm>
#include <cstring>

#include "auth/spa_message.hpp"

namespace portcullis::auth {
namespace {

constexpr std::string_view kSaltedMagic = "Salted__";
constexpr std::size_t kSaltLength = 8;
constexpr std::size_t kBlock = 16;

// Pre-2.5 fwknop padded short passphrases with '0' to 16 bytes before the MD5 derivation.
ByteVector legacy_passphrase(const ByteVector& key) {
    ByteVector padded = key;
    if (padded.size() < 16) padded.resize(16, '0');
    return padded;
}

std::string mac_text(ByteView hmac_key, std::string_view prefixed_body) {
    return base64_encode_unpadded(hmac_sha256(hmac_key, view_of(prefixed_body)));
}

// Could `prefixed` be the base64 of a Salted__ ciphertext (magic, salt, at least one block)?
bool plausible_ciphertext_length(std::size_t prefixed_length) {
    if (prefixed_length % 4 == 1) return false;
    std::size_t bytes = prefixed_length * 3 / 4;
    return bytes >= kSaltedMagic.size() + kSaltLength + kBlock && (bytes - 16) % kBlock == 0;
}

// An OpenPGP public-key-encrypted session key packet (old format, tag 1, two-byte length,
// version 3) is what fwknop's GnuPG mode sends after cutting its constant "hQ" prefix.
bool looks_like_gpg(std::string_view body) {
    std::string restored = "hQ" + std::string(body);
    // Whole quads only, so trailing-bit canonicality cannot matter: this is just a diagnosis.
    restored.resize(restored.size() - restored.size() % 4);
    auto decoded = base64_decode_unpadded(restored);
    if (!decoded || decoded->size() < 12) return false;
    const auto& b = *decoded;
    std::size_t length = (std::size_t{b[1]} << 8) | b[2];
    return b[0] == 0x85 && b[3] == 3 && length >= 10 && length + 3 <= b.size();
}

std::optional<std::string> decrypt_with(ByteView passphrase, const ByteVector& raw) {
    std::array<std::uint8_t, kSaltLength> salt{};
    std::memcpy(salt.data(), raw.data() + kSaltedMagic.size(), kSaltLength);
    auto key_iv = derive_key_iv(passphrase, salt);
    if (!key_iv) return std::nullopt;
    ByteView ciphertext(raw.data() + 16, raw.size() - 16);
    auto plaintext = aes256_cbc_decrypt(*key_iv, ciphertext);
    wipe(key_iv->key);
    wipe(key_iv->iv);
    if (!plaintext) return std::nullopt;
    std::string text(plaintext->begin(), plaintext->end());
    wipe(*plaintext);
    return text;
}

// A correct decryption starts with fwknop's 16-digit random value and a colon.
bool plausible_plaintext(std::string_view text) {
    if (text.size() < 17 || text[16] != ':') return false;
    return std::all_of(text.begin(), text.begin() + 16, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

tl::expected<std::string, std::string> encode_packet(const SpaMessage& message, const KeyMaterial& keys,
                                                     const EncodeOptions& options) {
    auto plaintext = encode_plaintext(message);
    if (!plaintext) return plaintext;
    if (keys.key.empty() || keys.key.size() > kMaxRijndaelKeyLength)
        return tl::unexpected(std::string("Rijndael key must be 1-32 bytes"));

    std::array<std::uint8_t, kSaltLength> salt{};
    if (options.salt) {
        salt = *options.salt;
    } else if (!random_bytes(salt)) {
        return tl::unexpected(std::string("no randomness for the salt"));
    }
    ByteVector passphrase = options.legacy_iv ? legacy_passphrase(keys.key) : keys.key;
    auto key_iv = derive_key_iv(passphrase, salt);
    wipe(passphrase);
    if (!key_iv) return tl::unexpected(std::string("key derivation failed"));
    auto ciphertext = aes256_cbc_encrypt(*key_iv, view_of(*plaintext));
    wipe(key_iv->key);
    wipe(key_iv->iv);
    if (!ciphertext) return tl::unexpected(std::string("encryption failed"));

    ByteVector raw(kSaltedMagic.begin(), kSaltedMagic.end());
    raw.insert(raw.end(), salt.begin(), salt.end());
    raw.insert(raw.end(), ciphertext->begin(), ciphertext->end());
    std::string prefixed = base64_encode_unpadded(raw);
    std::string wire = prefixed.substr(kSaltedPrefixBase64.size());
    if (!options.omit_hmac) wire += mac_text(keys.hmac_key, prefixed);
    if (wire.size() > kMaxPacketLength) return tl::unexpected(std::string("SPA packet would be too long"));
    return wire;
}

std::optional<Reject> precheck(std::string_view wire) {
    if (wire.size() < kMinPacketLength) return Reject::too_short;
    if (wire.size() > kMaxPacketLength) return Reject::too_long;
    if (!std::all_of(wire.begin(), wire.end(), is_base64_char)) return Reject::not_base64;
    // Someone re-adding the prefix to a seen packet would get a new replay digest; fwknop never
    // sends it, so a packet starting with it is refused outright.
    if (wire.substr(0, kSaltedPrefixBase64.size()) == kSaltedPrefixBase64) return Reject::salt_prefix;
    return std::nullopt;
}

tl::expected<OpenedPacket, Reject> open_packet(std::string_view wire, std::span<const KeyMaterial* const> candidates) {
    auto fail = [](Reject reason) { return tl::unexpected(reason); };
    if (auto reason = precheck(wire)) return fail(*reason);
    if (candidates.empty()) return fail(Reject::unknown_key);

    std::string_view body = wire.substr(0, wire.size() - kHmacBase64Length);
    std::string_view received_mac = wire.substr(wire.size() - kHmacBase64Length);
    std::string prefixed = std::string(kSaltedPrefixBase64) + std::string(body);

    // Every candidate is tried, so the time taken does not say which key (if any) matched.
    std::optional<std::size_t> matched;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        std::string expected = mac_text(candidates[i]->hmac_key, prefixed);
        if (constant_time_equal(view_of(expected), view_of(received_mac)) && !matched) matched = i;
    }
    if (!matched) {
        bool fits_without_mac = plausible_ciphertext_length(wire.size() + kSaltedPrefixBase64.size());
        bool fits_with_mac = plausible_ciphertext_length(prefixed.size());
        return fail(fits_without_mac && !fits_with_mac ? Reject::missing_hmac : Reject::bad_hmac);
    }

    // From here on the sender holds the HMAC key; diagnoses below cannot be probed by strangers.
    const KeyMaterial& keys = *candidates[*matched];
    auto raw = plausible_ciphertext_length(prefixed.size()) ? base64_decode_unpadded(prefixed) : std::nullopt;
    if (!raw) return fail(looks_like_gpg(body) ? Reject::gpg_unsupported : Reject::malformed);

    auto plaintext = decrypt_with(keys.key, *raw);
    if (!plaintext || !plausible_plaintext(*plaintext)) {
        if (looks_like_gpg(body)) return fail(Reject::gpg_unsupported);
        if (keys.key.size() < 16) {
            ByteVector legacy = legacy_passphrase(keys.key);
            auto legacy_text = decrypt_with(legacy, *raw);
            wipe(legacy);
            if (legacy_text && plausible_plaintext(*legacy_text)) return fail(Reject::legacy_iv);
        }
        return fail(Reject::decrypt_failed);
    }
    auto message = parse_plaintext(*plaintext);
    std::fill(plaintext->begin(), plaintext->end(), '\0');
    if (!message) return fail(message.error());
    return OpenedPacket{*matched, std::move(*message)};
}

}  // namespace portcullis::auth
