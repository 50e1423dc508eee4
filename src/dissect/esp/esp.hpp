#pragma once
#include <cstdint>

#include "dissect/anomaly.hpp"

namespace portcullis::dissect::esp {

class Packet {
public:
    // SPI 0 is reserved (and is the non-ESP marker on UDP 4500), so it is rejected.
    static Parsed<Packet> parse(Bytes data);
    static bool valid(Bytes data) { return parse(data).has_value(); }

    std::uint32_t spi() const { return spi_; }
    std::uint32_t sequence() const { return sequence_; }
    Bytes encrypted() const { return encrypted_; }  // IV, payload, padding, ICV: opaque

private:
    std::uint32_t spi_ = 0, sequence_ = 0;
    Bytes encrypted_;
};

}  // namespace portcullis::dissect::esp
