#include "daemon/daemon.hpp"

#include <malloc.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <variant>

#include <fmt/core.h>

#include "compile/compile.hpp"
#include "daemon/ban_listing.hpp"
#include "daemon/conntrack_events.hpp"
#include "daemon/control_protocol.hpp"
#include "daemon/control_server.hpp"
#include "daemon/drop_summary.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/events.hpp"
#include "daemon/metrics.hpp"
#include "daemon/runtime_state.hpp"
#include "daemon/scan_detection.hpp"
#include "daemon/set_batcher.hpp"
#include "daemon/spa_intake.hpp"
#include "daemon/spa_worker.hpp"
#include "daemon/state_file.hpp"
#include "daemon/state_writer.hpp"
#include "intake/nflog_reader.hpp"
#include "kernel/netlink_element_counters.hpp"
#include "kernel/confirm.hpp"
#include "kernel/netlink_counters.hpp"
#include "kernel/netlink_set_writer.hpp"
#include "kernel/transaction.hpp"
#include "policy/load.hpp"

namespace portcullis::daemon {

namespace {

// Mirrors cli::ExitCode (the daemon library does not depend on the CLI).
constexpr int kExitOk = 0;
constexpr int kExitPolicyInvalid = 1;
constexpr int kExitKernelError = 3;
constexpr int kExitDaemonError = 4;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

nlohmann::json diagnostics_json(const std::vector<policy::Diagnostic>& diagnostics) {
    auto out = nlohmann::json::array();
    for (const auto& diagnostic : diagnostics)
        if (diagnostic.severity == policy::Severity::error) out.push_back(policy::format(diagnostic));
    return out;
}

class Daemon {
public:
    explicit Daemon(DaemonOptions options) : options_(std::move(options)) {
        if (options_.control_path.empty()) options_.control_path = kDefaultControlPath;
        if (options_.metrics_address.empty()) options_.metrics_address = kDefaultMetricsAddress;
        if (options_.state_file.empty()) options_.state_file = kDefaultStateFile;
    }

    int run();

private:
    struct Loaded {
        policy::Policy policy;
        compile::Compiled compiled;
    };
    // Load + validate + compile; on failure the error list says where and what.
    Result<Loaded> load_policy();
    Result<kernel::ApplyOutcome> apply(Loaded& loaded);
    RuntimeConfig runtime_config(const Loaded& loaded) const;
    std::vector<std::string> grant_services() const;
    Result<void> open_nflog(const policy::Policy& policy);
    Result<void> start_spa();
    void stop_spa();
    void on_spa_notes();
    std::map<std::string, std::uint64_t> spa_outcomes() const;
    void configure_detection(const policy::Policy& policy);
    void schedule_flush();
    void flush_now();
    void reconcile();
    void save_state(bool force);
    void configure_spa();
    Result<void> reload(const char* trigger);
    std::optional<std::string> handle(std::string_view line, const ControlServer::Reply& later);
    std::optional<std::string> list_bans(const request::BansList& request, const ControlServer::Reply& later);
    std::optional<std::string> count_bans(const request::BansCount& request, const ControlServer::Reply& later);
    std::string ban_page(const BanCursor& cursor, std::uint32_t limit);
    std::string open_listing(std::vector<BanListEntry> entries, const request::BansList& request,
                             BanPager::Info info, const nlohmann::json& extra);
    void list_kernel_bans(std::function<void(const KernelBanLister::Outcome&)> done);
    nlohmann::json status() const;
    std::string metrics();
    void notify_status();

    DaemonOptions options_;
    EventLog events_;
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<kernel::Nftables> nft_;
    std::unique_ptr<kernel::SetElementWriter> writer_;
    std::unique_ptr<kernel::CounterReader> counters_;
    kernel::NetlinkElementCounterReader* element_counters_ = nullptr;  // owned by counters_
    std::unique_ptr<SetBatcher> batcher_;
    std::unique_ptr<RuntimeState> runtime_;
    std::unique_ptr<ControlServer> control_;
    std::unique_ptr<KernelBanLister> ban_lister_;
    BanPager ban_pager_{[] { return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::steady_clock::now().time_since_epoch()).count()); },
                        std::random_device{}() * 0x100000001ull};
    std::uint64_t dump_start_ban_writes_ = 0;       // runtime_->ban_writes() when the running dump began
    std::uint64_t dump_start_ban_writes_done_ = 0;  // runtime_->ban_writes_done() then
    bool last_dump_overlapped_changes_ = false;  // this daemon changed a ban set during the last dump
    std::optional<KernelBanLister::Outcome> last_kernel_count_;  // per-set sizes of the last dump
    std::unique_ptr<MetricsServer> metrics_server_;
    std::unique_ptr<intake::NflogReader> nflog_;
    // SPA: the settings of the running policy (nullptr: no SPA), the thread that serves them
    // (spa_worker.hpp), and the loop's copy of its replay cache, built from its notes, for the
    // state file. Counters of stopped workers (a reload that moved the group) carry on in spa_base_.
    std::shared_ptr<const SpaSettings> spa_settings_;
    std::unique_ptr<SpaWorker> spa_;
    auth::ReplayCache spa_replay_{2 * auth::ReplayCache::kDefaultCapacity};
    bool spa_replay_dirty_ = false;
    struct SpaTotals {
        std::map<std::string, std::uint64_t> outcomes;
        std::uint64_t grant_failures = 0, suppressed_events = 0, nflog_packets = 0, nflog_overruns = 0,
                      dropped_notes = 0;
    } spa_base_;
    std::unique_ptr<StateWriter> state_writer_;
    bool state_write_failed_ = false;
    DropSummary drops_;
    std::unique_ptr<ScanDetection> scan_;
    std::unique_ptr<ConntrackEvents> conntrack_;
    std::mt19937_64 jitter_random_{std::random_device{}()};
    std::optional<Loaded> current_;
    std::uint64_t generation_ = 0;
    std::int64_t started_at_ = unix_now();
    std::int64_t last_reload_at_ = 0;
    std::string last_reload_error_;
    EventLoop::TimerId flush_timer_ = -1;
    std::chrono::steady_clock::time_point last_save_{};
    std::uint64_t reported_overruns_ = 0;
    std::uint64_t reported_lost_ = 0;
    std::uint64_t counter_read_errors_ = 0;
    std::uint64_t reconcile_errors_ = 0;
};

