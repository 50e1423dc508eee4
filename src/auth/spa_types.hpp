#pragma once
// The values SPA decoding produces: the named reasons a packet is refused and the fields of an
// fwknop message. Every refusal is one of these names (a counter and an event, never an exception).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::auth {

enum class Reject : std::uint8_t {
    too_short,                     // payload below the smallest possible fwknop packet
    too_long,                      // payload above the largest packet we accept
    not_base64,                    // a byte outside the base64 alphabet
    salt_prefix,                   // payload starts with "U2FsdGVkX1" (a re-prefixed replay attempt)
    missing_hmac,                  // the length only fits a packet without the trailing HMAC
    malformed,                     // structure or field syntax wrong
    unknown_key,                   // no configured key may be used for this source
    bad_hmac,                      // the HMAC matches none of the candidate keys
    gpg_unsupported,               // authenticated, but the payload is GnuPG, not Rijndael
    legacy_iv,                     // authenticated, but encrypted with the pre-2.5 legacy IV scheme
    decrypt_failed,                // authenticated, but the ciphertext does not decrypt
    bad_digest,                    // inner SHA-256 digest missing, of another type, or wrong
    unsupported_message_type,      // command, NAT or local-NAT messages
    stale,                         // timestamp outside the window (either direction)
    replay,                        // the same packet was accepted before
    replay_cache_full,             // cannot remember this packet, so it must not be accepted
    service_not_allowed,           // a requested port is in no service this key may open
    embedded_address_not_allowed,  // packet asks for another address and the key does not allow it
};

inline constexpr std::size_t kRejectCount = 18;
static_assert(static_cast<std::size_t>(Reject::embedded_address_not_allowed) + 1 == kRejectCount,
              "kRejectCount must follow the last Reject");

std::string_view to_string(Reject reason);

// fwknop message types (FKO_*_MSG). We accept only access and client-timeout access.
enum class MessageType : std::uint8_t {
    command = 0,
    access = 1,
    nat_access = 2,
    client_timeout_access = 3,
    client_timeout_nat_access = 4,
    local_nat_access = 5,
    client_timeout_local_nat_access = 6,
};

enum class AccessProtocol : std::uint8_t { tcp = 6, udp = 17 };

struct AccessPort {
    AccessProtocol protocol = AccessProtocol::tcp;
    std::uint16_t port = 0;
    bool operator==(const AccessPort&) const = default;
};

std::string to_string(const AccessPort& access);  // "tcp/22"

// The decrypted, digest-checked fields of an SPA packet.
struct SpaMessage {
    std::string random;                  // exactly 16 decimal digits
    std::string username;                // decoded
    std::int64_t timestamp = 0;          // client's Unix time
    std::string version;                 // "3.0.0" for fwknop 2.6.x
    MessageType type = MessageType::access;
    std::string allow_address;           // text from the message: "203.0.113.10", "0.0.0.0", an IPv6 literal
    std::vector<AccessPort> access;      // at least one
    std::optional<std::uint32_t> client_timeout;  // only for client_timeout_access
};

}  // namespace portcullis::auth
