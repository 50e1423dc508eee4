// Fuzzes simulate with the policy fixed and the capture fuzzed: every frame goes through
// decode_frame → Simulator::process (conntrack, NAT, helpers, fragments, runtime sets) and the
// text and JSON renderers. The policies are compiled once; the first input byte picks one
// (a gateway with DNAT, masquerade, the pptp helper, knock and IKE limits; a host with a knock
// sequence) and the per-packet interface.
// Input: [policy/iif selector: 1 byte] then frames, each [link selector: 1 byte][length: 2 bytes BE]
// [time step: 1 byte][frame bytes].
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "compile/compile.hpp"
#include "fuzz_util.hpp"
#include "policy/load.hpp"
#include "simulate/report.hpp"
#include "simulate/simulator.hpp"

namespace {

using namespace portcullis;

constexpr const char* kGateway = R"(
[firewall]
mode = "gateway"
wan = "eth0"
lan = "eth1"
wan_address = "203.0.113.1"
default = "reject"
masquerade = true
log_drops = 1

[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]

[[service]]
name = "vpn"
preset = "ikev2"
forward_to = "192.0.2.10"
allow_from = ["any"]

[[service]]
name = "pptp"
preset = "pptp"
forward_to = "192.0.2.20"
allow_from = ["198.51.100.0/24"]

[[service]]
name = "ssh"
ports = ["tcp/2222"]
forward_to = "192.0.2.30:22"
allow_from = ["any"]
guard = "knock"

[service.knock]
sequence = ["udp/7000", "tcp/7001", "udp/7002"]
step_timeout = "5s"
open_for = "30s"
)";

constexpr const char* kHost = R"(
[firewall]
mode = "host"
wan = "eth0"
default = "drop"

[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]

[[service]]
name = "wg"
preset = "wireguard"
allow_from = ["any"]

[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["198.51.100.0/24"]
guard = "knock"

[service.knock]
sequence = ["tcp/7000", "udp/7001"]
step_timeout = "5s"
open_for = "30s"
)";

// A policy compiled once: each input starts a fresh simulator from a copy of the table.
struct Compiled {
    compile::ir::Table table;
    simulate::Box box;
};

const Compiled* load(const char* text, const char* name) {
    auto loaded = policy::load_string(text, name);
    if (!loaded.policy) return nullptr;
    return new Compiled{compile::compile_ir(*loaded.policy), simulate::box_of(*loaded.policy)};  // lives for the run
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Compiled* gateway = load(kGateway, "fuzz-gateway.toml");
    static const Compiled* host = load(kHost, "fuzz-host.toml");
    static constexpr std::uint32_t kLinkTypes[] = {1, 101, 113, 276};
    if (size < 1 || gateway == nullptr || host == nullptr) return 0;
    const std::uint8_t selector = data[0];
    simulate::Options options;
    options.explain = (selector & 0x02) != 0;
    options.tcp_loose = (selector & 0x04) != 0;
    if (selector & 0x08) options.iif = "eth1";
    const Compiled& policy = (selector & 0x01) ? *host : *gateway;
    auto created = simulate::Simulator::create(policy.table, policy.box, options);
    if (!created) return 0;
    simulate::Simulator& simulator = **created;
    std::size_t offset = 1;
    std::uint64_t frame = 0;
    double time = 1000;
    while (offset + 4 <= size) {
        const std::uint32_t link_type = kLinkTypes[data[offset] % 4];
        // Bit 2 of the link selector sends the packet in from the LAN side explicitly.
        const bool from_lan = (data[offset] & 0x04) != 0;
        std::size_t length = (std::size_t{data[offset + 1]} << 8) | data[offset + 2];
        time += data[offset + 3] * 0.5;  // up to ~2 min per step: timeouts and limits expire
        offset += 4;
        if (length > size - offset) length = size - offset;
        simulate::Packet packet = simulate::decode_frame(++frame, time, link_type, as_bytes(data + offset, length));
        offset += length;
        auto outcomes = simulator.process(packet, from_lan ? std::optional<std::string>("eth1") : std::nullopt);
        for (const auto& outcome : outcomes) {
            fuzz::use(simulate::render_text(outcome, options.explain).size());
            fuzz::use(simulate::to_json(outcome, options.explain).dump().size());
        }
    }
    for (const auto& outcome : simulator.finish()) fuzz::use(simulate::render_text(outcome, false).size());
    fuzz::use(simulate::render_summary(simulator.summary()).size());
    return 0;
}