// A reload over a pending `apply --confirm` would be undone by that confirm's rollback (it restores
// the table from before the apply), so it is refused the way `portcullis apply` refuses it.
Result<void> refuse_while_confirm_pending() {
    kernel::ConfirmStore store(kernel::ConfirmStore::default_directory());
    auto pending = store.pending();
    if (!pending || !*pending) return {};
    std::int64_t now_ms = unix_now() * 1000;
    std::int64_t left = std::max<std::int64_t>(0, ((*pending)->deadline_unix_ms - now_ms + 999) / 1000);
    return fail(fmt::format("an `apply --confirm` is waiting for confirmation (rollback in {} s); run "
                            "`portcullis confirm` to keep it, or wait for the rollback, then reload",
                            left));
}

Result<Daemon::Loaded> Daemon::load_policy() {
    policy::LoadResult result = policy::load_file(options_.policy_path);
    if (!result.ok()) {
        std::string message;
        for (const auto& diagnostic : result.diagnostics) {
            if (diagnostic.severity != policy::Severity::error) continue;
            message += (message.empty() ? "" : "\n") + policy::format(diagnostic);
        }
        events_.emit(event::kConfigError, {{"policy", options_.policy_path},
                                           {"errors", diagnostics_json(result.diagnostics)}});
        return fail(message.empty() ? "policy has errors" : message);
    }
    Loaded loaded{std::move(*result.policy), {}};
    if (options_.fit_policy && nft_) {
        for (const auto& warning : options_.fit_policy(loaded.policy, *nft_))
            fmt::print(stderr, "warning: {}\n", warning);
    }
    loaded.compiled = compile::compile(loaded.policy);
    return loaded;
}

Result<kernel::ApplyOutcome> Daemon::apply(Loaded& loaded) {
    auto outcome = kernel::apply_table(*nft_, loaded.compiled);
    if (!outcome) return outcome;
    if (options_.after_apply) options_.after_apply(loaded.policy);
    return outcome;
}

std::vector<std::string> Daemon::grant_services() const {
    std::vector<std::string> services;
    if (!current_) return services;
    const auto& runtime_sets = current_->compiled.manifest.runtime_sets;
    for (const auto& service : current_->policy.services) {
        if (std::find(runtime_sets.begin(), runtime_sets.end(), compile::grant_set_v4(service.name)) !=
            runtime_sets.end())
            services.push_back(service.name);
    }
    return services;
}

RuntimeConfig Daemon::runtime_config(const Loaded& loaded) const {
    RuntimeConfig config;
    const auto& runtime_sets = loaded.compiled.manifest.runtime_sets;
    for (const auto& service : loaded.policy.services)
        if (std::find(runtime_sets.begin(), runtime_sets.end(), compile::grant_set_v4(service.name)) !=
            runtime_sets.end())
            config.guarded_services.insert(service.name);
    config.split_ban_sets =
        std::find(runtime_sets.begin(), runtime_sets.end(), compile::kBanHostSetV4) != runtime_sets.end();
    config.default_grant_seconds = loaded.policy.runtime.default_grant_seconds;
    config.default_ban_seconds = loaded.policy.runtime.default_ban_seconds;
    return config;
}

Result<void> Daemon::open_nflog(const policy::Policy& policy) {
    if (auto spa = start_spa(); !spa) return spa;
    std::vector<std::uint16_t> groups;
    if (policy.logging.drop_group) groups.push_back(*policy.logging.drop_group);
    if (nflog_ && nflog_->groups() == groups) return {};
    if (nflog_) {
        loop_->remove(nflog_->fd());
        nflog_.reset();
    }
    if (groups.empty()) return {};
    auto reader = intake::NflogReader::open(groups);
    if (!reader) return tl::unexpected(reader.error());
    nflog_ = std::move(*reader);
    nflog_->dispatcher().add_observer(&drops_);
    nflog_->dispatcher().add_observer(scan_.get());
    return loop_->add(nflog_->fd(), EPOLLIN, [this](std::uint32_t) {
        nflog_->on_readable();
        schedule_flush();  // observers (knock, detection) queue set changes; coalesce them
        const auto& counters = nflog_->dispatcher().counters();
        if (counters.overruns > reported_overruns_ || counters.lost > reported_lost_) {
            // One event per burst of overruns, not per ENOBUFS: counted in full in the metrics.
            events_.emit(event::kNflogOverrun, {{"overruns", counters.overruns - reported_overruns_},
                                                {"lost", counters.lost - reported_lost_},
                                                {"overruns_total", counters.overruns},
                                                {"lost_total", counters.lost}});
            reported_overruns_ = counters.overruns;
            reported_lost_ = counters.lost;
        }
    });
}

// SPA runs on its own thread (spa_worker.hpp) with its own unbatched NFLOG socket and netlink
// socket: the grant goes out without waiting for this loop. A reload that keeps the group and the
// priority only swaps the settings; otherwise the thread is replaced (its replay cache is carried
// over from the loop's copy, which holds every entry it reported).
Result<void> Daemon::start_spa() {
    if (!spa_settings_) {
        stop_spa();
        return {};
    }
    if (spa_ && spa_->group() == spa_settings_->group && spa_->realtime_requested() == spa_settings_->realtime) {
        spa_->publish(spa_settings_);
        return {};
    }
    stop_spa();
    auto writer = kernel::NetlinkSetWriter::open(compile::kTableFamily, compile::kTableName);
    if (!writer) return tl::unexpected(writer.error());
    auto worker = SpaWorker::open(spa_settings_, std::move(*writer), unix_now);
    if (!worker) return tl::unexpected(worker.error());
    if (spa_replay_.size() > 0) {
        if (auto loaded = (*worker)->load_replay(spa_replay_.to_json(), unix_now()); !loaded)
            return fail("SPA replay cache: " + loaded.error().message);
    }
    if (auto added = loop_->add((*worker)->notes_fd(), EPOLLIN, [this](std::uint32_t) { on_spa_notes(); }); !added)
        return added;
    spa_ = std::move(*worker);
    spa_->start();
    return {};
}

void Daemon::stop_spa() {
    if (!spa_) return;
    spa_->stop();
    loop_->remove(spa_->notes_fd());
    on_spa_notes();  // what it queued before it stopped
    for (const auto& [outcome, packets] : spa_->intake().outcomes()) spa_base_.outcomes[outcome] += packets;
    spa_base_.grant_failures += spa_->intake().grant_failures();
    spa_base_.suppressed_events += spa_->intake().suppressed_events();
    spa_base_.nflog_packets += spa_->nflog_packets();
    spa_base_.nflog_overruns += spa_->nflog_overruns();
    spa_base_.dropped_notes += spa_->dropped_notes();
    spa_.reset();
}

