// `portcullis spa HOST`: builds one fwknop-format SPA packet (Rijndael + HMAC-SHA256) and sends
// it as one UDP datagram over IPv4 or IPv6, or prints it. Works against portcullis and fwknopd.
#include <ctime>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "auth/spa_client.hpp"
#include "auth/spa_keys.hpp"
#include "cli/command.hpp"

namespace portcullis::cli {
namespace {

struct SpaOptions {
    std::string host;
    std::string service;
    std::string access;
    std::string key_file;
    std::string stanza;
    std::uint16_t port = auth::kDefaultSpaPort;
    bool print_only = false;
    std::string allow_ip;
    bool ipv6 = false;
    bool ipv4 = false;
    std::string user;
    std::uint32_t timeout = 0;
    std::int64_t time_offset = 0;
};

int run_spa(const SpaOptions& options) {
    std::string access_text = !options.service.empty() ? options.service : options.access;
    auto access = auth::parse_access_argument(access_text);
    if (!access) {
        fmt::print(stderr, "portcullis spa: {}\n", access.error().message);
        return kUsage;
    }
    auto keys = auth::load_key_file(options.key_file, options.stanza.empty()
                                                          ? std::nullopt
                                                          : std::optional<std::string_view>(options.stanza));
    if (!keys) {
        fmt::print(stderr, "portcullis spa: {}\n", keys.error().message);
        return kPolicyInvalid;
    }

    auth::SpaRequest request;
    request.access = std::move(*access);
    if (!options.allow_ip.empty()) request.allow_address = options.allow_ip;
    request.username = options.user;
    if (options.timeout > 0) request.timeout = options.timeout;
    request.time_offset = options.time_offset;
    auto packet = auth::build_spa_packet(request, *keys, static_cast<std::int64_t>(std::time(nullptr)));
    if (!packet) {
        fmt::print(stderr, "portcullis spa: {}\n", packet.error().message);
        return kUsage;
    }
    if (options.print_only) {
        fmt::print("{}\n", *packet);
        return kOk;
    }

    int family = options.ipv6 ? AF_INET6 : options.ipv4 ? AF_INET : AF_UNSPEC;
    auto endpoint = auth::resolve_endpoint(options.host, options.port, family);
    if (!endpoint) {
        fmt::print(stderr, "portcullis spa: {}\n", endpoint.error().message);
        return kUsage;
    }
    if (auto sent = auth::send_datagram(*endpoint, *packet); !sent) {
        fmt::print(stderr, "portcullis spa: {}\n", sent.error().message);
        return kKernelError;
    }
    fmt::print(stderr, "sent {} bytes of SPA to {} port udp/{}\n", packet->size(), endpoint->text, options.port);
    return kOk;
}

}  // namespace

void register_spa(CLI::App& app, Action& action) {
    auto options = std::make_shared<SpaOptions>();
    auto* sub = app.add_subcommand("spa", "send one fwknop-compatible Single Packet Authorization packet");
    sub->add_option("host", options->host, "the gateway (name, IPv4 or IPv6 address)")->required();
    auto* service = sub->add_option("--service", options->service,
                                    "well-known service to open: ssh, ipsec, ikev2, l2tp-ipsec, pptp, openvpn, "
                                    "openvpn-tcp, wireguard, sstp");
    auto* access = sub->add_option("--access,-A", options->access, "proto/port list to open, e.g. tcp/22,udp/500");
    service->excludes(access);
    access->excludes(service);
    sub->add_option("--key-file,-k", options->key_file,
                    "file with KEY_BASE64 and HMAC_KEY_BASE64 (fwknop --key-gen output or an fwknoprc); mode 0600")
        ->required();
    sub->add_option("--stanza,-n", options->stanza, "[stanza] of the key file to use");
    sub->add_option("--port,-p", options->port, "destination UDP port")->capture_default_str()->check(CLI::Range(1, 65535));
    sub->add_flag("--print", options->print_only, "print the packet instead of sending it");
    sub->add_option("--allow-ip,-a", options->allow_ip,
                    "address to open for (default: the address the packet comes from)");
    auto* v6 = sub->add_flag("-6,--ipv6", options->ipv6, "send over IPv6");
    auto* v4 = sub->add_flag("-4,--ipv4", options->ipv4, "send over IPv4");
    v6->excludes(v4);
    sub->add_option("--user,-U", options->user, "username inside the packet (default: SPOOF_USER or login name)");
    sub->add_option("--timeout,-f", options->timeout, "ask for this many seconds open (capped by the server)")
        ->check(CLI::Range(1, 65536));
    sub->add_option("--time-offset", options->time_offset, "seconds added to the packet's timestamp (testing)");
    sub->callback([options, sub, &action] {
        if (sub->count("--service") + sub->count("--access") == 0) {
            action = [] {
                fmt::print(stderr, "portcullis spa: one of --service or --access is required\n");
                return static_cast<int>(kUsage);
            };
            return;
        }
        action = [options] { return run_spa(*options); };
    });
}

}  // namespace portcullis::cli
