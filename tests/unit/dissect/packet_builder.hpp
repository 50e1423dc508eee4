#pragma once
// Fluent builder for test packets, outermost layer first:
//   PacketBuilder().ethernet().ipv4("192.0.2.1", "198.51.100.2").udp(500, 500)
//       .ike(IkeBuilder::v2(...).notify_v2(14)).frame()
// Length, protocol and ethertype fields are filled in when the packet is rendered.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/net.hpp"

namespace portcullis::dissect::testing {

using Buffer = std::vector<std::uint8_t>;

inline void put8(Buffer& out, std::uint64_t value) { out.push_back(static_cast<std::uint8_t>(value)); }
inline void put16(Buffer& out, std::uint64_t value) {
    put8(out, value >> 8);
    put8(out, value);
}
inline void put32(Buffer& out, std::uint64_t value) {
    put16(out, value >> 16);
    put16(out, value);
}
inline void put64(Buffer& out, std::uint64_t value) {
    put32(out, value >> 32);
    put32(out, value);
}
inline void put(Buffer& out, const Buffer& more) { out.insert(out.end(), more.begin(), more.end()); }
inline void set16(Buffer& out, std::size_t offset, std::uint64_t value) {
    out[offset] = static_cast<std::uint8_t>(value >> 8);
    out[offset + 1] = static_cast<std::uint8_t>(value);
}
inline Buffer repeat(std::uint8_t byte, std::size_t count) { return Buffer(count, byte); }

inline std::vector<std::byte> to_bytes(const Buffer& buffer) {
    std::vector<std::byte> out(buffer.size());
    for (std::size_t i = 0; i < buffer.size(); ++i) out[i] = static_cast<std::byte>(buffer[i]);
    return out;
}

inline Buffer address_bytes(const std::string& text) {
    auto parsed = Address::parse(text);
    Buffer out;
    if (!parsed) return out;
    std::size_t width = parsed->family == Family::ipv4 ? 4 : 16;
    out.assign(parsed->bytes.begin(), parsed->bytes.begin() + static_cast<long>(width));
    return out;
}

// ---- IKE ----

struct IkeTransform {
    std::uint8_t type = 0;  // IKEv2 transform type; unused for IKEv1
    std::uint16_t id = 0;
    Buffer attributes;
    // IKEv2 helpers
    static IkeTransform v2(std::uint8_t type, std::uint16_t id, int key_length = 0) {
        IkeTransform t{type, id, {}};
        if (key_length) t.tv(14, static_cast<std::uint16_t>(key_length));
        return t;
    }
    IkeTransform& tv(std::uint16_t attribute, std::uint16_t value) {
        put16(attributes, 0x8000u | attribute);
        put16(attributes, value);
        return *this;
    }
    IkeTransform& tlv(std::uint16_t attribute, const Buffer& value) {
        put16(attributes, attribute);
        put16(attributes, value.size());
        put(attributes, value);
        return *this;
    }
};

struct IkeProposal {
    std::uint8_t number = 1;
    std::uint8_t protocol = 1;
    Buffer spi;
    std::vector<IkeTransform> transforms;
};

class IkeBuilder {
public:
    static IkeBuilder v2(std::uint8_t exchange, std::uint64_t ispi = 0x1122334455667788ull,
                         std::uint64_t rspi = 0, std::uint8_t flags = 0x08) {
        IkeBuilder b;
        b.version_ = 0x20;
        b.exchange_ = exchange;
        b.ispi_ = ispi;
        b.rspi_ = rspi;
        b.flags_ = flags;
        return b;
    }
    static IkeBuilder v1(std::uint8_t exchange, std::uint64_t ispi = 0x1122334455667788ull,
                         std::uint64_t rspi = 0, std::uint8_t flags = 0) {
        IkeBuilder b = v2(exchange, ispi, rspi, flags);
        b.version_ = 0x10;
        return b;
    }
    IkeBuilder& message_id(std::uint32_t id) { message_id_ = id; return *this; }
    IkeBuilder& length_override(std::uint32_t length) { length_override_ = length; return *this; }
    IkeBuilder& next_payload_override(std::uint8_t type) { first_override_ = type; return *this; }

