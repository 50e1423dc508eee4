// SPA verification cost per packet (issue 4). The end-to-end number (SPA packet -> first allowed
// SYN, against fwknopd and knockd) needs the daemon and the lab; this measures the userspace
// part that sits inside it: HMAC check + AES-256-CBC decrypt + digest + field parsing, the full
// verifier with replay cache and decision, and the price of refusing forged packets.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "auth/spa_client.hpp"
#include "auth/spa_codec.hpp"
#include "auth/spa_verifier.hpp"

namespace {

using namespace portcullis::auth;

constexpr std::int64_t kNow = 1800000000;

KeyMaterial make_keys(std::uint8_t seed) {
    KeyMaterial keys;
    keys.key.assign(32, seed);
    keys.hmac_key.assign(64, static_cast<std::uint8_t>(seed + 1));
    return keys;
}

std::string make_packet(const KeyMaterial& keys, std::int64_t timestamp = kNow) {
    SpaRequest request;
    request.access = {{AccessProtocol::tcp, 22}};
    request.username = "alice";
    request.allow_address = "203.0.113.10";
    return *build_spa_packet(request, keys, timestamp);
}

void BM_SpaOpenPacket(benchmark::State& state) {
    KeyMaterial keys = make_keys(1);
    std::string wire = make_packet(keys);
    const KeyMaterial* candidates[] = {&keys};
    for (auto _ : state) {
        auto opened = open_packet(wire, candidates);
        benchmark::DoNotOptimize(opened);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpaOpenPacket);

// The daemon's path: precheck, replay lookup, HMAC, decrypt, window, replay insert, decision.
void BM_SpaVerifierAccept(benchmark::State& state) {
    const std::size_t distinct = 4096;
    SpaKey key;
    key.name = "alice";
    key.material = make_keys(1);
    key.services = {"ssh"};
    std::vector<std::string> packets;
    for (std::size_t i = 0; i < distinct; ++i) packets.push_back(make_packet(key.material));
    ReplayCache cache(distinct * 2);
    auto verifier = *SpaVerifier::create({key}, {{"ssh", {{6, 22, 22}}}}, {}, cache);
    auto source = *portcullis::Address::parse("203.0.113.10");
    std::size_t index = 0;
    for (auto _ : state) {
        if (index == distinct) {
            state.PauseTiming();
            cache.expire(kNow + 1000000);  // forget them all so the next round is accepted again
            index = 0;
            state.ResumeTiming();
        }
        auto verdict = verifier.verify(packets[index++], source, kNow);
        if (!verdict) state.SkipWithError("packet refused");
        benchmark::DoNotOptimize(verdict);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpaVerifierAccept);

// A flood of forged packets costs one HMAC per configured key and no decryption.
void BM_SpaRejectForged(benchmark::State& state) {
    std::vector<KeyMaterial> keys;
    for (int i = 0; i < state.range(0); ++i) keys.push_back(make_keys(static_cast<std::uint8_t>(10 + i)));
    std::vector<const KeyMaterial*> candidates;
    for (const KeyMaterial& k : keys) candidates.push_back(&k);
    std::string forged = make_packet(make_keys(200));
    for (auto _ : state) {
        auto opened = open_packet(forged, candidates);
        benchmark::DoNotOptimize(opened);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpaRejectForged)->Arg(1)->Arg(16);

// Packets that fail the key-free checks (wrong size, not base64) cost almost nothing.
void BM_SpaRejectGarbage(benchmark::State& state) {
    KeyMaterial keys = make_keys(1);
    const KeyMaterial* candidates[] = {&keys};
    std::string garbage(200, '\x01');
    for (auto _ : state) {
        auto opened = open_packet(garbage, candidates);
        benchmark::DoNotOptimize(opened);
    }
}
BENCHMARK(BM_SpaRejectGarbage);

void BM_SpaClientEncode(benchmark::State& state) {
    KeyMaterial keys = make_keys(1);
    for (auto _ : state) benchmark::DoNotOptimize(make_packet(keys));
}
BENCHMARK(BM_SpaClientEncode);

}  // namespace
