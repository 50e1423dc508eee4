// Our encoder against our decoder, and every refusal of the wire layer.
#include <gtest/gtest.h>

#include <set>

#include "auth/spa_codec.hpp"
#include "auth/spa_crypto.hpp"
#include "auth/spa_message.hpp"
#include "vector_file.hpp"

namespace portcullis::auth {
namespace {

SpaMessage sample_message() {
    SpaMessage message;
    message.random = "1234567890123456";
    message.username = "alice";
    message.timestamp = 1700000000;
    message.version = "3.0.0";
    message.type = MessageType::access;
    message.allow_address = "203.0.113.10";
    message.access = {{AccessProtocol::tcp, 22}};
    return message;
}

KeyMaterial sample_keys() { return testing::vector_keys(testing::read_vector("access_tcp22")); }

tl::expected<OpenedPacket, Reject> open_with(const std::string& wire, const KeyMaterial& keys) {
    const KeyMaterial* candidates[] = {&keys};
    return open_packet(wire, candidates);
}

Reject refusal(const std::string& wire, const KeyMaterial& keys) {
    auto opened = open_with(wire, keys);
    EXPECT_FALSE(opened) << "accepted: " << wire;
    return opened ? Reject::malformed : opened.error();
}

// Re-authenticates a modified body so the test reaches the layers behind the HMAC.
std::string with_valid_hmac(const std::string& body, const KeyMaterial& keys) {
    std::string prefixed = std::string(kSaltedPrefixBase64) + body;
    return body + base64_encode_unpadded(hmac_sha256(keys.hmac_key, view_of(prefixed)));
}

std::string encrypt_plaintext(const std::string& plaintext, const KeyMaterial& keys) {
    std::array<std::uint8_t, 8> salt{1, 2, 3, 4, 5, 6, 7, 8};
    auto key_iv = derive_key_iv(keys.key, salt);
    auto ciphertext = aes256_cbc_encrypt(*key_iv, view_of(plaintext));
    ByteVector raw{'S', 'a', 'l', 't', 'e', 'd', '_', '_'};
    raw.insert(raw.end(), salt.begin(), salt.end());
    raw.insert(raw.end(), ciphertext->begin(), ciphertext->end());
    return with_valid_hmac(base64_encode_unpadded(raw).substr(kSaltedPrefixBase64.size()), keys);
}

TEST(Base64, UnpaddedRoundTripAndStrictness) {
    for (std::string text : {"", "a", "ab", "abc", "abcd", "Salted__"}) {
        std::string encoded = base64_encode_unpadded(view_of(text));
        EXPECT_EQ(encoded.find('='), std::string::npos);
        auto decoded = base64_decode_unpadded(encoded);
        ASSERT_TRUE(decoded);
        EXPECT_EQ(std::string(decoded->begin(), decoded->end()), text);
    }
    EXPECT_EQ(base64_encode_unpadded(view_of(std::string("Salted__"))).substr(0, 10), kSaltedPrefixBase64);
    EXPECT_FALSE(base64_decode_unpadded("YQ=="));   // padding is not part of the wire format
    EXPECT_FALSE(base64_decode_unpadded("YR"));     // non-zero unused bits: a second spelling of "a"
    EXPECT_FALSE(base64_decode_unpadded("Y"));      // impossible length
    EXPECT_FALSE(base64_decode_unpadded("Y-Q"));
}

TEST(KeyDerivation, MatchesOpenSslEncForAKnownPassphrase) {
    // `openssl enc -aes-256-cbc -md md5 -S 0102030405060708 -pass pass:secret -P` prints these.
    std::array<std::uint8_t, 8> salt{1, 2, 3, 4, 5, 6, 7, 8};
    auto derived = derive_key_iv(view_of(std::string("secret")), salt);
    ASSERT_TRUE(derived);
    auto hex = [](auto bytes) {
        std::string out;
        for (std::uint8_t b : bytes) out += "0123456789ABCDEF"[b >> 4], out += "0123456789ABCDEF"[b & 15];
        return out;
    };
    EXPECT_EQ(hex(derived->key), "C9E5A1BD216DBE1317E230CEF48F38EE7F0E17AD64022144BCCEC4A1AA2879AB");
    EXPECT_EQ(hex(derived->iv), "E24B32BBBC4EF02ECBCB6576523AD893");
}

TEST(SpaCodec, RoundTripsAccessMessage) {
    KeyMaterial keys = sample_keys();
    auto wire = encode_packet(sample_message(), keys);
    ASSERT_TRUE(wire) << wire.error();
    EXPECT_FALSE(precheck(*wire));
    auto opened = open_with(*wire, keys);
    ASSERT_TRUE(opened) << to_string(opened.error());
    EXPECT_EQ(opened->message.username, "alice");
    EXPECT_EQ(opened->message.allow_address, "203.0.113.10");
    EXPECT_EQ(opened->message.access, (std::vector<AccessPort>{{AccessProtocol::tcp, 22}}));
    EXPECT_FALSE(opened->message.client_timeout);
}

TEST(SpaCodec, RoundTripsTimeoutIpv6AndManyPorts) {
    KeyMaterial keys = sample_keys();
    SpaMessage message = sample_message();
    message.type = MessageType::client_timeout_access;
    message.client_timeout = 90;
    message.allow_address = "2001:db8::10";
    message.access = {{AccessProtocol::udp, 500}, {AccessProtocol::tcp, 1723}, {AccessProtocol::udp, 1194}};
    auto wire = encode_packet(message, keys);
    ASSERT_TRUE(wire) << wire.error();
    auto opened = open_with(*wire, keys);
    ASSERT_TRUE(opened) << to_string(opened.error());
    EXPECT_EQ(opened->message.client_timeout, 90u);
    EXPECT_EQ(opened->message.allow_address, "2001:db8::10");
    EXPECT_EQ(opened->message.access, message.access);
}

TEST(SpaCodec, SaltMakesEveryPacketDifferent) {
    KeyMaterial keys = sample_keys();
    auto first = encode_packet(sample_message(), keys);
    auto second = encode_packet(sample_message(), keys);
    ASSERT_TRUE(first && second);
    EXPECT_NE(*first, *second);
}

TEST(SpaCodec, PicksTheCandidateWhoseHmacMatches) {
    KeyMaterial alice = sample_keys();
    KeyMaterial bob = testing::vector_keys(testing::read_vector("access_multi"));
    auto wire = encode_packet(sample_message(), bob);
    ASSERT_TRUE(wire);
    const KeyMaterial* candidates[] = {&alice, &bob};
    auto opened = open_packet(*wire, candidates);
    ASSERT_TRUE(opened);
    EXPECT_EQ(opened->key_index, 1u);
}

TEST(SpaCodec, EveryFlippedCharacterIsRefused) {
    KeyMaterial keys = sample_keys();
    auto wire = encode_packet(sample_message(), keys);
    ASSERT_TRUE(wire);
    std::set<Reject> reasons;
    for (std::size_t i = 0; i < wire->size(); ++i) {
        std::string flipped = *wire;
        flipped[i] = flipped[i] == 'A' ? 'B' : 'A';
        auto opened = open_with(flipped, keys);
        ASSERT_FALSE(opened) << "flip at " << i << " accepted";
        reasons.insert(opened.error());
    }
    // A flip in the body or the MAC breaks the MAC (or, in the first chars, makes the prefix).
    for (Reject reason : reasons) EXPECT_TRUE(reason == Reject::bad_hmac || reason == Reject::salt_prefix);
    EXPECT_TRUE(reasons.count(Reject::bad_hmac));
}

TEST(SpaCodec, FlippedBitsInFwknopPacketsAreRefused) {
    for (const char* name : {"access_tcp22", "client_timeout", "passphrase_key"}) {
        auto vec = testing::read_vector(name);
        KeyMaterial keys = testing::vector_keys(vec);
        const std::string& wire = vec["packet"];
        for (std::size_t i = 0; i < wire.size(); ++i) {
            for (char replacement : {'0', 'z', '+', '/'}) {
                if (wire[i] == replacement) continue;
                std::string flipped = wire;
                flipped[i] = replacement;
                EXPECT_FALSE(open_with(flipped, keys)) << name << " flip at " << i;
            }
        }
    }
}

TEST(SpaCodec, SizeAlphabetAndPrefixChecks) {
    KeyMaterial keys = sample_keys();
    auto wire = encode_packet(sample_message(), keys);
    ASSERT_TRUE(wire);
    EXPECT_EQ(refusal(wire->substr(0, kMinPacketLength - 1), keys), Reject::too_short);
    EXPECT_EQ(refusal("", keys), Reject::too_short);
    EXPECT_EQ(refusal(std::string(kMaxPacketLength + 1, 'A'), keys), Reject::too_long);
    EXPECT_EQ(refusal(*wire + "\n", keys), Reject::not_base64);
    EXPECT_EQ(refusal(*wire + "=", keys), Reject::not_base64);
    std::string with_nul = *wire;
    with_nul[50] = '\0';
    EXPECT_EQ(refusal(with_nul, keys), Reject::not_base64);
    // The prefix fwknop strips, put back by someone hoping for a fresh replay digest.
    EXPECT_EQ(refusal(std::string(kSaltedPrefixBase64) + *wire, keys), Reject::salt_prefix);
}

TEST(SpaCodec, PacketWithoutHmacIsMissingHmac) {
    KeyMaterial keys = sample_keys();
    EncodeOptions options;
    options.omit_hmac = true;
    // Which lengths are ambiguous depends on the message; this one is not.
    auto wire = encode_packet(sample_message(), keys, options);
    ASSERT_TRUE(wire);
    EXPECT_EQ(refusal(*wire, keys), Reject::missing_hmac);
}

TEST(SpaCodec, NoCandidateKeysIsUnknownKey) {
    auto wire = encode_packet(sample_message(), sample_keys());
    ASSERT_TRUE(wire);
    auto opened = open_packet(*wire, {});
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error(), Reject::unknown_key);
}

TEST(SpaCodec, LegacyIvIsRecognisedAndRefused) {
    KeyMaterial keys = sample_keys();
    keys.key = ByteVector{'s', 'h', 'o', 'r', 't', 'k', 'e', 'y'};
    EncodeOptions options;
    options.legacy_iv = true;
    auto wire = encode_packet(sample_message(), keys, options);
    ASSERT_TRUE(wire);
    EXPECT_EQ(refusal(*wire, keys), Reject::legacy_iv);
    // The same key without the legacy scheme is fine.
    auto modern = encode_packet(sample_message(), keys);
    ASSERT_TRUE(modern);
    EXPECT_TRUE(open_with(*modern, keys));
}

TEST(SpaCodec, AuthenticatedGpgPayloadIsGpgUnsupported) {
    KeyMaterial keys = sample_keys();
    // An OpenPGP PKESK header (0x85, length, version 3, key id, algorithm) + filler, as fwknop's
    // GnuPG mode sends it: base64 with the constant "hQ" cut off, then the HMAC.
    ByteVector gpg{0x85, 0x01, 0x0c, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 0x01};
    gpg.resize(3 + 0x10c + 40, 0x5a);
    std::string body = base64_encode_unpadded(gpg).substr(2);
    ASSERT_LE(body.size() + kHmacBase64Length, kMaxPacketLength);
    EXPECT_EQ(refusal(with_valid_hmac(body, keys), keys), Reject::gpg_unsupported);
}

TEST(SpaCodec, AuthenticatedGarbageDoesNotDecrypt) {
    KeyMaterial keys = sample_keys();
    auto wire = encode_packet(sample_message(), keys);
    ASSERT_TRUE(wire);
    std::string body = wire->substr(0, wire->size() - kHmacBase64Length);
    body[40] = body[40] == 'Q' ? 'R' : 'Q';  // corrupts a ciphertext block, MAC recomputed
    EXPECT_EQ(refusal(with_valid_hmac(body, keys), keys), Reject::decrypt_failed);
}

TEST(SpaCodec, WrongInnerDigestIsBadDigest) {
    KeyMaterial keys = sample_keys();
    auto plaintext = encode_plaintext(sample_message());
    ASSERT_TRUE(plaintext);
    std::string tampered = *plaintext;
    tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'a' ? 'b' : 'a';
    EXPECT_EQ(refusal(encrypt_plaintext(tampered, keys), keys), Reject::bad_digest);
    // A field changed after the digest was computed.
    std::string changed = *plaintext;
    changed[3] = changed[3] == '9' ? '8' : '9';
    EXPECT_EQ(refusal(encrypt_plaintext(changed, keys), keys), Reject::bad_digest);
}

std::string with_digest(const std::string& fields) {
    return fields + ":" + base64_encode_unpadded(sha256(view_of(fields)));
}

std::string b64(const std::string& text) { return base64_encode_unpadded(view_of(text)); }

TEST(SpaMessageParse, StrictFields) {
    std::string user = b64("alice"), msg = b64("203.0.113.10,tcp/22");
    auto parse = [](const std::string& fields) { return parse_plaintext(with_digest(fields)); };
    EXPECT_TRUE(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + msg));
    EXPECT_EQ(parse("123456789012345:" + user + ":1700000000:3.0.0:1:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("123456789012345x:" + user + ":1700000000:3.0.0:1:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + b64("a:b") + ":1700000000:3.0.0:1:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":-1700000000:3.0.0:1:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":01700000000:3.0.0:1:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0:1:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:7:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:0:" + msg).error(),
              Reject::unsupported_message_type);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:2:" + msg + ":" + b64("192.0.2.1,22")).error(),
              Reject::unsupported_message_type);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + b64("203.0.113.10,icmp/0")).error(),
              Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + b64("203.0.113.10,tcp/0")).error(),
              Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + b64("203.0.113.10,tcp/65536")).error(),
              Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + b64("not-an-ip,tcp/22")).error(),
              Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + b64("203.0.113.10,tcp/22,")).error(),
              Reject::malformed);
    // server_auth after an access message: refused, not ignored.
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:1:" + msg + ":" + b64("crypt,pw")).error(),
              Reject::malformed);
    // client timeout: required for type 3, digits only, 1..65536.
    EXPECT_TRUE(parse("1234567890123456:" + user + ":1700000000:3.0.0:3:" + msg + ":30"));
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:3:" + msg).error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:3:" + msg + ":0").error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:3:" + msg + ":99999").error(), Reject::malformed);
    EXPECT_EQ(parse("1234567890123456:" + user + ":1700000000:3.0.0:3:" + msg + ":3x").error(), Reject::malformed);
    // no digest, short digest
    EXPECT_EQ(parse_plaintext("1234567890123456:" + user).error(), Reject::bad_digest);
    EXPECT_EQ(parse_plaintext("no colon at all").error(), Reject::malformed);
}

TEST(SpaMessageEncode, RefusesWhatTheFormatCannotCarry) {
    SpaMessage message = sample_message();
    message.username = "bad:user";
    EXPECT_FALSE(encode_fields(message));
    message = sample_message();
    message.access.clear();
    EXPECT_FALSE(encode_fields(message));
    message = sample_message();
    message.client_timeout = 30;  // type still 1
    EXPECT_FALSE(encode_fields(message));
    message = sample_message();
    message.allow_address = "example.org";
    EXPECT_FALSE(encode_fields(message));
}

}  // namespace
}  // namespace portcullis::auth
