// Benchmarks for issue 3 (the daemon). Not a test: run by bench/daemon_bench.sh as root inside a
// private network namespace, which prints the numbers recorded in docs/benchmarks.md.
//
//   bench_daemon sets-netlink TABLE SET COUNT [host]  N bans through the daemon's netlink batcher
//                                                 (host: a plain hash set, as grants use)
//   bench_daemon sets-libnftables TABLE SET COUNT N bans, one libnftables call per element
//   bench_daemon restore STATE_FILE COUNT [split] write COUNT bans to a state file, then time
//                                                 load + re-apply into the kernel (empty sets);
//                                                 split: hosts into hash set banh4 (split layout)
//   bench_daemon startup-own STATE_FILE HISTORY   the daemon's own start-up with the ban sets full:
//                                                 read a state file of HISTORY running bans, re-add
//                                                 them, write the file; RSS peak/after
//   bench_daemon list TABLE SET [host]            one netlink listing of SET (interval unless host)
//   bench_daemon nflog-decode SECONDS             NFLOG messages decoded per second (one core)
#include <malloc.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/events.hpp"
#include "daemon/runtime_state.hpp"
#include "daemon/set_batcher.hpp"
#include "daemon/state_file.hpp"
#include "intake/nflog_reader.hpp"
#include "kernel/netlink_set_writer.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

using namespace portcullis;
using Clock = std::chrono::steady_clock;

