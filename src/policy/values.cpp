#include "policy/values.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace portcullis::policy {
namespace {

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Digits only, no sign, no spaces; fails on overflow of 64 bits.
bool parse_unsigned(std::string_view text, std::uint64_t& value) {
    if (text.empty()) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size();
}

Result<std::uint16_t> parse_port_number(std::string_view text, std::string_view whole) {
    std::uint64_t value = 0;
    if (!parse_unsigned(text, value))
        return fail("port " + in_quotes(text) + " in " + in_quotes(whole) +
                    " is not a number (expected 1-65535)");
    if (value < 1 || value > 65535)
        return fail("port " + std::string(text) + " in " + in_quotes(whole) +
                    " is out of range (expected 1-65535)");
    return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string_view protocol_name(IpProtocol protocol) {
    switch (protocol) {
        case IpProtocol::tcp: return "tcp";
        case IpProtocol::udp: return "udp";
        case IpProtocol::gre: return "gre";
        case IpProtocol::esp: return "esp";
        case IpProtocol::ah: return "ah";
    }
    return "?";
}

Result<PortSpec> parse_port_spec(std::string_view text) {
    const std::string expected =
        " (expected \"tcp/N\", \"udp/N\", \"tcp/N-M\", \"udp/N-M\", \"esp\", \"gre\" or \"ah\")";
    auto slash = text.find('/');
    std::string protocol = lowercase(text.substr(0, slash));
    PortSpec spec;
    if (protocol == "esp" || protocol == "gre" || protocol == "ah") {
        spec.protocol = protocol == "esp" ? IpProtocol::esp
                        : protocol == "gre" ? IpProtocol::gre
                                            : IpProtocol::ah;
        if (slash != std::string_view::npos)
            return fail(in_quotes(text) + ": " + protocol + " is an IP protocol without ports (write just " +
                        in_quotes(protocol) + ")");
        return spec;
    }
    if (protocol != "tcp" && protocol != "udp") {
        if (protocol.empty()) return fail("empty port string" + expected);
        return fail("unknown protocol " + in_quotes(protocol) + " in " + in_quotes(text) + expected);
    }
    spec.protocol = protocol == "tcp" ? IpProtocol::tcp : IpProtocol::udp;
    if (slash == std::string_view::npos || slash + 1 == text.size())
        return fail(in_quotes(text) + " names no port (expected " + protocol + "/N or " + protocol +
                    "/N-M)");
    auto range = text.substr(slash + 1);
    auto dash = range.find('-');
    auto first = parse_port_number(range.substr(0, dash), text);
    if (!first) return tl::unexpected(first.error());
    std::uint16_t last = *first;
    if (dash != std::string_view::npos) {
        auto parsed_last = parse_port_number(range.substr(dash + 1), text);
        if (!parsed_last) return tl::unexpected(parsed_last.error());
        last = *parsed_last;
        if (last < *first)
            return fail("reversed port range " + in_quotes(text) + " (expected N-M with N <= M; did you mean " +
                        protocol + "/" + std::to_string(last) + "-" + std::to_string(*first) + "?)");
    }
    spec.ports = PortRange{*first, last};
    return spec;
}

std::string format_port_spec(const PortSpec& spec) {
    std::string out(protocol_name(spec.protocol));
    if (spec.ports) {
        out += "/" + std::to_string(spec.ports->first);
        if (spec.ports->last != spec.ports->first) out += "-" + std::to_string(spec.ports->last);
    }
    return out;
}

bool ports_overlap(const PortSpec& a, const PortSpec& b) {
    if (a.protocol != b.protocol) return false;
    if (!a.ports || !b.ports) return !a.ports && !b.ports;
    return a.ports->first <= b.ports->last && b.ports->first <= a.ports->last;
}

Result<std::uint32_t> check_duration_seconds(std::int64_t seconds) {
    if (seconds < 1)
        return fail("duration " + std::to_string(seconds) + " is not positive (expected at least 1 second)");
    if (seconds > static_cast<std::int64_t>(kMaxDurationSeconds))
        return fail("duration of " + std::to_string(seconds) +
                    " seconds is longer than the maximum of 365d (31536000 seconds)");
    return static_cast<std::uint32_t>(seconds);
}

Result<std::uint32_t> parse_duration(std::string_view text) {
    const std::string expected =
        " (expected a number with a unit: \"30s\", \"5m\", \"1h\", \"7d\", \"1h30m\", or integer seconds)";
    if (text.empty()) return fail("empty duration" + expected);
    std::uint64_t bare = 0;
    if (parse_unsigned(text, bare))
        return check_duration_seconds(bare > kMaxDurationSeconds ? std::int64_t{kMaxDurationSeconds} + 1
                                                                 : static_cast<std::int64_t>(bare));
    std::uint64_t total = 0;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t digits_end = at;
        while (digits_end < text.size() && std::isdigit(static_cast<unsigned char>(text[digits_end])))
            ++digits_end;
        if (digits_end == at || digits_end == text.size())
            return fail("bad duration " + in_quotes(text) + expected);
        std::uint64_t amount = 0;
        if (!parse_unsigned(text.substr(at, digits_end - at), amount) || amount > kMaxDurationSeconds)
            return fail("duration " + in_quotes(text) + " is longer than the maximum of 365d");
        std::uint64_t unit = 0;
        switch (text[digits_end]) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            default:
                return fail("unknown unit '" + std::string(1, text[digits_end]) + "' in duration " +
                            in_quotes(text) + expected);
        }
        total += amount * unit;
        if (total > kMaxDurationSeconds)
            return fail("duration " + in_quotes(text) + " is longer than the maximum of 365d");
        at = digits_end + 1;
    }
    return check_duration_seconds(static_cast<std::int64_t>(total));
}