// The SPA thread's notes, in its order: event lines, grants the kernel took (grant_opened after
// the grant, spa_accepted after that), packets the replay cache remembers — written to the state
// file at once, so a restart cannot reopen them.
void Daemon::on_spa_notes() {
    if (!spa_) return;
    bool remembered = false;
    for (auto& note : spa_->take_notes()) {
        switch (note.kind) {
            case SpaNote::Kind::event:
                events_.emit(note.type, note.fields);
                if (note.type == event::kSpaPriority)
                    fmt::print(stderr, "warning: SPA thread runs at the normal priority: {}\n",
                               note.fields.value("error", std::string()));
                break;
            case SpaNote::Kind::grant_opened:
                runtime_->record_grant(note.address, note.service, note.seconds);
                break;
            case SpaNote::Kind::remembered:
                spa_replay_.insert(note.digest, note.expires_at, unix_now());
                remembered = true;
                break;
        }
    }
    if (remembered) {
        spa_replay_dirty_ = true;
        save_state(true);
    }
}

std::map<std::string, std::uint64_t> Daemon::spa_outcomes() const {
    auto out = spa_base_.outcomes;
    if (spa_)
        for (const auto& [outcome, packets] : spa_->intake().outcomes()) out[outcome] += packets;
    return out;
}

void Daemon::flush_now() {
    auto report = batcher_->flush();
    if (!report.transport_error.empty()) events_.emit(event::kKernelError, {{"error", report.transport_error}});
}

// Scan detection follows the policy: its settings, and the conntrack NEW subscription that feeds
// it successes, come and go with [detect] across reloads.
void Daemon::configure_detection(const policy::Policy& policy) {
    scan_->configure(scan_detection_config(policy));
    if (scan_->enabled() && !conntrack_) {
        auto opened = ConntrackEvents::open([this](const NewConnection& connection) {
            scan_->on_new_connection(connection.source, connection.protocol, connection.port);
        });
        if (!opened) {
            events_.emit(event::kConfigError, {{"error", "scan detection without successes: " + opened.error().message}});
            return;
        }
        conntrack_ = std::move(*opened);
        auto added = loop_->add(conntrack_->fd(), EPOLLIN, [this](std::uint32_t) {
            conntrack_->on_readable();
            schedule_flush();
        });
        if (!added) {
            events_.emit(event::kConfigError, {{"error", "conntrack events: " + added.error().message}});
            conntrack_.reset();
        }
    } else if (!scan_->enabled() && conntrack_) {
        loop_->remove(conntrack_->fd());
        conntrack_.reset();
    }
}

void Daemon::schedule_flush() {
    if (batcher_->pending() > 0 && !loop_->armed(flush_timer_)) loop_->arm(flush_timer_, options_.coalesce);
}

void Daemon::reconcile() {
    std::map<std::string, std::vector<kernel::ListedElement>> grants;
    for (const auto& service : grant_services()) {
        auto v4 = writer_->list(compile::grant_set_v4(service), false);
        auto v6 = writer_->list(compile::grant_set_v6(service), false);
        if (!v4 || !v6) {
            ++reconcile_errors_;
            continue;
        }
        auto& elements = grants[service];
        elements = std::move(*v4);
        elements.insert(elements.end(), v6->begin(), v6->end());
    }
    runtime_->reconcile_grants(grants);
    runtime_->expire_bans();
}

void Daemon::save_state(bool force) {
    if (auto error = state_writer_->take_error()) {
        events_.emit(event::kStateError, {{"file", options_.state_file}, {"error", *error}});
        state_write_failed_ = true;  // written again at the next chance, changed or not
    }
    bool spa_dirty = spa_replay_dirty_;
    if (!runtime_->state_dirty() && !spa_dirty && !state_write_failed_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_save_ < options_.state_save_period) return;
    last_save_ = now;
    DaemonState state = runtime_->export_state();
    if (spa_replay_.size() > 0) {
        spa_replay_.expire(unix_now());
        state.spa_replay = spa_replay_.to_json();
    }
    // Serialized here, written (fsync and all) by the writer thread: the loop never waits on the disk.
    state_writer_->submit(serialize_state(state));
    state_write_failed_ = false;
    runtime_->mark_saved();
    spa_replay_dirty_ = false;
}

// The SPA settings of the current policy; the thread picks them up in start_spa().
void Daemon::configure_spa() {
    auto settings = SpaIntake::settings_for(current_->policy);
    if (!settings) {
        spa_settings_.reset();
        events_.emit(event::kConfigError, {{"error", settings.error().message}});
        fmt::print(stderr, "warning: {}\n", settings.error().message);
        return;
    }
    if (*settings) (*settings)->grant_services = runtime_->config().guarded_services;
    spa_settings_ = std::move(*settings);
}

Result<void> Daemon::reload(const char* trigger) {
    auto loaded = load_policy();
    if (!loaded) {
        last_reload_error_ = loaded.error().message;
        events_.emit(event::kReloadFailed, {{"trigger", trigger}, {"policy", options_.policy_path},
                                            {"error", loaded.error().message},
                                            {"kept_generation", generation_}});
        fmt::print(stderr, "reload failed, keeping the running policy:\n{}\n", loaded.error().message);
        return fail(loaded.error().message);
    }
    if (auto refused = refuse_while_confirm_pending(); !refused) {
        last_reload_error_ = refused.error().message;
        events_.emit(event::kReloadFailed, {{"trigger", trigger}, {"policy", options_.policy_path},
                                            {"error", refused.error().message},
                                            {"kept_generation", generation_}});
        fmt::print(stderr, "reload refused, keeping the running policy: {}\n", refused.error().message);
        return refused;
    }
    // Pending set changes go first: they target the sets of the table being replaced.
    batcher_->flush();
    auto applied = apply(*loaded);
    if (!applied) {
        last_reload_error_ = applied.error().message;
        events_.emit(event::kReloadFailed, {{"trigger", trigger}, {"policy", options_.policy_path},
                                            {"error", applied.error().message},
                                            {"kept_generation", generation_}});
        fmt::print(stderr, "reload failed, keeping the running policy:\n{}\n", applied.error().message);
        return fail(applied.error().message);
    }
    ++generation_;
    last_reload_at_ = unix_now();
    last_reload_error_.clear();
    runtime_->configure(runtime_config(*loaded));
    current_ = std::move(*loaded);
    configure_spa();
    if (auto opened = open_nflog(current_->policy); !opened)
        events_.emit(event::kConfigError, {{"error", "NFLOG: " + opened.error().message}});
    configure_detection(current_->policy);
    events_.emit(event::kReloaded, {{"trigger", trigger},
                                    {"policy", options_.policy_path},
                                    {"generation", generation_},
                                    {"kept_sets", applied->transaction.kept_runtime_sets},
                                    {"recreated_sets", applied->transaction.recreated_runtime_sets},
                                    {"warnings", applied->transaction.warnings}});
    notify_status();
    return {};
}

