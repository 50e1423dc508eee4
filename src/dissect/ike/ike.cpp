#include "dissect/ike/ike.hpp"

namespace portcullis::dissect::ike {

// ---- message and payload chain ----

Parsed<Message> Message::parse(Bytes data) {
    if (data.size() < kHeaderSize) return reject(Anomaly::ike_truncated);
    Message view;
    Header& h = view.header_;
    h.initiator_spi = *read_be64(data, 0);
    h.responder_spi = *read_be64(data, 8);
    h.next_payload = *read_u8(data, 16);
    auto version = *read_u8(data, 17);
    h.major_version = static_cast<std::uint8_t>(version >> 4);
    h.minor_version = static_cast<std::uint8_t>(version & 0x0f);
    h.exchange_type = *read_u8(data, 18);
    h.flags = *read_u8(data, 19);
    h.message_id = *read_be32(data, 20);
    h.length = *read_be32(data, 24);
    if (h.major_version != 1 && h.major_version != 2) return reject(Anomaly::ike_bad_version);
    if (h.length < kHeaderSize) return reject(Anomaly::ike_bad_length);
    std::size_t length = h.length;
    if (length > data.size()) {
        view.truncated_ = true;
        length = data.size();
    }
    view.bytes_ = data.subspan(0, length);
    return view;
}

PayloadChain Message::payloads() const {
    std::uint8_t first = encrypted_v1() ? payload::kNone : header_.next_payload;
    return PayloadChain(bytes_.subspan(kHeaderSize), first);
}

std::optional<Payload> Message::find(std::uint8_t type) const {
    auto chain = payloads();
    while (auto item = chain.next()) {
        if (item->type == type) return item;
    }
    return std::nullopt;
}

std::optional<Payload> PayloadChain::next() {
    if (done_ || next_type_ == payload::kNone) return std::nullopt;
    auto fail = [&](Anomaly anomaly) -> std::optional<Payload> {
        anomaly_ = anomaly;
        done_ = true;
        return std::nullopt;
    };
    if (count_ == kMaxPayloads) return fail(Anomaly::ike_payload_chain_too_long);
    auto next_type = read_u8(area_, position_);
    auto flags = read_u8(area_, position_ + 1);
    auto length = read_be16(area_, position_ + 2);
    if (!next_type || !flags || !length) return fail(Anomaly::ike_payload_truncated);
    if (*length < 4) return fail(Anomaly::ike_payload_bad_length);
    if (*length > area_.size() - position_) return fail(Anomaly::ike_payload_truncated);
    Payload item;
    item.type = next_type_;
    item.next_type = *next_type;
    item.critical = (*flags & 0x80) != 0;
    item.length = *length;
    item.body = area_.subspan(position_ + 4, *length - 4u);
    item.offset = base_offset_ + position_;
    position_ += *length;
    ++count_;
    next_type_ = *next_type;
    // SK and SKF are last; their next-payload names the first payload inside the ciphertext.
    if (item.type == payload::kV2Encrypted || item.type == payload::kV2EncryptedFragment)
        done_ = true;
    return item;
}

// ---- SA: proposals, transforms, attributes ----

std::optional<std::uint32_t> Attribute::integer() const {
    if (short_form) return short_value;
    if (long_value.empty() || long_value.size() > 4) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < long_value.size(); ++i)
        value = (value << 8) | *read_u8(long_value, i);
    return value;
}

