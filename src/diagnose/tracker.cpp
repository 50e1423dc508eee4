#include "diagnose/tracker.hpp"

#include <algorithm>

#include "diagnose/extract.hpp"
#include "diagnose/rules.hpp"
#include "diagnose/tracker_state.hpp"

namespace portcullis::diagnose {

using namespace detail;

namespace {

constexpr std::size_t kMaxRecordsPerSa = 256;
constexpr std::size_t kMaxErrorsPerSa = 16;
constexpr std::size_t kMaxPendingNatD = 8;
constexpr std::size_t kMaxCallsPerTunnel = 256;
constexpr std::size_t kMaxNatDChecks = 6;

bool is_nat_d_notify(std::uint16_t type) { return type == 16388 || type == 16389; }

}  // namespace

struct Tracker::State {
    TrackerLimits limits;
    std::size_t sessions = 0;
    bool cap_hit = false;
    std::uint64_t not_tracked = 0;

    std::vector<IkeSa> ike;
    std::map<std::pair<std::uint8_t, std::uint64_t>, std::size_t> ike_index;  // (version, SPIi)
    std::size_t last_ike = SIZE_MAX;  // consecutive messages of one SA skip the index lookup
    std::vector<EspFlow> esp;
    std::map<std::tuple<Address, Address, std::uint32_t>, std::size_t> esp_index;
    std::size_t last_esp = SIZE_MAX;
    std::vector<L2tpTunnel> l2tp;
    std::map<AddressIdKey, std::size_t> l2tp_index;
    std::vector<PptpConnection> pptp;
    std::map<std::pair<Endpoint, Endpoint>, std::size_t> pptp_index;  // (client, server)
    // (receiver address, call ID) -> (connection, call, true when the receiver is the requester)
    std::map<AddressIdKey, std::tuple<std::size_t, std::size_t, bool>> gre_index;
    std::uint64_t gre_unmatched = 0;
    std::vector<IcmpError> icmp;
    std::map<FragmentKey, std::size_t> fragments;  // -> IKE SA index
    std::deque<FragmentKey> fragment_order;

    bool admit() {
        if (sessions >= limits.max_sessions) {
            cap_hit = true;
            ++not_tracked;
            return false;
        }
        ++sessions;
        return true;
    }

