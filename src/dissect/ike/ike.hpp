#pragma once
// IKEv1/ISAKMP (RFC 2408/2409) and IKEv2 (RFC 7296) messages as zero-copy views.
//
// Every structure that nests (payload chain, SA proposals, transforms, attributes) is walked with a
// small iterator: next() returns the following element or nullopt, and anomaly() then says whether
// the walk ended cleanly (Anomaly::none) or on malformed input. Each walk is capped, and every step
// consumes at least one header's worth of bytes, so a crafted chain can neither loop nor overrun.
#include <cstdint>
#include <optional>
#include <string_view>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::ike {

inline constexpr std::uint16_t kPort = 500;
inline constexpr std::size_t kHeaderSize = 28;
inline constexpr std::size_t kMaxPayloads = 64;
inline constexpr std::size_t kMaxProposals = 64;
inline constexpr std::size_t kMaxTransforms = 128;
inline constexpr std::size_t kMaxAttributes = 64;

// Payload types (IKEv1 1..132, IKEv2 33..53).
namespace payload {
inline constexpr std::uint8_t kNone = 0;
inline constexpr std::uint8_t kV1Sa = 1, kV1Proposal = 2, kV1Transform = 3, kV1KeyExchange = 4,
                              kV1Identification = 5, kV1Certificate = 6, kV1CertRequest = 7,
                              kV1Hash = 8, kV1Signature = 9, kV1Nonce = 10, kV1Notify = 11,
                              kV1Delete = 12, kV1VendorId = 13, kV1Attribute = 14,
                              kV1NatD = 20, kV1NatOa = 21, kV1NatDDraft = 130,
                              kV1NatOaDraft = 131, kV1Fragment = 132;
inline constexpr std::uint8_t kV2Sa = 33, kV2KeyExchange = 34, kV2IdInitiator = 35,
                              kV2IdResponder = 36, kV2Certificate = 37, kV2CertRequest = 38,
                              kV2Auth = 39, kV2Nonce = 40, kV2Notify = 41, kV2Delete = 42,
                              kV2VendorId = 43, kV2TsInitiator = 44, kV2TsResponder = 45,
                              kV2Encrypted = 46, kV2Configuration = 47, kV2Eap = 48,
                              kV2EncryptedFragment = 53;
}  // namespace payload

// Exchange types.
namespace exchange {
inline constexpr std::uint8_t kV1Base = 1, kV1MainMode = 2, kV1AuthOnly = 3, kV1Aggressive = 4,
                              kV1Informational = 5, kV1Transaction = 6, kV1QuickMode = 32,
                              kV1NewGroup = 33;
inline constexpr std::uint8_t kV2IkeSaInit = 34, kV2IkeAuth = 35, kV2CreateChildSa = 36,
                              kV2Informational = 37, kV2IkeSessionResume = 38,
                              kV2Intermediate = 43;
}  // namespace exchange

// Notify message types (the ones diagnose reasons about; any value is exposed as a number).
namespace notify {
// IKEv2 errors
inline constexpr std::uint16_t kV2UnsupportedCriticalPayload = 1, kV2InvalidIkeSpi = 4,
                               kV2InvalidMajorVersion = 5, kV2InvalidSyntax = 7,
                               kV2InvalidMessageId = 9, kV2InvalidSpi = 11,
                               kV2NoProposalChosen = 14, kV2InvalidKePayload = 17,
                               kV2AuthenticationFailed = 24, kV2SinglePairRequired = 34,
                               kV2NoAdditionalSas = 35, kV2InternalAddressFailure = 36,
                               kV2FailedCpRequired = 37, kV2TsUnacceptable = 38,
                               kV2InvalidSelectors = 39, kV2TemporaryFailure = 43,
                               kV2ChildSaNotFound = 44;
// IKEv2 status
inline constexpr std::uint16_t kV2InitialContact = 16384, kV2NatDetectionSourceIp = 16388,
                               kV2NatDetectionDestinationIp = 16389, kV2Cookie = 16390,
                               kV2UseTransportMode = 16391, kV2MobikeSupported = 16396,
                               kV2RedirectSupported = 16406, kV2FragmentationSupported = 16430,
                               kV2SignatureHashAlgorithms = 16431;
// IKEv1 errors (RFC 2408 3.14.1) and status
inline constexpr std::uint16_t kV1InvalidPayloadType = 1, kV1InvalidSpi = 11,
                               kV1NoProposalChosen = 14, kV1PayloadMalformed = 16,
                               kV1InvalidKeyInformation = 17, kV1InvalidIdInformation = 18,
                               kV1InvalidHashInformation = 23, kV1AuthenticationFailed = 24,
                               kV1InvalidSignature = 25;
inline constexpr std::uint16_t kV1Connected = 16384, kV1ResponderLifetime = 24576,
                               kV1ReplayStatus = 24577, kV1InitialContact = 24578,
                               kV1DpdRUThere = 36136, kV1DpdRUThereAck = 36137;
}  // namespace notify