nlohmann::json Daemon::status() const {
    nlohmann::json out;
    out["policy"] = options_.policy_path;
    out["generation"] = generation_;
    out["started_at"] = started_at_;
    out["uptime_seconds"] = unix_now() - started_at_;
    out["last_reload_at"] = last_reload_at_;
    if (!last_reload_error_.empty()) out["last_reload_error"] = last_reload_error_;
    out["pid"] = static_cast<std::int64_t>(::getpid());
    out["grants"] = runtime_->active_grants();
    out["bans"] = runtime_->active_bans();
    out["ban_records"] = runtime_->ban_records();
    out["guarded_services"] = grant_services();
    out["events"] = events_.counts();
    nlohmann::json netlink = {{"elements_written", batcher_->elements_written()},
                              {"element_failures", batcher_->element_failures()},
                              {"batches", batcher_->batches()},
                              {"messages", batcher_->messages()},
                              {"transport_errors", batcher_->transport_errors()}};
    out["netlink"] = netlink;
    if (nflog_) {
        const auto& counters = nflog_->dispatcher().counters();
        out["nflog"] = {{"groups", nflog_->groups()},
                        {"packets", counters.packets},
                        {"overruns", counters.overruns},
                        {"lost", counters.lost},
                        {"malformed", counters.malformed()}};
    }
    if (spa_)
        out["spa"] = {{"group", spa_->group()},
                      {"outcomes", spa_outcomes()},
                      {"replay_entries", spa_replay_.size()},
                      {"thread_scheduling", spa_->scheduling()},
                      {"nflog_packets", spa_base_.nflog_packets + spa_->nflog_packets()},
                      {"nflog_overruns", spa_base_.nflog_overruns + spa_->nflog_overruns()}};
    const auto trw = scan_->trw_stats();
    out["detect"] = {{"enabled", scan_->enabled()},
                     {"tracked_sources", trw.tracked},
                     {"evicted_sources", trw.evictions},
                     {"detections", trw.detections},
                     {"bans_placed", scan_->counters().bans_placed},
                     {"successes", scan_->counters().successes},
                     {"failures", scan_->counters().failures}};
    out["control"] = {{"clients", control_ ? control_->clients() : 0},
                      {"requests", control_ ? control_->requests() : 0}};
    out["ban_listing"] = {{"running", ban_lister_ && ban_lister_->running()},
                          {"elements_read", ban_lister_ ? ban_lister_->elements_read() : 0},
                          {"dumps", ban_lister_ ? ban_lister_->dumps() : 0},
                          {"open_listings", ban_pager_.open_listings()},
                          {"entries_held", ban_pager_.entries_held()}};
    return out;
}

std::optional<std::string> Daemon::handle(std::string_view line, const ControlServer::Reply& later) {
    auto parsed = parse_request(line);
    if (!parsed) return error_reply(parsed.error().message);
    // Kernel outcomes of this request's own changes, collected by the completions on flush.
    auto run_change = [this](auto&& start) -> std::string {
        std::optional<std::string> error;
        bool finished = false;
        auto started = start([&](const std::string* failure) {
            finished = true;
            if (failure) error = *failure;
        });
        if (!started) return error_reply(started.error().message);
        batcher_->flush();
        if (!finished) return error_reply("the change was not processed");
        if (error) return error_reply(*error);
        return std::string();
    };
    if (auto* list = std::get_if<request::BansList>(&*parsed)) return list_bans(*list, later);
    if (auto* count = std::get_if<request::BansCount>(&*parsed)) return count_bans(*count, later);
    return std::visit(
        [&](auto&& request) -> std::string {
            using T = std::decay_t<decltype(request)>;
            if constexpr (std::is_same_v<T, request::BansList> || std::is_same_v<T, request::BansCount>) {
                return error_reply("internal: handled above");
            } else if constexpr (std::is_same_v<T, request::Status>) {
                return ok_reply(status());
            } else if constexpr (std::is_same_v<T, request::GrantsList>) {
                return ok_reply({{"grants", runtime_->grants_json()}});
            } else if constexpr (std::is_same_v<T, request::GrantAdd>) {
                auto error = run_change([&](RuntimeState::Done done) {
                    return runtime_->add_grant(request.source, request.service, request.seconds, done);
                });
                if (!error.empty()) return error;
                std::uint32_t seconds = request.seconds.value_or(runtime_->config().default_grant_seconds);
                return ok_reply({{"source", request.source.to_string()},
                                 {"service", request.service},
                                 {"seconds", seconds}});
            } else if constexpr (std::is_same_v<T, request::GrantRevoke>) {
                auto error = run_change([&](RuntimeState::Done done) {
                    return runtime_->revoke_grant(request.source, request.service, done);
                });
                if (!error.empty()) return error;
                return ok_reply({{"source", request.source.to_string()}, {"service", request.service}});
            } else if constexpr (std::is_same_v<T, request::BanAdd>) {
                auto error = run_change([&](RuntimeState::Done done) {
                    return runtime_->add_ban(request.prefix, request.seconds, request.reason, done);
                });
                if (!error.empty()) return error;
                save_state(false);
                std::uint32_t seconds = request.seconds.value_or(runtime_->config().default_ban_seconds);
                return ok_reply({{"prefix", request.prefix.is_host() ? request.prefix.address.to_string()
                                                                     : request.prefix.to_string()},
                                 {"seconds", seconds}});
            } else if constexpr (std::is_same_v<T, request::BanRemove>) {
                auto error = run_change([&](RuntimeState::Done done) {
                    return runtime_->remove_ban(request.prefix, done);
                });
                if (!error.empty()) return error;
                save_state(false);
                return ok_reply({{"prefix", request.prefix.is_host() ? request.prefix.address.to_string()
                                                                     : request.prefix.to_string()}});
            } else if constexpr (std::is_same_v<T, request::Reload>) {
                auto reloaded = reload("control");
                if (!reloaded) return error_reply("reload failed, the running policy stays: " + reloaded.error().message);
                return ok_reply({{"generation", generation_}});
            } else if constexpr (std::is_same_v<T, request::Confirm>) {
                kernel::ConfirmStore store(kernel::ConfirmStore::default_directory());
                auto report = store.confirm();
                if (!report) return error_reply(report.error().message);
                switch (report->outcome) {
                    case kernel::ConfirmOutcome::confirmed:
                        return ok_reply({{"confirmed", report->id}});
                    case kernel::ConfirmOutcome::too_late:
                        return error_reply("too late: the rollback already started (" + report->rollback_result + ")");
                    case kernel::ConfirmOutcome::nothing_pending:
                        return error_reply("nothing to confirm: no `apply --confirm` is pending");
                }
                return error_reply("unknown confirm outcome");
            }
        },
        *parsed);
}