Result<std::string> check_service_name(std::string_view name) {
    const std::string expected =
        " (expected 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit)";
    if (name.empty()) return fail("empty service name" + expected);
    if (name.size() > 32)
        return fail("service name " + in_quotes(name) + " is " + std::to_string(name.size()) +
                    " characters long" + expected);
    auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    };
    if (name.front() == '_' || name.front() == '-')
        return fail("service name " + in_quotes(name) + " starts with '" + std::string(1, name.front()) +
                    "'" + expected);
    for (char c : name) {
        if (allowed(c)) continue;
        std::string lower = lowercase(name);
        if (std::all_of(lower.begin(), lower.end(), allowed))
            return fail("service name " + in_quotes(name) + " has upper-case letters" + expected +
                        "; did you mean " + in_quotes(lower) + "?");
        return fail("service name " + in_quotes(name) + " contains '" + std::string(1, c) + "'" + expected);
    }
    return std::string(name);
}

Result<std::string> check_interface_name(std::string_view name) {
    const std::string expected = " (expected a Linux interface name: 1-15 characters, no spaces, '/' or ':')";
    if (name.empty()) return fail("empty interface name" + expected);
    if (name.size() > 15)
        return fail("interface name " + in_quotes(name) + " is " + std::to_string(name.size()) +
                    " characters long" + expected);
    if (name == "." || name == "..") return fail("interface name " + in_quotes(name) + " is not allowed" + expected);
    for (char c : name) {
        if (c == '/' || c == ':' || c == '"' || c == '\\' || std::isspace(static_cast<unsigned char>(c)) ||
            !std::isprint(static_cast<unsigned char>(c)))
            return fail("interface name " + in_quotes(name) + " contains a forbidden character" + expected);
    }
    return std::string(name);
}

Result<ForwardTarget> parse_forward_target(std::string_view text) {
    const std::string expected =
        " (expected \"192.0.2.10\", \"192.0.2.10:8443\", \"2001:db8::10\" or \"[2001:db8::10]:8443\")";
    std::string_view address_text = text;
    std::string_view port_text;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            return fail("forward target " + in_quotes(text) + " has no closing ']'" + expected);
        address_text = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return fail("forward target " + in_quotes(text) + " has text after ']' that is not :port" + expected);
            port_text = rest.substr(1);
            has_port = true;
        }
        if (address_text.find(':') == std::string_view::npos)
            return fail("forward target " + in_quotes(text) +
                        ": brackets are only for IPv6 addresses (write 192.0.2.10:8443)");
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        address_text = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        has_port = true;
    }
    if (address_text.find('/') != std::string_view::npos)
        return fail("forward target " + in_quotes(text) + " is a prefix; expected a single address" + expected);
    auto address = Address::parse(address_text);
    if (!address) return fail("forward target " + in_quotes(text) + ": " + address.error().message + expected);

    const auto& b = address->bytes;
    bool unspecified = std::all_of(b.begin(), b.begin() + (address->family == Family::ipv4 ? 4 : 16),
                                   [](std::uint8_t x) { return x == 0; });
    bool loopback = address->family == Family::ipv4
                        ? b[0] == 127
                        : std::all_of(b.begin(), b.begin() + 15, [](std::uint8_t x) { return x == 0; }) && b[15] == 1;
    bool multicast = address->family == Family::ipv4 ? (b[0] >= 224 && b[0] <= 239) : b[0] == 0xff;
    bool broadcast = address->family == Family::ipv4 && b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255;
    if (unspecified || loopback || multicast || broadcast)
        return fail("forward target " + in_quotes(text) + " is " +
                    (unspecified ? "the unspecified address"
                     : loopback  ? "a loopback address"
                     : multicast ? "a multicast address"
                                 : "the broadcast address") +
                    " (expected the unicast address of the VPN server)");

    ForwardTarget target{*address, std::nullopt};
    if (has_port) {
        std::uint64_t port = 0;
        if (!parse_unsigned(port_text, port) || port < 1 || port > 65535)
            return fail("forward target " + in_quotes(text) + " has a bad port " + in_quotes(port_text) +
                        " (expected 1-65535)");
        target.port = static_cast<std::uint16_t>(port);
    }
    return target;
}

std::string format_forward_target(const ForwardTarget& target) {
    std::string address = target.address.to_string();
    if (!target.port) return address;
    if (target.address.family == Family::ipv6) return "[" + address + "]:" + std::to_string(*target.port);
    return address + ":" + std::to_string(*target.port);
}

}  // namespace portcullis::policy
