#pragma once
#include <cstdint>
#include <vector>

#include "dissect/packet.hpp"
#include "packet_builder.hpp"

namespace portcullis::dissect::testing {

inline constexpr std::uint32_t kEthernet = 1;
inline constexpr std::uint32_t kRaw = 101;

// Owns the bytes so the views in a summary stay valid for the test's lifetime.
struct Frame {
    std::vector<std::byte> data;
    explicit Frame(const Buffer& buffer) : data(to_bytes(buffer)) {}
    Frame(const PacketBuilder& builder) : data(builder.frame()) {}  // NOLINT: implicit on purpose
    Bytes bytes() const { return {data.data(), data.size()}; }
    Bytes prefix(std::size_t length) const { return {data.data(), length}; }
};

inline Bytes view(const std::vector<std::byte>& data) { return {data.data(), data.size()}; }

}  // namespace portcullis::dissect::testing
