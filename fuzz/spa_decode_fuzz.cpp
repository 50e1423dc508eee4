// Fuzz target for the SPA acceptance path. The first byte picks the layer (mod 6), so the fuzzer
// reaches the code behind the HMAC too, which it could never forge:
//   0  wire text -> open_packet (size, alphabet, prefix, HMAC)
//   1  plaintext -> parse_plaintext (digest and fields)
//   2  plaintext -> encrypted and authenticated with the fuzz key -> open_packet (decrypt path)
//   3  wire text -> SpaVerifier::verify (replay cache, window, decision)
//   4  key file text -> parse_key_text
//   5  replay cache JSON -> ReplayCache::from_json
// Seeds: fuzz/corpus/spa/ (made from the fwknop known-answer vectors).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/replay_cache.hpp"
#include "auth/spa_codec.hpp"
#include "auth/spa_keys.hpp"
#include "auth/spa_message.hpp"
#include "auth/spa_verifier.hpp"

namespace {

using namespace portcullis::auth;

// The keys of tests/unit/auth/vectors/access_tcp22.vec, so seeds made from it authenticate.
const KeyMaterial& fuzz_keys() {
    static const KeyMaterial keys = *key_material_from_base64(
        "fyZttShtB20yKVNDeHSdHS6GQNJhZ6yAVMWxzfomFPk=",
        "80lT2Z1ZoVCX4GOY+Q9Vo3P8qmRD1GahOty9pkE7shhaMIb1N2eHREflqE4VORVmmfmc+XW/suhvtDnGxj+EuQ==");
    return keys;
}

volatile std::size_t sink = 0;

void consume(const tl::expected<OpenedPacket, Reject>& opened) {
    if (!opened) {
        sink = sink + static_cast<std::size_t>(opened.error());
        return;
    }
    const SpaMessage& m = opened->message;
    sink = sink + m.random.size() + m.username.size() + static_cast<std::size_t>(m.timestamp) + m.access.size() +
           m.allow_address.size() + m.client_timeout.value_or(0);
}

std::string authenticated_packet(std::string_view plaintext) {
    std::array<std::uint8_t, 8> salt{9, 8, 7, 6, 5, 4, 3, 2};
    auto key_iv = derive_key_iv(fuzz_keys().key, salt);
    auto ciphertext = aes256_cbc_encrypt(*key_iv, view_of(plaintext));
    ByteVector raw{'S', 'a', 'l', 't', 'e', 'd', '_', '_'};
    raw.insert(raw.end(), salt.begin(), salt.end());
    raw.insert(raw.end(), ciphertext->begin(), ciphertext->end());
    std::string prefixed = base64_encode_unpadded(raw);
    std::string body = prefixed.substr(kSaltedPrefixBase64.size());
    return body + base64_encode_unpadded(hmac_sha256(fuzz_keys().hmac_key, view_of(prefixed)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    int mode = data[0] % 6;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const KeyMaterial* candidates[] = {&fuzz_keys()};

    switch (mode) {
        case 0:
            consume(open_packet(text, candidates));
            break;
        case 1: {
            auto parsed = parse_plaintext(text);
            sink = sink + (parsed ? parsed->access.size() : static_cast<std::size_t>(parsed.error()));
            break;
        }
        case 2:
            if (text.size() <= 1200) consume(open_packet(authenticated_packet(text), candidates));
            break;
        case 3: {
            static ReplayCache cache(64);
            SpaKey key;
            key.name = "fuzz";
            key.material = fuzz_keys();
            key.services = {"ssh", "ipsec"};
            static auto verifier =
                SpaVerifier::create({key}, {{"ssh", {{6, 22, 22}}}, {"ipsec", {{17, 500, 500}, {17, 4500, 4500}, {50, 0, 0}}}},
                                    {}, cache);
            auto address = portcullis::Address::parse("203.0.113.10");
            // Around the vectors' timestamps so fresh packets from the seeds pass the window.
            auto verdict = verifier->verify(text, *address, 1795406027);
            sink = sink + (verdict ? verdict->decision.services.size() : static_cast<std::size_t>(verdict.error()));
            break;
        }
        case 4: {
            auto material = parse_key_text(text);
            sink = sink + (material ? material->key.size() : material.error().message.size());
            break;
        }
        case 5: {
            ReplayCache cache(16);
            auto loaded = cache.from_json(text, 0);
            sink = sink + (loaded ? cache.size() : loaded.error().message.size());
            if (loaded) sink = sink + cache.to_json().size();
            break;
        }
    }
    return 0;
}
