#include "daemon/scan_detection.hpp"

#include <algorithm>
#include <string_view>

#include "compile/compile.hpp"
#include "dissect/packet.hpp"

namespace portcullis::daemon {

namespace {

constexpr std::uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpV6 = 58;

bool starts_with(std::string_view text, std::string_view head) { return text.substr(0, head.size()) == head; }

std::string contact_text(const detect::ContactKey& key) {
    if (key.protocol == kTcp) return "tcp/" + std::to_string(key.port);
    if (key.protocol == kUdp) return "udp/" + std::to_string(key.port);
    return "proto/" + std::to_string(key.protocol);
}

bool same_trw(const detect::TrwSettings& a, const detect::TrwSettings& b) {
    return a.theta0 == b.theta0 && a.theta1 == b.theta1 && a.detection_probability == b.detection_probability &&
           a.false_positive_probability == b.false_positive_probability &&
           a.window_distinct_ports == b.window_distinct_ports && a.window_seconds == b.window_seconds &&
           a.max_sources == b.max_sources;
}

bool overlaps(const Prefix& a, const Prefix& b) { return a.contains(b.address) || b.contains(a.address); }

}  // namespace

ScanDetectionConfig scan_detection_config(const policy::Policy& policy) {
    const policy::Detect& d = policy.detect;
    ScanDetectionConfig config;
    config.enabled = d.enabled && policy.logging.drop_group.has_value();
    config.trw.theta0 = d.theta0;
    config.trw.theta1 = d.theta1;
    config.trw.detection_probability = d.detection_probability;
    config.trw.false_positive_probability = d.false_positive_probability;
    config.trw.window_distinct_ports = d.window_ports;
    config.trw.window_seconds = d.window_seconds;
    config.trw.max_sources = d.max_sources;
    config.escalation.base_seconds = d.ban_base_seconds;
    config.escalation.cap_seconds = d.ban_cap_seconds;
    config.escalation.jitter_fraction = d.jitter;
    config.aggregate_ipv6 = d.ipv6_prefix == 64;
    config.trusted = policy.management.sources;
    for (const auto& service : policy.services)
        if (service.trusted && !service.allow_any)
            config.trusted.insert(config.trusted.end(), service.allow_from.begin(), service.allow_from.end());
    return config;
}

ScanDetection::ScanDetection(RuntimeState& runtime, EventLog& events, Clock clock, Uniform uniform)
    : runtime_(runtime), events_(events), clock_(std::move(clock)), uniform_(std::move(uniform)) {}

void ScanDetection::configure(ScanDetectionConfig config) {
    bool keep_walks = trw_ && config.enabled && same_trw(config.trw, config_.trw);
    config_ = std::move(config);
    if (!config_.enabled) trw_.reset();
    else if (!keep_walks) trw_ = std::make_unique<detect::TrwDetector>(config_.trw);
}

detect::TrwStats ScanDetection::trw_stats() const { return trw_ ? trw_->stats() : detect::TrwStats{}; }

bool ScanDetection::trusted(const Address& source) const { return detect::is_trusted(source, config_.trusted); }

Address ScanDetection::tracking_key(const Address& source) const {
    return detect::ban_prefix(source, config_.aggregate_ipv6).address;
}

void ScanDetection::on_packet(const intake::NflogPacket& packet) {
    if (!trw_) return;
    ++counters_.logged_packets;
    if (!starts_with(packet.prefix, compile::kLogPrefixClosed) &&
        !starts_with(packet.prefix, compile::kLogPrefixService) &&
        !starts_with(packet.prefix, compile::kLogPrefixInvalid)) {
        ++counters_.not_a_probe;
        return;
    }
    const dissect::PacketSummary summary = dissect::dissect_ip(packet.payload);
    if (summary.ip_version == 0) {
        ++counters_.undecodable;
        return;
    }
    if (summary.later_fragment() || summary.protocol == kIcmp || summary.protocol == kIcmpV6) {
        ++counters_.not_a_probe;
        return;
    }
    detect::ProbeKind kind = detect::ProbeKind::other;
    std::uint16_t port = 0;
    if (summary.protocol == kTcp) {
        if (!summary.tcp) {
            ++counters_.undecodable;
            return;
        }
        const std::uint8_t flags = summary.tcp->flags();
        if (summary.tcp->rst() || (summary.tcp->syn() && summary.tcp->ack())) {
            ++counters_.backscatter;
            return;
        }
        kind = detect::classify_tcp_flags(flags);
        port = summary.tcp->destination_port();
    } else if (summary.protocol == kUdp) {
        if (!summary.destination_port) {
            ++counters_.undecodable;
            return;
        }
        kind = detect::ProbeKind::udp;
        port = *summary.destination_port;
    }
    if (trusted(summary.source)) {
        ++counters_.trusted;
        return;
    }
    if (just_banned(summary.source)) {
        // The rest of a scan that was already in the NFLOG queue when its ban was decided: it must
        // not start a new walk (which would blend into the source's next offence).
        ++counters_.already_banned;
        return;
    }
    ++counters_.failures;
    observe(summary.source, summary.protocol, port, detect::Outcome::failure, kind);
}

bool ScanDetection::just_banned(const Address& source) const {
    for (bool aggregate : {config_.aggregate_ipv6, false}) {
        const Prefix prefix = detect::ban_prefix(source, aggregate);
        if (pending_.count(prefix)) return true;
        auto since = runtime_.live_ban_since(prefix);
        if (since && clock_() - *since < kScanRebanGraceSeconds) return true;
    }
    return false;
}

void ScanDetection::on_new_connection(const Address& source, std::uint8_t protocol, std::uint16_t port) {
    if (!trw_ || protocol == kIcmp || protocol == kIcmpV6) return;
    ++counters_.successes;
    observe(source, protocol, port, detect::Outcome::success,
            protocol == kUdp ? detect::ProbeKind::udp : detect::ProbeKind::other);
}

void ScanDetection::observe(const Address& source, std::uint8_t protocol, std::uint16_t port,
                            detect::Outcome outcome, detect::ProbeKind kind) {
    detect::Contact contact{tracking_key(source), protocol, port, outcome, kind,
                            static_cast<std::uint32_t>(clock_())};
    if (auto detection = trw_->observe(contact)) act_on(source, *detection);
}

void ScanDetection::act_on(const Address& source, const detect::Detection& detection) {
    const std::string scan_type = detect::to_string(detection.dominant_kind);
    ++counters_.detections[detection.reason];
    ++counters_.scan_types[scan_type];

    Prefix prefix = detect::ban_prefix(source, config_.aggregate_ipv6);
    // A /64 that holds a trusted address is not banned whole: only the scanning address is.
    if (!prefix.is_host() && std::any_of(config_.trusted.begin(), config_.trusted.end(),
                                         [&](const Prefix& t) { return overlaps(t, prefix); }))
        prefix = detect::ban_prefix(source, false);

    const std::int64_t now = clock_();
    auto since = runtime_.live_ban_since(prefix);
    if (pending_.count(prefix) || (since && now - *since < kScanRebanGraceSeconds)) {
        ++counters_.already_banned;
        return;
    }
    const std::uint32_t offences = runtime_.ban_offences(prefix) + 1;
    const std::uint32_t seconds = detect::ban_seconds(config_.escalation, offences, uniform_);

    auto ports = nlohmann::json::array();
    for (const auto& key : detection.failed_ports) ports.push_back(contact_text(key));
    events_.emit(event::kScanDetected, {{"source", source.to_string()},
                                        {"prefix", prefix.is_host() ? prefix.address.to_string() : prefix.to_string()},
                                        {"reason", detection.reason},
                                        {"probes", detection.failed_probes},
                                        {"scan_type", scan_type},
                                        {"ports", ports},
                                        {"offence", offences},
                                        {"ban_seconds", seconds},
                                        {"refresh", since.has_value()}});

    pending_.insert(prefix);
    auto queued = runtime_.add_ban(prefix, seconds, kScanBanReason, [this, prefix](const std::string* error) {
        pending_.erase(prefix);
        if (!error) {
            ++counters_.bans_placed;
            return;
        }
        ++counters_.ban_failures;
        events_.emit(event::kKernelError, {{"prefix", prefix.is_host() ? prefix.address.to_string() : prefix.to_string()},
                                           {"error", "scan ban: " + *error}});
    });
    if (!queued) {
        pending_.erase(prefix);
        ++counters_.ban_failures;
    }
}

void ScanDetection::write_metrics(MetricsText& text) const {
    const detect::TrwStats stats = trw_stats();
    text.family("portcullis_detect_enabled", "gauge", "1 when scan detection runs");
    text.sample("portcullis_detect_enabled", trw_ ? 1 : 0);
    text.family("portcullis_detect_tracked_sources", "gauge", "Sources with a walk in progress");
    text.sample("portcullis_detect_tracked_sources", static_cast<double>(stats.tracked));
    text.family("portcullis_detect_evicted_sources_total", "counter",
                "Walks dropped least-recently-seen first to stay within max_sources");
    text.sample("portcullis_detect_evicted_sources_total", static_cast<double>(stats.evictions));
    text.family("portcullis_detect_contacts_total", "counter", "Inputs to the detector, by kind");
    text.sample("portcullis_detect_contacts_total", {{"kind", "failure"}}, static_cast<double>(counters_.failures));
    text.sample("portcullis_detect_contacts_total", {{"kind", "success"}}, static_cast<double>(counters_.successes));
    text.sample("portcullis_detect_contacts_total", {{"kind", "repeated"}},
                static_cast<double>(stats.repeated_contacts));
    text.family("portcullis_detect_ignored_total", "counter", "Logged packets the detector did not count, by why");
    text.sample("portcullis_detect_ignored_total", {{"why", "not_a_probe"}}, static_cast<double>(counters_.not_a_probe));
    text.sample("portcullis_detect_ignored_total", {{"why", "backscatter"}}, static_cast<double>(counters_.backscatter));
    text.sample("portcullis_detect_ignored_total", {{"why", "undecodable"}}, static_cast<double>(counters_.undecodable));
    text.sample("portcullis_detect_ignored_total", {{"why", "trusted"}}, static_cast<double>(counters_.trusted));
    text.sample("portcullis_detect_ignored_total", {{"why", "already_banned"}},
                static_cast<double>(counters_.already_banned));
    text.family("portcullis_detect_detections_total", "counter", "Sources flagged as scanners, by reason");
    for (const char* reason : {"trw", "distinct-ports"}) {
        auto it = counters_.detections.find(reason);
        text.sample("portcullis_detect_detections_total", {{"reason", reason}},
                    static_cast<double>(it == counters_.detections.end() ? 0 : it->second));
    }
    text.family("portcullis_detect_scan_types_total", "counter", "Detections by the dominant probe kind");
    for (const auto& [type, count] : counters_.scan_types)
        text.sample("portcullis_detect_scan_types_total", {{"type", type}}, static_cast<double>(count));
    text.family("portcullis_detect_bans_total", "counter", "Scan bans the kernel accepted or refused");
    text.sample("portcullis_detect_bans_total", {{"result", "placed"}}, static_cast<double>(counters_.bans_placed));
    text.sample("portcullis_detect_bans_total", {{"result", "failed"}}, static_cast<double>(counters_.ban_failures));
}

}  // namespace portcullis::daemon
