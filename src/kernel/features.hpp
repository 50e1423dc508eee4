#pragma once
// What this kernel's nftables can do, found by asking it: each probe is a small transaction on a
// throwaway table name run in check mode (the kernel validates it, loading modules as needed,
// then aborts it), so probing never changes the ruleset.
#include <string>
#include <vector>

#include "kernel/nft_kernel.hpp"

namespace portcullis::kernel {

struct FeatureProbe {
    std::string name;         // "ct helper pptp"
    std::string why;          // what portcullis uses it for
    bool available = false;
    std::string error;        // nft's message when unavailable
};

struct KernelFeatures {
    std::vector<FeatureProbe> probes;
    bool has(const std::string& name) const;
};

// Names probed: "nf_tables", "nat", "ct helper pptp", "meta secpath", "log group (NFLOG)",
// "queue", "flowtable" (the last two are reported, portcullis does not need them).
KernelFeatures probe_features(Nftables& nft);

// One probe by name (see above); an unknown name comes back unavailable with an error.
FeatureProbe probe_feature(Nftables& nft, const std::string& name);

}  // namespace portcullis::kernel
