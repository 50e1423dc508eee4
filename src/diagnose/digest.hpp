#pragma once
// Message digests needed to recompute NAT-D hashes (RFC 3947, RFC 7296 2.23). diagnose may depend
// on nothing but the standard library, so the few algorithms IKE negotiates for NAT-D are
// implemented here from FIPS 180-4 and RFC 1321; they are tested against the published vectors.
#include <cstdint>
#include <span>
#include <vector>

#include "diagnose/facts.hpp"

namespace portcullis::diagnose {

// Digest of `data` with `algorithm`; empty for HashAlgorithm::unknown.
std::vector<std::uint8_t> digest(HashAlgorithm algorithm, std::span<const std::uint8_t> data);

}  // namespace portcullis::diagnose
