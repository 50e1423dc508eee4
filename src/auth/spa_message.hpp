#pragma once
// The plaintext layer of an fwknop SPA packet:
//   random:b64(user):timestamp:version:type:b64("ADDR,proto/port[,proto/port]")[:timeout]:b64(sha256)
// Serialisation for our client, strict parsing (with the inner digest check) for the verifier.
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "auth/spa_types.hpp"

namespace portcullis::auth {

inline constexpr std::size_t kMaxUsernameLength = 64;     // fwknop MAX_SPA_USERNAME_SIZE
inline constexpr std::size_t kMaxMessageLength = 256;     // fwknop MAX_SPA_MESSAGE_SIZE
inline constexpr std::size_t kMaxAccessEntries = 16;
inline constexpr std::uint32_t kMaxClientTimeout = 65536; // fwknop caps the field at 2<<15

// fwknop's username rule: printable ASCII without " / \ [ ] : ; | = , + * ? < >.
bool valid_username(std::string_view username);

// "tcp/22" or "udp/500"; icmp and "none" are not accepted.
tl::expected<AccessPort, std::string> parse_access_port(std::string_view text);

// The message text after the address: "tcp/22,udp/500".
tl::expected<std::vector<AccessPort>, std::string> parse_access_list(std::string_view text);

// The fields joined by ':' without the digest (fwknop's "encoded data"). Fails on values that the
// format cannot carry (bad username, empty access list, random not 16 digits, ...).
tl::expected<std::string, std::string> encode_fields(const SpaMessage& message);

// encode_fields plus ":" and the unpadded base64 SHA-256 of it: the text that gets encrypted.
tl::expected<std::string, std::string> encode_plaintext(const SpaMessage& message);

// Parses a decrypted plaintext: checks the trailing digest (bad_digest), then every field
// (malformed / unsupported_message_type). Does not look at the clock.
tl::expected<SpaMessage, Reject> parse_plaintext(std::string_view plaintext);

}  // namespace portcullis::auth
