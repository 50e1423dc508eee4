#pragma once
// Turns the dissectors' summary of one frame into the facts the tracker reasons about.
#include "diagnose/facts.hpp"
#include "dissect/packet.hpp"

namespace portcullis::diagnose {

// Fills `facts` (reset first) and returns false when the frame is of no interest to diagnose.
bool extract_facts(const dissect::PacketSummary& summary, std::uint64_t frame, double time,
                   PacketFacts& facts);

// Readable one-line summaries of the proposals of an SA payload ("IKE: AES_CBC-256/...").
std::vector<std::string> describe_proposals(const dissect::ike::SaPayload& sa, std::size_t limit = 8);
// Same, from the raw payload kept in IkeFacts::sa_payload.
std::vector<std::string> describe_sa_payload(Bytes payload, bool v2);

}  // namespace portcullis::diagnose
