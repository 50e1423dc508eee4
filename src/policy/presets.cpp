#include "policy/presets.hpp"

#include <array>

namespace portcullis::policy {
namespace {

constexpr std::array<PresetPort, 3> kIpsecPorts{{
    {IpProtocol::udp, 500},
    {IpProtocol::udp, 4500},
    {IpProtocol::esp, 0},
}};
constexpr std::array<PresetPort, 2> kPptpPorts{{{IpProtocol::tcp, 1723}, {IpProtocol::gre, 0}}};
constexpr std::array<PresetPort, 1> kOpenvpnPorts{{{IpProtocol::udp, 1194}}};
constexpr std::array<PresetPort, 1> kOpenvpnTcpPorts{{{IpProtocol::tcp, 1194}}};
constexpr std::array<PresetPort, 1> kWireguardPorts{{{IpProtocol::udp, 51820}}};
constexpr std::array<PresetPort, 1> kSstpPorts{{{IpProtocol::tcp, 443}}};

const std::array<Preset, 8> kPresets{{
    {"ipsec", "IKE on UDP 500, NAT traversal on UDP 4500, ESP (IP protocol 50)", kIpsecPorts},
    {"ikev2", "IKE on UDP 500, NAT traversal on UDP 4500, ESP (IP protocol 50)", kIpsecPorts},
    {"l2tp-ipsec",
     "IKE on UDP 500, NAT traversal on UDP 4500, ESP (IP protocol 50); L2TP (UDP 1701) only "
     "inside IPsec, never raw",
     kIpsecPorts, true, false},
    {"pptp",
     "PPTP control on TCP 1723, GRE (IP protocol 47) tracked by the pptp conntrack helper; "
     "MS-CHAPv2/MPPE is broken cryptography",
     kPptpPorts, false, true},
    {"openvpn", "OpenVPN on UDP 1194", kOpenvpnPorts},
    {"openvpn-tcp", "OpenVPN over TCP 1194", kOpenvpnTcpPorts},
    {"wireguard", "WireGuard on UDP 51820", kWireguardPorts},
    {"sstp", "SSTP (PPP over TLS) on TCP 443", kSstpPorts},
}};

}  // namespace

std::span<const Preset> all_presets() { return kPresets; }

const Preset* find_preset(std::string_view name) {
    for (const auto& preset : kPresets)
        if (preset.name == name) return &preset;
    return nullptr;
}

std::vector<std::string_view> preset_names() {
    std::vector<std::string_view> names;
    for (const auto& preset : kPresets) names.push_back(preset.name);
    return names;
}

std::vector<PortSpec> preset_port_specs(const Preset& preset) {
    std::vector<PortSpec> specs;
    for (const auto& entry : preset.ports) {
        PortSpec spec;
        spec.protocol = entry.protocol;
        if (entry.port != 0) spec.ports = PortRange{entry.port, entry.port};
        specs.push_back(spec);
    }
    return specs;
}

}  // namespace portcullis::policy