std::optional<Attribute> AttributeChain::next() {
    if (anomaly_ != Anomaly::none || position_ >= area_.size()) return std::nullopt;
    if (count_ == kMaxAttributes) {
        anomaly_ = Anomaly::ike_attribute_chain_too_long;
        return std::nullopt;
    }
    auto type = read_be16(area_, position_);
    auto value = read_be16(area_, position_ + 2);
    if (!type || !value) {
        anomaly_ = Anomaly::ike_attribute_truncated;
        return std::nullopt;
    }
    Attribute attribute;
    attribute.type = static_cast<std::uint16_t>(*type & 0x7fff);
    attribute.short_form = (*type & 0x8000) != 0;
    if (attribute.short_form) {
        attribute.short_value = *value;
        position_ += 4;
    } else {
        auto body = slice(area_, position_ + 4, *value);
        if (!body) {
            anomaly_ = Anomaly::ike_attribute_truncated;
            return std::nullopt;
        }
        attribute.long_value = *body;
        position_ += 4 + std::size_t{*value};
    }
    ++count_;
    return attribute;
}

std::optional<std::uint32_t> Transform::attribute(std::uint16_t attribute_type) const {
    auto chain = attribute_chain();
    while (auto item = chain.next()) {
        if (item->type == attribute_type) return item->integer();
    }
    return std::nullopt;
}

std::optional<std::uint16_t> Transform::key_length() const {
    auto value = attribute(transform::kAttrKeyLength);
    if (!value) return std::nullopt;
    return static_cast<std::uint16_t>(*value);
}

std::optional<std::uint16_t> Transform::dh_group() const {
    if (v2) {
        if (type == transform::kV2KeyExchange) return id;
        return std::nullopt;
    }
    auto value = attribute(transform::kV1AttrGroupDescription);
    if (!value) return std::nullopt;
    return static_cast<std::uint16_t>(*value);
}

std::optional<Transform> TransformChain::next() {
    if (done_ || position_ >= area_.size()) return std::nullopt;
    auto fail = [&](Anomaly anomaly) -> std::optional<Transform> {
        anomaly_ = anomaly;
        done_ = true;
        return std::nullopt;
    };
    if (count_ == kMaxTransforms) return fail(Anomaly::ike_transform_chain_too_long);
    if (area_.size() - position_ < 8) return fail(Anomaly::ike_transform_truncated);
    auto more = *read_u8(area_, position_);
    auto length = *read_be16(area_, position_ + 2);
    if (length < 8) return fail(Anomaly::ike_transform_bad_length);
    if (length > area_.size() - position_) return fail(Anomaly::ike_transform_truncated);
    Transform item;
    item.v2 = v2_;
    if (v2_) {
        item.type = *read_u8(area_, position_ + 4);
        item.id = *read_be16(area_, position_ + 6);
    } else {
        item.number = *read_u8(area_, position_ + 4);
        item.id = *read_u8(area_, position_ + 5);
    }
    item.attributes = area_.subspan(position_ + 8, length - 8u);
    position_ += length;
    ++count_;
    if (more == 0) done_ = true;
    return item;
}

std::optional<Proposal> ProposalChain::next() {
    if (done_ || position_ >= area_.size()) return std::nullopt;
    auto fail = [&](Anomaly anomaly) -> std::optional<Proposal> {
        anomaly_ = anomaly;
        done_ = true;
        return std::nullopt;
    };
    if (count_ == kMaxProposals) return fail(Anomaly::ike_proposal_chain_too_long);
    if (area_.size() - position_ < 8) return fail(Anomaly::ike_proposal_truncated);
    auto more = *read_u8(area_, position_);
    auto length = *read_be16(area_, position_ + 2);
    Proposal item;
    item.v2 = v2_;
    item.number = *read_u8(area_, position_ + 4);
    item.protocol_id = *read_u8(area_, position_ + 5);
    auto spi_size = *read_u8(area_, position_ + 6);
    item.transform_count = *read_u8(area_, position_ + 7);
    if (length < 8u + spi_size) return fail(Anomaly::ike_proposal_bad_length);
    if (length > area_.size() - position_) return fail(Anomaly::ike_proposal_truncated);
    item.spi = area_.subspan(position_ + 8, spi_size);
    item.transforms = area_.subspan(position_ + 8 + spi_size, length - 8u - spi_size);
    position_ += length;
    ++count_;
    if (more == 0) done_ = true;
    return item;
}

