#pragma once
// Test-only pcap/pcapng reader (pc_dissect itself never reads files, and unit_dissect links only
// pc_dissect). Enough of both formats for the shared captures: every interface's link type, both
// byte orders, enhanced/simple/obsolete packet blocks.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace portcullis::dissect::testing {

struct CapturedPacket {
    std::size_t frame_number = 0;  // 1-based, as tshark numbers frames
    std::uint32_t link_type = 0;
    std::vector<std::byte> data;
    Bytes bytes() const { return {data.data(), data.size()}; }
};

class CaptureFile {
public:
    // Empty optional when the file cannot be read or is neither pcap nor pcapng.
    static std::optional<std::vector<CapturedPacket>> read(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return std::nullopt;
        std::vector<unsigned char> raw((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
        CaptureFile file(std::move(raw));
        return file.parse();
    }

private:
    explicit CaptureFile(std::vector<unsigned char> raw) : raw_(std::move(raw)) {}

    std::optional<std::uint32_t> u32(std::size_t offset) const {
        if (offset + 4 > raw_.size()) return std::nullopt;
        std::uint32_t value;
        std::memcpy(&value, raw_.data() + offset, 4);
        if (swapped_) value = __builtin_bswap32(value);
        return value;
    }
    std::optional<std::uint16_t> u16(std::size_t offset) const {
        if (offset + 2 > raw_.size()) return std::nullopt;
        std::uint16_t value;
        std::memcpy(&value, raw_.data() + offset, 2);
        if (swapped_) value = __builtin_bswap16(value);
        return value;
    }
    bool append(std::vector<CapturedPacket>& out, std::uint32_t link_type, std::size_t offset,
                std::size_t length) const {
        if (offset > raw_.size() || raw_.size() - offset < length) return false;
        CapturedPacket packet;
        packet.frame_number = out.size() + 1;
        packet.link_type = link_type;
        packet.data.resize(length);
        if (length) std::memcpy(packet.data.data(), raw_.data() + offset, length);
        out.push_back(std::move(packet));
        return true;
    }

    std::optional<std::vector<CapturedPacket>> parse() {
        auto magic = u32(0);
        if (!magic) return std::nullopt;
        if (*magic == 0x0a0d0d0a) return parse_pcapng();
        if (*magic == 0xd4c3b2a1 || *magic == 0x4d3cb2a1) swapped_ = true;
        else if (*magic != 0xa1b2c3d4 && *magic != 0xa1b23c4d) return std::nullopt;
        auto link_type = u32(20);
        if (!link_type) return std::nullopt;
        std::vector<CapturedPacket> out;
        std::size_t offset = 24;
        while (offset + 16 <= raw_.size()) {
            auto captured = *u32(offset + 8);
            if (!append(out, *link_type & 0x0fffffff, offset + 16, captured)) return std::nullopt;
            offset += 16 + captured;
        }
        return out;
    }

    std::optional<std::vector<CapturedPacket>> parse_pcapng() {
        std::vector<CapturedPacket> out;
        std::vector<std::uint32_t> interfaces;
        std::size_t offset = 0;
        while (offset + 12 <= raw_.size()) {
            auto type = u32(offset);
            if (*type == 0x0a0d0d0a) {
                std::uint32_t byte_order;
                std::memcpy(&byte_order, raw_.data() + offset + 8, 4);
                swapped_ = byte_order == 0x4d3c2b1a;
                interfaces.clear();
            }
            auto length = u32(offset + 4);
            if (!length || *length < 12 || *length > raw_.size() - offset) return std::nullopt;
            std::size_t body = offset + 8;
            switch (*type) {
            case 1:  // interface description
                interfaces.push_back(*u16(body));
                break;
            case 6: {  // enhanced packet
                auto interface = *u32(body);
                auto captured = *u32(body + 12);
                if (interface >= interfaces.size()) return std::nullopt;
                if (!append(out, interfaces[interface], body + 20, captured)) return std::nullopt;
                break;
            }
            case 3: {  // simple packet: interface 0, captured = what the block holds
                if (interfaces.empty()) return std::nullopt;
                std::size_t original = *u32(body);
                std::size_t room = *length - 16;
                if (!append(out, interfaces[0], body + 4, original < room ? original : room))
                    return std::nullopt;
                break;
            }
            case 2: {  // obsolete packet block
                auto interface = *u16(body);
                auto captured = *u32(body + 12);
                if (interface >= interfaces.size()) return std::nullopt;
                if (!append(out, interfaces[interface], body + 20, captured)) return std::nullopt;
                break;
            }
            default: break;
            }
            offset += *length;
        }
        return out;
    }

    std::vector<unsigned char> raw_;
    bool swapped_ = false;
};

inline std::string shared_capture(const std::string& relative) {
    return std::string(PC_SHARED_ROOT) + "/captures/" + relative;
}

}  // namespace portcullis::dissect::testing