    void observe_ike(const PacketFacts& packet);
    void observe_esp(const PacketFacts& packet);
    void observe_l2tp(const PacketFacts& packet);
    void observe_pptp_tcp(const PacketFacts& packet);
    void observe_gre(const PacketFacts& packet);
    void observe_fragment(const PacketFacts& packet);
};

Tracker::Tracker(TrackerLimits limits) : state_(std::make_unique<State>()) {
    state_->limits = limits;
}
Tracker::~Tracker() = default;
Tracker::Tracker(Tracker&&) noexcept = default;
Tracker& Tracker::operator=(Tracker&&) noexcept = default;

bool Tracker::cap_hit() const { return state_->cap_hit; }
std::uint64_t Tracker::sessions_not_tracked() const { return state_->not_tracked; }

void Tracker::observe(const PacketFacts& packet) {
    State& s = *state_;
    switch (packet.kind) {
        case Kind::ike: s.observe_ike(packet); break;
        case Kind::esp: s.observe_esp(packet); break;
        case Kind::l2tp: s.observe_l2tp(packet); break;
        case Kind::pptp:
        case Kind::tcp_other: s.observe_pptp_tcp(packet); break;
        case Kind::gre: s.observe_gre(packet); break;
        case Kind::ip_fragment: s.observe_fragment(packet); break;
        case Kind::icmp_error:
            if (s.icmp.size() < s.limits.max_icmp_errors) {
                s.icmp.push_back(IcmpError{packet.frame, packet.source.address, packet.icmp});
            }
            break;
        case Kind::natt_keepalive:
        case Kind::other: break;
    }
}

void Tracker::State::observe_ike(const PacketFacts& packet) {
    const IkeFacts& m = packet.ike;
    if (m.major_version != 1 && m.major_version != 2) return;
    auto key = std::make_pair(m.major_version, m.spi_initiator);
    std::size_t index = 0;
    if (last_ike != SIZE_MAX && ike[last_ike].version == m.major_version &&
        ike[last_ike].spi_initiator == m.spi_initiator) {
        index = last_ike;
    } else if (auto found = ike_index.find(key); found != ike_index.end()) {
        index = found->second;
    } else {
        if (!admit()) return;
        index = ike.size();
        ike.emplace_back();
        ike_index.emplace(key, index);
        IkeSa& sa = ike.back();
        sa.version = m.major_version;
        sa.spi_initiator = m.spi_initiator;
        // IKEv2 marks the original initiator; IKEv1 does not, so the first sender of a message
        // without a responder cookie is taken as initiator (or simply the first sender).
        bool sender_is_initiator = m.major_version == 2 ? m.is_v2_initiator() : true;
        sa.initiator = sender_is_initiator ? packet.source : packet.destination;
        sa.responder = sender_is_initiator ? packet.destination : packet.source;
        sa.first_frame = packet.frame;
        sa.first_initiator = sa.initiator;
        sa.first_responder = sa.responder;
    }
    last_ike = index;
    IkeSa& sa = ike[index];
    sa.last_frame = packet.frame;
    ++sa.packets;
    if (sa.spi_responder == 0 && m.spi_responder != 0) sa.spi_responder = m.spi_responder;

    bool from_initiator = m.major_version == 2 ? m.is_v2_initiator()
                                               : packet.source.address == sa.initiator.address;
    if (m.major_version == 2) {
        // Track the initiator's current endpoints: they change on the move to 4500.
        if (from_initiator) {
            sa.initiator = packet.source;
            sa.responder = packet.destination;
        } else {
            sa.initiator = packet.destination;
            sa.responder = packet.source;
        }
    } else if (from_initiator) {
        sa.initiator = packet.source;
        sa.responder = packet.destination;
    } else if (packet.source.address == sa.responder.address) {
        sa.responder = packet.source;
        sa.initiator = packet.destination;
    }

    IkeRecord record;
    record.frame = packet.frame;
    record.time = packet.time;
    record.from_initiator = from_initiator;
    record.exchange = m.exchange;
    record.message_id = m.message_id;
    record.response = m.major_version == 2 ? m.is_v2_response() : !from_initiator;
    record.length = m.length;
    record.ip_length = packet.ip_length;
    record.encrypted = m.encrypted;
    record.on_4500 = packet.source.port == 4500 || packet.destination.port == 4500 || packet.esp_in_udp;
    record.ip_fragmented = packet.fragment.has_value();
    record.destination_port = packet.destination.port;
    if (record.on_4500) sa.frames_4500.add(packet.frame);
    if (sa.records.size() < kMaxRecordsPerSa) {
        sa.records.push_back(record);
    } else {
        ++sa.records_dropped;
    }

    if (packet.fragment) {
        sa.ip_fragment_frames.add(packet.frame);
        FragmentKey fkey{packet.source.address, packet.destination.address,
                         packet.fragment->identification};
        if (fragments.size() >= limits.max_fragments && !fragment_order.empty()) {
            fragments.erase(fragment_order.front());
            fragment_order.pop_front();
        }
        if (fragments.emplace(fkey, index).second) fragment_order.push_back(fkey);
    }
    if (m.ike_fragment) sa.ike_fragments_used = true;

    if (m.sa_payload) {
        // Described once per side: retransmissions carry the same offer.
        if (from_initiator && sa.offered.empty()) {
            sa.offered = describe_sa_payload(*m.sa_payload, m.major_version == 2);
            sa.offered_frame = packet.frame;
        } else if (!from_initiator && sa.chosen.empty()) {
            sa.chosen = describe_sa_payload(*m.sa_payload, m.major_version == 2);
            sa.chosen_frame = packet.frame;
        }
    }
    if (m.v1_hash) {
        // The responder's SA carries the chosen transform; prefer it over the initiator's offer.
        if (!from_initiator || !sa.v1_hash) sa.v1_hash = m.v1_hash;
    }
    if (from_initiator && m.ke_group && !sa.ke_group) sa.ke_group = m.ke_group;
    if (m.vendor_nat_t) (from_initiator ? sa.natt_vendor_initiator : sa.natt_vendor_responder) = true;
    if (m.vendor_fragmentation) {
        (from_initiator ? sa.fragmentation_initiator : sa.fragmentation_responder) = true;
    }

    std::vector<const IkeNotify*> nat_source, nat_destination;
    for (const IkeNotify& notify : m.notifies) {
        if (m.major_version == 2 && notify.type == 16430) {
            (from_initiator ? sa.fragmentation_initiator : sa.fragmentation_responder) = true;
        } else if (m.major_version == 2 && notify.type == 16390) {
            sa.cookie_frames.add(packet.frame);
        } else if (m.major_version == 2 && is_nat_d_notify(notify.type)) {
            (notify.type == 16388 ? nat_source : nat_destination).push_back(&notify);
        } else if (notify.type < 16384 && notify.type != 0) {
            if (sa.errors.size() < kMaxErrorsPerSa) {
                IkeNotifyEvent event{packet.frame, notify.type, from_initiator, std::nullopt};
                if (notify.type == 17 && notify.data.size() >= 2) {
                    event.group = static_cast<std::uint16_t>((notify.data[0] << 8) | notify.data[1]);
                }
                sa.errors.push_back(event);
            }
        }
    }
    // The verdict cannot change with retransmissions: a few checked messages are evidence enough.
    if ((!nat_source.empty() || !nat_destination.empty()) && sa.nat_d_checked_frames.size() < kMaxNatDChecks) {
        check_v2_nat_d(sa, packet, from_initiator, nat_source, nat_destination);
    }
    if (!m.v1_nat_d.empty() && sa.pending_nat_d.size() < kMaxPendingNatD) {
        sa.pending_nat_d.push_back(PendingNatD{packet.frame, from_initiator, packet.source,
                                               packet.destination, m.spi_initiator,
                                               m.spi_responder, m.v1_nat_d});
    }
}

void Tracker::State::observe_fragment(const PacketFacts& packet) {
    if (!packet.fragment) return;
    FragmentKey key{packet.source.address, packet.destination.address,
                    packet.fragment->identification};
    auto found = fragments.find(key);
    if (found == fragments.end()) return;
    IkeSa& sa = ike[found->second];
    sa.ip_fragment_frames.add(packet.frame);
    sa.last_frame = std::max(sa.last_frame, packet.frame);
}

void Tracker::State::observe_esp(const PacketFacts& packet) {
    if (last_esp != SIZE_MAX) {
        EspFlow& flow = esp[last_esp];
        if (flow.spi == packet.esp.spi && flow.source == packet.source.address &&
            flow.destination == packet.destination.address) {
            ++flow.packets;
            flow.last_frame = packet.frame;
            return;
        }
    }
    auto key = std::make_tuple(packet.source.address, packet.destination.address, packet.esp.spi);
    auto found = esp_index.find(key);
    if (found == esp_index.end()) {
        if (!admit()) return;
        found = esp_index.emplace(key, esp.size()).first;
        EspFlow flow;
        flow.source = packet.source.address;
        flow.destination = packet.destination.address;
        flow.spi = packet.esp.spi;
        flow.udp_encapsulated = packet.esp_in_udp;
        flow.first_frame = packet.frame;
        esp.push_back(flow);
    }
    last_esp = found->second;
    EspFlow& flow = esp[found->second];
    ++flow.packets;
    flow.last_frame = packet.frame;
}

void Tracker::State::observe_l2tp(const PacketFacts& packet) {
    const L2tpFacts& m = packet.l2tp;
    if (!m.control) {
        auto found = l2tp_index.find({packet.destination.address, m.tunnel_id});
        if (found != l2tp_index.end()) {
            L2tpTunnel& tunnel = l2tp[found->second];
            ++tunnel.packets;
            ++tunnel.data_packets;
            tunnel.last_frame = packet.frame;
        }
        return;
    }
    std::size_t index = SIZE_MAX;
    if (m.message_type == static_cast<std::uint16_t>(L2tpMessage::sccrq)) {
        std::uint32_t assigned = m.assigned_tunnel_id.value_or(0);
        auto found = l2tp_index.find({packet.source.address, assigned});
        if (found != l2tp_index.end() && l2tp[found->second].sccrp_frame == 0) {
            index = found->second;
        } else {
            if (!admit()) return;
            index = l2tp.size();
            L2tpTunnel tunnel;
            tunnel.version = m.version;
            tunnel.initiator = packet.source;
            tunnel.responder = packet.destination;
            tunnel.initiator_tunnel_id = assigned;
            tunnel.first_frame = packet.frame;
            l2tp.push_back(std::move(tunnel));
            l2tp_index[{packet.source.address, assigned}] = index;
        }
        L2tpTunnel& tunnel = l2tp[index];
        ++tunnel.sccrq_count;
        tunnel.sccrq_frames.add(packet.frame);
    } else {
        auto found = l2tp_index.find({packet.destination.address, m.tunnel_id});
        if (found != l2tp_index.end()) {
            index = found->second;
        } else {
            if (!admit()) return;
            // Mid-stream tunnel (its SCCRQ is not in the capture), or a reply to a lost SCCRQ.
            index = l2tp.size();
            L2tpTunnel tunnel;
            tunnel.version = m.version;
            bool reply = m.message_type == static_cast<std::uint16_t>(L2tpMessage::sccrp);
            tunnel.initiator = reply ? packet.destination : packet.source;
            tunnel.responder = reply ? packet.source : packet.destination;
            tunnel.initiator_tunnel_id = reply ? m.tunnel_id : m.assigned_tunnel_id.value_or(0);
            tunnel.first_frame = packet.frame;
            tunnel.started_before_capture = true;
            l2tp.push_back(std::move(tunnel));
            l2tp_index[{packet.destination.address, m.tunnel_id}] = index;
        }
    }
    L2tpTunnel& tunnel = l2tp[index];
    ++tunnel.packets;
    tunnel.last_frame = packet.frame;
    bool from_initiator = packet.source.address == tunnel.initiator.address &&
                          packet.source.port == tunnel.initiator.port;
    if (!from_initiator) {
        ++tunnel.responder_packets;
        tunnel.responder = packet.source;  // the LNS may answer from another port
    }
    auto find_call = [&](std::uint32_t session_id) -> L2tpCall* {
        for (L2tpCall& call : tunnel.calls) {
            if (from_initiator ? call.replier_session_id == session_id
                               : call.requester_session_id == session_id) {
                return &call;
            }
            if (call.requester_session_id == session_id || call.replier_session_id == session_id) {
                return &call;
            }
        }
        return nullptr;
    };
    switch (static_cast<L2tpMessage>(m.message_type)) {
        case L2tpMessage::sccrp:
            if (tunnel.sccrp_frame == 0) tunnel.sccrp_frame = packet.frame;
            if (m.assigned_tunnel_id) {
                tunnel.responder_tunnel_id = m.assigned_tunnel_id;
                l2tp_index[{packet.source.address, *m.assigned_tunnel_id}] = index;
            }
            break;
        case L2tpMessage::scccn:
            if (tunnel.scccn_frame == 0) tunnel.scccn_frame = packet.frame;
            break;
        case L2tpMessage::stopccn:
            if (tunnel.stopccn_frame == 0) {
                tunnel.stopccn_frame = packet.frame;
                tunnel.stopccn_from_initiator = from_initiator;
                tunnel.stop_result = m.result_code;
                tunnel.stop_error = m.error_code;
                tunnel.stop_message = m.error_message;
            }
            break;
        case L2tpMessage::icrq:
        case L2tpMessage::ocrq:
            if (tunnel.calls.size() < kMaxCallsPerTunnel && m.assigned_session_id &&
                find_call(*m.assigned_session_id) == nullptr) {
                L2tpCall call;
                call.outgoing = m.message_type == static_cast<std::uint16_t>(L2tpMessage::ocrq);
                call.requester_session_id = *m.assigned_session_id;
                call.request_frame = packet.frame;
                tunnel.calls.push_back(call);
            }
            break;
        case L2tpMessage::icrp:
        case L2tpMessage::ocrp:
            if (L2tpCall* call = find_call(m.session_id)) {
                if (call->reply_frame == 0) call->reply_frame = packet.frame;
                if (m.assigned_session_id) call->replier_session_id = m.assigned_session_id;
            }
            break;
        case L2tpMessage::iccn:
        case L2tpMessage::occn:
            if (L2tpCall* call = find_call(m.session_id)) {
                if (call->connected_frame == 0) {
                    call->connected_frame = packet.frame;
                    call->connected_time = packet.time;
                    call->data_packets_when_connected = tunnel.data_packets;
                }
            }
            break;
        case L2tpMessage::cdn: {
            L2tpCall* call = find_call(m.session_id);
            if (call == nullptr && m.assigned_session_id) call = find_call(*m.assigned_session_id);
            if (call != nullptr && call->cdn_frame == 0) {
                call->cdn_frame = packet.frame;
                call->cdn_time = packet.time;
                call->data_packets_at_cdn = tunnel.data_packets;
                call->cdn_result = m.result_code;
                call->cdn_error = m.error_code;
                call->cdn_message = m.error_message;
            }
            break;
        }
        default: break;
    }
}

void Tracker::State::observe_pptp_tcp(const PacketFacts& packet) {
    bool to_server = packet.destination.port == 1723;
    if (!to_server && packet.source.port != 1723) return;
    Endpoint client = to_server ? packet.source : packet.destination;
    Endpoint server = to_server ? packet.destination : packet.source;
    auto key = std::make_pair(client, server);
    auto found = pptp_index.find(key);
    if (found == pptp_index.end()) {
        if (!admit()) return;
        found = pptp_index.emplace(key, pptp.size()).first;
        PptpConnection connection;
        connection.client = client;
        connection.server = server;
        connection.first_frame = packet.frame;
        pptp.push_back(connection);
    }
    std::size_t index = found->second;
    PptpConnection& c = pptp[index];
    ++c.packets;
    c.last_frame = packet.frame;
    const TcpFacts& tcp = packet.tcp;
    if (to_server && tcp.syn() && !tcp.ack()) {
        ++c.syn_count;
        c.syn_frames.add(packet.frame);
    }
    if (!to_server && tcp.syn() && tcp.ack() && c.syn_ack_frame == 0) c.syn_ack_frame = packet.frame;
    if (tcp.rst() && c.rst_frame == 0) {
        c.rst_frame = packet.frame;
        c.rst_from_server = !to_server;
    }
    if (!to_server && tcp.payload_length > 0) ++c.server_payload_frames;

    Address sender = packet.source.address;
    Address receiver = packet.destination.address;
    for (const PptpFacts& message : packet.pptp) {
        switch (message.control_type) {
            case 1:
                if (c.sccrq_frame == 0) c.sccrq_frame = packet.frame;
                break;
            case 2:
                if (c.sccrp_frame == 0) {
                    c.sccrp_frame = packet.frame;
                    c.sccrp_result = message.result_code;
                    c.sccrp_error = message.error_code;
                }
                break;
            case 3:
            case 4:
                if (c.stop_frame == 0) c.stop_frame = packet.frame;
                break;
            case 7:  // OCRQ
            case 9:  // ICRQ
                if (message.call_id && c.calls.size() < kMaxCallsPerTunnel) {
                    PptpCall call;
                    call.outgoing = message.control_type == 7;
                    call.requester = sender;
                    call.replier = receiver;
                    call.requester_call_id = *message.call_id;
                    call.request_frame = packet.frame;
                    c.calls.push_back(call);
                    gre_index[{sender, *message.call_id}] =
                        std::make_tuple(index, c.calls.size() - 1, true);
                }
                break;
            case 8:   // OCRP
            case 10:  // ICRP
                for (std::size_t i = 0; i < c.calls.size(); ++i) {
                    PptpCall& call = c.calls[i];
                    if (message.peer_call_id && call.requester_call_id == *message.peer_call_id &&
                        call.reply_frame == 0 && call.requester == receiver) {
                        call.reply_frame = packet.frame;
                        call.result = message.result_code;
                        call.error = message.error_code;
                        if (message.call_id) {
                            call.replier_call_id = message.call_id;
                            gre_index[{sender, *message.call_id}] = std::make_tuple(index, i, false);
                        }
                        break;
                    }
                }
                break;
            case 12:  // CCRQ (call ID = the PNS's own)
            case 13:  // CDN
                for (PptpCall& call : c.calls) {
                    if (message.call_id && (call.requester_call_id == *message.call_id ||
                                            call.replier_call_id == message.call_id)) {
                        if (message.control_type == 12 && call.clear_frame == 0) {
                            call.clear_frame = packet.frame;
                        }
                        if (message.control_type == 13 && call.disconnect_frame == 0) {
                            call.disconnect_frame = packet.frame;
                            call.disconnect_result = message.result_code;
                        }
                        break;
                    }
                }
                break;
            default: break;
        }
    }
}

void Tracker::State::observe_gre(const PacketFacts& packet) {
    if (!packet.gre.call_id) {
        ++gre_unmatched;
        return;
    }
    auto found = gre_index.find({packet.destination.address, *packet.gre.call_id});
    if (found == gre_index.end()) {
        ++gre_unmatched;
        return;
    }
    auto [connection, call_index, to_requester] = found->second;
    PptpConnection& c = pptp[connection];
    PptpCall& call = c.calls[call_index];
    if (to_requester) {
        if (call.gre_to_requester++ == 0) call.first_gre_to_requester = packet.frame;
    } else {
        if (call.gre_to_replier++ == 0) call.first_gre_to_replier = packet.frame;
    }
    c.last_frame = std::max(c.last_frame, packet.frame);
}

std::vector<Session> Tracker::finish() {
    State& s = *state_;
    for (IkeSa& sa : s.ike) check_v1_nat_d(sa);
    RuleInput input{s.ike, s.esp, s.l2tp, s.pptp, s.icmp};
    return apply_rules(input);
}

}  // namespace portcullis::diagnose