Parsed<SaPayload> SaPayload::parse(const Payload& payload) {
    SaPayload sa;
    sa.v2 = payload.type == payload::kV2Sa;
    if (sa.v2) {
        sa.proposals = payload.body;
        return sa;
    }
    auto doi = read_be32(payload.body, 0);
    auto situation = read_be32(payload.body, 4);
    if (!doi || !situation) return reject(Anomaly::ike_payload_body_truncated);
    sa.doi = *doi;
    sa.situation = *situation;
    sa.proposals = payload.body.subspan(8);
    return sa;
}

// ---- other payloads ----

Parsed<KeyExchangePayload> KeyExchangePayload::parse(const Payload& payload) {
    KeyExchangePayload ke;
    if (payload.type != payload::kV2KeyExchange) {
        ke.key_data = payload.body;
        return ke;
    }
    auto group = read_be16(payload.body, 0);
    if (!group || payload.body.size() < 4) return reject(Anomaly::ike_payload_body_truncated);
    ke.dh_group = *group;
    ke.key_data = payload.body.subspan(4);
    return ke;
}

Parsed<NotifyPayload> NotifyPayload::parse(const Payload& payload) {
    NotifyPayload notify;
    notify.v2 = payload.type == payload::kV2Notify;
    std::size_t offset = 0;
    if (!notify.v2) {
        auto doi = read_be32(payload.body, 0);
        if (!doi) return reject(Anomaly::ike_payload_body_truncated);
        notify.doi = *doi;
        offset = 4;
    }
    auto protocol = read_u8(payload.body, offset);
    auto spi_size = read_u8(payload.body, offset + 1);
    auto type = read_be16(payload.body, offset + 2);
    if (!protocol || !spi_size || !type) return reject(Anomaly::ike_payload_body_truncated);
    auto spi = slice(payload.body, offset + 4, *spi_size);
    if (!spi) return reject(Anomaly::ike_payload_body_truncated);
    notify.protocol_id = *protocol;
    notify.type = *type;
    notify.spi = *spi;
    notify.data = payload.body.subspan(offset + 4 + *spi_size);
    return notify;
}

std::optional<std::uint16_t> NotifyPayload::invalid_ke_group() const {
    if (!v2 || type != notify::kV2InvalidKePayload) return std::nullopt;
    return read_be16(data, 0);
}

Parsed<DeletePayload> DeletePayload::parse(const Payload& payload) {
    DeletePayload del;
    del.v2 = payload.type == payload::kV2Delete;
    std::size_t offset = del.v2 ? 0 : 4;
    auto protocol = read_u8(payload.body, offset);
    auto spi_size = read_u8(payload.body, offset + 1);
    auto count = read_be16(payload.body, offset + 2);
    if (!protocol || !spi_size || !count) return reject(Anomaly::ike_payload_body_truncated);
    auto spis = slice(payload.body, offset + 4, std::size_t{*spi_size} * *count);
    if (!spis) return reject(Anomaly::ike_payload_body_truncated);
    del.protocol_id = *protocol;
    del.spi_size = *spi_size;
    del.spi_count = *count;
    del.spis = *spis;
    return del;
}

Parsed<V2FragmentPayload> V2FragmentPayload::parse(const Payload& payload) {
    auto number = read_be16(payload.body, 0);
    auto total = read_be16(payload.body, 2);
    if (!number || !total) return reject(Anomaly::ike_payload_body_truncated);
    return V2FragmentPayload{*number, *total, payload.body.subspan(4)};
}

Parsed<V1FragmentPayload> V1FragmentPayload::parse(const Payload& payload) {
    auto id = read_be16(payload.body, 0);
    auto number = read_u8(payload.body, 2);
    auto flags = read_u8(payload.body, 3);
    if (!id || !number || !flags) return reject(Anomaly::ike_payload_body_truncated);
    return V1FragmentPayload{*id, *number, (*flags & 0x01) != 0, payload.body.subspan(4)};
}

