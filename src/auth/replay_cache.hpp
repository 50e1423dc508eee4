#pragma once
// Remembers accepted SPA packets by the SHA-256 of their wire bytes until they could no longer
// pass the timestamp check anyway (the verifier keeps them for at least twice the window).
// Bounded: when full of live entries it refuses to remember more, and the verifier then refuses
// the packet (a replay hole is worse than a refused knock). Persisted as JSON so a daemon
// restart does not reopen the window for captured packets.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "auth/spa_crypto.hpp"
#include "common/result.hpp"

namespace portcullis::auth {

class ReplayCache {
public:
    static constexpr std::size_t kDefaultCapacity = 65536;

    explicit ReplayCache(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

    static Sha256 digest_of(std::string_view wire) { return sha256(view_of(wire)); }

    // True if the digest is remembered and `now` (Unix seconds) is not past its expiry.
    bool contains(const Sha256& digest, std::int64_t now) const;

    // Remembers the digest through `expires_at` (inclusive). Drops expired entries first when full; returns
    // false (remembering nothing) if it is still full.
    bool insert(const Sha256& digest, std::int64_t expires_at, std::int64_t now);

    // Drops entries whose expiry is before `now`; returns how many.
    std::size_t expire(std::int64_t now);

    std::size_t size() const { return entries_.size(); }
    std::size_t capacity() const { return capacity_; }

    // {"format":"portcullis-spa-replay","version":1,"entries":[{"sha256":"<hex>","expires":<unix>}]}
    std::string to_json() const;
    // Replaces the contents; entries already expired at `now` are skipped. Errors say what is wrong.
    Result<void> from_json(std::string_view text, std::int64_t now);

    // Atomic: writes PATH.tmp, fsyncs it, renames it over PATH, fsyncs the directory.
    Result<void> save(const std::string& path) const;
    // A missing file is an empty cache (first start); an unreadable or corrupt one is an error.
    Result<void> load(const std::string& path, std::int64_t now);

private:
    std::size_t capacity_;
    std::map<Sha256, std::int64_t> entries_;  // digest -> expiry (Unix seconds)
};

}  // namespace portcullis::auth
