#include "daemon/spa_intake.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "auth/spa_crypto.hpp"
#include "common/bytes.hpp"
#include "compile/compile.hpp"

namespace portcullis::daemon {

namespace {

constexpr std::uint8_t kUdp = 17;

std::optional<SpaDatagram> udp_payload(Bytes packet, std::size_t udp_offset, std::size_t ip_end,
                                       const Address& source) {
    auto udp_length = read_be16(packet, udp_offset + 4);
    if (!udp_length || *udp_length < 8 || udp_offset + *udp_length > ip_end) return std::nullopt;
    auto payload = slice(packet, udp_offset + 8, *udp_length - 8u);
    if (!payload) return std::nullopt;
    std::string text(payload->size(), '\0');
    if (!payload->empty()) std::memcpy(text.data(), payload->data(), payload->size());
    return SpaDatagram{source, std::move(text)};
}

}  // namespace

std::optional<SpaDatagram> spa_datagram(Bytes packet) {
    auto first = read_u8(packet, 0);
    if (!first) return std::nullopt;
    Address source;
    if ((*first >> 4) == 4) {
        std::size_t header = static_cast<std::size_t>(*first & 0x0f) * 4;
        auto total = read_be16(packet, 2);
        auto fragment = read_be16(packet, 6);
        auto protocol = read_u8(packet, 9);
        if (header < 20 || !total || !fragment || !protocol || *total < header || *total > packet.size())
            return std::nullopt;
        // A fragment (offset or more-fragments set) is not a whole datagram: refuse, do not reassemble.
        if ((*fragment & 0x3fff) != 0 || *protocol != kUdp) return std::nullopt;
        auto address = slice(packet, 12, 4);
        if (!address) return std::nullopt;
        source.family = Family::ipv4;
        std::transform(address->begin(), address->end(), source.bytes.begin(),
                       [](std::byte b) { return static_cast<std::uint8_t>(b); });
        return udp_payload(packet, header, *total, source);
    }
    if ((*first >> 4) == 6) {
        auto payload_length = read_be16(packet, 4);
        auto next_header = read_u8(packet, 6);
        if (!payload_length || !next_header || 40u + *payload_length > packet.size()) return std::nullopt;
        if (*next_header != kUdp) return std::nullopt;  // extension headers: not from an SPA client
        auto address = slice(packet, 8, 16);
        if (!address) return std::nullopt;
        source.family = Family::ipv6;
        std::transform(address->begin(), address->end(), source.bytes.begin(),
                       [](std::byte b) { return static_cast<std::uint8_t>(b); });
        return udp_payload(packet, 40, 40u + *payload_length, source);
    }
    return std::nullopt;
}

SpaIntake::SpaIntake(EventLog& events, GrantFn grant, Clock clock)
    : SpaIntake([&events](std::string_view type, nlohmann::json fields) { events.emit(type, fields); },
                std::move(grant), std::move(clock)) {}

SpaIntake::SpaIntake(Emit emit, GrantFn grant, Clock clock)
    : emit_(std::move(emit)), grant_(std::move(grant)), clock_(std::move(clock)) {
    const char* trace = std::getenv("PORTCULLIS_SPA_TRACE");
    trace_.on = trace && trace[0] == '1';
    outcomes_[kSpaOutcomeGranted] = 0;
    outcomes_[kSpaOutcomeBadPacket] = 0;
    for (std::size_t i = 0; i < auth::kRejectCount; ++i)
        outcomes_[std::string(auth::to_string(static_cast<auth::Reject>(i)))] = 0;
}

Result<std::shared_ptr<SpaSettings>> SpaIntake::settings_for(const policy::Policy& policy) {
    if (!policy.spa) return std::shared_ptr<SpaSettings>();
    auto settings = std::make_shared<SpaSettings>();
    for (const auto& service : policy.services) {
        if (service.guard != policy::Guard::spa) continue;
        auth::ServiceSpec spec{service.name, {}};
        for (const auto& port : service.ports)
            spec.ports.push_back({static_cast<std::uint8_t>(port.protocol), port.ports ? port.ports->first : std::uint16_t{0},
                                  port.ports ? port.ports->last : std::uint16_t{0}});
        settings->catalog.push_back(std::move(spec));
    }
    if (settings->catalog.empty()) return std::shared_ptr<SpaSettings>();
    for (const auto& config : policy.spa->keys) {
        auth::SpaKey key;
        key.name = config.name;
        key.material.key = config.key;
        key.material.hmac_key = config.hmac_key;
        key.services = config.services;
        key.max_open_seconds = config.max_open_seconds;
        key.allow_embedded_address = config.allow_embedded_address;
        key.sources = config.sources;
        settings->keys.push_back(std::move(key));
    }
    settings->verifier.window_seconds = policy.spa->window_seconds;
    settings->group = policy.spa->log_group;
    settings->realtime = policy.spa->realtime;
    auth::ReplayCache scratch(1);  // checks the settings the way apply() will use them
    if (auto verifier = auth::SpaVerifier::create(settings->keys, settings->catalog, settings->verifier, scratch); !verifier)
        return fail("SPA: " + verifier.error().message);
    return settings;
}

void SpaIntake::apply(std::shared_ptr<const SpaSettings> settings) {
    verifier_.reset();
    if (!settings) return;
    auto verifier = auth::SpaVerifier::create(settings->keys, settings->catalog, settings->verifier, cache_);
    if (!verifier) return;  // settings_for() checked the same settings
    verifier_.emplace(std::move(*verifier));
    auth::warm_up_crypto();  // not on the first packet's clock
    group_ = settings->group;
}

Result<void> SpaIntake::configure(const policy::Policy& policy) {
    auto settings = settings_for(policy);
    if (!settings) {
        verifier_.reset();
        return tl::unexpected(settings.error());
    }
    apply(std::move(*settings));
    return {};
}

Result<void> SpaIntake::load_replay(std::string_view json, std::int64_t now) {
    auto loaded = cache_.from_json(json, now);
    replay_entries_.store(cache_.size(), std::memory_order_relaxed);
    return loaded;
}

void SpaIntake::count(const std::string& outcome) {
    auto it = outcomes_.find(outcome);
    if (it != outcomes_.end()) it->second.fetch_add(1, std::memory_order_relaxed);
}

std::map<std::string, std::uint64_t> SpaIntake::outcomes() const {
    std::map<std::string, std::uint64_t> out;
    for (const auto& [name, packets] : outcomes_) out[name] = packets.load(std::memory_order_relaxed);
    return out;
}

void SpaIntake::rejected(const std::string& reason, const Address* source) {
    count(reason);
    std::int64_t now = clock_();
    if (now != event_second_) {
        event_second_ = now;
        events_this_second_ = 0;
    }
    if (events_this_second_ >= kRejectEventsPerSecond) {
        suppressed_events_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    ++events_this_second_;
    nlohmann::json fields = {{"reason", reason}};
    if (source) fields["source"] = source->to_string();
    emit_(event::kSpaRejected, std::move(fields));
}

void SpaIntake::grant_failed(const std::string& key, const Address& address, const std::string& service,
                             const std::string& error) {
    grant_failures_.fetch_add(1, std::memory_order_relaxed);
    emit_(event::kSpaGrantFailed,
          {{"key", key}, {"address", address.to_string()}, {"service", service}, {"error", error}});
}

std::int64_t SpaIntake::monotonic_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
}

void SpaIntake::trace_finish() {
    if (!trace_ || trace_.received == 0) return;
    std::fprintf(stderr, "spa-trace received %lld verified %lld requested %lld flushed %lld finished %lld\n",
                 static_cast<long long>(trace_.received), static_cast<long long>(trace_.verified),
                 static_cast<long long>(trace_.requested), static_cast<long long>(trace_.flushed),
                 static_cast<long long>(monotonic_ns()));
    trace_.received = trace_.verified = trace_.requested = trace_.flushed = 0;
}

void SpaIntake::on_packet(const intake::NflogPacket& packet) {
    if (!verifier_ || packet.group != group_ || packet.prefix != compile::kLogPrefixSpa) return;
    if (trace_) trace_.received = monotonic_ns();
    handle(packet.payload);
}

void SpaIntake::handle(Bytes ip_packet) {
    if (!verifier_) return;
    auto datagram = spa_datagram(ip_packet);
    if (!datagram) {
        rejected(kSpaOutcomeBadPacket, nullptr);
        return;
    }
    std::int64_t now = clock_();
    const auto digest = auth::ReplayCache::digest_of(datagram->payload);
    const bool known_before = cache_.contains(digest, now);
    auto verdict = verifier_->verify(datagram->payload, datagram->source, now);
    if (trace_) trace_.verified = monotonic_ns();
    // The verifier remembers every authenticated, in-window packet (accepted or refused for its
    // content); the daemon persists the cache as soon as it sees it dirty.
    if (!known_before && cache_.contains(digest, now)) {
        replay_dirty_ = true;
        if (remembered_) remembered_(digest, now + verifier_->retention_seconds());
    }
    replay_entries_.store(cache_.size(), std::memory_order_relaxed);
    if (!verdict) {
        rejected(std::string(auth::to_string(verdict.error())), &datagram->source);
        return;
    }
    count(kSpaOutcomeGranted);
    const auth::Decision& decision = verdict->decision;
    granted_ = true;
    for (const auto& service : decision.services) {
        auto started = grant_(decision.address, service, decision.open_seconds,
                              [this, service, address = decision.address, key = decision.key_name](const std::string* error) {
                                  if (error) grant_failed(key, address, service, *error);
                              });
        if (!started) grant_failed(decision.key_name, decision.address, service, started.error().message);
    }
    if (trace_) trace_.requested = monotonic_ns();
    if (send_grants_) {
        send_grants_();
        if (trace_) trace_.flushed = monotonic_ns();
    }
    nlohmann::json fields = {{"key", decision.key_name},
                             {"source", datagram->source.to_string()},
                             {"address", decision.address.to_string()},
                             {"services", decision.services},
                             {"seconds", decision.open_seconds},
                             {"user", verdict->message.username}};
    if (verdict->message.client_timeout) fields["requested_seconds"] = *verdict->message.client_timeout;
    emit_(event::kSpaAccepted, std::move(fields));
}

}  // namespace portcullis::daemon
