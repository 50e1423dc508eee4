#pragma once
// The policy-aware parts of `apply` (and of the daemon's reload): fitting the policy to what this
// kernel can do, and what to clean from conntrack afterwards.
#include <string>
#include <vector>

#include "kernel/conntrack_cleanup.hpp"
#include "kernel/nft_kernel.hpp"
#include "policy/model.hpp"

namespace portcullis::cli {

// Probes only the features this policy needs (ct helper pptp, meta secpath) and, where one is
// missing, changes the policy so the compiled table fails closed instead of being refused:
//  - no pptp helper: GRE of pptp services stays closed (TCP 1723 alone is still exposed);
//  - no `meta secpath`: UDP 1701 of l2tp-ipsec services stays closed.
// Returns one plain-words message per degradation.
std::vector<std::string> fit_to_kernel(policy::Policy& policy, kernel::Nftables& nft);

// Forwarded protocol/ports of a gateway policy, for kernel::delete_stale_unnatted.
kernel::StaleFlowSpec stale_flow_spec(const policy::Policy& policy);

}  // namespace portcullis::cli
