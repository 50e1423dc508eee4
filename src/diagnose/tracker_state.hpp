#pragma once
// Internal state of the session tracker (shared by the tracker's translation units only).
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "diagnose/tracker.hpp"

namespace portcullis::diagnose::detail {

struct Evidence {
    std::vector<std::uint64_t> frames;
    std::uint64_t omitted = 0;
    void add(std::uint64_t frame) {
        if (!frames.empty() && frames.back() == frame) return;
        if (frames.size() < kMaxEvidenceFrames) {
            frames.push_back(frame);
        } else {
            ++omitted;
        }
    }
};

struct IkeRecord {
    std::uint64_t frame = 0;
    double time = 0;
    bool from_initiator = true;
    std::uint8_t exchange = 0;
    std::uint32_t message_id = 0;
    bool response = false;   // IKEv2 R flag
    std::uint32_t length = 0;
    std::uint32_t ip_length = 0;
    bool encrypted = false;
    bool on_4500 = false;
    bool ip_fragmented = false;
    std::uint16_t destination_port = 0;
};

struct IkeNotifyEvent {
    std::uint64_t frame = 0;
    std::uint16_t type = 0;
    bool from_initiator = false;
    std::optional<std::uint16_t> group;  // INVALID_KE_PAYLOAD
};

// An IKEv1 NAT-D set waiting for the negotiated hash algorithm.
struct PendingNatD {
    std::uint64_t frame = 0;
    bool from_initiator = false;
    Endpoint source, destination;
    std::uint64_t spi_initiator = 0, spi_responder = 0;
    std::vector<std::vector<std::uint8_t>> hashes;
};

struct NatObservation {
    std::uint64_t frame = 0;
    std::string text;
};

struct IkeSa {
    std::uint8_t version = 0;
    std::uint64_t spi_initiator = 0;
    std::uint64_t spi_responder = 0;
    Endpoint initiator, responder;            // current endpoints (they move to 4500)
    Endpoint first_initiator, first_responder;
    std::uint64_t first_frame = 0, last_frame = 0, packets = 0;
    std::vector<IkeRecord> records;  // capped
    std::uint64_t records_dropped = 0;

    std::vector<std::string> offered;
    std::uint64_t offered_frame = 0;
    std::vector<std::string> chosen;
    std::uint64_t chosen_frame = 0;
    std::optional<HashAlgorithm> v1_hash;
    std::optional<std::uint16_t> ke_group;   // group of the initiator's first KE payload
    bool fragmentation_initiator = false, fragmentation_responder = false;
    bool natt_vendor_initiator = false, natt_vendor_responder = false;
    bool ike_fragments_used = false;
    std::vector<IkeNotifyEvent> errors;      // capped
    Evidence cookie_frames;
    std::vector<PendingNatD> pending_nat_d;  // IKEv1, capped
    std::vector<NatObservation> nat;         // NAT-D mismatches
    std::vector<std::uint64_t> nat_d_checked_frames;
    bool nat_d_hash_unknown = false;
    std::uint64_t nat_d_unknown_frame = 0;
    Evidence ip_fragment_frames;
    Evidence frames_4500;
};

struct EspFlow {
    Address source, destination;
    std::uint32_t spi = 0;
    bool udp_encapsulated = false;
    std::uint64_t packets = 0, first_frame = 0, last_frame = 0;
};

struct L2tpCall {
    bool outgoing = false;  // OCRQ rather than ICRQ
    std::uint32_t requester_session_id = 0;
    std::optional<std::uint32_t> replier_session_id;
    std::uint64_t request_frame = 0;
    std::uint64_t reply_frame = 0;
    std::uint64_t connected_frame = 0;
    std::uint64_t cdn_frame = 0;
    double connected_time = 0, cdn_time = 0;
    std::uint64_t data_packets_when_connected = 0;  // the tunnel's data count at ICCN
    std::uint64_t data_packets_at_cdn = 0;
    std::optional<std::uint16_t> cdn_result, cdn_error;
    std::string cdn_message;
};

struct L2tpTunnel {
    std::uint8_t version = 2;
    Endpoint initiator, responder;
    std::uint32_t initiator_tunnel_id = 0;
    std::optional<std::uint32_t> responder_tunnel_id;
    std::uint64_t first_frame = 0, last_frame = 0, packets = 0;
    Evidence sccrq_frames;
    std::uint64_t sccrq_count = 0;
    std::uint64_t sccrp_frame = 0, scccn_frame = 0;
    std::uint64_t stopccn_frame = 0;
    bool stopccn_from_initiator = false;
    std::optional<std::uint16_t> stop_result, stop_error;
    std::string stop_message;
    bool started_before_capture = false;
    std::uint64_t responder_packets = 0;
    std::uint64_t data_packets = 0;  // L2TP data messages (PPP frames) in the tunnel
    std::vector<L2tpCall> calls;  // capped
};

struct PptpCall {
    bool outgoing = true;  // OCRQ (from the client) rather than ICRQ
    Address requester, replier;
    std::uint16_t requester_call_id = 0;
    std::optional<std::uint16_t> replier_call_id;
    std::uint64_t request_frame = 0, reply_frame = 0;
    std::optional<std::uint8_t> result, error;
    std::uint64_t gre_to_requester = 0, gre_to_replier = 0;
    std::uint64_t first_gre_to_requester = 0, first_gre_to_replier = 0;
    std::uint64_t clear_frame = 0, disconnect_frame = 0;
    std::optional<std::uint8_t> disconnect_result;
};

struct PptpConnection {
    Endpoint client, server;
    std::uint64_t first_frame = 0, last_frame = 0, packets = 0;
    Evidence syn_frames;
    std::uint64_t syn_count = 0;
    std::uint64_t syn_ack_frame = 0;
    std::uint64_t rst_frame = 0;
    bool rst_from_server = false;
    std::uint64_t server_payload_frames = 0;
    std::uint64_t sccrq_frame = 0, sccrp_frame = 0;
    std::optional<std::uint8_t> sccrp_result, sccrp_error;
    std::uint64_t stop_frame = 0;
    std::vector<PptpCall> calls;  // capped
};

struct IcmpError {
    std::uint64_t frame = 0;
    Address reporter;
    IcmpErrorFacts facts;
};

// (receiver address, tunnel/call ID the receiver assigned) -> owner index
using AddressIdKey = std::pair<Address, std::uint32_t>;

struct FragmentKey {
    Address source, destination;
    std::uint32_t identification = 0;
    auto operator<=>(const FragmentKey&) const = default;
};

}  // namespace portcullis::diagnose::detail
