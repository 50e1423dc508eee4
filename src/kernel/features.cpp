#include "kernel/features.hpp"

#include <fmt/core.h>

namespace portcullis::kernel {
namespace {

constexpr const char* kProbeTable = "inet portcullis_probe";

struct ProbeSpec {
    const char* name;
    const char* why;
    const char* statement;  // appended after a table and a nat base chain `c` exist
};

constexpr ProbeSpec kProbes[] = {
    {"nf_tables", "everything: the policy is one nftables table", ""},
    {"nat", "forward_to (DNAT in gateway mode)", "add rule {t} c ip daddr 192.0.2.1 dnat ip to 192.0.2.2"},
    {"ct helper pptp", "the pptp preset (GRE through NAT needs the helper)",
     "add ct helper {t} h {{ type \"pptp\" protocol tcp; }}"},
    {"meta secpath", "the l2tp-ipsec preset (UDP 1701 only inside IPsec)", "add rule {t} c meta secpath exists accept"},
    {"log group (NFLOG)", "logging of drops and knock/SPA events", "add rule {t} c log group 1"},
    {"queue", "nothing (reported only)", "add rule {t} c queue num 1"},
    {"flowtable", "nothing (reported only)", "add flowtable {t} f {{ hook ingress priority 0; devices = {{ lo }}; }}"},
};

}  // namespace

bool KernelFeatures::has(const std::string& name) const {
    for (const auto& probe : probes)
        if (probe.name == name) return probe.available;
    return false;
}

namespace {

FeatureProbe run_probe(Nftables& nft, const ProbeSpec& spec) {
    std::string script = fmt::format("add table {t}\nadd chain {t} c {{ type nat hook prerouting priority dstnat; }}\n",
                                     fmt::arg("t", kProbeTable));
    if (*spec.statement != '\0') script += fmt::format(fmt::runtime(spec.statement), fmt::arg("t", kProbeTable)) + "\n";
    FeatureProbe probe{spec.name, spec.why, false, {}};
    auto ran = nft.run(script, RunMode::check);
    probe.available = ran.has_value();
    if (!ran) probe.error = ran.error().message;
    return probe;
}

}  // namespace

KernelFeatures probe_features(Nftables& nft) {
    KernelFeatures features;
    for (const auto& spec : kProbes) features.probes.push_back(run_probe(nft, spec));
    return features;
}

FeatureProbe probe_feature(Nftables& nft, const std::string& name) {
    for (const auto& spec : kProbes)
        if (name == spec.name) return run_probe(nft, spec);
    return FeatureProbe{name, "", false, "no such probe"};
}

}  // namespace portcullis::kernel
