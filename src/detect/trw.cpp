#include "detect/trw.hpp"

#include <bit>
#include <cmath>
#include <cstring>

namespace portcullis::detect {

namespace {
constexpr std::uint32_t kFailureBit = 0x80000000u;
}  // namespace

std::size_t TrwDetector::bytes_per_source() {
    // The slot plus its share of the index (kept at most half full: two 4-byte entries a source).
    return sizeof(Source) + 2 * sizeof(std::uint32_t);
}

ProbeKind classify_tcp_flags(std::uint8_t flags) {
    constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20;
    const std::uint8_t relevant = flags & (fin | syn | rst | psh | ack | urg);
    if (relevant == 0) return ProbeKind::tcp_null;
    if (relevant == syn) return ProbeKind::tcp_syn;
    if (relevant == fin) return ProbeKind::tcp_fin;
    if (relevant == (fin | psh | urg)) return ProbeKind::tcp_xmas;
    if (relevant == ack) return ProbeKind::tcp_ack;
    return ProbeKind::tcp_other;
}

const char* to_string(ProbeKind kind) {
    switch (kind) {
        case ProbeKind::tcp_syn: return "tcp-syn";
        case ProbeKind::tcp_fin: return "tcp-fin";
        case ProbeKind::tcp_null: return "tcp-null";
        case ProbeKind::tcp_xmas: return "tcp-xmas";
        case ProbeKind::tcp_ack: return "tcp-ack";
        case ProbeKind::tcp_other: return "tcp-other";
        case ProbeKind::udp: return "udp";
        case ProbeKind::other: return "other";
    }
    return "other";
}

TrwDetector::TrwDetector(TrwSettings settings)
    : settings_(settings),
      log_success_step_(std::log(settings.theta1 / settings.theta0)),
      log_failure_step_(std::log((1.0 - settings.theta1) / (1.0 - settings.theta0))),
      log_eta1_(std::log(settings.detection_probability / settings.false_positive_probability)),
      log_eta0_(std::log((1.0 - settings.detection_probability) /
                         (1.0 - settings.false_positive_probability))),
      lru_head_(kNoSlot),
      lru_tail_(kNoSlot) {
    if (settings_.max_sources == 0) settings_.max_sources = 1;
    slots_.reserve(settings_.max_sources);
    index_.assign(std::bit_ceil(settings_.max_sources * 2), 0);
}

namespace {
std::size_t hash_address(const Address& address) {
    // FNV-1a over the meaningful bytes, then a final avalanche so linear probing spreads well.
    std::uint64_t hash = 1469598103934665603ull ^ static_cast<std::uint8_t>(address.family);
    const std::size_t width = address.family == Family::ipv4 ? 4 : 16;
    for (std::size_t i = 0; i < width; ++i) {
        hash ^= address.bytes[i];
        hash *= 1099511628211ull;
    }
    hash ^= hash >> 29;
    hash *= 0xbf58476d1ce4e5b9ull;
    hash ^= hash >> 32;
    return static_cast<std::size_t>(hash);
}

bool same_address(const std::array<std::uint8_t, 16>& stored, std::uint8_t family,
                  const Address& address) {
    return family == static_cast<std::uint8_t>(address.family) && stored == address.bytes;
}
}  // namespace

std::uint32_t TrwDetector::find(const Address& source) const {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = hash_address(source) & mask;; i = (i + 1) & mask) {
        const std::uint32_t entry = index_[i];
        if (entry == 0) return kNoSlot;
        const Source& slot = slots_[entry - 1];
        if (same_address(slot.address, slot.family, source)) return entry - 1;
    }
}

void TrwDetector::unlink(std::uint32_t slot) {
    Source& s = slots_[slot];
    if (s.prev != kNoSlot) slots_[s.prev].next = s.next; else lru_head_ = s.next;
    if (s.next != kNoSlot) slots_[s.next].prev = s.prev; else lru_tail_ = s.prev;
    s.prev = s.next = kNoSlot;
}

void TrwDetector::push_front(std::uint32_t slot) {
    Source& s = slots_[slot];
    s.prev = kNoSlot;
    s.next = lru_head_;
    if (lru_head_ != kNoSlot) slots_[lru_head_].prev = slot;
    lru_head_ = slot;
    if (lru_tail_ == kNoSlot) lru_tail_ = slot;
}

