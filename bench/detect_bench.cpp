// TRW detector throughput in-process (issue 5 goal: ≥ 1M events/s/core). The baseline in the same
// run is a loop that only builds the contacts, so the ratio isolates the detector's own cost.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "detect/trw.hpp"

namespace {

using namespace portcullis;
using namespace portcullis::detect;

std::vector<Contact> make_contacts(std::size_t sources, std::size_t count) {
    std::mt19937 rng(42);
    std::vector<Contact> contacts;
    contacts.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        Address source = *Address::parse("203.0.113.0");
        auto id = static_cast<std::uint32_t>(rng() % sources);
        source.bytes[0] = static_cast<std::uint8_t>(10 + (id >> 16));
        source.bytes[1] = static_cast<std::uint8_t>(id >> 8);
        source.bytes[2] = static_cast<std::uint8_t>(id);
        const bool success = rng() % 4 == 0;
        contacts.push_back(Contact{source, 6, static_cast<std::uint16_t>(rng() % 1024 + 1),
                                   success ? Outcome::success : Outcome::failure,
                                   ProbeKind::tcp_syn, static_cast<std::uint32_t>(i / 100000)});
    }
    return contacts;
}

void BM_TrwObserve(benchmark::State& state) {
    const auto contacts = make_contacts(static_cast<std::size_t>(state.range(0)), 1 << 20);
    TrwSettings settings;
    settings.max_sources = static_cast<std::size_t>(state.range(0));
    TrwDetector detector(settings);
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(detector.observe(contacts[i]));
        i = (i + 1) & ((1 << 20) - 1);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["tracked"] = static_cast<double>(detector.stats().tracked);
}
BENCHMARK(BM_TrwObserve)->Arg(1000)->Arg(100000)->Arg(1 << 20);

void BM_ContactCopyBaseline(benchmark::State& state) {
    const auto contacts = make_contacts(1000, 1 << 20);
    std::size_t i = 0;
    for (auto _ : state) {
        Contact copy = contacts[i];
        benchmark::DoNotOptimize(copy);
        i = (i + 1) & ((1 << 20) - 1);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContactCopyBaseline);

}  // namespace
