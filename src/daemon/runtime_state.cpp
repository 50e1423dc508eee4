#include "daemon/runtime_state.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>

#include "compile/compile.hpp"

namespace portcullis::daemon {

std::size_t PrefixHash::operator()(const Prefix& prefix) const noexcept {
    // FNV-1a over the bytes that matter.
    std::size_t hash = 1469598103934665603ull;
    auto mix = [&](std::uint8_t byte) { hash = (hash ^ byte) * 1099511628211ull; };
    std::size_t width = prefix.address.family == Family::ipv4 ? 4 : 16;
    for (std::size_t i = 0; i < width; ++i) mix(prefix.address.bytes[i]);
    mix(prefix.length);
    mix(static_cast<std::uint8_t>(prefix.address.family));
    return hash;
}

namespace {
std::string prefix_text(const Prefix& prefix) {
    return prefix.is_host() ? prefix.address.to_string() : prefix.to_string();
}
Prefix host_prefix(const Address& address) {
    return Prefix{address, static_cast<std::uint8_t>(address.width_bits())};
}
}  // namespace

RuntimeState::RuntimeState(SetBatcher& batcher, EventLog& events, Clock clock)
    : batcher_(batcher), events_(events), clock_(std::move(clock)) {
    reasons_.push_back("manual");
}

void RuntimeState::configure(RuntimeConfig config) {
    config_ = std::move(config);
    // Grants of services that are no longer guarded went with their sets.
    for (auto it = grants_.begin(); it != grants_.end();) {
        if (!config_.guarded_services.count(it->first.first)) it = grants_.erase(it);
        else ++it;
    }
}

RuntimeState::BanSet RuntimeState::set_for_ban(const Prefix& prefix) const {
    bool v4 = prefix.address.family == Family::ipv4;
    if (config_.split_ban_sets && prefix.is_host()) return {v4 ? compile::kBanHostSetV4 : compile::kBanHostSetV6, false};
    return {v4 ? compile::kBanSetV4 : compile::kBanSetV6, true};
}

std::vector<RuntimeState::BanSet> RuntimeState::sets_holding(const Prefix& prefix) const {
    std::vector<BanSet> out{set_for_ban(prefix)};
    if (!out.front().interval) out.push_back({prefix.address.family == Family::ipv4 ? compile::kBanSetV4 : compile::kBanSetV6, true});
    return out;
}

std::vector<RuntimeState::BanSet> RuntimeState::ban_sets() const {
    std::vector<BanSet> out;
    if (config_.split_ban_sets) {
        out.push_back({compile::kBanHostSetV4, false});
        out.push_back({compile::kBanHostSetV6, false});
    }
    out.push_back({compile::kBanSetV4, true});
    out.push_back({compile::kBanSetV6, true});
    return out;
}

std::string RuntimeState::set_for_grant(const Address& source, const std::string& service) {
    return source.family == Family::ipv4 ? compile::grant_set_v4(service) : compile::grant_set_v6(service);
}

std::uint16_t RuntimeState::intern_reason(const std::string& reason) {
    auto it = std::find(reasons_.begin(), reasons_.end(), reason);
    if (it != reasons_.end()) return static_cast<std::uint16_t>(it - reasons_.begin());
    if (reasons_.size() >= std::numeric_limits<std::uint16_t>::max()) return 0;
    reasons_.push_back(reason);
    return static_cast<std::uint16_t>(reasons_.size() - 1);
}

std::optional<std::string> RuntimeState::kernel_error_text(const std::string& error,
                                                           const Prefix& prefix) const {
    if (error == std::strerror(EEXIST))
        return prefix_text(prefix) + " overlaps an existing ban (remove that one first)";
    if (error == std::strerror(ENOENT)) return std::nullopt;
    return error;
}

Result<void> RuntimeState::add_grant(const Address& source, const std::string& service,
                                     std::optional<std::uint32_t> seconds, Done done) {
    if (!config_.guarded_services.count(service))
        return fail("service \"" + service + "\" has no grant set (it needs guard = \"grant\" in the policy)");
    std::uint32_t duration = seconds.value_or(config_.default_grant_seconds);
    kernel::ElementChange change;
    change.set = set_for_grant(source, service);
    change.prefix = host_prefix(source);
    change.timeout = std::chrono::milliseconds(std::int64_t{duration} * 1000);
    batcher_.enqueue(std::move(change), [this, source, service, duration, done](const std::string* error) {
        if (!error) record_grant(source, service, duration);
        if (done) done(error);
    });
    return {};
}

void RuntimeState::record_grant(const Address& source, const std::string& service, std::uint32_t seconds) {
    std::int64_t now = clock_();
    grants_[{service, source}] = GrantEntry{now, now + seconds};
    events_.emit(event::kGrantOpened, {{"source", source.to_string()},
                                       {"service", service},
                                       {"seconds", seconds},
                                       {"expires_at", now + seconds}});
}

Result<void> RuntimeState::revoke_grant(const Address& source, const std::string& service, Done done) {
    if (!config_.guarded_services.count(service))
        return fail("service \"" + service + "\" has no grant set");
    kernel::ElementChange change;
    change.set = set_for_grant(source, service);
    change.op = kernel::ElementOp::remove;
    change.prefix = host_prefix(source);
    batcher_.enqueue(std::move(change), [this, source, service, done](const std::string* error) {
        bool was_there = grants_.erase({service, source}) > 0;
        if (!error) {
            events_.emit(event::kGrantRevoked, {{"source", source.to_string()}, {"service", service}});
            if (done) done(nullptr);
            return;
        }
        if (was_there && *error == std::strerror(ENOENT))
            events_.emit(event::kGrantExpired, {{"source", source.to_string()}, {"service", service}});
        std::string message = *error == std::strerror(ENOENT)
            ? source.to_string() + " has no grant for " + service + " (expired or never granted)"
            : *error;
        if (done) done(&message);
    });
    return {};
}

Result<void> RuntimeState::add_ban(const Prefix& prefix, std::optional<std::uint32_t> seconds,
                                   const std::string& reason, Done done) {
    std::uint32_t duration = seconds.value_or(config_.default_ban_seconds);
    kernel::ElementChange change;
    BanSet target = set_for_ban(prefix);
    change.set = target.name;
    change.prefix = prefix;
    change.interval = target.interval;
    change.timeout = std::chrono::milliseconds(std::int64_t{duration} * 1000);
    ++ban_writes_;
    batcher_.enqueue(std::move(change), [this, prefix, duration, reason, done](const std::string* error) {
        ++ban_writes_done_;
        if (error) {
            auto text = kernel_error_text(*error, prefix);
            std::string message = text.value_or(*error);
            if (done) done(&message);
            return;
        }
        std::int64_t now = clock_();
        BanEntry& entry = bans_[prefix];
        entry.banned_at = now;
        entry.expires_at = now + duration;
        entry.offences += 1;
        entry.last_duration = duration;
        entry.reason = intern_reason(reason);
        entry.live = true;
        next_expiry_check_ = std::min(next_expiry_check_, entry.expires_at);
        dirty_ = true;
        events_.emit(event::kBanAdded, {{"prefix", prefix_text(prefix)},
                                        {"seconds", duration},
                                        {"offences", entry.offences},
                                        {"reason", reason},
                                        {"expires_at", entry.expires_at}});
        if (done) done(nullptr);
    });
    return {};
}

Result<void> RuntimeState::remove_ban(const Prefix& prefix, Done done) {
    // One delete per set that may hold the ban; the removal succeeds when any of them held it.
    struct Outcome {
        std::size_t waiting = 0;
        bool removed = false;
        std::optional<std::string> error;  // other than "not there"
    };
    std::vector<BanSet> targets = sets_holding(prefix);
    auto outcome = std::make_shared<Outcome>();
    outcome->waiting = targets.size();
    for (const BanSet& target : targets) {
        kernel::ElementChange change;
        change.set = target.name;
        change.op = kernel::ElementOp::remove;
        change.prefix = prefix;
        change.interval = target.interval;
        ++ban_writes_;
        batcher_.enqueue(std::move(change), [this, prefix, done, outcome](const std::string* error) {
            ++ban_writes_done_;
            if (!error) outcome->removed = true;
            else if (*error != std::strerror(ENOENT) && !outcome->error) outcome->error = *error;
            if (--outcome->waiting > 0) return;
            if (outcome->error) {
                finish_ban_removal(prefix, &*outcome->error, done);
            } else if (outcome->removed) {
                finish_ban_removal(prefix, nullptr, done);
            } else {
                std::string missing = std::strerror(ENOENT);
                finish_ban_removal(prefix, &missing, done);
            }
        });
    }
    return {};
}

void RuntimeState::finish_ban_removal(const Prefix& prefix, const std::string* error, const Done& done) {
    auto it = bans_.find(prefix);
    std::int64_t now = clock_();
    if (error) {
        std::string message = *error == std::strerror(ENOENT) ? prefix_text(prefix) + " is not banned" : *error;
        if (done) done(&message);
        return;
    }
    if (it != bans_.end()) {
        it->second.expires_at = std::min(it->second.expires_at, now);
        it->second.live = false;
    } else if (!adopted_expiry_.empty() && adopted_expiry_.back() > now) {
        // One adopted ban fewer; which expiry was its is unknown, so the count is exact now
        // and may drift in time only until the latest adopted ban would have ended.
        adopted_expiry_.pop_back();
    }
    dirty_ = true;
    events_.emit(event::kBanRemoved, {{"prefix", prefix_text(prefix)}, {"reason", "manual"}});
    if (done) done(nullptr);
}

std::size_t RuntimeState::restore(const DaemonState& saved, const KernelView& kernel) {
    std::int64_t now = clock_();
    bans_.reserve(saved.bans.size());
    for (const BanRecord& record : saved.bans) {
        if (record.expires_at + kBanHistorySeconds < now) continue;
        BanEntry entry;
        entry.banned_at = record.banned_at;
        entry.expires_at = record.expires_at;
        entry.offences = record.offences;
        entry.last_duration = record.last_duration;
        entry.reason = intern_reason(record.reason.empty() ? "manual" : record.reason);
        entry.live = false;  // until the kernel is seen to hold it (below) or it is re-added
        bans_[record.prefix] = entry;
    }
    adopted_expiry_.clear();
    for (const auto& element : kernel.bans) {
        std::int64_t expires = element.expires.count() > 0 ? now + element.expires.count() / 1000
                                                           : std::numeric_limits<std::int32_t>::max();
        auto it = bans_.find(element.prefix);
        if (it == bans_.end()) {
            adopted_expiry_.push_back(expires);
        } else {
            it->second.expires_at = expires;
            it->second.live = true;
        }
    }
    std::sort(adopted_expiry_.begin(), adopted_expiry_.end());
    adopted_expiry_.shrink_to_fit();
    // Re-added in key order: the kernel's interval (rbtree) insert is ~1.6x faster in order
    // than in this map's hash order.
    std::vector<std::pair<Prefix, BanEntry*>> missing;
    for (auto& [prefix, entry] : bans_)
        if (entry.expires_at > now && !entry.live) missing.emplace_back(prefix, &entry);
    std::sort(missing.begin(), missing.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::size_t readded = 0;
    for (auto& [prefix, entry_pointer] : missing) {
        BanEntry& entry = *entry_pointer;
        auto remaining = static_cast<std::uint32_t>(
            std::min<std::int64_t>(entry.expires_at - now, std::int64_t{365} * 24 * 3600));
        entry.live = true;  // a failure below turns it back into history
        kernel::ElementChange change;
        BanSet target = set_for_ban(prefix);
        change.set = target.name;
        change.prefix = prefix;
        change.interval = target.interval;
        change.timeout = std::chrono::milliseconds(std::int64_t{remaining} * 1000);
        Prefix key = prefix;
        ++ban_writes_;
        batcher_.enqueue_distinct(std::move(change), [this, key](const std::string* error) {
            ++ban_writes_done_;
            if (!error) return;
            auto it = bans_.find(key);
            if (it != bans_.end()) {
                it->second.expires_at = clock_();  // history only
                it->second.live = false;
            }
            events_.emit(event::kStateError, {{"prefix", prefix_text(key)},
                                              {"error", "could not re-apply saved ban: " + *error}});
        });
        ++readded;
    }
    for (const auto& [service, elements] : kernel.grants) {
        for (const auto& element : elements) {
            std::int64_t expires = now + element.expires.count() / 1000;
            grants_[{service, element.prefix.address}] = GrantEntry{now, expires};
        }
    }
    next_expiry_check_ = 0;
    dirty_ = true;
    return readded;
}

void RuntimeState::reconcile_grants(
    const std::map<std::string, std::vector<kernel::ListedElement>>& kernel) {
    std::int64_t now = clock_();
    std::set<std::pair<std::string, Address>> present;
    for (const auto& [service, elements] : kernel)
        for (const auto& element : elements) present.insert({service, element.prefix.address});
    for (auto it = grants_.begin(); it != grants_.end();) {
        const auto& [service, source] = it->first;
        if (kernel.count(service) && !present.count(it->first)) {
            events_.emit(event::kGrantExpired, {{"source", source.to_string()},
                                                {"service", service},
                                                {"opened_at", it->second.opened_at}});
            it = grants_.erase(it);
        } else {
            ++it;
        }
    }
    // Grants someone else put in (another portcullis process, a knock rule) are adopted.
    for (const auto& [service, elements] : kernel) {
        for (const auto& element : elements) {
            auto key = std::make_pair(service, element.prefix.address);
            if (!grants_.count(key))
                grants_[key] = GrantEntry{now, now + element.expires.count() / 1000};
        }
    }
}

void RuntimeState::expire_bans() {
    std::int64_t now = clock_();
    if (now < next_expiry_check_) return;  // nothing can have ended yet: idle costs nothing
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    auto ended = std::upper_bound(adopted_expiry_.begin(), adopted_expiry_.end(), now);
    adopted_expiry_.erase(adopted_expiry_.begin(), ended);
    if (!adopted_expiry_.empty()) next = adopted_expiry_.front();
    for (auto it = bans_.begin(); it != bans_.end();) {
        BanEntry& entry = it->second;
        if (entry.live && entry.expires_at <= now) {
            entry.live = false;
            dirty_ = true;
            events_.emit(event::kBanRemoved, {{"prefix", prefix_text(it->first)}, {"reason", "expired"},
                                              {"offences", entry.offences}});
        }
        if (!entry.live && entry.expires_at + kBanHistorySeconds < now) {
            it = bans_.erase(it);
            dirty_ = true;
            continue;
        }
        next = std::min(next, entry.live ? entry.expires_at : entry.expires_at + kBanHistorySeconds);
        ++it;
    }
    next_expiry_check_ = next;
}

DaemonState RuntimeState::export_state() const {
    DaemonState state;
    state.bans.reserve(bans_.size());
    for (const auto& [prefix, entry] : bans_) {
        BanRecord record;
        record.prefix = prefix;
        record.banned_at = entry.banned_at;
        record.expires_at = entry.expires_at;
        record.offences = entry.offences;
        record.last_duration = entry.last_duration;
        record.reason = reasons_[entry.reason];
        state.bans.push_back(std::move(record));
    }
    std::sort(state.bans.begin(), state.bans.end(),
              [](const BanRecord& a, const BanRecord& b) { return a.prefix < b.prefix; });
    return state;
}

std::size_t RuntimeState::adopted_bans() const {
    std::int64_t now = clock_();
    return static_cast<std::size_t>(adopted_expiry_.end() -
                                    std::upper_bound(adopted_expiry_.begin(), adopted_expiry_.end(), now));
}

std::size_t RuntimeState::active_bans() const {
    std::int64_t now = clock_();
    return adopted_bans() + static_cast<std::size_t>(std::count_if(bans_.begin(), bans_.end(), [now](const auto& item) {
               return item.second.live && item.second.expires_at > now;
           }));
}

std::uint32_t RuntimeState::ban_offences(const Prefix& prefix) const {
    auto it = bans_.find(prefix);
    return it == bans_.end() ? 0 : it->second.offences;
}

std::optional<std::int64_t> RuntimeState::live_ban_since(const Prefix& prefix) const {
    auto it = bans_.find(prefix);
    if (it == bans_.end() || !it->second.live || it->second.expires_at <= clock_()) return std::nullopt;
    return it->second.banned_at;
}

std::map<std::string, std::size_t> RuntimeState::active_bans_by_reason() const {
    std::int64_t now = clock_();
    std::map<std::string, std::size_t> out;
    for (const auto& [prefix, entry] : bans_)
        if (entry.live && entry.expires_at > now) ++out[reasons_[entry.reason]];
    return out;
}

nlohmann::json RuntimeState::grants_json() const {
    std::int64_t now = clock_();
    auto out = nlohmann::json::array();
    for (const auto& [key, entry] : grants_) {
        out.push_back({{"source", key.second.to_string()},
                       {"service", key.first},
                       {"opened_at", entry.opened_at},
                       {"expires_at", entry.expires_at},
                       {"remaining", std::max<std::int64_t>(0, entry.expires_at - now)}});
    }
    return out;
}

std::vector<BanListEntry> RuntimeState::ban_list_entries(const std::vector<kernel::ListedElement>* kernel,
                                                         bool kernel_sorted) const {
    std::int64_t now = clock_();
    auto by_prefix = [](const BanListEntry& a, const BanListEntry& b) { return a.prefix < b.prefix; };
    std::vector<BanListEntry> records;
    for (const auto& [prefix, entry] : bans_)
        if (entry.live && entry.expires_at > now) records.push_back({prefix, entry.expires_at, false});
    std::sort(records.begin(), records.end(), by_prefix);
    if (!kernel) return records;
    std::vector<kernel::ListedElement> sorted_copy;
    const std::vector<kernel::ListedElement>* elements = kernel;
    if (!kernel_sorted) {
        sorted_copy = *kernel;
        sort_distinct(sorted_copy);
        elements = &sorted_copy;
    }
    // Kernel elements with a live record are listed from the record; the rest are adopted.
    std::vector<BanListEntry> adopted;
    adopted.reserve(elements->size());
    for (const auto& element : *elements) {
        auto it = bans_.find(element.prefix);
        if (it != bans_.end() && it->second.live && it->second.expires_at > now) continue;
        std::int64_t expires = element.expires.count() > 0 ? now + element.expires.count() / 1000 : 0;
        adopted.push_back({element.prefix, expires, true});
    }
    std::vector<BanListEntry> out;
    out.reserve(records.size() + adopted.size());
    std::merge(records.begin(), records.end(), adopted.begin(), adopted.end(), std::back_inserter(out), by_prefix);
    return out;
}

std::optional<nlohmann::json> RuntimeState::ban_entry_json(const BanListEntry& listed) const {
    std::int64_t now = clock_();
    if (listed.adopted) {
        if (listed.expires_at != 0 && listed.expires_at <= now) return std::nullopt;
        nlohmann::json item = {{"prefix", prefix_text(listed.prefix)}, {"reason", "adopted"}};
        if (listed.expires_at != 0) {
            item["expires_at"] = listed.expires_at;
            item["remaining"] = listed.expires_at - now;
        }
        return item;
    }
    auto it = bans_.find(listed.prefix);
    if (it == bans_.end() || !it->second.live || it->second.expires_at <= now) return std::nullopt;
    const BanEntry& entry = it->second;
    return nlohmann::json{{"prefix", prefix_text(listed.prefix)},
                          {"banned_at", entry.banned_at},
                          {"expires_at", entry.expires_at},
                          {"remaining", entry.expires_at - now},
                          {"offences", entry.offences},
                          {"last_duration", entry.last_duration},
                          {"reason", reasons_[entry.reason]}};
}

std::map<std::string, std::size_t> RuntimeState::live_bans_by_set() const {
    std::int64_t now = clock_();
    std::map<std::string, std::size_t> out;
    for (const auto& set : ban_sets()) out[set.name] = 0;
    for (const auto& [prefix, entry] : bans_)
        if (entry.live && entry.expires_at > now) ++out[set_for_ban(prefix).name];
    return out;
}

nlohmann::json RuntimeState::bans_json(const std::vector<kernel::ListedElement>* kernel) const {
    auto out = nlohmann::json::array();
    for (const BanListEntry& entry : ban_list_entries(kernel))
        if (auto item = ban_entry_json(entry)) out.push_back(std::move(*item));
    return out;
}

}  // namespace portcullis::daemon