    IkeBuilder& payload(std::uint8_t type, Buffer body, std::uint8_t flags = 0) {
        payloads_.push_back({type, std::move(body), flags});
        return *this;
    }
    IkeBuilder& sa(const std::vector<IkeProposal>& proposals) {
        bool v2 = version_ == 0x20;
        Buffer body;
        if (!v2) {
            put32(body, 1);  // DOI IPsec
            put32(body, 1);  // SIT_IDENTITY_ONLY
        }
        for (std::size_t p = 0; p < proposals.size(); ++p) {
            const auto& proposal = proposals[p];
            Buffer transforms;
            for (std::size_t t = 0; t < proposal.transforms.size(); ++t) {
                const auto& tr = proposal.transforms[t];
                Buffer one;
                put8(one, t + 1 == proposal.transforms.size() ? 0 : 3);
                put8(one, 0);
                put16(one, 8 + tr.attributes.size());
                if (v2) {
                    put8(one, tr.type);
                    put8(one, 0);
                    put16(one, tr.id);
                } else {
                    put8(one, t + 1);
                    put8(one, tr.id);
                    put16(one, 0);
                }
                put(one, tr.attributes);
                put(transforms, one);
            }
            put8(body, p + 1 == proposals.size() ? 0 : 2);
            put8(body, 0);
            put16(body, 8 + proposal.spi.size() + transforms.size());
            put8(body, proposal.number);
            put8(body, proposal.protocol);
            put8(body, proposal.spi.size());
            put8(body, proposal.transforms.size());
            put(body, proposal.spi);
            put(body, transforms);
        }
        return payload(v2 ? 33 : 1, body);
    }
    IkeBuilder& ke_v2(std::uint16_t group, std::size_t key_size = 32) {
        Buffer body;
        put16(body, group);
        put16(body, 0);
        put(body, repeat(0xab, key_size));
        return payload(34, body);
    }
    IkeBuilder& notify_v2(std::uint16_t type, Buffer data = {}, std::uint8_t protocol = 0,
                          Buffer spi = {}) {
        Buffer body;
        put8(body, protocol);
        put8(body, spi.size());
        put16(body, type);
        put(body, spi);
        put(body, data);
        return payload(41, body);
    }
    IkeBuilder& notify_v1(std::uint16_t type, Buffer data = {}, std::uint8_t protocol = 1,
                          Buffer spi = repeat(0x11, 16)) {
        Buffer body;
        put32(body, 1);
        put8(body, protocol);
        put8(body, spi.size());
        put16(body, type);
        put(body, spi);
        put(body, data);
        return payload(11, body);
    }
    IkeBuilder& vendor(const Buffer& id) { return payload(version_ == 0x20 ? 43 : 13, id); }
    IkeBuilder& nonce(std::size_t size = 32) { return payload(version_ == 0x20 ? 40 : 10, repeat(0x4e, size)); }
    IkeBuilder& encrypted_v2(std::uint8_t inner_first, std::size_t size = 48) {
        inner_first_ = inner_first;
        return payload(46, repeat(0xee, size));
    }
    IkeBuilder& fragment_v2(std::uint16_t number, std::uint16_t total, std::size_t size = 32) {
        Buffer body;
        put16(body, number);
        put16(body, total);
        put(body, repeat(0xef, size));
        return payload(53, body);
    }
    IkeBuilder& fragment_v1(std::uint16_t id, std::uint8_t number, bool last, std::size_t size = 32) {
        Buffer body;
        put16(body, id);
        put8(body, number);
        put8(body, last ? 1 : 0);
        put(body, repeat(0xef, size));
        return payload(132, body);
    }
    IkeBuilder& delete_v2(std::uint8_t protocol, const std::vector<std::uint32_t>& spis) {
        Buffer body;
        put8(body, protocol);
        put8(body, protocol == 1 ? 0 : 4);
        put16(body, spis.size());
        if (protocol != 1)
            for (auto spi : spis) put32(body, spi);
        return payload(42, body);
    }

