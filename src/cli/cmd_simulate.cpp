// `portcullis simulate POLICY CAPTURE [--explain] [--json]`: evaluate the compiled policy on every
// packet of a capture, with conntrack and runtime sets evolving in packet time, and say what the
// kernel would do with each packet and which rule or set element decided it.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "cli/command.hpp"
#include "cli/policy_input.hpp"
#include "simulate/report.hpp"
#include "simulate/simulator.hpp"

namespace portcullis::cli {

namespace {

struct SimulateArgs {
    std::string policy, capture;
    bool explain = false, json = false, tcp_loose = false, secpath = false;
    std::string iif;
    std::vector<std::string> gateway_addresses, grants, bans;
};

int run_simulate(const SimulateArgs& args) {
    simulate::Options options;
    options.explain = args.explain;
    options.tcp_loose = args.tcp_loose;
    options.secpath = args.secpath;
    if (!args.iif.empty()) options.iif = args.iif;
    for (const auto& text : args.gateway_addresses) {
        auto address = Address::parse(text);
        if (!address) {
            fmt::print(stderr, "portcullis simulate: --gateway-address \"{}\": {}\n", text, address.error().message);
            return kUsage;
        }
        options.gateway_addresses.push_back(*address);
    }
    for (const auto& text : args.grants) {
        auto grant = simulate::parse_grant(text);
        if (!grant) {
            fmt::print(stderr, "portcullis simulate: {}\n", grant.error().message);
            return kUsage;
        }
        options.grants.push_back(*grant);
    }
    for (const auto& text : args.bans) {
        auto ban = simulate::parse_ban(text);
        if (!ban) {
            fmt::print(stderr, "portcullis simulate: {}\n", ban.error().message);
            return kUsage;
        }
        options.bans.push_back(*ban);
    }
    auto policy = load_policy(args.policy, /*quiet_warnings=*/true);
    if (!policy) return kPolicyInvalid;
    auto simulator = simulate::Simulator::create(*policy, options);
    if (!simulator) {
        fmt::print(stderr, "portcullis simulate: {}\n", simulator.error().message);
        return simulator.error().message.find("--") != std::string::npos ? kUsage : kPolicyInvalid;
    }
    auto run = simulate::run_capture(**simulator, args.capture, [&](const simulate::Outcome& outcome) {
        if (args.json)
            fmt::print("{}\n", simulate::to_json(outcome, args.explain).dump());
        else
            fmt::print("{}", simulate::render_text(outcome, args.explain));
    });
    if (!run) {
        fmt::print(stderr, "portcullis simulate: {}\n", run.error().message);
        return kPolicyInvalid;
    }
    const auto summary = (*simulator)->summary();
    if (args.json) {
        auto j = simulate::to_json(summary);
        if (!run->read_error.empty()) j["summary"]["read_error"] = run->read_error;
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("{}", simulate::render_summary(summary));
    }
    if (!run->read_error.empty()) {
        fmt::print(stderr, "portcullis simulate: {}\n", run->read_error);
        if (run->frames == 0) return kPolicyInvalid;
    }
    return kOk;
}

}  // namespace

void register_simulate(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand(
        "simulate", "evaluate the compiled policy on every packet of a capture and explain each verdict");
    sub->footer(
        "Packets arrive on the first WAN interface unless --iif says otherwise; replies of connections\n"
        "seen earlier and packets from the gateway's own addresses are taken as outbound. Conntrack,\n"
        "grants, bans, limits and dynamic sets evolve in capture time. See docs/simulate.md.\n"
        "Exit codes: 0 ran, 1 policy or capture unreadable, 2 bad option. Example:\n"
        "  portcullis simulate policy.toml wan.pcap --explain --grant admin-ui=203.0.113.7:600");
    auto args = std::make_shared<SimulateArgs>();
    sub->add_option("POLICY", args->policy, "policy file (TOML)")->required();
    sub->add_option("CAPTURE", args->capture, "capture file (pcap or pcapng), or - for standard input")->required();
    sub->add_flag("--explain", args->explain, "show every rule that fired and the element that decided");
    sub->add_flag("--json", args->json, "one JSON object per packet, then a summary object");
    sub->add_option("--iif", args->iif, "interface every packet arrives on (default: the first WAN interface)");
    sub->add_option("--gateway-address", args->gateway_addresses,
                    "an address of the gateway itself (besides wan_address); repeatable");
    sub->add_option("--grant", args->grants, "SERVICE=ADDRESS[:SECONDS] granted from the start; repeatable");
    sub->add_option("--ban", args->bans, "PREFIX[:SECONDS] banned from the start; repeatable");
    sub->add_flag("--tcp-loose", args->tcp_loose,
                  "conntrack picks up mid-stream TCP (nf_conntrack_tcp_loose=1) instead of calling it invalid");
    sub->add_flag("--secpath", args->secpath, "the packets arrived decapsulated by IPsec (meta secpath exists)");
    sub->callback([&action, args] { action = [args] { return run_simulate(*args); }; });
}

}  // namespace portcullis::cli
