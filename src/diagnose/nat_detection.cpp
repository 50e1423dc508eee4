// NAT-D (RFC 3947 for IKEv1, RFC 7296 2.23 for IKEv2): each peer hashes the addresses and ports
// it believes it is using. Recomputing the hashes from the addresses this capture shows tells
// whether, and on which side of the capture point, a NAT rewrote them.
#include <algorithm>

#include "diagnose/digest.hpp"
#include "diagnose/rules.hpp"

namespace portcullis::diagnose::detail {

namespace {

void append_be64(std::vector<std::uint8_t>& out, std::uint64_t value) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

bool matches_any(const std::vector<std::uint8_t>& expected,
                 const std::vector<const std::vector<std::uint8_t>*>& candidates) {
    return std::any_of(candidates.begin(), candidates.end(),
                       [&](const std::vector<std::uint8_t>* hash) { return *hash == expected; });
}

// Records the verdict for one direction of one message.
void judge(IkeSa& sa, std::uint64_t frame, bool from_initiator, bool source_side,
           const Endpoint& seen, bool matched) {
    if (matched) return;
    std::string who = from_initiator ? "initiator" : "responder";
    std::string text;
    if (source_side) {
        text = "the " + who + "'s hash of its own address does not match " + seen.to_string() +
               " as seen here: its address is translated between the " + who +
               " and this capture point (the " + who + " is behind NAT), or it fakes the hash to "
               "force UDP encapsulation (strongSwan does with encap = yes or kernel-libipsec)";
    } else if (from_initiator) {
        text = "the initiator addressed a different address/port than " + seen.to_string() +
               " seen here: the destination was translated between the initiator and this "
               "capture point (port forwarding / DNAT in front of the responder)";
    } else {
        text = "the responder saw the initiator at a different address/port than " +
               seen.to_string() +
               " seen here: a NAT between this capture point and the responder translates the "
               "initiator's address (the initiator is behind NAT)";
    }
    sa.nat.push_back(NatObservation{frame, std::move(text)});
}

}  // namespace

std::vector<std::uint8_t> nat_d_hash(HashAlgorithm algorithm, std::uint64_t spi_initiator,
                                     std::uint64_t spi_responder, const Endpoint& endpoint) {
    std::vector<std::uint8_t> input;
    input.reserve(8 + 8 + 16 + 2);
    append_be64(input, spi_initiator);
    append_be64(input, spi_responder);
    std::size_t width = endpoint.address.family == Family::ipv4 ? 4 : 16;
    input.insert(input.end(), endpoint.address.bytes.begin(),
                 endpoint.address.bytes.begin() + static_cast<std::ptrdiff_t>(width));
    input.push_back(static_cast<std::uint8_t>(endpoint.port >> 8));
    input.push_back(static_cast<std::uint8_t>(endpoint.port & 0xff));
    return digest(algorithm, input);
}

void check_v2_nat_d(IkeSa& sa, const PacketFacts& packet, bool from_initiator,
                    const std::vector<const IkeNotify*>& source_hashes,
                    const std::vector<const IkeNotify*>& destination_hashes) {
    const IkeFacts& m = packet.ike;
    sa.nat_d_checked_frames.push_back(packet.frame);
    if (!source_hashes.empty()) {
        auto expected = nat_d_hash(HashAlgorithm::sha1, m.spi_initiator, m.spi_responder, packet.source);
        std::vector<const std::vector<std::uint8_t>*> candidates;
        for (const IkeNotify* notify : source_hashes) candidates.push_back(&notify->data);
        judge(sa, packet.frame, from_initiator, true, packet.source, matches_any(expected, candidates));
    }
    if (!destination_hashes.empty()) {
        auto expected = nat_d_hash(HashAlgorithm::sha1, m.spi_initiator, m.spi_responder,
                                   packet.destination);
        std::vector<const std::vector<std::uint8_t>*> candidates;
        for (const IkeNotify* notify : destination_hashes) candidates.push_back(&notify->data);
        judge(sa, packet.frame, from_initiator, false, packet.destination,
              matches_any(expected, candidates));
    }
}

void check_v1_nat_d(IkeSa& sa) {
    for (const PendingNatD& pending : sa.pending_nat_d) {
        if (!sa.v1_hash || *sa.v1_hash == HashAlgorithm::unknown) {
            sa.nat_d_hash_unknown = true;
            if (sa.nat_d_unknown_frame == 0) sa.nat_d_unknown_frame = pending.frame;
            continue;
        }
        sa.nat_d_checked_frames.push_back(pending.frame);
        // The first NAT-D names the peer's address as the sender sees it; the others the sender's own.
        auto remote = nat_d_hash(*sa.v1_hash, pending.spi_initiator, pending.spi_responder,
                                 pending.destination);
        judge(sa, pending.frame, pending.from_initiator, false, pending.destination,
              pending.hashes.front() == remote);
        if (pending.hashes.size() > 1) {
            auto local = nat_d_hash(*sa.v1_hash, pending.spi_initiator, pending.spi_responder,
                                    pending.source);
            std::vector<const std::vector<std::uint8_t>*> candidates;
            for (std::size_t i = 1; i < pending.hashes.size(); ++i) candidates.push_back(&pending.hashes[i]);
            judge(sa, pending.frame, pending.from_initiator, true, pending.source,
                  matches_any(local, candidates));
        }
    }
    sa.pending_nat_d.clear();
}

}  // namespace portcullis::diagnose::detail