// Protocol IDs in proposals, notifies and deletes.
inline constexpr std::uint8_t kProtocolIke = 1, kProtocolAh = 2, kProtocolEsp = 3;

// IKEv2 transform types and IKEv1 SA attribute types.
namespace transform {
inline constexpr std::uint8_t kV2Encryption = 1, kV2Prf = 2, kV2Integrity = 3,
                              kV2KeyExchange = 4, kV2Esn = 5;
inline constexpr std::uint16_t kAttrKeyLength = 14;  // IKEv2 and IKEv1 both
inline constexpr std::uint16_t kV1AttrEncryption = 1, kV1AttrHash = 2, kV1AttrAuthMethod = 3,
                               kV1AttrGroupDescription = 4, kV1AttrLifeType = 11,
                               kV1AttrLifeDuration = 12;
}  // namespace transform

struct Header {
    std::uint64_t initiator_spi = 0;
    std::uint64_t responder_spi = 0;
    std::uint8_t next_payload = 0;
    std::uint8_t major_version = 0;
    std::uint8_t minor_version = 0;
    std::uint8_t exchange_type = 0;
    std::uint8_t flags = 0;
    std::uint32_t message_id = 0;
    std::uint32_t length = 0;

    bool is_v2() const { return major_version == 2; }
    // IKEv2 flags
    bool v2_initiator() const { return (flags & 0x08) != 0; }
    bool v2_response() const { return (flags & 0x20) != 0; }
    // IKEv1 flags
    bool v1_encrypted() const { return (flags & 0x01) != 0; }
    bool v1_commit() const { return (flags & 0x02) != 0; }
};

struct Payload {
    std::uint8_t type = 0;
    std::uint8_t next_type = 0;
    bool critical = false;     // IKEv2 critical bit
    std::uint16_t length = 0;  // including the 4-byte generic header
    Bytes body;                // after the generic header
    std::size_t offset = 0;    // of the generic header within the message
};

class PayloadChain {
public:
    PayloadChain(Bytes area, std::uint8_t first_type, std::size_t base_offset = kHeaderSize)
        : area_(area), next_type_(first_type), base_offset_(base_offset) {}
    // Stops after SK (46) / SKF (53): their next-payload field names the encrypted first payload.
    std::optional<Payload> next();
    Anomaly anomaly() const { return anomaly_; }

private:
    Bytes area_;
    std::uint8_t next_type_;
    std::size_t base_offset_;
    std::size_t position_ = 0;
    std::size_t count_ = 0;
    bool done_ = false;
    Anomaly anomaly_ = Anomaly::none;
};

class Message {
public:
    // `data` is the UDP payload on 500 or the IKE message after the non-ESP marker on 4500.
    static Parsed<Message> parse(Bytes data);
    static bool valid(Bytes data) { return parse(data).has_value(); }

    const Header& header() const { return header_; }
    bool is_v2() const { return header_.is_v2(); }
    // Whole message clipped to header.length (or to the data, if shorter: truncated()).
    Bytes bytes() const { return bytes_; }
    bool truncated() const { return truncated_; }
    // IKEv1 with the encryption flag: the payloads after the header are ciphertext.
    bool encrypted_v1() const { return !header_.is_v2() && header_.v1_encrypted(); }
    PayloadChain payloads() const;
    // First payload of the given type (the chain walk stops on malformed input).
    std::optional<Payload> find(std::uint8_t type) const;
    // Walks the payload chain and every payload this module parses; first anomaly or none.
    Anomaly validate() const;

private:
    Header header_;
    Bytes bytes_;
    bool truncated_ = false;
};

// ---- SA payload ----
struct Attribute {
    std::uint16_t type = 0;  // without the format bit
    bool short_form = false; // TV: value in the 2-byte field
    std::uint16_t short_value = 0;
    Bytes long_value;
    // Short values, or long values up to 4 bytes, as an integer.
    std::optional<std::uint32_t> integer() const;
};

class AttributeChain {
public:
    explicit AttributeChain(Bytes area) : area_(area) {}
    std::optional<Attribute> next();
    Anomaly anomaly() const { return anomaly_; }

private:
    Bytes area_;
    std::size_t position_ = 0, count_ = 0;
    Anomaly anomaly_ = Anomaly::none;
};

struct Transform {
    bool v2 = false;
    std::uint8_t number = 0;  // IKEv1 transform number
    std::uint8_t type = 0;    // IKEv2 transform type (transform::kV2*); 0 for IKEv1
    std::uint16_t id = 0;     // IKEv2 transform ID, or IKEv1 transform ID (1 = KEY_IKE)
    Bytes attributes;
    AttributeChain attribute_chain() const { return AttributeChain(attributes); }
    std::optional<std::uint32_t> attribute(std::uint16_t attribute_type) const;
    std::optional<std::uint16_t> key_length() const;
    // IKEv2: the ID of a KE (type 4) transform; IKEv1: the Group Description attribute.
    std::optional<std::uint16_t> dh_group() const;
};