namespace {

Anomaly validate_sa(const Payload& payload) {
    auto sa = SaPayload::parse(payload);
    if (!sa) return sa.error();
    auto proposals = sa->proposal_chain();
    while (auto proposal = proposals.next()) {
        auto transforms = proposal->transform_chain();
        while (auto item = transforms.next()) {
            auto attributes = item->attribute_chain();
            while (attributes.next()) {
            }
            if (attributes.anomaly() != Anomaly::none) return attributes.anomaly();
        }
        if (transforms.anomaly() != Anomaly::none) return transforms.anomaly();
    }
    return proposals.anomaly();
}

template <typename View>
Anomaly check(const Payload& payload) {
    auto parsed = View::parse(payload);
    return parsed ? Anomaly::none : parsed.error();
}

}  // namespace

Anomaly Message::validate() const {
    if (truncated_) return Anomaly::ike_length_exceeds_data;
    auto chain = payloads();
    while (auto item = chain.next()) {
        Anomaly found = Anomaly::none;
        switch (item->type) {
        case payload::kV1Sa:
        case payload::kV2Sa: found = validate_sa(*item); break;
        case payload::kV2KeyExchange: found = check<KeyExchangePayload>(*item); break;
        case payload::kV1Notify:
        case payload::kV2Notify: found = check<NotifyPayload>(*item); break;
        case payload::kV1Delete:
        case payload::kV2Delete: found = check<DeletePayload>(*item); break;
        case payload::kV2EncryptedFragment: found = check<V2FragmentPayload>(*item); break;
        case payload::kV1Fragment: found = check<V1FragmentPayload>(*item); break;
        default: break;
        }
        if (found != Anomaly::none) return found;
    }
    return chain.anomaly();
}

// ---- vendor IDs ----

namespace {

struct KnownVendor {
    VendorKind kind;
    const char* hex;  // prefix to match
};

constexpr KnownVendor kKnownVendors[] = {
    {VendorKind::nat_t_rfc3947, "4a131c81070358455c5728f20e95452f"},
    {VendorKind::nat_t_draft, "4485152d18b6bbcd0be8a8469579ddcc"},  // -00
    {VendorKind::nat_t_draft, "16f6ca16e4a4066d83821a0f0aeaa862"},  // -01
    {VendorKind::nat_t_draft, "cd60464335df21f87cfdb2fc68b6a448"},  // -02
    {VendorKind::nat_t_draft, "90cb80913ebb696e086381b5ec427b1f"},  // -02\n
    {VendorKind::nat_t_draft, "7d9419a65310ca6f2c179d9215529d56"},  // -03
    {VendorKind::nat_t_draft, "439b59f8ba676c4c7737ae22eab8f582"},  // -07
    {VendorKind::nat_t_draft, "27bab5dc01ea0760ea4e3190ac27c0d0"},  // draft-stenberg-01
    {VendorKind::nat_t_draft, "6105c422e76847e43f9684801292aecd"},  // draft-stenberg-02
    {VendorKind::fragmentation, "4048b7d56ebce88525e7de7f00d6c2d3"},
    {VendorKind::dpd, "afcad71368a1f1c96b8696fc7757"},
    {VendorKind::xauth, "09002689dfd6b712"},
    {VendorKind::cisco_unity, "12f5f28c457168a9702d9fe274cc"},
    {VendorKind::ms_nt5, "1e2b516905991c7d7c96fcbfb587e461"},
    {VendorKind::strongswan, "882fe56d6fd20dbc2251613b2ebe5beb"},
};

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    return c - 'a' + 10;
}

bool matches_prefix(Bytes id, const char* hex) {
    std::size_t i = 0;
    for (; hex[2 * i] != '\0'; ++i) {
        auto byte = read_u8(id, i);
        int expected = hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]);
        if (!byte || *byte != expected) return false;
    }
    return true;
}

}  // namespace

