// The diagnosis rules. Each rule turns tracker state into findings that cite the frames proving
// them; the outcome and the one-line cause are derived from the findings. A rule only states what
// the capture can carry: where the evidence is indirect (encrypted answers), the words say "likely".
#include "diagnose/rules.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "diagnose/names.hpp"

namespace portcullis::diagnose::detail {

namespace {

// A call that ends this soon after ICCN without PPP data never worked (xl2tpd gives pppd seconds).
constexpr double kL2tpNoPppSeconds = 10.0;

bool icontains(const std::string& text, std::string_view word) {
    auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
    return std::search(text.begin(), text.end(), word.begin(), word.end(),
                       [&](char a, char b) { return lower(a) == lower(b); }) != text.end();
}

std::string duration_text(double seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 1) return std::to_string(static_cast<long>(seconds * 1000 + 0.5)) + " ms";
    return std::to_string(static_cast<long>(seconds + 0.5)) + " s";
}

std::string frames_text(const std::vector<std::uint64_t>& frames) {
    std::string text;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        if (i != 0) text += ", ";
        text += std::to_string(frames[i]);
    }
    return text;
}

Finding make_finding(std::string code, Severity severity, std::string summary,
                     const std::vector<std::uint64_t>& frames, std::string advice = {},
                     std::uint64_t omitted = 0) {
    Finding finding;
    finding.code = std::move(code);
    finding.severity = severity;
    finding.summary = std::move(summary);
    std::vector<std::uint64_t> sorted = frames;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    if (sorted.size() > kMaxEvidenceFrames) {
        omitted += sorted.size() - kMaxEvidenceFrames;
        sorted.resize(kMaxEvidenceFrames);
    }
    finding.frames = std::move(sorted);
    finding.frames_omitted = omitted;
    finding.advice = std::move(advice);
    return finding;
}

std::string exchange_label(std::uint8_t version, std::uint8_t exchange) {
    if (version == 2) {
        switch (exchange) {
            case 34: return "IKE_SA_INIT";
            case 35: return "IKE_AUTH";
            case 36: return "CREATE_CHILD_SA";
            case 37: return "INFORMATIONAL";
            case 43: return "IKE_INTERMEDIATE";
            default: return "exchange " + std::to_string(exchange);
        }
    }
    switch (exchange) {
        case 2: return "Main Mode";
        case 4: return "Aggressive Mode";
        case 5: return "Informational";
        case 6: return "Transaction (Mode Config/XAUTH)";
        case 32: return "Quick Mode";
        default: return "exchange " + std::to_string(exchange);
    }
}

bool same_pair(const Address& a1, const Address& b1, const Address& a2, const Address& b2) {
    return (a1 == a2 && b1 == b2) || (a1 == b2 && b1 == a2);
}

// Fills outcome and cause from the findings; `established` is the positive evidence.
void conclude(Session& session, bool established, const std::string& established_text,
              const std::string& incomplete_text) {
    const Finding* failure = nullptr;
    const Finding* warning = nullptr;
    for (const Finding& finding : session.findings) {
        if (finding.severity == Severity::failure && failure == nullptr) failure = &finding;
        if (finding.severity == Severity::warning && warning == nullptr) warning = &finding;
    }
    if (failure != nullptr) {
        session.outcome = established ? Outcome::recovered : Outcome::failed;
        session.cause = failure->summary;
        if (established) session.cause += " — then " + established_text;
    } else if (established) {
        session.outcome = Outcome::established;
        session.cause = established_text;
    } else {
        session.outcome = Outcome::incomplete;
        session.cause = warning != nullptr ? warning->summary : incomplete_text;
    }
}

// ---------------------------------------------------------------------------------------------
// ESP ownership: each ESP flow belongs to the latest IKE SA between the same two addresses that
// started before it; flows with no such SA are reported as their own sessions.

struct EspOwnership {
    std::vector<std::vector<std::size_t>> by_sa;   // IKE SA index -> ESP flow indices
    std::vector<std::size_t> orphans;
};

EspOwnership assign_esp(const RuleInput& input) {
    EspOwnership ownership;
    ownership.by_sa.resize(input.ike.size());
    for (std::size_t f = 0; f < input.esp.size(); ++f) {
        const EspFlow& flow = input.esp[f];
        std::size_t owner = SIZE_MAX;
        for (std::size_t i = 0; i < input.ike.size(); ++i) {
            const IkeSa& sa = input.ike[i];
            if (!same_pair(flow.source, flow.destination, sa.initiator.address, sa.responder.address)) {
                continue;
            }
            if (sa.first_frame > flow.first_frame) continue;
            if (owner == SIZE_MAX || input.ike[owner].first_frame < sa.first_frame) owner = i;
        }
        if (owner == SIZE_MAX) {
            ownership.orphans.push_back(f);
        } else {
            ownership.by_sa[owner].push_back(f);
        }
    }
    return ownership;
}

bool esp_between_after(const RuleInput& input, const Address& a, const Address& b,
                       std::uint64_t after_frame) {
    return std::any_of(input.esp.begin(), input.esp.end(), [&](const EspFlow& flow) {
        return same_pair(flow.source, flow.destination, a, b) && flow.last_frame > after_frame;
    });
}

// Findings about the ESP flows of one session (or of an orphan address pair).
void esp_findings(const RuleInput& input, const std::vector<std::size_t>& flows, const Address& a,
                  bool nat_detected, Session& session) {
    if (flows.empty()) return;
    std::uint64_t forward = 0, backward = 0;
    std::vector<std::uint64_t> frames;
    std::string forward_spis, backward_spis;
    bool raw = false;
    Address forward_dst;
    for (std::size_t index : flows) {
        const EspFlow& flow = input.esp[index];
        bool is_forward = flow.source == a;
        (is_forward ? forward : backward) += flow.packets;
        std::string& spis = is_forward ? forward_spis : backward_spis;
        if (!spis.empty()) spis += ", ";
        spis += hex32(flow.spi);
        frames.push_back(flow.first_frame);
        frames.push_back(flow.last_frame);
        if (!flow.udp_encapsulated) raw = true;
        if (is_forward) forward_dst = flow.destination;
    }
    const EspFlow& any = input.esp[flows.front()];
    Address b = any.source == a ? any.destination : any.source;
    std::string a_text = a.to_string(), b_text = b.to_string();
    if (forward > 0 && backward > 0) {
        session.findings.push_back(make_finding(
            "esp-both-ways", Severity::info,
            "ESP flows both ways: " + std::to_string(forward) + " packets " + a_text + " → " +
                b_text + " (SPI " + forward_spis + "), " + std::to_string(backward) + " packets " +
                b_text + " → " + a_text + " (SPI " + backward_spis + ")",
            frames));
    } else {
        bool from_a = forward > 0;
        std::uint64_t count = from_a ? forward : backward;
        std::string sender = from_a ? a_text : b_text, receiver = from_a ? b_text : a_text;
        session.findings.push_back(make_finding(
            "esp-one-way", Severity::warning,
            "ESP flows one way only: " + std::to_string(count) + " packets " + sender + " → " +
                receiver + " (SPI " + (from_a ? forward_spis : backward_spis) + "), none back",
            frames,
            "If " + receiver + " should answer (a ping through the tunnel, TCP), its ESP is "
            "lost or blocked on the way back, or it cannot decrypt what it receives (check its "
            "SA counters with `ip xfrm state` / `swanctl --list-sas`). If the traffic is one-way "
            "by nature, this is harmless."));
    }
    if (raw && nat_detected) {
        session.findings.push_back(make_finding(
            "esp-raw-despite-nat", forward > 0 && backward > 0 ? Severity::warning : Severity::failure,
            "ESP is sent as raw IP protocol 50 although NAT-D showed a NAT between the peers",
            frames,
            "Raw ESP has no ports, so a NAT cannot forward it reliably. Enable NAT traversal "
            "(UDP encapsulation on 4500) on both peers, e.g. strongSwan `encap = yes`, and allow "
            "UDP 4500."));
    }
}