// ---- bans.list / bans.count (docs/control-protocol.md "Paging") -------------------------------------

void Daemon::list_kernel_bans(std::function<void(const KernelBanLister::Outcome&)> done) {
    std::vector<KernelBanLister::SetToList> sets;
    for (const auto& set : runtime_->ban_sets()) sets.push_back({set.name, set.interval});
    // A request joining a running dump keeps that dump's starting point.
    if (!ban_lister_->running()) {
        dump_start_ban_writes_ = runtime_->ban_writes();
        dump_start_ban_writes_done_ = runtime_->ban_writes_done();
    }
    ban_lister_->request(std::move(sets), [this, done = std::move(done)](const KernelBanLister::Outcome& outcome) {
        // The kernel does not flag a set-element dump that a change overlapped (no NLM_F_DUMP_INTR
        // seen on 6.x for GETSETELEM): changes this daemon made meanwhile mark it interrupted.
        // Overlapped: a change was queued or in flight when the dump began (the batcher sends a few
        // milliseconds later), or one was queued or answered while it ran.
        last_dump_overlapped_changes_ = dump_start_ban_writes_ != dump_start_ban_writes_done_ ||
                                        runtime_->ban_writes() != dump_start_ban_writes_ ||
                                        runtime_->ban_writes_done() != dump_start_ban_writes_done_;
        last_kernel_count_ = KernelBanLister::Outcome{};
        last_kernel_count_->per_set = outcome.per_set;
        last_kernel_count_->errors = outcome.errors;
        last_kernel_count_->finished_at = outcome.finished_at;
        last_kernel_count_->seconds = outcome.seconds;
        done(outcome);
    });
}

std::string Daemon::ban_page(const BanCursor& cursor, std::uint32_t limit) {
    auto page = ban_pager_.page(cursor, limit);
    if (!page) return error_reply(page.error().message);
    auto bans = nlohmann::json::array();
    for (const BanListEntry& entry : page->entries)
        if (auto item = runtime_->ban_entry_json(entry)) bans.push_back(std::move(*item));
    nlohmann::json reply = {{"bans", std::move(bans)},
                            {"total", page->total},
                            {"source", page->info.source == request::BanSource::kernel ? "kernel" : "records"},
                            {"listed_at", page->info.listed_at}};
    if (page->info.interrupted) reply["kernel_dump_interrupted"] = true;
    if (page->next) reply["next"] = format_cursor(*page->next);
    return ok_reply(std::move(reply));
}

