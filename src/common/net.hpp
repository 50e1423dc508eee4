#pragma once
// IPv4/IPv6 addresses and prefixes as plain values: parsed strictly, printed canonically.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis {

enum class Family : std::uint8_t { ipv4 = 4, ipv6 = 6 };

struct Address {
    Family family = Family::ipv4;
    std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

    static Result<Address> parse(std::string_view text);
    std::string to_string() const;
    std::size_t width_bits() const { return family == Family::ipv4 ? 32 : 128; }
    auto operator<=>(const Address&) const = default;
};

struct Prefix {
    Address address;  // host bits are zero (parse rejects prefixes with host bits set)
    std::uint8_t length = 0;

    // "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
    static Result<Prefix> parse(std::string_view text);
    std::string to_string() const;
    bool contains(const Address& candidate) const;
    bool is_host() const { return length == address.width_bits(); }
    auto operator<=>(const Prefix&) const = default;
};

}  // namespace portcullis