// ---------------------------------------------------------------------------------------------
// IKE

struct IkeVerdict {
    Session session;
    bool established = false;
    std::uint64_t established_frame = 0;
    std::optional<std::uint16_t> invalid_ke_group;
    std::uint64_t invalid_ke_frame = 0;
};

std::string offers_text(const std::vector<std::string>& proposals) {
    std::string text;
    for (std::size_t i = 0; i < proposals.size(); ++i) {
        if (i != 0) text += "; ";
        text += proposals[i];
    }
    return text;
}

IkeVerdict diagnose_ike(const RuleInput& input, std::size_t index, const std::vector<std::size_t>& esp_flows) {
    const IkeSa& sa = input.ike[index];
    IkeVerdict verdict;
    Session& session = verdict.session;
    bool v2 = sa.version == 2;
    session.protocol = v2 ? "IKEv2" : "IKEv1";
    session.id = hex64(sa.spi_initiator) + "/" + hex64(sa.spi_responder);
    session.initiator = sa.first_initiator;
    session.responder = sa.first_responder;
    session.first_frame = sa.first_frame;
    session.last_frame = sa.last_frame;
    session.packets = sa.packets;
    const Address& ia = sa.initiator.address;
    const Address& ra = sa.responder.address;
    std::string initiator_text = sa.first_initiator.address.to_string();
    std::string responder_text = sa.first_responder.address.to_string();

    const auto& records = sa.records;
    auto from_responder = [&](const IkeRecord& r) { return !r.from_initiator; };
    bool responder_spoke = std::any_of(records.begin(), records.end(), from_responder);
    bool started_mid_way = !records.empty() &&
                           (v2 ? records.front().exchange != 34
                               : (records.front().exchange != 2 && records.front().exchange != 4));
    bool nat_detected = !sa.nat.empty();
    bool moved_to_4500 = !sa.frames_4500.frames.empty();
    bool fragmentation_negotiated = sa.fragmentation_initiator && sa.fragmentation_responder;

    // --- explicit errors in cleartext notifies ---
    for (const IkeNotifyEvent& error : sa.errors) {
        std::string sender = error.from_initiator ? initiator_text + " (initiator)"
                                                  : responder_text + " (responder)";
        std::string label = ike_notify_label(v2, error.type);
        if (error.type == 17 && v2) {
            verdict.invalid_ke_group = error.group;
            verdict.invalid_ke_frame = error.frame;
            continue;  // judged below, once retries are known
        }
        std::string summary = sender + " refused with " + label + " (frame " +
                              std::to_string(error.frame) + ")";
        std::vector<std::uint64_t> frames{error.frame};
        if (error.type == 14) {
            summary = sender + " answered NO_PROPOSAL_CHOSEN (frame " + std::to_string(error.frame) +
                      "): no common algorithm set";
            if (!sa.offered.empty()) {
                summary += "; initiator offered (frame " + std::to_string(sa.offered_frame) + "): " +
                           offers_text(sa.offered);
                frames.push_back(sa.offered_frame);
            }
            if (!sa.chosen.empty()) {
                summary += "; responder proposed (frame " + std::to_string(sa.chosen_frame) + "): " +
                           offers_text(sa.chosen);
                frames.push_back(sa.chosen_frame);
            } else {
                summary += "; the responder's own proposals are not in the capture";
            }
        }
        session.findings.push_back(make_finding(
            error.type == 14 ? "ike-no-proposal-chosen"
            : error.type == 7 ? "ike-invalid-syntax"
            : error.type == 24 ? "ike-authentication-failed"
                               : "ike-error-notify",
            Severity::failure, summary, frames, ike_notify_advice(v2, error.type)));
    }

    // --- evidence of establishment ---
    std::uint64_t auth_response_frame = 0;
    std::uint32_t auth_response_length = 0;
    bool later_exchange = false;
    bool child_exchange = false;
    bool phase1_done = false, phase2_done = false;
    std::uint64_t phase1_frame = 0, phase2_frame = 0;
    bool quick_mode_initiator = false;
    for (const IkeRecord& r : records) {
        if (v2) {
            if (r.exchange == 35 && r.response && !r.from_initiator) {
                auth_response_frame = r.frame;
                auth_response_length = r.length;
            }
            if ((r.exchange == 36 || r.exchange == 37) && auth_response_frame != 0 &&
                r.frame > auth_response_frame) {
                later_exchange = true;
                // An answered CREATE_CHILD_SA proves working CHILD_SAs; INFORMATIONAL does not.
                if (r.exchange == 36 && r.response) child_exchange = true;
            }
        } else {
            if ((r.exchange == 2 && r.encrypted && !r.from_initiator) ||
                (r.exchange == 4 && !r.from_initiator)) {
                if (!phase1_done) phase1_frame = r.frame;
                phase1_done = true;
            }
            if (r.exchange == 32) {
                if (r.from_initiator) quick_mode_initiator = true;
                if (!r.from_initiator && quick_mode_initiator) {
                    if (!phase2_done) phase2_frame = r.frame;
                    phase2_done = true;
                    phase1_done = true;
                    if (phase1_frame == 0) phase1_frame = r.frame;
                }
            }
        }
    }
    if (v2) {
        bool esp_after = auth_response_frame != 0 && esp_between_after(input, ia, ra, auth_response_frame);
        verdict.established = auth_response_frame != 0 && (child_exchange || esp_after);
        verdict.established_frame = auth_response_frame;
        if (!verdict.established && started_mid_way && responder_spoke) {
            // An SA set up before the capture whose later exchanges are answered.
            bool answered = std::any_of(records.begin(), records.end(),
                                        [](const IkeRecord& r) { return r.response; });
            if (answered) {
                verdict.established = true;
                verdict.established_frame = records.front().frame;
            }
        }
    } else {
        bool esp_after = phase1_done && esp_between_after(input, ia, ra, phase1_frame);
        verdict.established = phase1_done && (phase2_done || esp_after);
        verdict.established_frame = phase2_done ? phase2_frame : phase1_frame;
    }

    // --- NAT detection ---
    if (nat_detected) {
        std::vector<std::uint64_t> frames;
        std::string text = "NAT detected (NAT-D hashes recomputed from the addresses in this capture): ";
        std::set<std::string> seen_texts;
        for (const NatObservation& observation : sa.nat) {
            frames.push_back(observation.frame);
            if (seen_texts.insert(observation.text).second) {
                if (seen_texts.size() > 1) text += "; ";
                text += observation.text + " (frame " + std::to_string(observation.frame) + ")";
            }
        }
        bool everything_differs = sa.nat.size() >= 4 && sa.nat.size() == 2 * sa.nat_d_checked_frames.size();
        if (everything_differs) {
            text += ". Every hash differs, even each peer's own address: either both peers are "
                    "behind NAT, or the hashes were not computed over these addresses (a "
                    "rewritten or synthetic capture)";
        }
        session.findings.push_back(make_finding("nat-detected", Severity::info, text, frames));
    } else if (!sa.nat_d_checked_frames.empty()) {
        session.findings.push_back(make_finding(
            "no-nat", Severity::info,
            "NAT-D hashes match the addresses and ports seen here: no NAT between the peers and "
            "this capture point",
            sa.nat_d_checked_frames));
    }
    if (sa.nat_d_hash_unknown) {
        session.findings.push_back(make_finding(
            "nat-d-unverified", Severity::info,
            "NAT-D payloads are present but the negotiated hash algorithm is not in the capture "
            "(the responder's Main Mode SA reply is missing), so NAT cannot be verified",
            {sa.nat_d_unknown_frame}));
    }

    // --- unanswered requests ---
    if (!responder_spoke && started_mid_way) {
        std::vector<std::uint64_t> frames;
        for (const IkeRecord& r : records) frames.push_back(r.frame);
        bool several = sa.packets >= 2;
        session.findings.push_back(make_finding(
            "ike-mid-stream-unanswered", several ? Severity::failure : Severity::warning,
            "this SA was set up before the capture started; " + std::to_string(sa.packets) +
                " later request" + (several ? "s" : "") + " from " + initiator_text +
                (several ? " got no answer: the peer stopped answering (it is down, lost the SA, "
                           "or the path broke)"
                         : " was not answered before the capture ended"),
            frames,
            several ? "Check that " + responder_text + " is up and reachable; dead peer detection "
                      "will tear this SA down." : std::string{}));
    } else if (!responder_spoke) {
        std::vector<std::uint64_t> frames;
        bool all_500 = true;
        for (const IkeRecord& r : records) {
            frames.push_back(r.frame);
            if (r.destination_port != 500) all_500 = false;
        }
        std::uint64_t transmissions = sa.packets;
        std::string port = all_500 ? "500" : std::to_string(records.empty() ? 0 : records.front().destination_port);
        Severity severity = transmissions >= 2 ? Severity::failure : Severity::warning;
        session.findings.push_back(make_finding(
            all_500 ? "ike-no-answer-500" : "ike-no-answer",
            severity,
            std::to_string(transmissions) + " IKE request" + (transmissions == 1 ? "" : "s") + " from " +
                initiator_text + " to " + responder_text + ":" + port + " never answered" +
                (transmissions == 1 ? " (only one was sent before the capture ended)" : ""),
            frames,
            "UDP " + port + " is blocked between the peers (firewall, ISP, cloud security group) "
            "or nothing listens on " + responder_text + ":" + port +
            " (IKE daemon down, wrong server address). Capture on the server: if the requests "
            "arrive there, its firewall or daemon drops them; if not, they are blocked on the way.",
            sa.ip_fragment_frames.omitted));
        bool responder_spi_known = std::any_of(records.begin(), records.end(), [](const IkeRecord& r) {
            return r.exchange != 34 && r.exchange != 2 && r.exchange != 4;
        });
        if (responder_spi_known && sa.spi_responder != 0) {
            std::vector<std::uint64_t> later;
            for (const IkeRecord& r : records) {
                if (r.exchange != 34 && r.exchange != 2 && r.exchange != 4) later.push_back(r.frame);
            }
            session.findings.push_back(make_finding(
                "one-direction-capture", Severity::info,
                "the initiator already knows the responder's SPI " + hex64(sa.spi_responder) +
                    (later.size() == 1 ? " (frame " : " (frames ") + frames_text(later) + "), so the responder answered at some point: "
                    "this capture may hold only one direction of the traffic",
                later, "Capture on both interfaces, or on the path both directions take."));
        }
    } else {
        std::uint64_t last_responder_frame = 0;
        for (const IkeRecord& r : records) {
            if (!r.from_initiator) last_responder_frame = r.frame;
        }
        std::vector<const IkeRecord*> trailing;
        for (const IkeRecord& r : records) {
            if (r.frame <= last_responder_frame || !r.from_initiator) continue;
            if (v2 ? r.response : r.exchange == 5) continue;
            trailing.push_back(&r);
        }
        // Only the first trailing exchange matters: later ones could not have started without it.
        if (!trailing.empty()) {
            const IkeRecord& first = *trailing.front();
            std::vector<const IkeRecord*> same;
            for (const IkeRecord* r : trailing) {
                if (r->exchange == first.exchange && r->message_id == first.message_id) same.push_back(r);
            }
            std::size_t count = same.size();
            // IKEv1 ends its exchanges with an initiator message that gets no answer (Quick Mode 3).
            bool v1_final_message = !v2 && count == 1 && (first.exchange == 32 || verdict.established);
            if (v1_final_message) trailing.clear();
        }
        if (!trailing.empty()) {
            const IkeRecord& first = *trailing.front();
            std::vector<const IkeRecord*> same;
            for (const IkeRecord* r : trailing) {
                if (r->exchange == first.exchange && r->message_id == first.message_id) same.push_back(r);
            }
            std::vector<std::uint64_t> frames;
            bool fragmented = false, on_4500 = false;
            std::uint32_t length = 0;
            for (const IkeRecord* r : same) {
                frames.push_back(r->frame);
                fragmented = fragmented || r->ip_fragmented;
                on_4500 = on_4500 || r->on_4500;
                length = std::max(length, r->length);
            }
            if (fragmented) {
                for (std::uint64_t frame : sa.ip_fragment_frames.frames) {
                    if (frame > last_responder_frame) frames.push_back(frame);
                }
            }
            bool responder_used_4500 = std::any_of(records.begin(), records.end(), [](const IkeRecord& r) {
                return !r.from_initiator && r.on_4500;
            });
            bool first_on_4500 = on_4500 && !responder_used_4500;
            std::size_t count = same.size();
            Severity severity = count >= 2 ? Severity::failure : Severity::warning;
            std::string what = exchange_label(sa.version, first.exchange) + " request (message ID " +
                               (v2 ? std::to_string(first.message_id) : hex32(first.message_id)) + ", " + std::to_string(length) +
                               " bytes)";
            std::string retried = count >= 2 ? " was sent " + std::to_string(count) +
                                                   " times and never answered"
                                             : " was not answered before the capture ended";
            if (fragmented && !fragmentation_negotiated) {
                std::string missing;
                if (v2) {
                    missing = !sa.fragmentation_initiator && !sa.fragmentation_responder
                                  ? "neither peer sent IKEV2_FRAGMENTATION_SUPPORTED"
                              : !sa.fragmentation_initiator ? "the initiator did not send IKEV2_FRAGMENTATION_SUPPORTED"
                                                            : "the responder did not send IKEV2_FRAGMENTATION_SUPPORTED";
                } else {
                    missing = "the IKE fragmentation vendor ID was not exchanged by both peers";
                }
                session.findings.push_back(make_finding(
                    "ike-ip-fragments-lost", severity,
                    "the " + what + " went out as IP fragments; it" + retried +
                        "; IKE fragmentation was not negotiated (" + missing + ")" +
                        (first_on_4500 ? "; it was also the first message on UDP 4500" : ""),
                    frames,
                    "IP fragments of UDP are often dropped by NAT routers, firewalls and some ISPs. "
                    "Enable IKE fragmentation on both peers (strongSwan `fragmentation = yes`; on "
                    "Windows set the EnableIKEv2Fragmentation registry value / Set-VpnConnection), "
                    "or make the message smaller (shorter certificate chain, fewer CERTREQs), or "
                    "let IP fragments through the firewall." +
                        std::string(first_on_4500 ? " If that does not help, check that UDP 4500 "
                                                    "is open too." : "")));
            } else if (first_on_4500) {
                session.findings.push_back(make_finding(
                    "ike-4500-unanswered", severity,
                    std::string("UDP 500 worked, but after the move to UDP 4500") +
                        (nat_detected ? " (NAT was detected)" : "") + " the " + what + retried,
                    frames,
                    "UDP 4500 is blocked or not forwarded: open UDP 4500 to " + responder_text +
                        " and, on a NAT router in front of it, forward 4500 like 500."));
            } else if (!v2 && first.exchange == 2 && first.encrypted) {
                session.findings.push_back(make_finding(
                    "ikev1-main-mode-5-unanswered", severity,
                    "the responder answered the cleartext Main Mode messages, but the initiator's "
                    "first encrypted message (identity and authentication hash)" + retried +
                        ": the responder likely cannot decrypt it — typical of a pre-shared key "
                        "mismatch (likely; the message is encrypted)",
                    frames, ike_notify_advice(false, 24)));
            } else if (v2 && first.exchange == 35) {
                session.findings.push_back(make_finding(
                    "ike-auth-unanswered", severity,
                    "the " + what + retried +
                        (fragmented ? " (it was sent as IP fragments)" : ""),
                    frames,
                    "The responder answered IKE_SA_INIT but not IKE_AUTH: the IKE_AUTH packets are "
                    "lost on the way (large message, fragments, UDP 4500), or the responder drops "
                    "them; its log shows which."));
            } else {
                session.findings.push_back(make_finding(
                    "ike-request-unanswered", severity, "the " + what + retried, frames,
                    "The responder stopped answering: check reachability and the responder's log."));
            }
        }
        // IKEv2: IKE_AUTH answered but nothing afterwards.
        bool small_answer = auth_response_length != 0 && auth_response_length <= 112;
        if (v2 && auth_response_frame != 0 && !verdict.established && trailing.empty() && later_exchange) {
            // The IKE SA lives on (later exchanges are answered) but no tunnel traffic shows.
            session.findings.push_back(make_finding(
                "ike-no-child-traffic", Severity::warning,
                "IKE_AUTH was answered (frame " + std::to_string(auth_response_frame) +
                    ") and the IKE SA stays up, but no ESP and no CHILD_SA exchange followed: the "
                    "CHILD_SA was possibly refused (NO_PROPOSAL_CHOSEN or TS_UNACCEPTABLE for ESP "
                    "would be inside the encrypted answer), or no traffic went through the tunnel "
                    "while capturing",
                {auth_response_frame},
                "Compare the ESP proposals (esp_proposals) and traffic selectors (local_ts/remote_ts) "
                "on both sides; the initiator's log says \"no CHILD_SA built\" with the reason. If "
                "the tunnel is fine, send traffic through it while capturing."));
        } else if (v2 && auth_response_frame != 0 && !verdict.established && trailing.empty()) {
            std::string size_note =
                small_answer ? "; the answer is only " + std::to_string(auth_response_length) +
                                   " bytes, about the size of a lone error notify"
                             : "; but the answer (" + std::to_string(auth_response_length) +
                                   " bytes) is large enough to carry the responder's own "
                                   "identity and AUTH, so the CHILD_SA may have been refused "
                                   "instead";
            session.findings.push_back(make_finding(
                "ike-auth-likely-rejected", Severity::failure,
                "IKE_AUTH was answered (frame " + std::to_string(auth_response_frame) +
                    ") but no CHILD_SA traffic (ESP) and no further IKE exchange followed: "
                    "authentication was likely rejected (the answer is encrypted, so an "
                    "AUTHENTICATION_FAILED notify cannot be read)" + size_note,
                {auth_response_frame},
                "Check the credentials on both sides (pre-shared key, certificates and their CA, "
                "EAP user/password) and the identities (IDi/IDr) each side expects; the "
                "responder's log states the reason. If the capture stopped right after the "
                "handshake, capture longer to see tunnel traffic."));
        }
    }

    // IKEv1: the first encrypted Main Mode message answered only by (encrypted) notifications.
    if (!v2 && !phase1_done) {
        std::vector<std::uint64_t> mm5, notes;
        for (const IkeRecord& r : records) {
            if (r.exchange == 2 && r.encrypted && r.from_initiator) mm5.push_back(r.frame);
            if (r.exchange == 5 && !r.from_initiator && !mm5.empty()) notes.push_back(r.frame);
        }
        if (!mm5.empty() && !notes.empty()) {
            std::vector<std::uint64_t> frames = mm5;
            frames.insert(frames.end(), notes.begin(), notes.end());
            session.findings.push_back(make_finding(
                "ikev1-main-mode-5-rejected", Severity::failure,
                "the responder answered the initiator's first encrypted Main Mode message "
                "(identity and authentication hash, sent " + std::to_string(mm5.size()) +
                    (mm5.size() == 1 ? " time" : " times") +
                    ") only with encrypted notifications: it likely could not decrypt or verify "
                    "it — typical of a pre-shared key mismatch (likely; the notifications are "
                    "encrypted)",
                frames, ike_notify_advice(false, 24)));
        }
    }

    // --- ESP of this SA ---
    esp_findings(input, esp_flows, ia, nat_detected, session);

    // --- informational context ---
    if (!sa.cookie_frames.frames.empty()) {
        session.findings.push_back(make_finding(
            "ike-cookie", Severity::info,
            "the responder asked for a COOKIE (anti-DoS) and the initiator repeated IKE_SA_INIT",
            sa.cookie_frames.frames, {}, sa.cookie_frames.omitted));
    }
    if (moved_to_4500 && verdict.established) {
        session.findings.push_back(make_finding(
            "nat-t", Severity::info,
            std::string("NAT traversal in use: IKE moved to UDP 4500") +
                (nat_detected ? " after NAT was detected" : ""),
            {sa.frames_4500.frames.front()}));
    }
    return verdict;
}

