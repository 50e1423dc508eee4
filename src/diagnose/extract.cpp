#include "diagnose/extract.hpp"

namespace portcullis::diagnose {

namespace {

namespace ike = dissect::ike;

std::string v2_transform_name(std::uint8_t type, std::uint16_t id) {
    switch (type) {
        case 1:
            switch (id) {
                case 3: return "3DES";
                case 12: return "AES_CBC";
                case 13: return "AES_CTR";
                case 14: return "AES_CCM_8";
                case 15: return "AES_CCM_12";
                case 16: return "AES_CCM_16";
                case 18: return "AES_GCM_8";
                case 19: return "AES_GCM_12";
                case 20: return "AES_GCM_16";
                case 28: return "CHACHA20_POLY1305";
                default: break;
            }
            break;
        case 2:
            switch (id) {
                case 1: return "PRF_HMAC_MD5";
                case 2: return "PRF_HMAC_SHA1";
                case 4: return "PRF_AES128_XCBC";
                case 5: return "PRF_HMAC_SHA2_256";
                case 6: return "PRF_HMAC_SHA2_384";
                case 7: return "PRF_HMAC_SHA2_512";
                case 8: return "PRF_AES128_CMAC";
                default: break;
            }
            break;
        case 3:
            switch (id) {
                case 0: return "NONE";
                case 1: return "HMAC_MD5_96";
                case 2: return "HMAC_SHA1_96";
                case 5: return "AES_XCBC_96";
                case 12: return "HMAC_SHA2_256_128";
                case 13: return "HMAC_SHA2_384_192";
                case 14: return "HMAC_SHA2_512_256";
                default: break;
            }
            break;
        case 4: return std::string(ike::dh_group_name(id));
        case 5: return id == 0 ? "NO_ESN" : "ESN";
        default: break;
    }
    return std::string(ike::transform_type_name(type)) + "#" + std::to_string(id);
}

std::string v1_attribute_text(std::uint16_t type, std::uint32_t value) {
    switch (type) {
        case 1:
            switch (value) {
                case 1: return "DES";
                case 5: return "3DES";
                case 7: return "AES";
                default: return "ENCR#" + std::to_string(value);
            }
        case 2:
            switch (value) {
                case 1: return "MD5";
                case 2: return "SHA1";
                case 4: return "SHA2_256";
                case 5: return "SHA2_384";
                case 6: return "SHA2_512";
                default: return "HASH#" + std::to_string(value);
            }
        case 3:
            switch (value) {
                case 1: return "PSK";
                case 3: return "RSA_SIG";
                case 65001: return "XAUTH_PSK";
                case 65005: return "XAUTH_RSA";
                default: return "AUTH#" + std::to_string(value);
            }
        case 4: return std::string(ike::dh_group_name(static_cast<std::uint16_t>(value)));
        default: return {};
    }
}

HashAlgorithm v1_hash_algorithm(std::uint32_t value) {
    switch (value) {
        case 1: return HashAlgorithm::md5;
        case 2: return HashAlgorithm::sha1;
        case 4: return HashAlgorithm::sha2_256;
        case 5: return HashAlgorithm::sha2_384;
        case 6: return HashAlgorithm::sha2_512;
        default: return HashAlgorithm::unknown;
    }
}

std::vector<std::uint8_t> copy_bytes(Bytes bytes) {
    std::vector<std::uint8_t> out(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = static_cast<std::uint8_t>(bytes[i]);
    return out;
}

Endpoint endpoint(const Address& address, std::optional<std::uint16_t> port) {
    return Endpoint{address, port.value_or(0)};
}

void extract_ike(const ike::Message& message, bool header_only, IkeFacts& out) {
    const ike::Header& header = message.header();
    out.major_version = header.major_version;
    out.spi_initiator = header.initiator_spi;
    out.spi_responder = header.responder_spi;
    out.exchange = header.exchange_type;
    out.flags = header.flags;
    out.message_id = header.message_id;
    out.length = header.length;
    out.header_only = header_only || message.truncated();
    out.encrypted = message.encrypted_v1();
    if (message.encrypted_v1()) return;  // ciphertext after the header
    bool v2 = header.is_v2();
    auto chain = message.payloads();
    while (auto payload = chain.next()) {
        switch (payload->type) {
            case ike::payload::kV2Encrypted: out.encrypted = true; break;
            case ike::payload::kV2EncryptedFragment:
                out.encrypted = true;
                out.ike_fragment = true;
                break;
            case ike::payload::kV1Fragment: out.ike_fragment = true; break;
            case ike::payload::kV1Sa:
            case ike::payload::kV2Sa: {
                auto sa = ike::SaPayload::parse(*payload);
                if (!sa) break;
                if (auto whole = slice(message.bytes(), payload->offset, payload->length)) {
                    out.sa_payload = *whole;
                }
                if (!v2) {
                    auto proposals = sa->proposal_chain();
                    if (auto proposal = proposals.next()) {
                        auto transforms = proposal->transform_chain();
                        if (auto transform = transforms.next()) {
                            if (auto hash = transform->attribute(ike::transform::kV1AttrHash)) {
                                out.v1_hash = v1_hash_algorithm(*hash);
                            }
                        }
                    }
                }
                break;
            }
            case ike::payload::kV2KeyExchange: {
                auto ke = ike::KeyExchangePayload::parse(*payload);
                if (ke && ke->dh_group) out.ke_group = ke->dh_group;
                break;
            }
            case ike::payload::kV1Notify:
            case ike::payload::kV2Notify: {
                auto notify = ike::NotifyPayload::parse(*payload);
                if (!notify) break;
                IkeNotify fact;
                fact.type = notify->type;
                if (notify->type == 16388 || notify->type == 16389 || notify->type == 17) {
                    fact.data = copy_bytes(notify->data);
                }
                if (out.notifies.size() < 32) out.notifies.push_back(std::move(fact));
                break;
            }
            case ike::payload::kV1NatD:
            case ike::payload::kV1NatDDraft:
                if (!v2 && out.v1_nat_d.size() < 8) out.v1_nat_d.push_back(copy_bytes(payload->body));
                break;
            case ike::payload::kV1VendorId:
            case ike::payload::kV2VendorId: {
                auto kind = ike::classify_vendor_id(payload->body);
                if (kind == ike::VendorKind::nat_t_rfc3947 || kind == ike::VendorKind::nat_t_draft) {
                    out.vendor_nat_t = true;
                }
                if (kind == ike::VendorKind::fragmentation) out.vendor_fragmentation = true;
                break;
            }
            default: break;
        }
    }
}

void extract_l2tp(const dissect::l2tp::Message& message, L2tpFacts& out) {
    namespace l2tp = dissect::l2tp;
    out.version = message.version();
    out.control = message.is_control();
    out.tunnel_id = message.tunnel_id();
    out.session_id = message.session_id();
    if (!out.control) return;
    out.message_type = message.message_type().value_or(0);
    if (auto avp = message.find_avp(l2tp::avp::kAssignedTunnelId)) {
        if (auto value = avp->value16()) out.assigned_tunnel_id = *value;
    } else if (auto avp3 = message.find_avp(l2tp::avp::kV3AssignedConnectionId)) {
        if (auto value = avp3->value32()) out.assigned_tunnel_id = *value;
    }
    if (auto avp = message.find_avp(l2tp::avp::kAssignedSessionId)) {
        if (auto value = avp->value16()) out.assigned_session_id = *value;
    } else if (auto avp3 = message.find_avp(l2tp::avp::kV3LocalSessionId)) {
        if (auto value = avp3->value32()) out.assigned_session_id = *value;
    }
    if (auto result = message.result_code()) {
        out.result_code = result->result;
        out.error_code = result->error;
        std::string text;
        for (std::byte b : result->message) {
            char c = static_cast<char>(b);
            if (c >= 0x20 && c < 0x7f) text.push_back(c);
            if (text.size() >= 120) break;
        }
        out.error_message = std::move(text);
    }
}

}  // namespace

std::vector<std::string> describe_proposals(const ike::SaPayload& sa, std::size_t limit) {
    std::vector<std::string> lines;
    auto proposals = sa.proposal_chain();
    while (auto proposal = proposals.next()) {
        if (lines.size() >= limit) {
            lines.push_back("…");
            break;
        }
        std::string line = std::string(ike::protocol_name(proposal->protocol_id)) + ":";
        auto transforms = proposal->transform_chain();
        bool first = true;
        std::size_t count = 0;
        while (auto transform = transforms.next()) {
            if (++count > 16) break;
            std::string text;
            if (sa.v2) {
                text = v2_transform_name(transform->type, transform->id);
                if (auto key = transform->key_length()) text += "-" + std::to_string(*key);
            } else {
                auto attributes = transform->attribute_chain();
                std::uint32_t key_length = 0;
                std::string parts;
                while (auto attribute = attributes.next()) {
                    auto value = attribute->integer();
                    if (!value) continue;
                    if (attribute->type == ike::transform::kAttrKeyLength) {
                        key_length = *value;
                        continue;
                    }
                    std::string part = v1_attribute_text(attribute->type, *value);
                    if (part.empty()) continue;
                    if (!parts.empty()) parts += "/";
                    parts += part;
                }
                if (key_length != 0) {
                    auto slash = parts.find('/');
                    parts.insert(slash == std::string::npos ? parts.size() : slash,
                                 "-" + std::to_string(key_length));
                }
                text = parts.empty() ? "transform " + std::to_string(transform->id) : parts;
                if (!first) text = " | " + text;
            }
            line += (first ? " " : (sa.v2 ? "/" : "")) + text;
            first = false;
        }
        lines.push_back(std::move(line));
    }
    return lines;
}

std::vector<std::string> describe_sa_payload(Bytes payload, bool v2) {
    std::uint8_t type = v2 ? ike::payload::kV2Sa : ike::payload::kV1Sa;
    ike::PayloadChain chain(payload, type, 0);
    auto generic = chain.next();
    if (!generic) return {};
    auto sa = ike::SaPayload::parse(*generic);
    if (!sa) return {};
    return describe_proposals(*sa);
}

bool extract_facts(const dissect::PacketSummary& summary, std::uint64_t frame, double time,
                   PacketFacts& facts) {
    facts.reset();
    facts.frame = frame;
    facts.time = time;
    if (summary.ip_version == 0) return false;
    facts.source = endpoint(summary.source, summary.source_port);
    facts.destination = endpoint(summary.destination, summary.destination_port);
    facts.ip_protocol = summary.protocol;
    facts.ip_length = summary.ip_length;
    facts.esp_in_udp = summary.udp_encapsulated;
    if (summary.fragment && (summary.fragment->more_fragments || summary.fragment->offset_bytes != 0)) {
        facts.fragment = IpFragmentFacts{summary.fragment->id, summary.fragment->offset_bytes,
                                         summary.fragment->more_fragments};
        if (summary.later_fragment()) {
            facts.kind = Kind::ip_fragment;
            return true;
        }
    }
    switch (summary.kind()) {
        case dissect::VpnKind::ike:
            facts.kind = Kind::ike;
            extract_ike(*summary.ike(), facts.fragment.has_value(), facts.ike);
            return true;
        case dissect::VpnKind::esp:
            facts.kind = Kind::esp;
            facts.esp.spi = summary.esp()->spi();
            facts.esp.sequence = summary.esp()->sequence();
            return true;
        case dissect::VpnKind::natt_keepalive:
            facts.kind = Kind::natt_keepalive;
            return true;
        case dissect::VpnKind::l2tp:
            facts.kind = Kind::l2tp;
            extract_l2tp(*summary.l2tp(), facts.l2tp);
            return true;
        case dissect::VpnKind::gre: {
            facts.kind = Kind::gre;
            const dissect::gre::Packet& gre = *summary.gre();
            facts.gre.version = gre.version();
            facts.gre.protocol = gre.protocol_type();
            if (gre.is_enhanced()) facts.gre.call_id = gre.call_id();
            return true;
        }
        default: break;
    }
    if (summary.tcp && summary.tcp->has_port(dissect::pptp::kPort)) {
        facts.kind = Kind::pptp;
        facts.tcp.flags = summary.tcp->flags();
        facts.tcp.payload_length = static_cast<std::uint32_t>(summary.tcp->payload().size());
        dissect::pptp::MessageStream stream(summary.tcp->payload());
        while (auto message = stream.next()) {
            PptpFacts fact;
            fact.control_type = message->control_type();
            fact.call_id = message->call_id();
            fact.peer_call_id = message->peer_call_id();
            fact.result_code = message->result_code();
            fact.error_code = message->error_code();
            facts.pptp.push_back(fact);
        }
        return true;
    }
    if (summary.icmp && summary.icmp->is_error() && summary.quoted) {
        const dissect::QuotedPacket& quoted = *summary.quoted;
        facts.kind = Kind::icmp_error;
        facts.icmp.ipv6 = summary.icmp->is_v6();
        facts.icmp.type = summary.icmp->type();
        facts.icmp.code = summary.icmp->code();
        if (auto mtu = summary.icmp->mtu()) facts.icmp.mtu = static_cast<std::uint16_t>(*mtu);
        facts.icmp.quoted_source = quoted.source;
        facts.icmp.quoted_destination = quoted.destination;
        facts.icmp.quoted_protocol = quoted.protocol;
        facts.icmp.quoted_source_port = quoted.source_port.value_or(0);
        facts.icmp.quoted_destination_port = quoted.destination_port.value_or(0);
        return true;
    }
    return false;
}

}  // namespace portcullis::diagnose
