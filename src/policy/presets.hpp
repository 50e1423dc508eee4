#pragma once
// The preset table: each preset is exactly what one VPN protocol needs on the wire. `check`,
// the docs and the loader all read this one table so they cannot drift apart.
#include <span>
#include <string_view>
#include <vector>

#include "policy/model.hpp"

namespace portcullis::policy {

struct PresetPort {
    IpProtocol protocol;
    std::uint16_t port;  // 0 for portless protocols (esp, gre, ah)
};

struct Preset {
    std::string_view name;
    std::string_view explanation;  // one line, shown by `check`
    std::span<const PresetPort> ports;
    bool l2tp_only_inside_ipsec = false;  // UDP 1701 only when it arrived inside IPsec
    bool pptp_helper = false;             // ct helper "pptp" on TCP 1723
};

// Every preset, in the order the docs list them.
std::span<const Preset> all_presets();

// nullptr when there is no preset of that name.
const Preset* find_preset(std::string_view name);

// The names alone (for "did you mean" and for listing what exists).
std::vector<std::string_view> preset_names();

// The preset's bundle as PortSpecs (locations left empty: the caller knows where the preset was named).
std::vector<PortSpec> preset_port_specs(const Preset& preset);

}  // namespace portcullis::policy
