#pragma once
// Every way a packet can be malformed, as a named counter (Zeek-style "weird"). Parsers never throw:
// they return tl::expected<View, Anomaly>, and non-fatal oddities ride along in the view.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <tl/expected.hpp>

#include "common/bytes.hpp"

namespace portcullis::dissect {

#define PC_DISSECT_ANOMALIES(X)                                                              \
    X(none)                                                                                  \
    /* link layer */                                                                         \
    X(link_truncated) X(link_unsupported_type) X(link_unsupported_ethertype)                 \
    X(vlan_too_deep) X(nflog_bad_version) X(nflog_bad_tlv) X(nflog_no_payload)               \
    /* IP */                                                                                 \
    X(ip_unknown_version) X(ipv4_truncated) X(ipv4_bad_header_length)                        \
    X(ipv4_bad_total_length) X(ipv4_total_length_exceeds_capture) X(ipv4_bad_options)        \
    X(ipv6_truncated) X(ipv6_payload_length_exceeds_capture) X(ipv6_extension_truncated)     \
    X(ipv6_extension_chain_too_long)                                                         \
    /* transport */                                                                          \
    X(udp_truncated) X(udp_bad_length) X(udp_length_exceeds_data)                            \
    X(tcp_truncated) X(tcp_bad_data_offset) X(tcp_options_truncated)                         \
    X(icmp_truncated) X(icmp_quoted_truncated)                                               \
    /* GRE / ESP / NAT-T */                                                                  \
    X(gre_truncated) X(gre_bad_version) X(gre_bad_enhanced_header) X(gre_routing_truncated)  \
    X(gre_routing_too_long)                                                                  \
    X(esp_truncated) X(esp_zero_spi) X(natt_empty) X(ah_truncated)                           \
    /* IKE */                                                                                \
    X(ike_truncated) X(ike_bad_version) X(ike_bad_length) X(ike_length_exceeds_data)         \
    X(ike_payload_truncated) X(ike_payload_bad_length) X(ike_payload_chain_too_long)         \
    X(ike_payload_body_truncated) X(ike_proposal_truncated) X(ike_proposal_bad_length)       \
    X(ike_proposal_chain_too_long) X(ike_transform_truncated) X(ike_transform_bad_length)    \
    X(ike_transform_chain_too_long) X(ike_attribute_truncated) X(ike_attribute_chain_too_long) \
    /* L2TP */                                                                               \
    X(l2tp_truncated) X(l2tp_bad_version) X(l2tp_bad_length) X(l2tp_control_missing_fields)  \
    X(l2tp_bad_offset) X(l2tp_avp_truncated) X(l2tp_avp_bad_length)                          \
    X(l2tp_avp_chain_too_long) X(l2tp_message_type_missing) X(l2tp_message_type_hidden)      \
    X(l2tp_result_code_truncated)                                                            \
    /* PPTP */                                                                               \
    X(pptp_truncated) X(pptp_bad_length) X(pptp_bad_magic) X(pptp_bad_message_type)         \
    X(pptp_unknown_control_type) X(pptp_stream_too_long)                                     \
    /* recognisers */                                                                        \
    X(openvpn_truncated) X(openvpn_bad_opcode) X(wireguard_truncated) X(wireguard_bad_type)  \
    X(wireguard_bad_length)

enum class Anomaly : std::uint8_t {
#define PC_DISSECT_ENUM(name) name,
    PC_DISSECT_ANOMALIES(PC_DISSECT_ENUM)
#undef PC_DISSECT_ENUM
};

inline constexpr std::size_t kAnomalyKinds = 0
#define PC_DISSECT_COUNT(name) +1
    PC_DISSECT_ANOMALIES(PC_DISSECT_COUNT)
#undef PC_DISSECT_COUNT
    ;

// Stable snake_case name, e.g. "ike_payload_bad_length" (used in JSON output and counters).
std::string_view anomaly_name(Anomaly anomaly);

// One counter per anomaly kind; plain struct so a per-thread copy costs nothing to keep.
struct AnomalyCounters {
    std::array<std::uint64_t, kAnomalyKinds> counts{};

    void add(Anomaly anomaly) {
        if (anomaly != Anomaly::none) ++counts[static_cast<std::size_t>(anomaly)];
    }
    std::uint64_t operator[](Anomaly anomaly) const {
        return counts[static_cast<std::size_t>(anomaly)];
    }
    std::uint64_t total() const {
        std::uint64_t sum = 0;
        for (std::size_t i = 1; i < counts.size(); ++i) sum += counts[i];
        return sum;
    }
    AnomalyCounters& operator+=(const AnomalyCounters& other) {
        for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
        return *this;
    }
};

// Result of a parser: the view, or the anomaly that prevented it.
template <typename View>
using Parsed = tl::expected<View, Anomaly>;

inline tl::unexpected<Anomaly> reject(Anomaly anomaly) { return tl::unexpected<Anomaly>(anomaly); }

// Little-endian 16-bit read (NFLOG TLVs and DLT_NULL use host order; captures come from x86).
inline std::optional<std::uint16_t> read_le16(Bytes data, std::size_t offset) {
    auto value = read_be16(data, offset);
    if (!value) return std::nullopt;
    return static_cast<std::uint16_t>((*value >> 8) | (*value << 8));
}

inline std::optional<std::uint32_t> read_le32(Bytes data, std::size_t offset) {
    auto value = read_be32(data, offset);
    if (!value) return std::nullopt;
    std::uint32_t v = *value;
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

}  // namespace portcullis::dissect
