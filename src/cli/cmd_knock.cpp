// `portcullis knock HOST PORTSPEC...`: one knock per step, in order, with a delay between them.
// TCP knocks are single SYNs from an abandoned non-blocking connect; UDP knocks one small
// datagram. Knocking is obscurity, not authentication (see docs/spa.md).
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "auth/spa_client.hpp"
#include "cli/command.hpp"

namespace portcullis::cli {
namespace {

struct KnockOptions {
    std::string host;
    std::vector<std::string> steps;
    unsigned delay_ms = 200;
    bool ipv6 = false;
    bool ipv4 = false;
    bool verbose = false;
};

int run_knock(const KnockOptions& options) {
    std::vector<auth::KnockStep> steps;
    for (const std::string& text : options.steps) {
        auto step = auth::parse_knock_step(text);
        if (!step) {
            fmt::print(stderr, "portcullis knock: {}\n", step.error().message);
            return kUsage;
        }
        steps.push_back(*step);
    }
    int family = options.ipv6 ? AF_INET6 : options.ipv4 ? AF_INET : AF_UNSPEC;
    auto endpoint = auth::resolve_endpoint(options.host, 1, family);
    if (!endpoint) {
        fmt::print(stderr, "portcullis knock: {}\n", endpoint.error().message);
        return kUsage;
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (i > 0 && options.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.delay_ms));
        auth::Endpoint target = auth::with_port(*endpoint, steps[i].port);
        bool tcp = steps[i].protocol == auth::AccessProtocol::tcp;
        auto sent = tcp ? auth::send_syn(target) : auth::send_datagram(target, std::string_view("\0", 1));
        if (!sent) {
            fmt::print(stderr, "portcullis knock: {}\n", sent.error().message);
            return kKernelError;
        }
        if (options.verbose)
            fmt::print(stderr, "knock {}/{}: {}/{} on {}\n", i + 1, steps.size(), tcp ? "tcp" : "udp", steps[i].port,
                       endpoint->text);
    }
    return kOk;
}

}  // namespace

void register_knock(CLI::App& app, Action& action) {
    auto options = std::make_shared<KnockOptions>();
    auto* sub = app.add_subcommand("knock", "knock a port sequence (tcp/7000 udp/8000 tcp/9000)");
    sub->add_option("host", options->host, "the gateway (name, IPv4 or IPv6 address)")->required();
    sub->add_option("steps", options->steps, "knock steps in order: tcp/PORT, udp/PORT or PORT (tcp)")->required();
    sub->add_option("--delay,-d", options->delay_ms, "milliseconds between knocks")
        ->capture_default_str()
        ->check(CLI::Range(0u, 60000u));
    auto* v6 = sub->add_flag("-6,--ipv6", options->ipv6, "knock over IPv6");
    auto* v4 = sub->add_flag("-4,--ipv4", options->ipv4, "knock over IPv4");
    v6->excludes(v4);
    sub->add_flag("-v,--verbose", options->verbose, "print each knock");
    sub->callback([options, &action] { action = [options] { return run_knock(*options); }; });
}

}  // namespace portcullis::cli