VendorKind classify_vendor_id(Bytes id) {
    for (const auto& known : kKnownVendors) {
        if (matches_prefix(id, known.hex)) return known.kind;
    }
    return VendorKind::unknown;
}

std::string_view vendor_name(VendorKind kind) {
    switch (kind) {
    case VendorKind::unknown: return "unknown";
    case VendorKind::nat_t_rfc3947: return "RFC 3947 NAT-T";
    case VendorKind::nat_t_draft: return "draft NAT-T";
    case VendorKind::fragmentation: return "IKE fragmentation";
    case VendorKind::dpd: return "Dead Peer Detection";
    case VendorKind::xauth: return "XAUTH";
    case VendorKind::cisco_unity: return "Cisco Unity";
    case VendorKind::ms_nt5: return "MS NT5 ISAKMPOAKLEY";
    case VendorKind::strongswan: return "strongSwan";
    }
    return "unknown";
}

// ---- names ----

std::string_view exchange_name(bool v2, std::uint8_t type) {
    if (v2) {
        switch (type) {
        case exchange::kV2IkeSaInit: return "IKE_SA_INIT";
        case exchange::kV2IkeAuth: return "IKE_AUTH";
        case exchange::kV2CreateChildSa: return "CREATE_CHILD_SA";
        case exchange::kV2Informational: return "INFORMATIONAL";
        case exchange::kV2IkeSessionResume: return "IKE_SESSION_RESUME";
        case exchange::kV2Intermediate: return "IKE_INTERMEDIATE";
        }
        return "unknown";
    }
    switch (type) {
    case exchange::kV1Base: return "Base";
    case exchange::kV1MainMode: return "Identity Protection (Main Mode)";
    case exchange::kV1AuthOnly: return "Authentication Only";
    case exchange::kV1Aggressive: return "Aggressive";
    case exchange::kV1Informational: return "Informational";
    case exchange::kV1Transaction: return "Transaction (Config Mode)";
    case exchange::kV1QuickMode: return "Quick Mode";
    case exchange::kV1NewGroup: return "New Group Mode";
    }
    return "unknown";
}

std::string_view payload_name(std::uint8_t type) {
    switch (type) {
    case payload::kNone: return "NONE";
    case payload::kV1Sa: return "SA";
    case payload::kV1Proposal: return "P";
    case payload::kV1Transform: return "T";
    case payload::kV1KeyExchange: return "KE";
    case payload::kV1Identification: return "ID";
    case payload::kV1Certificate: return "CERT";
    case payload::kV1CertRequest: return "CR";
    case payload::kV1Hash: return "HASH";
    case payload::kV1Signature: return "SIG";
    case payload::kV1Nonce: return "NONCE";
    case payload::kV1Notify: return "N";
    case payload::kV1Delete: return "D";
    case payload::kV1VendorId: return "VID";
    case payload::kV1Attribute: return "ATTR";
    case payload::kV1NatD: return "NAT-D";
    case payload::kV1NatOa: return "NAT-OA";
    case payload::kV1NatDDraft: return "NAT-D (draft)";
    case payload::kV1NatOaDraft: return "NAT-OA (draft)";
    case payload::kV1Fragment: return "FRAG";
    case payload::kV2Sa: return "SA";
    case payload::kV2KeyExchange: return "KE";
    case payload::kV2IdInitiator: return "IDi";
    case payload::kV2IdResponder: return "IDr";
    case payload::kV2Certificate: return "CERT";
    case payload::kV2CertRequest: return "CERTREQ";
    case payload::kV2Auth: return "AUTH";
    case payload::kV2Nonce: return "Ni/Nr";
    case payload::kV2Notify: return "N";
    case payload::kV2Delete: return "D";
    case payload::kV2VendorId: return "V";
    case payload::kV2TsInitiator: return "TSi";
    case payload::kV2TsResponder: return "TSr";
    case payload::kV2Encrypted: return "SK";
    case payload::kV2Configuration: return "CP";
    case payload::kV2Eap: return "EAP";
    case payload::kV2EncryptedFragment: return "SKF";
    }
    return "unknown";
}

