// Latency from the trigger (the SPA packet, or the last knock) to the first allowed SYN passing,
// measured on the client: right after the trigger a fresh non-blocking connect() (one new SYN) is
// started every --interval-us (25 µs for the first 5 ms, then every 500 µs), and the time of the
// first socket that connects is the answer. Between trials --reset (a shell command, run with
// system()) closes the service again. Run by bench/spa_latency.sh inside the client namespace;
// prints one latency per line (microseconds) and a summary on stderr.
//
//   bench_spa_latency --server 192.0.2.1 --port 22 --trials 1000 --reset CMD
//       --spa KEYFILE [--spa-port 62201]           one fwknop-format SPA packet (our encoder)
//       --knock udp/7000,udp/8000,udp/9000         a knock sequence (UDP or TCP SYN steps)
//       [--pause-ms N]                              idle time between trials (after the reset)
//       [--interval-us N]                           SYN spacing for the first 5 ms (default 25)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "auth/spa_client.hpp"
#include "auth/spa_keys.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using portcullis::auth::AccessPort;
using portcullis::auth::AccessProtocol;

struct Options {
    std::string server;
    std::uint16_t port = 22;
    int trials = 1000;
    std::string reset;
    std::string spa_key_file;
    std::uint16_t spa_port = 62201;
    std::vector<portcullis::auth::KnockStep> knocks;
    int timeout_ms = 3000;
    int pause_ms = 0;  // idle time after each reset, so a trial does not meet the last one's aftermath
    int interval_us = 25;  // SYN spacing for the first 5 ms (then 500 us)
};

sockaddr_in address_of(const std::string& host, std::uint16_t port) {
    sockaddr_in out{};
    out.sin_family = AF_INET;
    out.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &out.sin_addr) != 1) {
        std::fprintf(stderr, "bad IPv4 address %s\n", host.c_str());
        std::exit(2);
    }
    return out;
}

void send_udp(const sockaddr_in& to, const std::string& payload) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    ::close(fd);
}

int start_connect(const sockaddr_in& to) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (rc != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Returns microseconds from `start` to the first connected socket, or -1 on timeout.
double race_syns(const sockaddr_in& to, Clock::time_point start, int timeout_ms, int interval_us) {
    std::vector<pollfd> sockets;
    auto next = start;
    double result = -1;
    while (result < 0) {
        auto now = Clock::now();
        auto elapsed = now - start;
        if (elapsed > std::chrono::milliseconds(timeout_ms)) break;
        if (now >= next) {
            int fd = start_connect(to);
            if (fd >= 0) sockets.push_back({fd, POLLOUT, 0});
            next = now + (elapsed < std::chrono::milliseconds(5) ? std::chrono::microseconds(interval_us)
                                                                  : std::chrono::microseconds(500));
        }
        // Wait (not spin) until a socket connects or the next SYN is due: on a small box a spinning
        // probe would take the CPU the server under test needs (timer slack is 1 ns, see main).
        auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next - Clock::now());
        timespec timeout{0, std::max<long>(0, static_cast<long>(wait.count()))};
        if (::ppoll(sockets.data(), sockets.size(), &timeout, nullptr) > 0) {
            for (auto& p : sockets) {
                if (!(p.revents & POLLOUT)) continue;
                int error = 0;
                socklen_t length = sizeof error;
                ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &length);
                if (error == 0) {
                    result = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
                    break;
                }
            }
        }
    }
    for (auto& p : sockets) ::close(p.fd);
    return result;
}