// ---------------------------------------------------------------------------------------------
// L2TP

Session diagnose_l2tp(const L2tpTunnel& tunnel) {
    Session session;
    session.protocol = tunnel.version == 3 ? "L2TPv3" : "L2TP";
    session.id = "tunnel " + std::to_string(tunnel.initiator_tunnel_id) + "/" +
                 (tunnel.responder_tunnel_id ? std::to_string(*tunnel.responder_tunnel_id) : "?");
    session.initiator = tunnel.initiator;
    session.responder = tunnel.responder;
    session.first_frame = tunnel.first_frame;
    session.last_frame = tunnel.last_frame;
    session.packets = tunnel.packets;
    std::string lns = tunnel.responder.to_string();
    bool established = tunnel.scccn_frame != 0;
    if (tunnel.sccrq_count > 0 && tunnel.sccrp_frame == 0 && tunnel.stopccn_frame == 0) {
        Severity severity = tunnel.sccrq_count >= 2 ? Severity::failure : Severity::warning;
        std::string summary = "SCCRQ sent " + std::to_string(tunnel.sccrq_count) + " time" +
                              (tunnel.sccrq_count == 1 ? "" : "s") + " to " + lns + " without an SCCRP";
        if (tunnel.responder_packets > 0) summary += " (the peer sent only acknowledgements)";
        session.findings.push_back(make_finding(
            "l2tp-sccrq-unanswered", severity, summary, tunnel.sccrq_frames.frames,
            "UDP 1701 is blocked, or no L2TP server (xl2tpd) runs at " + lns +
                ". L2TP is usually carried inside IPsec: if the IPsec SA is not up, the server "
                "drops cleartext L2TP by policy.",
            tunnel.sccrq_frames.omitted));
    }
    if (tunnel.stopccn_frame != 0) {
        std::uint16_t result = tunnel.stop_result.value_or(0);
        bool normal = established && (result == 1 || result == 6);
        std::string who = tunnel.stopccn_from_initiator ? "the LAC (initiator)" : "the LNS (responder)";
        std::string summary = who + " closed the tunnel with StopCCN: " + l2tp_stopccn_result(result);
        if (tunnel.stop_error && *tunnel.stop_error != 0) summary += "; error: " + l2tp_error_code(*tunnel.stop_error);
        if (!tunnel.stop_message.empty()) summary += "; message: \"" + tunnel.stop_message + "\"";
        summary += " (frame " + std::to_string(tunnel.stopccn_frame) + ")";
        std::string advice;
        if (result == 4) {
            advice = "The LNS does not accept this LAC: check the tunnel secret / challenge "
                     "settings (must match on both sides) and the LNS's allowed host names or "
                     "addresses.";
        } else if (result == 5) {
            advice = "Protocol version mismatch: use L2TPv2 on both sides.";
        } else if (!normal && icontains(tunnel.stop_message, "challenge")) {
            advice = "The tunnel authentication (challenge) failed: the tunnel secrets differ "
                     "between the LAC and the LNS, or only one side enables challenge. Set the "
                     "same secret on both sides (xl2tpd: the auth file / l2tp-secrets).";
        } else if (!normal) {
            advice = "Read the result and error code above; the closing side's log has details.";
        }
        session.findings.push_back(make_finding(normal ? "l2tp-tunnel-closed" : "l2tp-stopccn",
                                                normal ? Severity::info : Severity::failure, summary,
                                                {tunnel.stopccn_frame}, advice));
    }
    bool any_call_connected = false;
    bool call_without_ppp = false;
    for (const L2tpCall& call : tunnel.calls) {
        std::string label = std::string(call.outgoing ? "outgoing" : "incoming") + " call (session " +
                            std::to_string(call.requester_session_id) + "/" +
                            (call.replier_session_id ? std::to_string(*call.replier_session_id) : "?") + ")";
        if (call.connected_frame != 0) any_call_connected = true;
        if (call.cdn_frame != 0) {
            std::uint16_t result = call.cdn_result.value_or(0);
            bool normal = call.connected_frame != 0 && (result == 1 || result == 3);
            // A "normal" disconnect right after ICCN with no PPP frame in the tunnel means the
            // session never carried anything: PPP did not come up on one side.
            bool no_ppp = normal && call.data_packets_at_cdn == call.data_packets_when_connected &&
                          call.cdn_time - call.connected_time < kL2tpNoPppSeconds;
            if (no_ppp) {
                call_without_ppp = true;
                session.findings.push_back(make_finding(
                    "l2tp-call-no-ppp", Severity::failure,
                    label + " connected (frame " + std::to_string(call.connected_frame) +
                        ") and was disconnected " + duration_text(call.cdn_time - call.connected_time) +
                        " later (CDN, frame " + std::to_string(call.cdn_frame) +
                        ") without a single PPP data packet in the tunnel",
                    {call.request_frame, call.connected_frame, call.cdn_frame},
                    "PPP never ran in the session: on the side that sent the CDN, pppd likely failed to "
                    "start or gave up at once (missing PPP support, bad pppd options, PPP "
                    "authentication refused) — its xl2tpd/pppd log says which."));
            }
            std::string summary = label + " disconnected with CDN: " + l2tp_cdn_result(result);
            if (call.cdn_error && *call.cdn_error != 0) summary += "; error: " + l2tp_error_code(*call.cdn_error);
            if (!call.cdn_message.empty()) summary += "; message: \"" + call.cdn_message + "\"";
            summary += call.connected_frame != 0 ? " (after it connected, frame " + std::to_string(call.connected_frame) + ")"
                                                 : " (before it connected)";
            session.findings.push_back(make_finding(
                normal ? "l2tp-call-closed" : "l2tp-cdn", normal ? Severity::info : Severity::failure,
                summary, {call.request_frame, call.connected_frame, call.cdn_frame},
                normal ? std::string{}
                       : "The session was torn down by the side that sent the CDN; a PPP failure "
                         "(pppd missing, authentication failure in PPP, no IP address) is the usual "
                         "reason right after ICCN — see that side's log."));
        } else if (call.connected_frame != 0) {
            session.findings.push_back(make_finding("l2tp-call-connected", Severity::info,
                                                    label + " connected", {call.request_frame, call.connected_frame}));
        }
    }
    if (tunnel.started_before_capture) {
        session.findings.push_back(make_finding(
            "l2tp-mid-stream", Severity::info,
            "the tunnel was set up before the capture started", {tunnel.first_frame}));
        if (tunnel.responder_packets > 0) established = true;
    }
    (void)any_call_connected;
    // The tunnel came up, but a session that never carried PPP is not a working VPN.
    conclude(session, established && !call_without_ppp, "tunnel established (SCCRQ/SCCRP/SCCCN)",
             tunnel.sccrp_frame != 0 ? "the tunnel setup did not complete in the capture"
                                     : "only part of the tunnel setup is in the capture");
    return session;
}