std::string_view notify_name(bool v2, std::uint16_t type) {
    if (v2) {
        switch (type) {
        case 1: return "UNSUPPORTED_CRITICAL_PAYLOAD";
        case 4: return "INVALID_IKE_SPI";
        case 5: return "INVALID_MAJOR_VERSION";
        case 7: return "INVALID_SYNTAX";
        case 9: return "INVALID_MESSAGE_ID";
        case 11: return "INVALID_SPI";
        case 14: return "NO_PROPOSAL_CHOSEN";
        case 17: return "INVALID_KE_PAYLOAD";
        case 24: return "AUTHENTICATION_FAILED";
        case 34: return "SINGLE_PAIR_REQUIRED";
        case 35: return "NO_ADDITIONAL_SAS";
        case 36: return "INTERNAL_ADDRESS_FAILURE";
        case 37: return "FAILED_CP_REQUIRED";
        case 38: return "TS_UNACCEPTABLE";
        case 39: return "INVALID_SELECTORS";
        case 40: return "UNACCEPTABLE_ADDRESSES";
        case 41: return "UNEXPECTED_NAT_DETECTED";
        case 42: return "USE_ASSIGNED_HoA";
        case 43: return "TEMPORARY_FAILURE";
        case 44: return "CHILD_SA_NOT_FOUND";
        case 45: return "INVALID_GROUP_ID";
        case 46: return "AUTHORIZATION_FAILED";
        case 16384: return "INITIAL_CONTACT";
        case 16385: return "SET_WINDOW_SIZE";
        case 16386: return "ADDITIONAL_TS_POSSIBLE";
        case 16387: return "IPCOMP_SUPPORTED";
        case 16388: return "NAT_DETECTION_SOURCE_IP";
        case 16389: return "NAT_DETECTION_DESTINATION_IP";
        case 16390: return "COOKIE";
        case 16391: return "USE_TRANSPORT_MODE";
        case 16392: return "HTTP_CERT_LOOKUP_SUPPORTED";
        case 16393: return "REKEY_SA";
        case 16394: return "ESP_TFC_PADDING_NOT_SUPPORTED";
        case 16395: return "NON_FIRST_FRAGMENTS_ALSO";
        case 16396: return "MOBIKE_SUPPORTED";
        case 16397: return "ADDITIONAL_IP4_ADDRESS";
        case 16398: return "ADDITIONAL_IP6_ADDRESS";
        case 16399: return "NO_ADDITIONAL_ADDRESSES";
        case 16400: return "UPDATE_SA_ADDRESSES";
        case 16401: return "COOKIE2";
        case 16402: return "NO_NATS_ALLOWED";
        case 16403: return "AUTH_LIFETIME";
        case 16404: return "MULTIPLE_AUTH_SUPPORTED";
        case 16405: return "ANOTHER_AUTH_FOLLOWS";
        case 16406: return "REDIRECT_SUPPORTED";
        case 16407: return "REDIRECT";
        case 16408: return "REDIRECTED_FROM";
        case 16417: return "EAP_ONLY_AUTHENTICATION";
        case 16418: return "CHILDLESS_IKEV2_SUPPORTED";
        case 16430: return "IKEV2_FRAGMENTATION_SUPPORTED";
        case 16431: return "SIGNATURE_HASH_ALGORITHMS";
        case 16432: return "CLONE_IKE_SA_SUPPORTED";
        case 16433: return "CLONE_IKE_SA";
        case 16434: return "PUZZLE";
        case 16435: return "USE_PPK";
        case 16436: return "PPK_IDENTITY";
        case 16437: return "NO_PPK_AUTH";
        case 16438: return "INTERMEDIATE_EXCHANGE_SUPPORTED";
        }
        return "unknown";
    }
    switch (type) {
    case 1: return "INVALID-PAYLOAD-TYPE";
    case 2: return "DOI-NOT-SUPPORTED";
    case 3: return "SITUATION-NOT-SUPPORTED";
    case 4: return "INVALID-COOKIE";
    case 5: return "INVALID-MAJOR-VERSION";
    case 6: return "INVALID-MINOR-VERSION";
    case 7: return "INVALID-EXCHANGE-TYPE";
    case 8: return "INVALID-FLAGS";
    case 9: return "INVALID-MESSAGE-ID";
    case 10: return "INVALID-PROTOCOL-ID";
    case 11: return "INVALID-SPI";
    case 12: return "INVALID-TRANSFORM-ID";
    case 13: return "ATTRIBUTES-NOT-SUPPORTED";
    case 14: return "NO-PROPOSAL-CHOSEN";
    case 15: return "BAD-PROPOSAL-SYNTAX";
    case 16: return "PAYLOAD-MALFORMED";
    case 17: return "INVALID-KEY-INFORMATION";
    case 18: return "INVALID-ID-INFORMATION";
    case 19: return "INVALID-CERT-ENCODING";
    case 20: return "INVALID-CERTIFICATE";
    case 21: return "CERT-TYPE-UNSUPPORTED";
    case 22: return "INVALID-CERT-AUTHORITY";
    case 23: return "INVALID-HASH-INFORMATION";
    case 24: return "AUTHENTICATION-FAILED";
    case 25: return "INVALID-SIGNATURE";
    case 26: return "ADDRESS-NOTIFICATION";
    case 27: return "NOTIFY-SA-LIFETIME";
    case 28: return "CERTIFICATE-UNAVAILABLE";
    case 29: return "UNSUPPORTED-EXCHANGE-TYPE";
    case 30: return "UNEQUAL-PAYLOAD-LENGTHS";
    case 16384: return "CONNECTED";
    case 24576: return "RESPONDER-LIFETIME";
    case 24577: return "REPLAY-STATUS";
    case 24578: return "INITIAL-CONTACT";
    case 36136: return "R-U-THERE";
    case 36137: return "R-U-THERE-ACK";
    }
    return "unknown";
}