std::vector<portcullis::auth::KnockStep> parse_knocks(const std::string& text) {
    std::vector<portcullis::auth::KnockStep> out;
    std::size_t at = 0;
    while (at <= text.size()) {
        auto comma = text.find(',', at);
        auto step = portcullis::auth::parse_knock_step(text.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (!step) {
            std::fprintf(stderr, "bad knock step: %s\n", step.error().message.c_str());
            std::exit(2);
        }
        out.push_back(*step);
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string name = argv[i], value = argv[i + 1];
        if (name == "--server") options.server = value;
        else if (name == "--port") options.port = static_cast<std::uint16_t>(std::stoi(value));
        else if (name == "--trials") options.trials = std::stoi(value);
        else if (name == "--reset") options.reset = value;
        else if (name == "--spa") options.spa_key_file = value;
        else if (name == "--spa-port") options.spa_port = static_cast<std::uint16_t>(std::stoi(value));
        else if (name == "--knock") options.knocks = parse_knocks(value);
        else if (name == "--timeout-ms") options.timeout_ms = std::stoi(value);
        else if (name == "--pause-ms") options.pause_ms = std::stoi(value);
        else if (name == "--interval-us") options.interval_us = std::stoi(value);
        else {
            std::fprintf(stderr, "unknown option %s\n", name.c_str());
            return 2;
        }
    }
    if (options.server.empty() || (options.spa_key_file.empty() == options.knocks.empty())) {
        std::fprintf(stderr, "usage: bench_spa_latency --server ADDR (--spa KEYFILE | --knock STEPS) [--reset CMD]\n");
        return 2;
    }
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    rlimit files{65536, 65536};
    ::setrlimit(RLIMIT_NOFILE, &files);
    std::optional<portcullis::auth::KeyMaterial> keys;
    if (!options.spa_key_file.empty()) {
        auto loaded = portcullis::auth::load_key_file(options.spa_key_file);
        if (!loaded) {
            std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
            return 1;
        }
        keys = std::move(*loaded);
    }
    const auto service = address_of(options.server, options.port);
    std::vector<double> latencies;
    int timeouts = 0;
    for (int trial = 0; trial < options.trials; ++trial) {
        if (!options.reset.empty() && std::system(options.reset.c_str()) != 0) {
            std::fprintf(stderr, "reset command failed: %s\n", options.reset.c_str());
            return 1;
        }
        if (options.pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.pause_ms));
        Clock::time_point start;
        if (keys) {
            portcullis::auth::SpaRequest request;
            request.access = {AccessPort{AccessProtocol::tcp, options.port}};
            request.allow_address = "0.0.0.0";
            request.username = "bench";
            auto wire = portcullis::auth::build_spa_packet(request, *keys, static_cast<std::int64_t>(std::time(nullptr)));
            if (!wire) {
                std::fprintf(stderr, "%s\n", wire.error().message.c_str());
                return 1;
            }
            auto to = address_of(options.server, options.spa_port);
            start = Clock::now();
            send_udp(to, *wire);
        } else {
            for (std::size_t k = 0; k < options.knocks.size(); ++k) {
                auto to = address_of(options.server, options.knocks[k].port);
                if (k + 1 == options.knocks.size()) start = Clock::now();
                if (options.knocks[k].protocol == AccessProtocol::udp) {
                    send_udp(to, "k");
                } else {
                    int fd = start_connect(to);
                    if (fd >= 0) ::close(fd);
                }
            }
        }
        double latency = race_syns(service, start, options.timeout_ms, options.interval_us);
        if (latency < 0) ++timeouts;
        else latencies.push_back(latency);
        // Second column: the trigger's CLOCK_MONOTONIC time (ns), to line up with the daemon's
        // PORTCULLIS_SPA_TRACE lines (same clock in every namespace).
        std::printf("%.1f %lld\n", latency,
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count()));
    }
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
        if (latencies.empty()) return -1.0;
        return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
    };
    std::fprintf(stderr, "trials %d ok %zu timeouts %d p50 %.1f us p90 %.1f us p99 %.1f us max %.1f us\n",
                 options.trials, latencies.size(), timeouts, pct(0.50), pct(0.90), pct(0.99),
                 latencies.empty() ? -1.0 : latencies.back());
    return timeouts == options.trials ? 1 : 0;
}