    Buffer bytes() const {
        Buffer body;
        for (std::size_t i = 0; i < payloads_.size(); ++i) {
            const auto& p = payloads_[i];
            std::uint8_t next = i + 1 < payloads_.size() ? payloads_[i + 1].type : 0;
            if (p.type == 46) next = inner_first_;
            put8(body, next);
            put8(body, p.flags);
            put16(body, 4 + p.body.size());
            put(body, p.body);
        }
        Buffer out;
        put64(out, ispi_);
        put64(out, rspi_);
        put8(out, first_override_ >= 0 ? first_override_ : (payloads_.empty() ? 0 : payloads_[0].type));
        put8(out, version_);
        put8(out, exchange_);
        put8(out, flags_);
        put32(out, message_id_);
        put32(out, length_override_ ? length_override_ : 28 + body.size());
        put(out, body);
        return out;
    }

private:
    struct RawPayload {
        std::uint8_t type;
        Buffer body;
        std::uint8_t flags;
    };
    std::uint8_t version_ = 0x20, exchange_ = 34, flags_ = 0, inner_first_ = 0;
    std::uint64_t ispi_ = 0, rspi_ = 0;
    std::uint32_t message_id_ = 0, length_override_ = 0;
    int first_override_ = -1;
    std::vector<RawPayload> payloads_;
};

// ---- L2TP ----

class L2tpBuilder {
public:
    static L2tpBuilder control(std::uint16_t tunnel, std::uint16_t session = 0, std::uint16_t ns = 0,
                               std::uint16_t nr = 0) {
        L2tpBuilder b;
        b.control_ = true;
        b.tunnel_ = tunnel;
        b.session_ = session;
        b.ns_ = ns;
        b.nr_ = nr;
        return b;
    }
    static L2tpBuilder data(std::uint16_t tunnel, std::uint16_t session, Buffer ppp) {
        L2tpBuilder b;
        b.tunnel_ = tunnel;
        b.session_ = session;
        b.body_ = std::move(ppp);
        return b;
    }
    L2tpBuilder& avp(std::uint16_t type, const Buffer& value, bool mandatory = true,
                     bool hidden = false, std::uint16_t vendor = 0) {
        put16(body_, (mandatory ? 0x8000u : 0u) | (hidden ? 0x4000u : 0u) | (6 + value.size()));
        put16(body_, vendor);
        put16(body_, type);
        put(body_, value);
        return *this;
    }
    L2tpBuilder& message_type(std::uint16_t type) {
        Buffer value;
        put16(value, type);
        return avp(0, value);
    }
    L2tpBuilder& result_code(std::uint16_t result, int error = -1) {
        Buffer value;
        put16(value, result);
        if (error >= 0) put16(value, static_cast<std::uint16_t>(error));
        return avp(1, value);
    }
    L2tpBuilder& raw(const Buffer& bytes) { put(body_, bytes); return *this; }
    Buffer bytes() const {
        Buffer out;
        if (control_) {
            put16(out, 0xc802);
            put16(out, 12 + body_.size());
            put16(out, tunnel_);
            put16(out, session_);
            put16(out, ns_);
            put16(out, nr_);
        } else {
            put16(out, 0x0002);
            put16(out, tunnel_);
            put16(out, session_);
        }
        put(out, body_);
        return out;
    }

private:
    bool control_ = false;
    std::uint16_t tunnel_ = 0, session_ = 0, ns_ = 0, nr_ = 0;
    Buffer body_;
};

// ---- PPTP ----

// A control message of the RFC 2637 size for `type`, with 16-bit fields set at body offsets
// (offsets count from the start of the message, as in RFC 2637's figures).
inline Buffer pptp_message(std::uint16_t type,
                           std::initializer_list<std::pair<std::size_t, std::uint16_t>> fields16 = {},
                           std::initializer_list<std::pair<std::size_t, std::uint8_t>> fields8 = {}) {
    static constexpr std::array<std::uint16_t, 16> kLength = {12, 156, 156, 16, 16, 16, 20, 168,
                                                              32, 220, 24, 28, 16, 148, 40, 24};
    Buffer out(type < kLength.size() ? kLength[type] : 16, 0);
    set16(out, 0, out.size());
    set16(out, 2, 1);
    out[4] = 0x1a; out[5] = 0x2b; out[6] = 0x3c; out[7] = 0x4d;
    set16(out, 8, type);
    for (auto [offset, value] : fields16) set16(out, offset, value);
    for (auto [offset, value] : fields8) out[offset] = value;
    return out;
}

// ---- the packet ----

struct Ipv4Options {
    std::uint16_t id = 0x1234;
    std::uint16_t fragment_offset_bytes = 0;
    bool more_fragments = false;
    std::uint8_t ttl = 64;
    Buffer options;
    int protocol = -1;  // override
    int total_length = -1;
};


class PacketBuilder {
public:
    // Link layers
    PacketBuilder& ethernet(int vlan = -1) {
        return layer(0, [vlan](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put(out, {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1});
            if (vlan >= 0) {
                put16(out, 0x8100);
                put16(out, vlan);
            }
            put16(out, (!inner.empty() && (inner[0] >> 4) == 6) ? 0x86dd : 0x0800);
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& sll() {
        return layer(0, [](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put16(out, 0);      // to us
            put16(out, 1);      // ARPHRD_ETHER
            put16(out, 6);
            put(out, {0x02, 0, 0, 0, 0, 2, 0, 0});
            put16(out, (!inner.empty() && (inner[0] >> 4) == 6) ? 0x86dd : 0x0800);
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& sll2() {
        return layer(0, [](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put16(out, (!inner.empty() && (inner[0] >> 4) == 6) ? 0x86dd : 0x0800);
            put16(out, 0);
            put32(out, 2);      // ifindex
            put16(out, 1);      // ARPHRD_ETHER
            put8(out, 4);       // outgoing
            put8(out, 6);
            put(out, {0x02, 0, 0, 0, 0, 2, 0, 0});
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& nflog(std::uint16_t group = 5) {
        return layer(0, [group](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put8(out, 2);
            put8(out, 0);
            put16(out, group);
            // NFULA_PREFIX TLV ("pc\0", padded), then NFULA_PAYLOAD; little-endian TLV headers.
            put(out, {8, 0, 10, 0, 'p', 'c', 0, 0});
            std::size_t length = 4 + inner.size();
            put8(out, length & 0xff);
            put8(out, length >> 8);
            put(out, {9, 0});
            put(out, inner);
            while (out.size() % 4) put8(out, 0);
            return out;
        });
    }
    PacketBuilder& null_loopback() {
        return layer(0, [](const Buffer& inner, std::uint8_t) {
            Buffer out = {2, 0, 0, 0};
            put(out, inner);
            return out;
        });
    }

    // Network
    using Ipv4Options = testing::Ipv4Options;
    PacketBuilder& ipv4(const std::string& source, const std::string& destination,
                        Ipv4Options options = {}) {
        Buffer src = address_bytes(source), dst = address_bytes(destination);
        return layer(4, [=](const Buffer& inner, std::uint8_t next) {
            Buffer out;
            std::size_t header = 20 + options.options.size();
            put8(out, 0x40 | (header / 4));
            put8(out, 0);
            put16(out, options.total_length >= 0 ? static_cast<std::size_t>(options.total_length)
                                                 : header + inner.size());
            put16(out, options.id);
            put16(out, (options.more_fragments ? 0x2000 : 0) | (options.fragment_offset_bytes / 8));
            put8(out, options.ttl);
            put8(out, options.protocol >= 0 ? options.protocol : next);
            put16(out, 0);
            put(out, src);
            put(out, dst);
            put(out, options.options);
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& ipv6(const std::string& source, const std::string& destination,
                        std::uint8_t hop_limit = 64) {
        Buffer src = address_bytes(source), dst = address_bytes(destination);
        return layer(41, [=](const Buffer& inner, std::uint8_t next) {
            Buffer out;
            put32(out, 0x60000000);
            put16(out, inner.size());
            put8(out, next);
            put8(out, hop_limit);
            put(out, src);
            put(out, dst);
            put(out, inner);
            return out;
        });
    }
    // IPv6 extension headers (hop-by-hop 0, routing 43, destination options 60).
    PacketBuilder& ipv6_extension(std::uint8_t type, std::size_t units = 0) {
        return layer(type, [=](const Buffer& inner, std::uint8_t next) {
            Buffer out;
            put8(out, next);
            put8(out, units);
            put(out, repeat(type == 43 ? 0 : 1, 6 + units * 8));
            if (type != 43) {  // PadN option filling the header
                out[2] = 1;
                out[3] = static_cast<std::uint8_t>(4 + units * 8);
            }
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& ipv6_fragment(std::uint32_t id, std::uint16_t offset_bytes, bool more) {
        return layer(44, [=](const Buffer& inner, std::uint8_t next) {
            Buffer out;
            put8(out, next);
            put8(out, 0);
            put16(out, (offset_bytes & 0xfff8) | (more ? 1 : 0));
            put32(out, id);
            put(out, inner);
            return out;
        });
    }

    // Transport
    PacketBuilder& udp(std::uint16_t source_port, std::uint16_t destination_port, int length = -1) {
        return layer(17, [=](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put16(out, source_port);
            put16(out, destination_port);
            put16(out, length >= 0 ? static_cast<std::size_t>(length) : 8 + inner.size());
            put16(out, 0);
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& tcp(std::uint16_t source_port, std::uint16_t destination_port,
                       std::uint8_t flags = 0x18, std::uint32_t seq = 1000, std::uint32_t ack = 2000,
                       Buffer options = {}) {
        return layer(6, [=](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put16(out, source_port);
            put16(out, destination_port);
            put32(out, seq);
            put32(out, ack);
            put8(out, ((20 + options.size()) / 4) << 4);
            put8(out, flags);
            put16(out, 65535);
            put16(out, 0);
            put16(out, 0);
            put(out, options);
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest = 0) {
        return layer(1, [=](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put8(out, type);
            put8(out, code);
            put16(out, 0);
            put32(out, rest);
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& icmpv6(std::uint8_t type, std::uint8_t code, std::uint32_t rest = 0) {
        icmp(type, code, rest);
        layers_.back().protocol = 58;
        return *this;
    }

    // Tunnels
    PacketBuilder& gre(std::uint16_t protocol = 0x0800, int key = -1) {
        return layer(47, [=](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put16(out, key >= 0 ? 0x2000 : 0);
            put16(out, protocol);
            if (key >= 0) put32(out, static_cast<std::uint32_t>(key));
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& gre_enhanced(std::uint16_t call_id, int sequence = -1, int ack = -1) {
        return layer(47, [=](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put16(out, 0x2001 | (sequence >= 0 ? 0x1000 : 0) | (ack >= 0 ? 0x0080 : 0));
            put16(out, 0x880b);
            put16(out, inner.size());
            put16(out, call_id);
            if (sequence >= 0) put32(out, static_cast<std::uint32_t>(sequence));
            if (ack >= 0) put32(out, static_cast<std::uint32_t>(ack));
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& esp(std::uint32_t spi, std::uint32_t sequence, std::size_t payload = 32) {
        return layer(50, [=](const Buffer& inner, std::uint8_t) {
            Buffer out;
            put32(out, spi);
            put32(out, sequence);
            put(out, repeat(0xcc, payload));
            put(out, inner);
            return out;
        });
    }
    PacketBuilder& non_esp_marker() { return raw({0, 0, 0, 0}); }
    PacketBuilder& ike(const IkeBuilder& message) { return raw(message.bytes()); }
    PacketBuilder& l2tp(const L2tpBuilder& message) { return raw(message.bytes()); }
    PacketBuilder& raw(const Buffer& bytes) {
        return layer(59, [bytes](const Buffer& inner, std::uint8_t) {
            Buffer out = bytes;
            put(out, inner);
            return out;
        });
    }

    Buffer bytes() const {
        Buffer inner;
        for (std::size_t i = layers_.size(); i-- > 0;) {
            std::uint8_t next = i + 1 < layers_.size() ? layers_[i + 1].protocol : 59;
            inner = layers_[i].render(inner, next);
        }
        return inner;
    }
    std::vector<std::byte> frame() const { return to_bytes(bytes()); }

private:
    using Render = std::function<Buffer(const Buffer&, std::uint8_t)>;
    struct Layer {
        std::uint8_t protocol;  // what the enclosing IP header's protocol field should say
        Render render;
    };
    PacketBuilder& layer(std::uint8_t protocol, Render render) {
        layers_.push_back({protocol, std::move(render)});
        return *this;
    }
    std::vector<Layer> layers_;
};

}  // namespace portcullis::dissect::testing
