#include "auth/spa_verifier.hpp"

#include <algorithm>

#include "auth/spa_codec.hpp"

namespace portcullis::auth {

Result<SpaVerifier> SpaVerifier::create(std::vector<SpaKey> keys, std::vector<ServiceSpec> catalog,
                                        VerifierConfig config, ReplayCache& cache) {
    if (config.window_seconds <= 0 || config.window_seconds > 3600)
        return fail("SPA time window must be 1-3600 seconds, got " + std::to_string(config.window_seconds));
    std::vector<Entry> entries;
    for (SpaKey& key : keys) {
        if (key.material.key.empty() || key.material.key.size() > kMaxRijndaelKeyLength)
            return fail("SPA key '" + key.name + "': Rijndael key must be 1-32 bytes");
        if (key.material.hmac_key.size() < kMinHmacKeyLength || key.material.hmac_key.size() > kMaxHmacKeyLength)
            return fail("SPA key '" + key.name + "': HMAC key must be 16-128 bytes");
        if (key.max_open_seconds == 0) return fail("SPA key '" + key.name + "': max open time must be > 0");
        Entry entry{std::move(key), {}};
        for (const std::string& name : entry.key.services) {
            auto found = std::find_if(catalog.begin(), catalog.end(),
                                      [&](const ServiceSpec& spec) { return spec.name == name; });
            if (found == catalog.end())
                return fail("SPA key '" + entry.key.name + "': no SPA-guarded service named '" + name + "'");
            entry.services.push_back(*found);
        }
        entries.push_back(std::move(entry));
    }
    return SpaVerifier(std::move(entries), config, cache);
}

SpaVerifier::SpaVerifier(std::vector<Entry> entries, VerifierConfig config, ReplayCache& cache)
    : entries_(std::move(entries)),
      config_(config),
      retention_(std::max(config.replay_retention_seconds, 2 * config.window_seconds)),
      cache_(&cache) {}

tl::expected<Verdict, Reject> SpaVerifier::refuse(Reject reason) {
    ++rejected_[static_cast<std::size_t>(reason)];
    return tl::unexpected(reason);
}

tl::expected<Verdict, Reject> SpaVerifier::verify(std::string_view wire, const Address& source, std::int64_t now) {
    if (auto reason = precheck(wire)) return refuse(*reason);

    Sha256 digest = ReplayCache::digest_of(wire);
    if (cache_->contains(digest, now)) return refuse(Reject::replay);

    std::vector<const KeyMaterial*> candidates;
    std::vector<const Entry*> candidate_entries;
    for (const Entry& entry : entries_) {
        bool source_ok = entry.key.sources.empty() ||
                         std::any_of(entry.key.sources.begin(), entry.key.sources.end(),
                                     [&](const Prefix& prefix) { return prefix.contains(source); });
        if (!source_ok) continue;
        candidates.push_back(&entry.key.material);
        candidate_entries.push_back(&entry);
    }

    auto opened = open_packet(wire, candidates);
    if (!opened) return refuse(opened.error());
    const Entry& entry = *candidate_entries[opened->key_index];

    std::int64_t skew = now - opened->message.timestamp;
    if (skew > config_.window_seconds || skew < -config_.window_seconds) return refuse(Reject::stale);

    // Remembered before deciding: a packet refused for its content must not be retried either.
    if (!cache_->insert(digest, now + retention_, now)) return refuse(Reject::replay_cache_full);

    auto decision = decide(opened->message, entry.key, entry.services, source);
    if (!decision) return refuse(decision.error());
    ++accepted_;
    return Verdict{std::move(*decision), std::move(opened->message)};
}

}  // namespace portcullis::auth