namespace {

Prefix nth_address(std::uint32_t n) {
    // 10.0.0.0/8 and up: distinct host addresses (bench namespace only, never routed).
    Prefix prefix;
    prefix.address.family = Family::ipv4;
    std::uint32_t value = 0x0a000000u + n;
    prefix.address.bytes[0] = static_cast<std::uint8_t>(value >> 24);
    prefix.address.bytes[1] = static_cast<std::uint8_t>(value >> 16);
    prefix.address.bytes[2] = static_cast<std::uint8_t>(value >> 8);
    prefix.address.bytes[3] = static_cast<std::uint8_t>(value);
    prefix.length = 32;
    return prefix;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

int sets_netlink(const std::string& table, const std::string& set, std::uint32_t count, bool interval) {
    auto writer = kernel::NetlinkSetWriter::open("inet", table);
    if (!writer) {
        std::fprintf(stderr, "%s\n", writer.error().message.c_str());
        return 1;
    }
    // BENCH_ORDER=desc|shuffle: the kernel's interval (rbtree) insert cost depends on key order.
    const char* order = std::getenv("BENCH_ORDER");
    std::vector<std::uint32_t> keys(count);
    for (std::uint32_t i = 0; i < count; ++i) keys[i] = i;
    if (order && std::string(order) == "desc") std::reverse(keys.begin(), keys.end());
    if (order && std::string(order) == "shuffle") std::shuffle(keys.begin(), keys.end(), std::mt19937(42));
    std::vector<kernel::ElementChange> changes(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        changes[i].set = set;
        changes[i].prefix = nth_address(keys[i]);
        changes[i].interval = interval;
        changes[i].timeout = std::chrono::hours(1);
    }
    auto start = Clock::now();
    auto report = (*writer)->write(changes);
    double elapsed = seconds_since(start);
    std::printf("netlink-batcher set=%s (%s) elements=%u seconds=%.4f rate=%.0f/s messages=%zu batches=%zu failures=%zu%s%s\n",
                set.c_str(), interval ? "interval" : "hash", count, elapsed, count / elapsed, report.messages, report.batches, report.failures.size(),
                report.transport_error.empty() ? "" : " transport_error=", report.transport_error.c_str());
    return report.ok() ? 0 : 1;
}

int sets_libnftables(const std::string& table, const std::string& set, std::uint32_t count) {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    auto start = Clock::now();
    std::uint32_t failures = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        std::string command = "add element inet " + table + " " + set + " { " +
                              nth_address(1000000 + i).address.to_string() + " timeout 1h }";
        if (nft_run_cmd_from_buffer(ctx, command.c_str()) != 0) ++failures;
    }
    double elapsed = seconds_since(start);
    std::printf("libnftables-per-element elements=%u seconds=%.4f rate=%.1f/s failures=%u\n", count, elapsed,
                count / elapsed, failures);
    nft_ctx_free(ctx);
    return failures ? 1 : 0;
}

std::string status_field(const char* name) {
    std::FILE* status = std::fopen("/proc/self/status", "r");
    if (!status) return "?";
    char line[256];
    std::string out = "?";
    while (std::fgets(line, sizeof line, status)) {
        if (std::strncmp(line, name, std::strlen(name)) == 0) {
            out = line + std::strlen(name);
            out.erase(0, out.find_first_not_of(" \t:"));
            out.erase(out.find_last_not_of(" \n") + 1);
        }
    }
    std::fclose(status);
    return out;
}

// split: the split layout (hosts in hash set banh4, prefixes in interval set ban4).
int restore(const std::string& path, std::uint32_t count, bool split) {
    daemon::DaemonState state;
    std::int64_t now = std::time(nullptr);
    for (std::uint32_t i = 0; i < count; ++i)
        state.bans.push_back({nth_address(i), now - 10, now + 3600, 1 + i % 5, 3600, "scan"});
    if (auto saved = daemon::save_state_file(path, state); !saved) {
        std::fprintf(stderr, "%s\n", saved.error().message.c_str());
        return 1;
    }
    state = {};
    auto writer = kernel::NetlinkSetWriter::open("inet", "portcullis");
    if (!writer) {
        std::fprintf(stderr, "%s\n", writer.error().message.c_str());
        return 1;
    }
    auto start = Clock::now();
    daemon::StateLoad loaded = daemon::load_state_file(path, now);
    double load_seconds = seconds_since(start);
    daemon::SetBatcher batcher(**writer);
    daemon::EventLog events;
    daemon::RuntimeState runtime(batcher, events, [] { return static_cast<std::int64_t>(std::time(nullptr)); });
    daemon::RuntimeConfig config;
    config.split_ban_sets = split;
    runtime.configure(config);
    std::size_t readded = runtime.restore(loaded.state, {});
    auto report = batcher.flush();
    double total = seconds_since(start);
    std::printf("restore%s bans=%u readded=%zu load_seconds=%.3f kernel_seconds=%.3f total_seconds=%.3f failures=%zu%s\n",
                split ? "-split" : "", count, readded, load_seconds, total - load_seconds, total,
                report.failures.size(), loaded.problem ? (" problem=" + *loaded.problem).c_str() : "");
    return report.ok() ? 0 : 1;
}

// The daemon's own start-up work with the ban sets already full (the apply path is not included:
// it is measured separately): read a state file holding `history` running bans, re-add them (the
// kernel has them: no-ops), write the state file. The ban sets are not listed (see `list`).
// Peak and final RSS of this process.
int startup_own(const std::string& path, std::uint32_t history) {
    std::int64_t now = std::time(nullptr);
    daemon::DaemonState state;
    for (std::uint32_t i = 0; i < history; ++i)
        state.bans.push_back({nth_address(i), now - 10, now + 3600, 1 + i % 5, 3600, "scan"});
    if (auto saved = daemon::save_state_file(path, state); !saved) {
        std::fprintf(stderr, "%s\n", saved.error().message.c_str());
        return 1;
    }
    state = {};
    malloc_trim(0);
    std::string rss_before = status_field("VmRSS");
    auto writer = kernel::NetlinkSetWriter::open("inet", "portcullis");
    if (!writer) {
        std::fprintf(stderr, "%s\n", writer.error().message.c_str());
        return 1;
    }
    auto start = Clock::now();
    daemon::StateLoad loaded = daemon::load_state_file(path, now);
    daemon::SetBatcher batcher(**writer);
    daemon::EventLog events;
    daemon::RuntimeState runtime(batcher, events, [] { return static_cast<std::int64_t>(std::time(nullptr)); });
    std::size_t readded = runtime.restore(loaded.state, {});
    auto report = batcher.flush();
    loaded = {};
    malloc_trim(0);
    auto saved = daemon::save_state_file(path, runtime.export_state());
    malloc_trim(0);
    double total = seconds_since(start);
    std::printf("startup-own history=%u readded=%zu failures=%zu records=%zu total_seconds=%.3f "
                "rss_before=%s rss_after=%s rss_peak=%s%s\n",
                history, readded, report.failures.size(), runtime.ban_records(), total, rss_before.c_str(),
                status_field("VmRSS").c_str(), status_field("VmHWM").c_str(), saved ? "" : " save_failed");
    return 0;
}

// One netlink listing of a set, as `bans list` (and formerly the start-up) does it.
int list_set(const std::string& table, const std::string& set, bool interval) {
    auto writer = kernel::NetlinkSetWriter::open("inet", table);
    if (!writer) {
        std::fprintf(stderr, "%s\n", writer.error().message.c_str());
        return 1;
    }
    auto start = Clock::now();
    auto listed = (*writer)->list(set, interval);
    double elapsed = seconds_since(start);
    if (!listed) {
        std::fprintf(stderr, "%s\n", listed.error().message.c_str());
        return 1;
    }
    std::printf("list set=%s elements=%zu seconds=%.3f rss_peak=%s\n", set.c_str(), listed->size(), elapsed,
                status_field("VmHWM").c_str());
    return 0;
}

std::vector<std::uint8_t> nflog_message(std::uint32_t seq) {
    std::vector<std::uint8_t> bytes(20, 0);
    auto put16 = [&](std::size_t at, std::uint16_t v) { std::memcpy(&bytes[at], &v, 2); };
    put16(4, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET);
    bytes[16] = 2;
    auto attribute = [&](std::uint16_t type, const void* data, std::size_t length) {
        std::size_t at = bytes.size();
        bytes.resize(at + ((4 + length + 3) & ~std::size_t{3}), 0);
        put16(at, static_cast<std::uint16_t>(4 + length));
        put16(at + 2, type);
        std::memcpy(&bytes[at + 4], data, length);
    };
    std::uint8_t header[4] = {0x08, 0x00, 1, 0};
    attribute(NFULA_PACKET_HDR, header, 4);
    const char prefix[] = "portcullis drop=closed ";
    attribute(NFULA_PREFIX, prefix, sizeof prefix);
    std::uint32_t ifindex = htonl(3), be_seq = htonl(seq);
    attribute(NFULA_IFINDEX_INDEV, &ifindex, 4);
    attribute(NFULA_SEQ, &be_seq, 4);
    std::uint8_t packet[60] = {0x45};
    packet[12] = 198, packet[13] = 51, packet[14] = 100, packet[15] = static_cast<std::uint8_t>(seq);
    attribute(NFULA_PAYLOAD, packet, sizeof packet);
    std::uint32_t length = static_cast<std::uint32_t>(bytes.size());
    std::memcpy(&bytes[0], &length, 4);
    return bytes;
}

class Counting final : public intake::PacketObserver {
public:
    void on_packet(const intake::NflogPacket& packet) override { bytes += packet.payload.size(); }
    std::uint64_t bytes = 0;
};

int nflog_decode(double seconds) {
    // One recv()'s worth: 32 messages, as the reader asks the kernel to batch them.
    std::vector<std::uint8_t> datagram;
    for (std::uint32_t i = 0; i < 32; ++i) {
        auto message = nflog_message(i);
        datagram.insert(datagram.end(), message.begin(), message.end());
    }
    std::vector<std::uint64_t> aligned((datagram.size() + 7) / 8);
    std::memcpy(aligned.data(), datagram.data(), datagram.size());
    intake::NflogDispatcher dispatcher;
    Counting observer;
    dispatcher.add_observer(&observer);
    auto start = Clock::now();
    std::uint64_t rounds = 0;
    while (seconds_since(start) < seconds) {
        for (int i = 0; i < 1000; ++i) dispatcher.feed(as_bytes(aligned.data(), datagram.size()));
        rounds += 1000;
    }
    double elapsed = seconds_since(start);
    std::printf("nflog-decode packets=%llu seconds=%.3f rate=%.0f/s malformed=%llu\n",
                static_cast<unsigned long long>(dispatcher.counters().packets), elapsed,
                dispatcher.counters().packets / elapsed,
                static_cast<unsigned long long>(dispatcher.counters().malformed()));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: see the comment at the top of bench/daemon_bench.cpp\n");
        return 2;
    }
    std::string mode = argv[1];
    if (mode == "sets-netlink" && (argc == 5 || argc == 6))
        return sets_netlink(argv[2], argv[3], std::stoul(argv[4]), argc == 5);
    if (mode == "sets-libnftables" && argc == 5) return sets_libnftables(argv[2], argv[3], std::stoul(argv[4]));
    if (mode == "restore" && (argc == 4 || argc == 5))
        return restore(argv[2], std::stoul(argv[3]), argc == 5 && std::string(argv[4]) == "split");
    if (mode == "startup-own" && argc == 4) return startup_own(argv[2], std::stoul(argv[3]));
    if (mode == "list" && (argc == 4 || argc == 5)) return list_set(argv[2], argv[3], argc == 4);
    if (mode == "nflog-decode" && argc == 3) return nflog_decode(std::stod(argv[2]));
    std::fprintf(stderr, "bad arguments\n");
    return 2;
}