// ---------------------------------------------------------------------------------------------
// PPTP

Session diagnose_pptp(const PptpConnection& c) {
    Session session;
    session.protocol = "PPTP";
    session.initiator = c.client;
    session.responder = c.server;
    session.first_frame = c.first_frame;
    session.last_frame = c.last_frame;
    session.packets = c.packets;
    std::string server = c.server.to_string();
    std::string ids;
    for (const PptpCall& call : c.calls) {
        if (!ids.empty()) ids += ", ";
        ids += "call " + std::to_string(call.requester_call_id) + "/" +
               (call.replier_call_id ? std::to_string(*call.replier_call_id) : "?");
    }
    session.id = ids.empty() ? "control connection" : ids;

    if (c.syn_count > 0 && c.syn_ack_frame == 0) {
        if (c.rst_frame != 0 && c.rst_from_server) {
            session.findings.push_back(make_finding(
                "pptp-refused", Severity::failure,
                "the connection to " + server + " was refused with a TCP reset (frame " +
                    std::to_string(c.rst_frame) + ")",
                {c.syn_frames.frames.front(), c.rst_frame},
                "Nothing listens on TCP 1723 at " + server + " (pptpd not running) or a firewall "
                "rejects it."));
        } else {
            session.findings.push_back(make_finding(
                "pptp-1723-unanswered", c.syn_count >= 2 ? Severity::failure : Severity::warning,
                std::to_string(c.syn_count) + " TCP connection attempt" + (c.syn_count == 1 ? "" : "s") +
                    " to " + server + " never answered",
                c.syn_frames.frames,
                "TCP 1723 is blocked on the way or the server is down; a firewall dropping "
                "(not rejecting) the port looks exactly like this.",
                c.syn_frames.omitted));
        }
    } else if (c.rst_frame != 0) {
        bool call_connected = std::any_of(c.calls.begin(), c.calls.end(), [](const PptpCall& call) {
            return call.result.value_or(0) == 1;
        });
        bool torn_down = c.stop_frame != 0 ||
                         std::any_of(c.calls.begin(), c.calls.end(), [](const PptpCall& call) {
                             return call.clear_frame != 0 || call.disconnect_frame != 0;
                         });
        if (!call_connected && !torn_down) {
            session.findings.push_back(make_finding(
                "pptp-reset", Severity::failure,
                std::string("the control connection was reset by the ") +
                    (c.rst_from_server ? "server" : "client") + " (frame " + std::to_string(c.rst_frame) +
                    ") before a call was connected",
                {c.rst_frame}, "See the resetting side's log."));
        }
    }
    if (c.sccrp_frame != 0 && c.sccrp_result.value_or(1) != 1) {
        std::string summary = "the server refused the control connection: " +
                              pptp_sccrp_result(*c.sccrp_result);
        if (c.sccrp_error && *c.sccrp_error != 0) summary += "; error: " + pptp_error_code(*c.sccrp_error);
        session.findings.push_back(make_finding("pptp-sccrp-refused", Severity::failure, summary,
                                                {c.sccrq_frame, c.sccrp_frame},
                                                "See the server's pptpd log."));
    }
    bool established = false;
    for (const PptpCall& call : c.calls) {
        std::string label = "call " + std::to_string(call.requester_call_id) + "/" +
                            (call.replier_call_id ? std::to_string(*call.replier_call_id) : "?");
        if (call.reply_frame == 0) continue;
        if (call.result.value_or(0) != 1) {
            std::string summary = label + " refused: " + pptp_ocrp_result(call.result.value_or(0));
            if (call.error && *call.error != 0) summary += "; error: " + pptp_error_code(*call.error);
            session.findings.push_back(make_finding("pptp-call-refused", Severity::failure, summary,
                                                    {call.request_frame, call.reply_frame},
                                                    "See the server's pptpd log."));
            continue;
        }
        std::string requester = call.requester.to_string(), replier = call.replier.to_string();
        std::uint64_t to_replier = call.gre_to_replier, to_requester = call.gre_to_requester;
        std::string advice =
            "GRE (IP protocol 47) does not pass: allow protocol 47 on every firewall between the "
            "peers and, on a NAT gateway, attach the PPTP conntrack helper to TCP 1723 (nftables: "
            "a `ct helper` of type \"pptp\" and `ct helper set`) so the call's GRE is forwarded.";
        if (to_replier == 0 && to_requester == 0) {
            session.findings.push_back(make_finding(
                "pptp-no-gre", Severity::failure,
                label + " was connected (frame " + std::to_string(call.reply_frame) +
                    ") but no GRE packet of the call was seen in either direction",
                {call.request_frame, call.reply_frame},
                advice + " (If this capture was filtered to TCP, capture again without a filter.)"));
        } else if (to_replier == 0 || to_requester == 0) {
            bool only_to_replier = to_requester == 0;
            std::uint64_t count = only_to_replier ? to_replier : to_requester;
            std::string sender = only_to_replier ? requester : replier;
            std::string receiver = only_to_replier ? replier : requester;
            std::uint64_t first = only_to_replier ? call.first_gre_to_replier : call.first_gre_to_requester;
            Severity severity = count >= 3 ? Severity::failure : Severity::warning;
            session.findings.push_back(make_finding(
                count >= 3 ? "pptp-gre-one-way" : "pptp-gre-sparse", severity,
                label + ": GRE only from " + sender + " to " + receiver + " (" + std::to_string(count) +
                    " packet" + (count == 1 ? "" : "s") + "), none back" +
                    (count >= 3 ? "" : " — too few to judge"),
                {call.reply_frame, first}, advice));
        } else {
            established = true;
            session.findings.push_back(make_finding(
                "pptp-call-up", Severity::info,
                label + " connected; GRE flows both ways (" + std::to_string(to_replier) + " to " +
                    replier + ", " + std::to_string(to_requester) + " to " + requester + ")",
                {call.reply_frame, call.first_gre_to_replier, call.first_gre_to_requester}));
        }
    }
    conclude(session, established, "call connected and GRE flowing",
             c.calls.empty() ? "no call was placed in the capture" : "the call did not complete in the capture");
    return session;
}

