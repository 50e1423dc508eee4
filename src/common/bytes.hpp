#pragma once
// Bounds-checked big-endian readers over byte spans. Packet fields are always read through
// these: memcpy-based (no alignment or aliasing assumptions) and returning nullopt past the end.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace portcullis {

using Bytes = std::span<const std::byte>;

inline std::optional<std::uint8_t> read_u8(Bytes data, std::size_t offset) {
    if (offset >= data.size()) return std::nullopt;
    return static_cast<std::uint8_t>(data[offset]);
}

inline std::optional<std::uint16_t> read_be16(Bytes data, std::size_t offset) {
    if (offset > data.size() || data.size() - offset < 2) return std::nullopt;
    unsigned char raw[2];
    std::memcpy(raw, data.data() + offset, 2);
    return static_cast<std::uint16_t>((raw[0] << 8) | raw[1]);
}

inline std::optional<std::uint32_t> read_be32(Bytes data, std::size_t offset) {
    if (offset > data.size() || data.size() - offset < 4) return std::nullopt;
    unsigned char raw[4];
    std::memcpy(raw, data.data() + offset, 4);
    return (std::uint32_t{raw[0]} << 24) | (std::uint32_t{raw[1]} << 16) |
           (std::uint32_t{raw[2]} << 8) | std::uint32_t{raw[3]};
}

inline std::optional<std::uint64_t> read_be64(Bytes data, std::size_t offset) {
    auto high = read_be32(data, offset);
    auto low = read_be32(data, offset + 4);
    if (!high || !low) return std::nullopt;
    return (std::uint64_t{*high} << 32) | *low;
}

// A sub-span, or nullopt when [offset, offset+length) does not fit.
inline std::optional<Bytes> slice(Bytes data, std::size_t offset, std::size_t length) {
    if (offset > data.size() || data.size() - offset < length) return std::nullopt;
    return data.subspan(offset, length);
}

inline Bytes as_bytes(const void* data, std::size_t size) {
    return {static_cast<const std::byte*>(data), size};
}

}  // namespace portcullis