class TransformChain {
public:
    TransformChain(Bytes area, bool v2) : area_(area), v2_(v2) {}
    std::optional<Transform> next();
    Anomaly anomaly() const { return anomaly_; }

private:
    Bytes area_;
    bool v2_;
    std::size_t position_ = 0, count_ = 0;
    bool done_ = false;
    Anomaly anomaly_ = Anomaly::none;
};

struct Proposal {
    bool v2 = false;
    std::uint8_t number = 0;
    std::uint8_t protocol_id = 0;  // kProtocolIke/Ah/Esp
    std::uint8_t transform_count = 0;
    Bytes spi;
    Bytes transforms;
    TransformChain transform_chain() const { return TransformChain(transforms, v2); }
};

class ProposalChain {
public:
    ProposalChain(Bytes area, bool v2) : area_(area), v2_(v2) {}
    std::optional<Proposal> next();
    Anomaly anomaly() const { return anomaly_; }

private:
    Bytes area_;
    bool v2_;
    std::size_t position_ = 0, count_ = 0;
    bool done_ = false;
    Anomaly anomaly_ = Anomaly::none;
};

struct SaPayload {
    bool v2 = false;
    std::uint32_t doi = 0;        // IKEv1
    std::uint32_t situation = 0;  // IKEv1
    Bytes proposals;
    ProposalChain proposal_chain() const { return ProposalChain(proposals, v2); }
    static Parsed<SaPayload> parse(const Payload& payload);
};

// ---- other payloads ----
struct KeyExchangePayload {
    std::optional<std::uint16_t> dh_group;  // IKEv2 only; IKEv1 carries it in the SA
    Bytes key_data;
    static Parsed<KeyExchangePayload> parse(const Payload& payload);
};

struct NotifyPayload {
    bool v2 = false;
    std::uint32_t doi = 0;  // IKEv1
    std::uint8_t protocol_id = 0;
    std::uint16_t type = 0;
    Bytes spi;
    Bytes data;
    bool is_error() const { return type < 16384; }
    // INVALID_KE_PAYLOAD carries the accepted group as 2 bytes of data.
    std::optional<std::uint16_t> invalid_ke_group() const;
    static Parsed<NotifyPayload> parse(const Payload& payload);
};

struct DeletePayload {
    bool v2 = false;
    std::uint8_t protocol_id = 0;
    std::uint8_t spi_size = 0;
    std::uint16_t spi_count = 0;
    Bytes spis;
    static Parsed<DeletePayload> parse(const Payload& payload);
};

enum class VendorKind : std::uint8_t {
    unknown,
    nat_t_rfc3947,
    nat_t_draft,       // draft-ietf-ipsec-nat-t-ike-00..03
    fragmentation,     // IKEv1 fragmentation (Cisco / strongSwan / Windows)
    dpd,               // RFC 3706 Dead Peer Detection
    xauth,
    cisco_unity,
    ms_nt5,            // MS NT5 ISAKMPOAKLEY (Windows)
    strongswan,
};
std::string_view vendor_name(VendorKind kind);
VendorKind classify_vendor_id(Bytes id);

struct VendorIdPayload {
    Bytes id;
    VendorKind kind() const { return classify_vendor_id(id); }
    static Parsed<VendorIdPayload> parse(const Payload& payload) { return VendorIdPayload{payload.body}; }
};

// IKEv1 NAT-D (payload 20 / draft 130): body is the hash. IKEv2 uses notifies 16388/16389.
struct NatDetection {
    Bytes hash;
    bool source = false;  // IKEv2 only: NAT_DETECTION_SOURCE_IP
};

struct V2FragmentPayload {  // SKF (RFC 7383)
    std::uint16_t number = 0;
    std::uint16_t total = 0;
    Bytes encrypted;
    static Parsed<V2FragmentPayload> parse(const Payload& payload);
};

struct V1FragmentPayload {  // payload 132
    std::uint16_t id = 0;
    std::uint8_t number = 0;
    bool last = false;
    Bytes data;
    static Parsed<V1FragmentPayload> parse(const Payload& payload);
};

// ---- names (stable strings for reports; "unknown" for unlisted values) ----
std::string_view exchange_name(bool v2, std::uint8_t exchange_type);
std::string_view payload_name(std::uint8_t type);
std::string_view notify_name(bool v2, std::uint16_t type);
std::string_view protocol_name(std::uint8_t protocol_id);
std::string_view transform_type_name(std::uint8_t type);
// IKE DH groups ("modp2048", "ecp256", "curve25519", ...).
std::string_view dh_group_name(std::uint16_t group);

}  // namespace portcullis::dissect::ike