// ---------------------------------------------------------------------------------------------
// ICMP errors quoting VPN packets

enum class Target : std::uint8_t { none, ike, esp, l2tp, pptp };

bool quotes_vpn(const IcmpErrorFacts& icmp) {
    auto port = [&](std::uint16_t p) {
        return icmp.quoted_source_port == p || icmp.quoted_destination_port == p;
    };
    if (icmp.quoted_protocol == 50 || icmp.quoted_protocol == 47) return true;
    if (icmp.quoted_protocol == 17) return port(500) || port(4500) || port(1701);
    if (icmp.quoted_protocol == 6) return port(1723);
    return false;
}

Finding icmp_finding(const IcmpError& error) {
    const IcmpErrorFacts& q = error.facts;
    std::string meaning = icmp_meaning(q.ipv6, q.type, q.code);
    std::string what;
    switch (q.quoted_protocol) {
        case 17: what = "UDP " + std::to_string(q.quoted_destination_port); break;
        case 6: what = "TCP " + std::to_string(q.quoted_destination_port); break;
        case 47: what = "GRE"; break;
        case 50: what = "ESP"; break;
        default: what = "protocol " + std::to_string(q.quoted_protocol); break;
    }
    bool too_big = (!q.ipv6 && q.type == 3 && q.code == 4) || (q.ipv6 && q.type == 2);
    std::string summary = error.reporter.to_string() + " answered a " + what + " packet " +
                          q.quoted_source.to_string() + " → " + q.quoted_destination.to_string() +
                          " with ICMP " + meaning;
    if (too_big && q.mtu) summary += " (MTU " + std::to_string(*q.mtu) + ")";
    summary += " (frame " + std::to_string(error.frame) + ")";
    std::string advice;
    bool port_unreachable = (!q.ipv6 && q.type == 3 && q.code == 3) || (q.ipv6 && q.type == 1 && q.code == 4);
    bool protocol_unreachable = !q.ipv6 && q.type == 3 && q.code == 2;
    bool prohibited = (!q.ipv6 && q.type == 3 && (q.code == 9 || q.code == 10 || q.code == 13)) ||
                      (q.ipv6 && q.type == 1 && (q.code == 1 || q.code == 5 || q.code == 6));
    if (port_unreachable) {
        advice = "Nothing listens on " + what + " at " + q.quoted_destination.to_string() +
                 ": start the VPN daemon there, or fix the server address/port forwarding.";
    } else if (protocol_unreachable) {
        advice = q.quoted_protocol == 47
                     ? "The host does not handle GRE: typically a NAT gateway without the PPTP "
                       "conntrack helper receives the call's GRE itself instead of forwarding it."
                     : "The destination does not handle this protocol: the packet reached the "
                       "wrong host (missing forwarding / NAT rule).";
    } else if (prohibited) {
        advice = "A firewall at " + error.reporter.to_string() + " rejects this traffic: allow it.";
    } else if (too_big) {
        advice = "The path MTU is smaller than the packet: enable IKE fragmentation / lower the "
                 "tunnel MTU (MSS clamping) so packets fit.";
    } else {
        advice = "The packet could not be delivered: check routing between the peers.";
    }
    return make_finding(too_big ? "icmp-too-big" : "icmp-unreachable",
                        too_big ? Severity::warning : Severity::failure, summary, {error.frame}, advice);
}

}  // namespace

