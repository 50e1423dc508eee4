#pragma once
// Diagnosis rules over the tracker's state (internal to the diagnose stage).
#include <vector>

#include "diagnose/tracker_state.hpp"

namespace portcullis::diagnose::detail {

struct RuleInput {
    const std::vector<IkeSa>& ike;
    const std::vector<EspFlow>& esp;
    const std::vector<L2tpTunnel>& l2tp;
    const std::vector<PptpConnection>& pptp;
    const std::vector<IcmpError>& icmp;
};

std::vector<Session> apply_rules(const RuleInput& input);

// NAT-D: compare the hashes a peer sent with the addresses this capture shows.
void check_v2_nat_d(IkeSa& sa, const PacketFacts& packet, bool from_initiator,
                    const std::vector<const IkeNotify*>& source_hashes,
                    const std::vector<const IkeNotify*>& destination_hashes);
void check_v1_nat_d(IkeSa& sa);
// HASH(SPIi | SPIr | IP | port), the NAT-D input of both IKE versions.
std::vector<std::uint8_t> nat_d_hash(HashAlgorithm algorithm, std::uint64_t spi_initiator,
                                     std::uint64_t spi_responder, const Endpoint& endpoint);

}  // namespace portcullis::diagnose::detail
