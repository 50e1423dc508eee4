#include "common/net.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace portcullis {

Result<Address> Address::parse(std::string_view text) {
    std::string owned(text);
    Address out;
    if (owned.find(':') != std::string::npos) {
        in6_addr raw{};
        if (inet_pton(AF_INET6, owned.c_str(), &raw) != 1)
            return fail("'" + owned + "' is not an IPv6 address");
        out.family = Family::ipv6;
        std::memcpy(out.bytes.data(), &raw, 16);
        return out;
    }
    in_addr raw{};
    if (inet_pton(AF_INET, owned.c_str(), &raw) != 1)
        return fail("'" + owned + "' is not an IPv4 address (expected a.b.c.d)");
    out.family = Family::ipv4;
    std::memcpy(out.bytes.data(), &raw, 4);
    return out;
}

std::string Address::to_string() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (family == Family::ipv4) {
        inet_ntop(AF_INET, bytes.data(), buffer, sizeof buffer);
    } else {
        inet_ntop(AF_INET6, bytes.data(), buffer, sizeof buffer);
    }
    return buffer;
}

Result<Prefix> Prefix::parse(std::string_view text) {
    auto slash = text.find('/');
    auto address = Address::parse(text.substr(0, slash));
    if (!address) return tl::unexpected(address.error());
    Prefix out{*address, static_cast<std::uint8_t>(address->width_bits())};
    if (slash == std::string_view::npos) return out;

    auto length_text = text.substr(slash + 1);
    unsigned length = 0;
    auto [end, ec] =
        std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    if (ec != std::errc{} || end != length_text.data() + length_text.size() || length_text.empty() ||
        length > address->width_bits()) {
        return fail("'" + std::string(text) + "' has a bad prefix length (expected 0-" +
                    std::to_string(address->width_bits()) + ")");
    }
    out.length = static_cast<std::uint8_t>(length);
    for (unsigned bit = length; bit < address->width_bits(); ++bit) {
        if (address->bytes[bit / 8] & (0x80u >> (bit % 8))) {
            Prefix network = out;
            for (unsigned b = length; b < address->width_bits(); ++b)
                network.address.bytes[b / 8] &= static_cast<std::uint8_t>(~(0x80u >> (b % 8)));
            return fail("'" + std::string(text) + "' has host bits set (did you mean " +
                        network.to_string() + "?)");
        }
    }
    return out;
}

std::string Prefix::to_string() const {
    return address.to_string() + "/" + std::to_string(length);
}

bool Prefix::contains(const Address& candidate) const {
    if (candidate.family != address.family) return false;
    for (unsigned bit = 0; bit < length; ++bit) {
        auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
        if ((candidate.bytes[bit / 8] & mask) != (address.bytes[bit / 8] & mask)) return false;
    }
    return true;
}

}  // namespace portcullis