std::string Daemon::open_listing(std::vector<BanListEntry> entries, const request::BansList& request,
                                 BanPager::Info info, const nlohmann::json& extra) {
    if (!request.paged()) {
        // The one-reply form of older clients: fine for the bans a reply can carry.
        if (entries.size() > kMaxUnpagedBans)
            return error_reply(fmt::format("{} bans are too many for one reply (limit {}): ask with \"limit\" and "
                                           "follow \"next\" (docs/control-protocol.md); `portcullis bans list` does",
                                           entries.size(), kMaxUnpagedBans));
        auto bans = nlohmann::json::array();
        for (const BanListEntry& entry : entries)
            if (auto item = runtime_->ban_entry_json(entry)) bans.push_back(std::move(*item));
        nlohmann::json reply = extra;
        reply["bans"] = std::move(bans);
        return ok_reply(std::move(reply));
    }
    std::uint64_t id = ban_pager_.open(std::move(entries), info);
    std::string page = ban_page(BanCursor{id, 0}, request.limit.value_or(kMaxPageBans));
    if (extra.empty()) return page;
    auto merged = nlohmann::json::parse(page);
    for (auto it = extra.begin(); it != extra.end(); ++it) merged[it.key()] = it.value();
    return merged.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> Daemon::list_bans(const request::BansList& request, const ControlServer::Reply& later) {
    if (request.cursor) {
        auto cursor = parse_cursor(*request.cursor);
        if (!cursor) return error_reply(cursor.error().message);
        return ban_page(*cursor, request.limit.value_or(kMaxPageBans));
    }
    if (request.source == request::BanSource::records) {
        BanPager::Info info{request::BanSource::records, unix_now(), false};
        return open_listing(runtime_->ban_list_entries(nullptr), request, info, nlohmann::json::object());
    }
    // Bans without a history live only in the kernel: ask it, on the listing thread, so the loop
    // keeps serving while a big set is dumped (see ban_listing.hpp).
    list_kernel_bans([this, request, later](const KernelBanLister::Outcome& outcome) {
        BanPager::Info info{request::BanSource::kernel, outcome.finished_at,
                            outcome.interrupted || last_dump_overlapped_changes_};
        nlohmann::json extra = nlohmann::json::object();
        if (!outcome.errors.empty()) extra["unlisted_sets"] = outcome.errors;
        later(open_listing(runtime_->ban_list_entries(&outcome.elements, true), request, info, extra));
    });
    return std::nullopt;
}

std::optional<std::string> Daemon::count_bans(const request::BansCount& request, const ControlServer::Reply& later) {
    auto reply = [this]() {
        nlohmann::json out;
        auto records = runtime_->live_bans_by_set();
        std::size_t total = 0;
        for (const auto& [set, count] : records) total += count;
        out["records"] = {{"total", total}, {"by_set", records}};
        out["status_bans"] = runtime_->active_bans();
        if (last_kernel_count_) {
            std::size_t elements = 0;
            for (const auto& [set, count] : last_kernel_count_->per_set) elements += count;
            out["kernel"] = {{"by_set", last_kernel_count_->per_set},
                             {"total", elements},
                             {"counted_at", last_kernel_count_->finished_at},
                             {"seconds", last_kernel_count_->seconds}};
            if (!last_kernel_count_->errors.empty()) out["kernel"]["unlisted_sets"] = last_kernel_count_->errors;
        } else {
            out["kernel"] = nullptr;  // never dumped: ask with "kernel":true
        }
        out["listing"] = {{"running", ban_lister_->running()}, {"elements_read", ban_lister_->elements_read()}};
        return ok_reply(std::move(out));
    };
    if (!request.kernel) return reply();
    list_kernel_bans([reply, later](const KernelBanLister::Outcome&) { later(reply()); });
    return std::nullopt;
}

std::string Daemon::metrics() {
    MetricsText text;
    text.family("portcullis_up", "gauge", "1 while the daemon runs");
    text.sample("portcullis_up", 1);
    text.family("portcullis_policy_generation", "gauge", "Policy applies since start (1 = the initial one)");
    text.sample("portcullis_policy_generation", static_cast<double>(generation_));
    text.family("portcullis_start_time_seconds", "gauge", "Unix time the daemon started");
    text.sample("portcullis_start_time_seconds", static_cast<double>(started_at_));

    // Unguarded services count in the elements of the counted sets (compile.hpp manifest).
    if (element_counters_ && current_) element_counters_->set_sets(current_->compiled.manifest.counted_sets);
    auto counters = counters_ ? counters_->read() : fail("no counter reader");
    if (counters) {
        std::map<std::string, std::pair<std::string, std::string>> service_counters;
        if (current_) {
            for (const auto& service : current_->policy.services) {
                service_counters[compile::accepted_counter(service.name)] = {service.name, "accepted"};
                service_counters[compile::dropped_counter(service.name)] = {service.name, "dropped"};
            }
        }
        text.family("portcullis_service_packets_total", "counter", "Packets per service and verdict (table counters)");
        text.family("portcullis_service_bytes_total", "counter", "Bytes per service and verdict (table counters)");
        for (const auto& counter : *counters) {
            auto it = service_counters.find(counter.name);
            if (it == service_counters.end()) continue;
            Labels labels{{"service", it->second.first}, {"verdict", it->second.second}};
            text.sample("portcullis_service_packets_total", labels, static_cast<double>(counter.packets));
            text.sample("portcullis_service_bytes_total", labels, static_cast<double>(counter.bytes));
        }
        text.family("portcullis_counter_packets_total", "counter", "Packets of every named counter in the table");
        text.family("portcullis_counter_bytes_total", "counter", "Bytes of every named counter in the table");
        for (const auto& counter : *counters) {
            text.sample("portcullis_counter_packets_total", {{"counter", counter.name}}, static_cast<double>(counter.packets));
            text.sample("portcullis_counter_bytes_total", {{"counter", counter.name}}, static_cast<double>(counter.bytes));
        }
    } else {
        ++counter_read_errors_;
    }
    text.family("portcullis_counter_read_errors_total", "counter", "Scrapes that could not read the table counters");
    text.sample("portcullis_counter_read_errors_total", static_cast<double>(counter_read_errors_));

    text.family("portcullis_grants", "gauge", "Grants the daemon knows to be open");
    text.sample("portcullis_grants", static_cast<double>(runtime_->active_grants()));
    text.family("portcullis_bans", "gauge", "Active bans");
    text.sample("portcullis_bans", static_cast<double>(runtime_->active_bans()));
    text.family("portcullis_ban_records", "gauge", "Ban records kept (active and history for escalation)");
    text.sample("portcullis_ban_records", static_cast<double>(runtime_->ban_records()));

    text.family("portcullis_bans_by_reason", "gauge", "Active bans by the reason they were placed for");
    for (const auto& [reason, count] : runtime_->active_bans_by_reason())
        text.sample("portcullis_bans_by_reason", {{"reason", reason}}, static_cast<double>(count));
    scan_->write_metrics(text);
    text.family("portcullis_detect_conntrack_events_total", "counter", "Conntrack NEW events read (detection successes)");
    text.sample("portcullis_detect_conntrack_events_total", static_cast<double>(conntrack_ ? conntrack_->events() : 0));
    text.family("portcullis_detect_conntrack_overruns_total", "counter", "Conntrack event socket overruns (ENOBUFS)");
    text.sample("portcullis_detect_conntrack_overruns_total", static_cast<double>(conntrack_ ? conntrack_->overruns() : 0));

    text.family("portcullis_events_total", "counter", "Events emitted, by type");
    for (const auto& [type, count] : events_.counts())
        text.sample("portcullis_events_total", {{"type", type}}, static_cast<double>(count));

    const intake::NflogCounters empty;
    const auto& nflog = nflog_ ? nflog_->dispatcher().counters() : empty;
    text.family("portcullis_nflog_packets_total", "counter", "NFLOG packets decoded");
    text.sample("portcullis_nflog_packets_total", static_cast<double>(nflog.packets));
    text.family("portcullis_nflog_overruns_total", "counter", "NFLOG socket overruns (ENOBUFS)");
    text.sample("portcullis_nflog_overruns_total", static_cast<double>(nflog.overruns));
    text.family("portcullis_nflog_lost_total", "counter", "NFLOG packets missing by sequence number");
    text.sample("portcullis_nflog_lost_total", static_cast<double>(nflog.lost));
    text.family("portcullis_nflog_malformed_total", "counter", "NFLOG messages that could not be decoded");
    for (std::size_t i = 0; i < intake::kNflogAnomalyCount; ++i)
        text.sample("portcullis_nflog_malformed_total",
                    {{"anomaly", intake::anomaly_name(static_cast<intake::NflogAnomaly>(i))}},
                    static_cast<double>(nflog.anomalies[i]));

    text.family("portcullis_netlink_elements_total", "counter", "Set element changes sent over netlink, by result");
    text.sample("portcullis_netlink_elements_total", {{"result", "ok"}}, static_cast<double>(batcher_->elements_written()));
    text.sample("portcullis_netlink_elements_total", {{"result", "failed"}}, static_cast<double>(batcher_->element_failures()));
    text.family("portcullis_netlink_batches_total", "counter", "Netlink batches (transactions) sent");
    text.sample("portcullis_netlink_batches_total", static_cast<double>(batcher_->batches()));
    text.family("portcullis_netlink_messages_total", "counter", "NEWSETELEM/DELSETELEM messages sent");
    text.sample("portcullis_netlink_messages_total", static_cast<double>(batcher_->messages()));
    auto histogram = [&](const char* name, const char* help, const Histogram& h) {
        text.family(name, "histogram", help);
        std::uint64_t cumulative = 0;
        std::string bucket = std::string(name) + "_bucket";
        for (std::size_t i = 0; i < h.bounds.size(); ++i) {
            cumulative += h.counts[i];
            text.sample(bucket, {{"le", fmt::format("{}", h.bounds[i])}}, static_cast<double>(cumulative));
        }
        text.sample(bucket, {{"le", "+Inf"}}, static_cast<double>(h.count));
        text.sample(std::string(name) + "_sum", h.sum);
        text.sample(std::string(name) + "_count", static_cast<double>(h.count));
    };
    histogram("portcullis_netlink_flush_elements", "Element changes per flush", batcher_->flush_sizes());
    histogram("portcullis_netlink_flush_seconds", "Latency of one flush (all its batches and ACKs)",
              batcher_->flush_seconds());
    if (spa_settings_ || spa_ || !spa_base_.outcomes.empty()) {
        auto total = [&](std::uint64_t base, std::uint64_t (SpaWorker::*now)() const) {
            return static_cast<double>(base + (spa_ ? ((*spa_).*now)() : 0));
        };
        text.family("portcullis_spa_packets_total", "counter",
                    "SPA packets by outcome (granted, or the reason they were refused)");
        for (const auto& [outcome, packets] : spa_outcomes())
            text.sample("portcullis_spa_packets_total", {{"outcome", outcome}}, static_cast<double>(packets));
        text.family("portcullis_spa_nflog_packets_total", "counter", "Packets read from the SPA NFLOG group");
        text.sample("portcullis_spa_nflog_packets_total", total(spa_base_.nflog_packets, &SpaWorker::nflog_packets));
        text.family("portcullis_spa_nflog_overruns_total", "counter", "SPA NFLOG socket overruns (ENOBUFS)");
        text.sample("portcullis_spa_nflog_overruns_total", total(spa_base_.nflog_overruns, &SpaWorker::nflog_overruns));
        text.family("portcullis_spa_replay_entries", "gauge", "Packets remembered by the SPA replay cache");
        text.sample("portcullis_spa_replay_entries", static_cast<double>(spa_replay_.size()));
        text.family("portcullis_spa_grant_failures_total", "counter", "SPA grants the kernel refused");
        text.sample("portcullis_spa_grant_failures_total",
                    static_cast<double>(spa_base_.grant_failures + (spa_ ? spa_->intake().grant_failures() : 0)));
        text.family("portcullis_spa_suppressed_events_total", "counter",
                    "spa_rejected events not emitted (over the per-second event limit; still counted above)");
        text.sample("portcullis_spa_suppressed_events_total",
                    static_cast<double>(spa_base_.suppressed_events + (spa_ ? spa_->intake().suppressed_events() : 0)));
        text.family("portcullis_spa_handoff_dropped_total", "counter",
                    "Notes the SPA thread could not queue for the loop (queue full; should stay 0)");
        text.sample("portcullis_spa_handoff_dropped_total", total(spa_base_.dropped_notes, &SpaWorker::dropped_notes));
        text.family("portcullis_spa_thread_realtime", "gauge",
                    "1 while the SPA thread runs real-time (SCHED_FIFO/RR), 0 at the normal policy");
        text.sample("portcullis_spa_thread_realtime",
                    spa_ && (spa_->scheduling() == "fifo" || spa_->scheduling() == "rr") ? 1.0 : 0.0);
    }
    text.family("portcullis_control_requests_total", "counter", "Control socket requests");
    text.sample("portcullis_control_requests_total", static_cast<double>(control_ ? control_->requests() : 0));
    return text.text();
}

void Daemon::notify_status() {
    sd_notifyf(0, "STATUS=generation %llu, %zu grants, %zu bans",
               static_cast<unsigned long long>(generation_), runtime_->active_grants(), runtime_->active_bans());
}

int Daemon::run() {
    events_.set_stdout(stdout);
    if (options_.events_file) {
        if (auto opened = events_.open_file(*options_.events_file); !opened) {
            fmt::print(stderr, "error: {}\n", opened.error().message);
            return kExitDaemonError;
        }
    }
    auto nft = kernel::make_libnftables();
    if (!nft) {
        fmt::print(stderr, "error: {}\n", nft.error().message);
        return kExitKernelError;
    }
    nft_ = std::move(*nft);

    auto loaded = load_policy();
    if (!loaded) {
        fmt::print(stderr, "{}\n", loaded.error().message);
        return kExitPolicyInvalid;
    }
    auto applied = apply(*loaded);
    if (!applied) {
        events_.emit(event::kKernelError, {{"error", applied.error().message}});
        fmt::print(stderr, "error: {}\n", applied.error().message);
        return kExitKernelError;
    }
    generation_ = 1;
    events_.emit(event::kApplied, {{"policy", options_.policy_path},
                                   {"generation", generation_},
                                   {"table_existed", applied->table_existed},
                                   {"kept_sets", applied->transaction.kept_runtime_sets},
                                   {"recreated_sets", applied->transaction.recreated_runtime_sets},
                                   {"warnings", applied->transaction.warnings}});

    auto writer = kernel::NetlinkSetWriter::open(compile::kTableFamily, compile::kTableName);
    if (!writer) {
        fmt::print(stderr, "error: {}\n", writer.error().message);
        return kExitKernelError;
    }
    writer_ = std::move(*writer);
    if (auto combined = kernel::CombinedCounterReader::open_netlink(compile::kTableFamily, compile::kTableName)) {
        element_counters_ = (*combined)->elements();
        counters_ = std::move(*combined);
    }
    batcher_ = std::make_unique<SetBatcher>(*writer_);
    runtime_ = std::make_unique<RuntimeState>(*batcher_, events_, unix_now);
    state_writer_ = std::make_unique<StateWriter>(options_.state_file);
    runtime_->configure(runtime_config(*loaded));
    scan_ = std::make_unique<ScanDetection>(*runtime_, events_, unix_now, [this] {
        return std::uniform_real_distribution<double>(0.0, 1.0)(jitter_random_);
    });
    current_ = std::move(*loaded);
    configure_spa();

    // Reconcile: what the kernel holds (a previous daemon's grants and bans survive it) plus
    // what the state file remembers (a reboot emptied the sets).
    StateLoad state = load_state_file(options_.state_file, unix_now());
    if (state.problem) {
        nlohmann::json fields = {{"file", options_.state_file}, {"error", *state.problem}};
        if (state.kept_aside) fields["kept_aside"] = *state.kept_aside;
        events_.emit(event::kStateError, fields);
        fmt::print(stderr, "warning: state file unusable, starting without it: {}{}\n", *state.problem,
                   state.kept_aside ? " (kept as " + *state.kept_aside + ")" : "");
    }
    if (state.state.spa_replay) {
        if (auto replay = spa_replay_.from_json(*state.state.spa_replay, unix_now()); !replay)
            events_.emit(event::kStateError, {{"file", options_.state_file},
                                              {"error", "spa_replay: " + replay.error().message}});
    }
    // The ban sets are not listed: a netlink dump restarts the kernel's set walk for every reply,
    // so listing 1M bans takes minutes. Saved running bans are simply re-added (an identical
    // element is a no-op); bans only the kernel knows stay there and `bans list` shows them.
    RuntimeState::KernelView view;
    for (const auto& service : grant_services()) {
        for (const auto& set : {compile::grant_set_v4(service), compile::grant_set_v6(service)}) {
            auto listed = writer_->list(set, false);
            if (listed) view.grants[service].insert(view.grants[service].end(), listed->begin(), listed->end());
        }
    }
    std::size_t kernel_grants = 0;
    for (const auto& [service, elements] : view.grants) kernel_grants += elements.size();
    std::size_t readded = runtime_->restore(state.state, view);
    auto restored = batcher_->flush();
    // The listing and the parsed file were needed once: give their memory back (1M bans: ~100 MB).
    view = {};
    state.state = {};
    ::malloc_trim(0);
    save_state(true);

    auto loop = EventLoop::create();
    if (!loop) {
        fmt::print(stderr, "error: {}\n", loop.error().message);
        return kExitDaemonError;
    }
    loop_ = std::move(*loop);
    bool stop_requested = false;
    auto signals = loop_->on_signals({SIGHUP, SIGTERM, SIGINT}, [&](int signal_number) {
        if (signal_number == SIGHUP) {
            (void)reload("SIGHUP");
            return;
        }
        stop_requested = true;
        loop_->stop();
    });
    if (!signals) {
        fmt::print(stderr, "error: {}\n", signals.error().message);
        return kExitDaemonError;
    }
    ::signal(SIGPIPE, SIG_IGN);

    auto lister = KernelBanLister::create(*loop_, [] () -> Result<std::unique_ptr<kernel::SetElementWriter>> {
        auto writer = kernel::NetlinkSetWriter::open(compile::kTableFamily, compile::kTableName);
        if (!writer) return tl::unexpected(writer.error());
        return std::unique_ptr<kernel::SetElementWriter>(std::move(*writer));
    });
    if (!lister) {
        fmt::print(stderr, "error: {}\n", lister.error().message);
        return kExitDaemonError;
    }
    ban_lister_ = std::move(*lister);
    auto control = ControlServer::listen(*loop_, options_.control_path,
                                         [this](std::string_view line, const ControlServer::Reply& later) {
                                             return handle(line, later);
                                         });
    if (!control) {
        fmt::print(stderr, "error: {}\n", control.error().message);
        return kExitDaemonError;
    }
    control_ = std::move(*control);

    if (options_.metrics_address != "off") {
        auto address = parse_listen_address(options_.metrics_address);
        if (!address) {
            fmt::print(stderr, "error: {}\n", address.error().message);
            return kExitDaemonError;
        }
        auto server = MetricsServer::listen(*loop_, *address, [this] { return metrics(); });
        if (!server) {
            fmt::print(stderr, "error: {}\n", server.error().message);
            return kExitDaemonError;
        }
        metrics_server_ = std::move(*server);
    }
    if (auto opened = open_nflog(current_->policy); !opened) {
        events_.emit(event::kConfigError, {{"error", "NFLOG: " + opened.error().message}});
        fmt::print(stderr, "warning: NFLOG intake disabled: {}\n", opened.error().message);
    }
    configure_detection(current_->policy);

    auto flush_timer = loop_->once([this] { flush_now(); });
    auto reconcile_timer = loop_->every(options_.reconcile_period, [this] {
        reconcile();
        ban_pager_.expire();
        save_state(false);
    });
    auto drops_timer = loop_->every(options_.drop_summary_period, [this] {
        auto seconds = static_cast<double>(options_.drop_summary_period.count()) / 1000.0;
        if (auto summary = drops_.take(seconds)) events_.emit(event::kDrops, *summary);
    });
    if (!flush_timer || !reconcile_timer || !drops_timer) {
        fmt::print(stderr, "error: cannot create timers\n");
        return kExitDaemonError;
    }
    flush_timer_ = *flush_timer;
    std::uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        auto period = std::chrono::milliseconds(std::max<std::uint64_t>(watchdog_usec / 2000, 100));
        (void)loop_->every(period, [] { sd_notify(0, "WATCHDOG=1"); });
    }

    events_.emit(event::kStarted, {{"pid", static_cast<std::int64_t>(::getpid())},
                                   {"control", options_.control_path},
                                   {"metrics", options_.metrics_address},
                                   {"state_file", options_.state_file},
                                   {"kernel_grants", kernel_grants},
                                   {"restored_bans", readded - restored.failures.size()},
                                   {"nflog_groups", nflog_ ? nflog_->groups() : std::vector<std::uint16_t>{}},
                                   {"spa_nflog_group", spa_ ? nlohmann::json(spa_->group()) : nlohmann::json(nullptr)}});
    sd_notify(0, "READY=1");
    notify_status();

    loop_->run();

    sd_notify(0, "STOPPING=1");
    stop_spa();  // its last notes (replay entries) go into the state saved below
    batcher_->flush();
    save_state(true);
    state_writer_->drain();  // the last state is on disk before we say we stop
    if (auto error = state_writer_->take_error())
        events_.emit(event::kStateError, {{"file", options_.state_file}, {"error", *error}});
    events_.emit(event::kStopping, {{"flush_on_exit", options_.flush_on_exit},
                                    {"signal", stop_requested}});
    control_.reset();
    ban_lister_.reset();  // cancels a running dump
    metrics_server_.reset();
    if (options_.flush_on_exit) {
        auto deleted = kernel::delete_table(*nft_);
        if (!deleted) {
            fmt::print(stderr, "error: --flush-on-exit: {}\n", deleted.error().message);
            return kExitKernelError;
        }
    }
    return kExitOk;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
    Daemon daemon(options);
    return daemon.run();
}

}  // namespace portcullis::daemon