void TrwDetector::index_remove(std::uint32_t slot) {
    // Backward-shift deletion keeps linear probing correct without tombstones.
    const std::size_t mask = index_.size() - 1;
    Address key;
    key.family = static_cast<Family>(slots_[slot].family);
    key.bytes = slots_[slot].address;
    std::size_t hole = hash_address(key) & mask;
    while (index_[hole] != slot + 1) hole = (hole + 1) & mask;
    index_[hole] = 0;
    for (std::size_t i = (hole + 1) & mask; index_[i] != 0; i = (i + 1) & mask) {
        const Source& moved = slots_[index_[i] - 1];
        Address moved_key;
        moved_key.family = static_cast<Family>(moved.family);
        moved_key.bytes = moved.address;
        const std::size_t home = hash_address(moved_key) & mask;
        // Move the entry into the hole unless its home lies cyclically in (hole, i].
        const bool home_between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!home_between) {
            index_[hole] = index_[i];
            index_[i] = 0;
            hole = i;
        }
    }
}

void TrwDetector::erase(std::uint32_t slot) {
    index_remove(slot);
    unlink(slot);
    slots_[slot] = Source{};
    free_.push_back(slot);
    --stats_.tracked;
}

std::uint32_t TrwDetector::insert(const Address& source) {
    if (stats_.tracked >= settings_.max_sources) {
        erase(lru_tail_);
        ++stats_.evictions;
    }
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Source& s = slots_[slot];
    s = Source{};
    s.address = source.bytes;
    s.family = static_cast<std::uint8_t>(source.family);
    s.in_use = 1;
    const std::size_t mask = index_.size() - 1;
    std::size_t i = hash_address(source) & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = slot + 1;
    push_front(slot);
    ++stats_.tracked;
    return slot;
}

void TrwDetector::forget(const Address& source) {
    const std::uint32_t slot = find(source);
    if (slot != kNoSlot) erase(slot);
}

std::optional<Detection> TrwDetector::observe(const Contact& contact) {
    ++stats_.contacts;
    std::uint32_t slot = find(contact.source);
    if (slot == kNoSlot) {
        slot = insert(contact.source);
    } else {
        unlink(slot);
        push_front(slot);
    }
    Source& s = slots_[slot];
    s.last_seen = contact.now_seconds;

    const std::uint32_t key = ((std::uint32_t{contact.protocol} << 16) | contact.port) + 1;
    for (std::uint32_t seen : s.contacts) {
        if ((seen & ~kFailureBit) == key) {
            ++stats_.repeated_contacts;
            return std::nullopt;  // not a first contact: retransmissions are not new trials
        }
    }
    s.contacts[s.remembered_next] = key | (contact.outcome == Outcome::failure ? kFailureBit : 0u);
    s.remembered_next = static_cast<std::uint16_t>((s.remembered_next + 1) % kRememberedPorts);
    auto& kind_count = s.kind_counts[static_cast<std::size_t>(contact.kind)];
    if (kind_count < 255) ++kind_count;

    const char* reason = nullptr;
    if (contact.outcome == Outcome::success) {
        s.log_ratio += static_cast<float>(log_success_step_);
        if (s.log_ratio <= log_eta0_) s.log_ratio = 0.0f;  // benign: restart the walk
    } else {
        if (s.failures < 0xffff) ++s.failures;
        s.log_ratio += static_cast<float>(log_failure_step_);
        if (contact.now_seconds - s.window_start > settings_.window_seconds) {
            s.window_start = contact.now_seconds;
            s.window_failures = 0;
        }
        ++s.window_failures;
        // A small epsilon: float accumulation must not miss the exact boundary (4 failures = 256).
        if (s.log_ratio >= log_eta1_ - 1e-6) {
            reason = "trw";
        } else if (s.window_failures >= settings_.window_distinct_ports) {
            reason = "distinct-ports";
        }
    }
    if (!reason) return std::nullopt;

    std::size_t dominant = 0;
    for (std::size_t i = 1; i < s.kind_counts.size(); ++i)
        if (s.kind_counts[i] > s.kind_counts[dominant]) dominant = i;
    Detection detection{contact.source, reason, s.failures, static_cast<ProbeKind>(dominant), {}};
    for (std::size_t i = 0; i < kRememberedPorts; ++i) {
        const std::uint32_t seen = s.contacts[(s.remembered_next + i) % kRememberedPorts];
        if ((seen & kFailureBit) == 0) continue;
        const std::uint32_t value = (seen & ~kFailureBit) - 1;
        detection.failed_ports.push_back(
            {static_cast<std::uint8_t>(value >> 16), static_cast<std::uint16_t>(value & 0xffff)});
    }
    ++stats_.detections;
    erase(slot);
    return detection;
}

}  // namespace portcullis::detect