std::vector<Session> apply_rules(const RuleInput& input) {
    std::vector<Session> sessions;
    EspOwnership ownership = assign_esp(input);

    // IKE SAs first, then cross-SA retry handling (INVALID_KE, recovery by a later SA).
    std::vector<IkeVerdict> verdicts;
    verdicts.reserve(input.ike.size());
    for (std::size_t i = 0; i < input.ike.size(); ++i) {
        verdicts.push_back(diagnose_ike(input, i, ownership.by_sa[i]));
    }
    // The first SA between the same two peers whose opening request (IKE_SA_INIT, Main or
    // Aggressive Mode 1) comes after `after_frame`, with that frame. Frame order, not SA order:
    // some captures list a later SA's packets before its opening exchange.
    auto opening_after = [&](const IkeSa& sa, std::uint64_t after_frame) -> std::uint64_t {
        if (sa.records.empty()) return sa.first_frame > after_frame ? sa.first_frame : 0;
        for (const IkeRecord& r : sa.records) {
            bool opening = sa.version == 2 ? r.exchange == 34 : (r.exchange == 2 || r.exchange == 4);
            if (opening && r.from_initiator && r.frame > after_frame) return r.frame;
        }
        bool mid_stream = sa.version == 2 ? sa.records.front().exchange != 34
                                          : sa.records.front().exchange != 2 && sa.records.front().exchange != 4;
        return mid_stream && sa.first_frame > after_frame ? sa.first_frame : 0;
    };
    auto later_sa = [&](std::size_t i, std::uint64_t after_frame, std::uint64_t* start = nullptr) -> std::size_t {
        const IkeSa& sa = input.ike[i];
        std::size_t best = SIZE_MAX;
        std::uint64_t best_frame = UINT64_MAX;
        for (std::size_t j = 0; j < input.ike.size(); ++j) {
            const IkeSa& other = input.ike[j];
            if (j == i || other.version != sa.version) continue;
            if (other.first_initiator.address != sa.first_initiator.address ||
                other.first_responder.address != sa.first_responder.address) {
                continue;
            }
            std::uint64_t frame = opening_after(other, after_frame);
            if (frame != 0 && frame < best_frame) {
                best = j;
                best_frame = frame;
            }
        }
        if (start != nullptr) *start = best_frame;
        return best;
    };
    // ICMP errors attach to the matching session before outcomes are decided.
    std::vector<std::vector<Finding>> ike_icmp(input.ike.size()), l2tp_icmp(input.l2tp.size()),
        pptp_icmp(input.pptp.size());
    std::vector<Session> icmp_sessions;
    for (const IcmpError& error : input.icmp) {
        const IcmpErrorFacts& q = error.facts;
        if (!quotes_vpn(q)) continue;
        Finding finding = icmp_finding(error);
        bool attached = false;
        auto matches = [&](const Address& a, const Address& b) {
            return same_pair(q.quoted_source, q.quoted_destination, a, b);
        };
        if (q.quoted_protocol == 17 && (q.quoted_destination_port == 1701 || q.quoted_source_port == 1701)) {
            for (std::size_t i = 0; i < input.l2tp.size() && !attached; ++i) {
                if (matches(input.l2tp[i].initiator.address, input.l2tp[i].responder.address)) {
                    l2tp_icmp[i].push_back(finding);
                    attached = true;
                }
            }
        } else if (q.quoted_protocol == 6 || q.quoted_protocol == 47) {
            for (std::size_t i = 0; i < input.pptp.size() && !attached; ++i) {
                if (matches(input.pptp[i].client.address, input.pptp[i].server.address)) {
                    pptp_icmp[i].push_back(finding);
                    attached = true;
                }
            }
        } else {
            // IKE or ESP: the latest SA between the two addresses that started before the error.
            std::size_t owner = SIZE_MAX;
            for (std::size_t i = 0; i < input.ike.size(); ++i) {
                const IkeSa& sa = input.ike[i];
                if (!matches(sa.initiator.address, sa.responder.address) &&
                    !matches(sa.first_initiator.address, sa.first_responder.address)) {
                    continue;
                }
                if (sa.first_frame > error.frame) continue;
                if (owner == SIZE_MAX || input.ike[owner].first_frame < sa.first_frame) owner = i;
            }
            if (owner != SIZE_MAX) {
                ike_icmp[owner].push_back(finding);
                attached = true;
            }
        }
        if (!attached) {
            Session session;
            session.protocol = "ICMP";
            session.id = "error about " + q.quoted_source.to_string() + " → " + q.quoted_destination.to_string();
            session.initiator = Endpoint{q.quoted_source, q.quoted_source_port};
            session.responder = Endpoint{q.quoted_destination, q.quoted_destination_port};
            session.first_frame = session.last_frame = error.frame;
            session.packets = 1;
            session.findings.push_back(finding);
            conclude(session, false, {}, {});
            icmp_sessions.push_back(std::move(session));
        }
    }

    for (std::size_t i = 0; i < input.ike.size(); ++i) {
        IkeVerdict& verdict = verdicts[i];
        Session& session = verdict.session;
        // ICMP errors explain a silence better than "no answer": put them first.
        session.findings.insert(session.findings.begin(), ike_icmp[i].begin(), ike_icmp[i].end());
        if (verdict.invalid_ke_frame != 0) {
            const IkeSa& sa = input.ike[i];
            std::string asked = verdict.invalid_ke_group ? std::to_string(*verdict.invalid_ke_group) : "?";
            std::string offered = sa.ke_group ? std::to_string(*sa.ke_group) : "?";
            std::uint64_t retry_frame = 0;
            std::size_t retry = later_sa(i, verdict.invalid_ke_frame, &retry_frame);
            std::string summary = "the responder rejected DH group " + offered +
                                  " and asked for group " + asked + " (INVALID_KE_PAYLOAD, frame " +
                                  std::to_string(verdict.invalid_ke_frame) + ")";
            if (retry != SIZE_MAX) {
                const IkeSa& next = input.ike[retry];
                std::string group = next.ke_group ? std::to_string(*next.ke_group) : "?";
                session.findings.push_back(make_finding(
                    "ike-invalid-ke", Severity::info,
                    summary + "; the initiator retried with group " + group + " in SA " +
                        hex64(next.spi_initiator) + " (frame " + std::to_string(retry_frame) + ")",
                    {verdict.invalid_ke_frame, retry_frame},
                    ike_notify_advice(true, 17)));
                verdict.established = true;  // handled: the exchange continues in the retry SA
                verdict.established_frame = retry_frame;
            } else {
                session.findings.insert(session.findings.begin(), make_finding(
                    "ike-invalid-ke", Severity::failure, summary + "; the initiator never retried",
                    {verdict.invalid_ke_frame},
                    "Configure the initiator to offer group " + asked + " (or the responder to "
                    "accept the initiator's group)."));
            }
        }
        std::string established_text =
            verdict.invalid_ke_frame != 0 && verdict.established
                ? "retried with the requested group"
                : "established (frame " + std::to_string(verdict.established_frame) + ")";
        conclude(session, verdict.established, established_text,
                 "the exchange did not complete in the capture");
        if (verdict.invalid_ke_frame != 0 && verdict.established &&
            session.outcome == Outcome::established) {
            session.outcome = Outcome::recovered;
            session.cause = session.findings.front().code == "ike-invalid-ke"
                                ? session.findings.front().summary
                                : session.cause;
            for (const Finding& finding : session.findings) {
                if (finding.code == "ike-invalid-ke") session.cause = finding.summary;
            }
        }
    }
    // A failed SA followed by a later, established SA between the same peers: recovered.
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
        Session& session = verdicts[i].session;
        if (session.outcome != Outcome::failed) continue;
        std::uint64_t after = session.last_frame;
        for (std::size_t j = 0; j < verdicts.size(); ++j) {
            const IkeSa& other = input.ike[j];
            if (j == i || other.version != input.ike[i].version) continue;
            if (other.first_initiator.address != input.ike[i].first_initiator.address ||
                other.first_responder.address != input.ike[i].first_responder.address) {
                continue;
            }
            std::uint64_t start = opening_after(other, after);
            if (start == 0) continue;
            Outcome later = verdicts[j].session.outcome;
            if (later != Outcome::established && later != Outcome::recovered) continue;
            session.outcome = Outcome::recovered;
            session.findings.push_back(make_finding(
                "ike-retry-succeeded", Severity::info,
                "a later SA between the same peers succeeded: " + verdicts[j].session.id + " (frame " +
                    std::to_string(start) + ")",
                {start}));
            session.cause += " — a later attempt succeeded (SA " + verdicts[j].session.id + ")";
            break;
        }
    }
    for (IkeVerdict& verdict : verdicts) sessions.push_back(std::move(verdict.session));

    // ESP flows without an IKE SA in the capture, grouped by address pair.
    std::map<std::pair<Address, Address>, std::vector<std::size_t>> orphan_pairs;
    for (std::size_t f : ownership.orphans) {
        const EspFlow& flow = input.esp[f];
        auto key = flow.source < flow.destination ? std::make_pair(flow.source, flow.destination)
                                                  : std::make_pair(flow.destination, flow.source);
        orphan_pairs[key].push_back(f);
    }
    for (const auto& [pair, flows] : orphan_pairs) {
        Session session;
        session.protocol = "ESP";
        const EspFlow& first = input.esp[flows.front()];
        session.initiator = Endpoint{first.source, static_cast<std::uint16_t>(first.udp_encapsulated ? 4500 : 0)};
        session.responder = Endpoint{first.destination, static_cast<std::uint16_t>(first.udp_encapsulated ? 4500 : 0)};
        std::string ids;
        session.first_frame = UINT64_MAX;
        for (std::size_t f : flows) {
            const EspFlow& flow = input.esp[f];
            if (!ids.empty()) ids += ", ";
            ids += "SPI " + hex32(flow.spi);
            session.first_frame = std::min(session.first_frame, flow.first_frame);
            session.last_frame = std::max(session.last_frame, flow.last_frame);
            session.packets += flow.packets;
        }
        session.id = ids;
        esp_findings(input, flows, first.source, false, session);
        bool both = session.has_finding("esp-both-ways");
        session.findings.push_back(make_finding(
            "esp-without-ike", Severity::info,
            "the IKE exchange that set up this ESP is not in the capture", {session.first_frame}));
        conclude(session, both, "ESP flows both ways", "ESP seen without its IKE exchange");
        sessions.push_back(std::move(session));
    }

    for (std::size_t i = 0; i < input.l2tp.size(); ++i) {
        Session session = diagnose_l2tp(input.l2tp[i]);
        if (!l2tp_icmp[i].empty()) {
            session.findings.insert(session.findings.begin(), l2tp_icmp[i].begin(), l2tp_icmp[i].end());
            bool established = session.outcome == Outcome::established || session.outcome == Outcome::recovered;
            conclude(session, established, session.cause, session.cause);
        }
        sessions.push_back(std::move(session));
    }
    for (std::size_t i = 0; i < input.pptp.size(); ++i) {
        Session session = diagnose_pptp(input.pptp[i]);
        if (!pptp_icmp[i].empty()) {
            session.findings.insert(session.findings.begin(), pptp_icmp[i].begin(), pptp_icmp[i].end());
            bool established = session.outcome == Outcome::established || session.outcome == Outcome::recovered;
            conclude(session, established, session.cause, session.cause);
        }
        sessions.push_back(std::move(session));
    }
    for (Session& session : icmp_sessions) sessions.push_back(std::move(session));
    std::stable_sort(sessions.begin(), sessions.end(), [](const Session& a, const Session& b) {
        return a.first_frame < b.first_frame;
    });
    return sessions;
}

}  // namespace portcullis::diagnose::detail
