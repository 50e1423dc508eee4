#pragma once
// Shared helpers for the dissector fuzz targets: every accessor is called and its result folded
// into a sink, so the compiler cannot drop the reads and the sanitizers see every byte touched.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.hpp"

namespace portcullis::fuzz {

inline volatile std::uint64_t sink = 0;

template <typename T>
inline void use(const T& value) {
    sink = sink + static_cast<std::uint64_t>(value);
}

template <typename T>
inline void use(const std::optional<T>& value) {
    if (value) use(*value);
}

inline void use(Bytes bytes) {
    std::uint64_t sum = bytes.size();
    for (auto b : bytes) sum += static_cast<std::uint8_t>(b);
    sink = sink + sum;
}

inline Bytes input(const std::uint8_t* data, std::size_t size) {
    return as_bytes(data, size);
}

}  // namespace portcullis::fuzz