std::string_view protocol_name(std::uint8_t protocol_id) {
    switch (protocol_id) {
    case kProtocolIke: return "IKE";
    case kProtocolAh: return "AH";
    case kProtocolEsp: return "ESP";
    case 4: return "IPCOMP";
    }
    return "unknown";
}

std::string_view transform_type_name(std::uint8_t type) {
    switch (type) {
    case transform::kV2Encryption: return "ENCR";
    case transform::kV2Prf: return "PRF";
    case transform::kV2Integrity: return "INTEG";
    case transform::kV2KeyExchange: return "KE";
    case transform::kV2Esn: return "ESN";
    }
    return "unknown";
}

std::string_view dh_group_name(std::uint16_t group) {
    switch (group) {
    case 0: return "none";
    case 1: return "modp768";
    case 2: return "modp1024";
    case 5: return "modp1536";
    case 14: return "modp2048";
    case 15: return "modp3072";
    case 16: return "modp4096";
    case 17: return "modp6144";
    case 18: return "modp8192";
    case 19: return "ecp256";
    case 20: return "ecp384";
    case 21: return "ecp521";
    case 22: return "modp1024s160";
    case 23: return "modp2048s224";
    case 24: return "modp2048s256";
    case 25: return "ecp192";
    case 26: return "ecp224";
    case 27: return "ecp224bp";
    case 28: return "ecp256bp";
    case 29: return "ecp384bp";
    case 30: return "ecp512bp";
    case 31: return "curve25519";
    case 32: return "curve448";
    }
    return "unknown";
}

}  // namespace portcullis::dissect::ike
