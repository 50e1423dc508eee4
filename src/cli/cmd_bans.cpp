#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/daemon_request.hpp"
#include "daemon/control_client.hpp"
#include "daemon/control_server.hpp"
#include "policy/values.hpp"

namespace portcullis::cli {

namespace {

// The first page waits for the kernel dump of every ban set (~27 s for 1M host bans on an idle
// box, more under load); later pages are served from the daemon's snapshot.
constexpr std::chrono::milliseconds kDumpTimeout = std::chrono::minutes(10);

struct ListArgs {
    std::string control = daemon::kDefaultControlPath;
    std::string prefix, duration, reason;
    bool as_json = false;
    bool records = false;
    bool kernel = false;
    std::uint64_t limit = 0;  // 0: all
    std::uint32_t page_size = 5000;
};

// Fetches page after page and prints each as it arrives, so neither the daemon nor this process
// ever holds a million bans in one JSON document.
int list_bans(const ListArgs& args) {
    std::uint64_t printed = 0;
    std::optional<std::string> cursor;
    bool first = true;
    nlohmann::json last;
    while (true) {
        std::uint64_t want = args.page_size;
        if (args.limit) want = std::min<std::uint64_t>(want, args.limit - printed);
        nlohmann::json request = {{"cmd", "bans.list"}, {"limit", want}};
        if (cursor) request["cursor"] = *cursor;
        else if (args.records) request["source"] = "records";
        auto reply = daemon::control_call(args.control, request, first ? kDumpTimeout : std::chrono::milliseconds(60000));
        if (!reply) {
            if (args.as_json && !first) fmt::print("\n]}}\n");  // keep what was printed parseable
            fmt::print(stderr, "error: {}\n", reply.error().message);
            return static_cast<int>(kDaemonError);
        }
        if (first && args.as_json) fmt::print("{{\"bans\":[");
        for (const auto& ban : (*reply)["bans"]) {
            if (args.limit && printed >= args.limit) break;
            if (args.as_json) {
                fmt::print("{}\n{}", printed ? "," : "", ban.dump());
            } else {
                fmt::print("{:<44} {:>8} s left  offences {}  ({})\n", ban.value("prefix", ""), ban.value("remaining", 0),
                           ban.value("offences", 0), ban.value("reason", ""));
            }
            ++printed;
        }
        first = false;
        auto next = reply->find("next");
        bool done = next == reply->end() || !next->is_string() || (args.limit && printed >= args.limit);
        if (done) {
            last = std::move(*reply);
            break;
        }
        cursor = next->get<std::string>();
    }
    if (args.as_json) {
        nlohmann::json tail = {{"ok", true}, {"printed", printed}, {"total", last.value("total", std::uint64_t{0})},
                               {"source", last.value("source", "")}, {"listed_at", last.value("listed_at", std::int64_t{0})}};
        if (last.contains("kernel_dump_interrupted")) tail["kernel_dump_interrupted"] = last["kernel_dump_interrupted"];
        if (last.contains("unlisted_sets")) tail["unlisted_sets"] = last["unlisted_sets"];
        std::string rest = tail.dump();
        fmt::print("\n],{}\n", rest.substr(1));  // the object's fields after the array
    } else if (printed == 0) {
        fmt::print("no active bans\n");
    } else if (args.limit && printed < last.value("total", std::uint64_t{0})) {
        fmt::print(stderr, "({} of {} bans shown: --limit)\n", printed, last.value("total", 0));
    }
    return static_cast<int>(kOk);
}

}  // namespace

void register_bans(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand("bans", "list, add or remove bans (addresses or prefixes, IPv4/IPv6, with a timeout)");
    sub->require_subcommand(1);
    auto args = std::make_shared<ListArgs>();

    auto* list = sub->add_subcommand("list", "active bans with their history (fetched page by page)");
    list->add_option("--control", args->control, "control socket path")->capture_default_str();
    list->add_flag("--json", args->as_json,
                   "print one JSON object {\"bans\":[...],\"total\":N,...}, one ban per line, written as pages arrive");
    list->add_option("--limit", args->limit, "print at most N bans (default: all)")->check(CLI::PositiveNumber);
    list->add_option("--page-size", args->page_size, "bans per request to the daemon")
        ->check(CLI::Range(1u, daemon::kMaxPageBans))
        ->capture_default_str();
    list->add_flag("--records", args->records,
                   "only the bans this daemon has a history for (no kernel dump: fast with a million bans)");
    list->callback([&action, args] { action = [args] { return list_bans(*args); }; });

    auto* count = sub->add_subcommand("count", "how many bans: the daemon's records by set, and the kernel's sets");
    count->add_option("--control", args->control, "control socket path")->capture_default_str();
    count->add_flag("--json", args->as_json, "print JSON");
    count->add_flag("--kernel", args->kernel,
                    "count the kernel's ban sets now (a full dump: ~27 s for 1M host bans; the daemon keeps serving)");
    count->callback([&action, args] {
        action = [args] {
            nlohmann::json request = {{"cmd", "bans.count"}};
            if (args->kernel) request["kernel"] = true;
            auto reply = daemon::control_call(args->control, request, kDumpTimeout);
            if (!reply) {
                fmt::print(stderr, "error: {}\n", reply.error().message);
                return static_cast<int>(kDaemonError);
            }
            if (args->as_json) {
                fmt::print("{}\n", reply->dump(2));
                return static_cast<int>(kOk);
            }
            const auto& records = (*reply)["records"];
            fmt::print("records (bans with a history, live): {}\n", records.value("total", 0));
            for (const auto& [set, n] : records["by_set"].items()) fmt::print("  {:<8} {}\n", set, n.get<std::size_t>());
            const auto& kernel = (*reply)["kernel"];
            if (kernel.is_null()) {
                fmt::print("kernel: not counted yet (bans count --kernel, or a bans list, counts it)\n");
            } else {
                std::int64_t age = static_cast<std::int64_t>(std::time(nullptr)) - kernel.value("counted_at", std::int64_t{0});
                fmt::print("kernel elements (counted {} s ago, dump took {:.1f} s): {}\n", age, kernel.value("seconds", 0.0),
                           kernel.value("total", 0));
                for (const auto& [set, n] : kernel["by_set"].items()) fmt::print("  {:<8} {}\n", set, n.get<std::size_t>());
            }
            return static_cast<int>(kOk);
        };
    });

    auto* add = sub->add_subcommand("add", "drop everything from PREFIX for a while");
    add->add_option("--control", args->control, "control socket path")->capture_default_str();
    add->add_option("prefix", args->prefix, "address or prefix, e.g. 198.51.100.7 or 2001:db8::/48")->required();
    add->add_option("--for,--seconds", args->duration, "how long: seconds or 30s/5m/1h/7d (default: the policy's ban_timeout)");
    add->add_option("--reason", args->reason, "a word for the record (default: manual)");
    add->callback([&action, args] {
        action = [args] {
            nlohmann::json request = {{"cmd", "bans.add"}, {"prefix", args->prefix}};
            if (!args->duration.empty()) {
                auto seconds = policy::parse_duration(args->duration);
                if (!seconds) {
                    fmt::print(stderr, "error: --for: {}\n", seconds.error().message);
                    return static_cast<int>(kUsage);
                }
                request["seconds"] = *seconds;
            }
            if (!args->reason.empty()) request["reason"] = args->reason;
            return send_and_report(args->control, request, false, [](const nlohmann::json& r) {
                fmt::print("banned: {} for {} s\n", r.value("prefix", ""), r.value("seconds", 0));
            });
        };
    });

    auto* remove = sub->add_subcommand("remove", "lift the ban on PREFIX now");
    remove->add_option("--control", args->control, "control socket path")->capture_default_str();
    remove->add_option("prefix", args->prefix, "the banned address or prefix, exactly as banned")->required();
    remove->callback([&action, args] {
        action = [args] {
            return send_and_report(args->control, {{"cmd", "bans.remove"}, {"prefix", args->prefix}}, false,
                                   [](const nlohmann::json& r) { fmt::print("unbanned: {}\n", r.value("prefix", "")); });
        };
    });
}

}  // namespace portcullis::cli
