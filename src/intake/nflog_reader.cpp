#include "intake/nflog_reader.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace portcullis::intake {

namespace {

constexpr std::size_t kNetlinkHeader = 16;  // struct nlmsghdr
constexpr std::size_t kGenHeader = 4;       // struct nfgenmsg
constexpr std::uint16_t kPacketType = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;

constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// Netlink framing fields are host-endian (unlike the attribute values, which nfnetlink sends
// big-endian); read them by memcpy through the same bounds checks.
std::optional<std::uint16_t> read_host16(Bytes data, std::size_t offset) {
    auto field = slice(data, offset, 2);
    if (!field) return std::nullopt;
    std::uint16_t value;
    std::memcpy(&value, field->data(), 2);
    return value;
}
std::optional<std::uint32_t> read_host32(Bytes data, std::size_t offset) {
    auto field = slice(data, offset, 4);
    if (!field) return std::nullopt;
    std::uint32_t value;
    std::memcpy(&value, field->data(), 4);
    return value;
}

}  // namespace

const char* anomaly_name(NflogAnomaly anomaly) {
    switch (anomaly) {
        case NflogAnomaly::truncated_message: return "truncated_message";
        case NflogAnomaly::not_a_packet: return "not_a_packet";
        case NflogAnomaly::bad_attributes: return "bad_attributes";
        case NflogAnomaly::missing_payload: return "missing_payload";
        case NflogAnomaly::bad_packet_header: return "bad_packet_header";
    }
    return "unknown";
}

std::uint64_t NflogCounters::malformed() const {
    std::uint64_t total = 0;
    for (auto count : anomalies) total += count;
    return total;
}

DecodeResult decode_nflog_message(Bytes message) {
    DecodeResult result;
    auto length = read_host32(message, 0);
    auto type = read_host16(message, 4);
    if (!length || !type || *length < kNetlinkHeader + kGenHeader || *length > message.size()) {
        result.anomaly = NflogAnomaly::truncated_message;
        return result;
    }
    if (*type != kPacketType) {
        result.anomaly = NflogAnomaly::not_a_packet;
        return result;
    }
    Bytes body = message.first(*length);
    NflogPacket packet;
    packet.family = *read_u8(body, kNetlinkHeader);
    packet.group = *read_be16(body, kNetlinkHeader + 2);
    bool have_payload = false;
    std::size_t offset = kNetlinkHeader + kGenHeader;
    while (offset < body.size()) {
        auto attribute_length = read_host16(body, offset);
        auto attribute_type = read_host16(body, offset + 2);
        if (!attribute_length || !attribute_type || *attribute_length < 4 ||
            *attribute_length > body.size() - offset) {
            result.anomaly = NflogAnomaly::bad_attributes;
            return result;
        }
        Bytes value = body.subspan(offset + 4, *attribute_length - 4u);
        switch (*attribute_type & NLA_TYPE_MASK) {
            case NFULA_PACKET_HDR: {
                auto protocol = read_be16(value, 0);
                auto hook = read_u8(value, 2);
                if (!protocol || !hook) {
                    result.anomaly = NflogAnomaly::bad_packet_header;
                    return result;
                }
                packet.hw_protocol = *protocol;
                packet.hook = *hook;
                break;
            }
            case NFULA_PREFIX: {
                std::size_t end = 0;
                while (end < value.size() && value[end] != std::byte{0}) ++end;
                packet.prefix = std::string_view(reinterpret_cast<const char*>(value.data()), end);
                break;
            }
            case NFULA_IFINDEX_INDEV:
            case NFULA_IFINDEX_OUTDEV: {
                auto index = read_be32(value, 0);
                if (!index || value.size() != 4) {
                    result.anomaly = NflogAnomaly::bad_packet_header;
                    return result;
                }
                ((*attribute_type & NLA_TYPE_MASK) == NFULA_IFINDEX_INDEV ? packet.in_ifindex
                                                                          : packet.out_ifindex) = *index;
                break;
            }
            case NFULA_HWADDR: {
                auto address_length = read_be16(value, 0);
                auto address = slice(value, 4, 8);
                if (!address_length || !address) {
                    result.anomaly = NflogAnomaly::bad_packet_header;
                    return result;
                }
                std::array<std::uint8_t, 8> bytes{};
                std::memcpy(bytes.data(), address->data(), 8);
                packet.hw_address = bytes;
                packet.hw_address_length = std::min<std::uint16_t>(*address_length, 8);
                break;
            }
            case NFULA_SEQ: {
                auto seq = read_be32(value, 0);
                if (!seq) {
                    result.anomaly = NflogAnomaly::bad_packet_header;
                    return result;
                }
                packet.seq = *seq;
                break;
            }
            case NFULA_PAYLOAD:
                packet.payload = value;
                have_payload = true;
                break;
            default:
                break;  // attributes we do not use (timestamps, uid, conntrack, ...)
        }
        offset += align4(*attribute_length);
    }
    if (!have_payload) {
        result.anomaly = NflogAnomaly::missing_payload;
        return result;
    }
    result.packet = packet;
    return result;
}

void NflogDispatcher::remove_observer(PacketObserver* observer) {
    observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

void NflogDispatcher::feed(Bytes datagram) {
    std::size_t offset = 0;
    while (datagram.size() - offset >= kNetlinkHeader) {
        Bytes rest = datagram.subspan(offset);
        auto length = read_host32(rest, 0);
        auto type = read_host16(rest, 4);
        if (!length || !type || *length < kNetlinkHeader || *length > rest.size()) {
            ++counters_.anomalies[static_cast<std::size_t>(NflogAnomaly::truncated_message)];
            return;
        }
        if (*type == NLMSG_ERROR || *type == NLMSG_DONE || *type == NLMSG_NOOP) {
            offset += align4(*length);
            continue;
        }
        DecodeResult decoded = decode_nflog_message(rest.first(*length));
        if (decoded.anomaly) {
            ++counters_.anomalies[static_cast<std::size_t>(*decoded.anomaly)];
        } else {
            const NflogPacket& packet = *decoded.packet;
            if (packet.seq) {
                auto last = last_seq_.find(packet.group);
                if (last != last_seq_.end()) {
                    std::uint32_t gap = *packet.seq - last->second - 1u;
                    if (gap != 0 && gap < 0x80000000u) counters_.lost += gap;
                }
                last_seq_[packet.group] = *packet.seq;
            }
            ++counters_.packets;
            counters_.bytes += packet.payload.size();
            for (PacketObserver* observer : observers_) observer->on_packet(packet);
        }
        offset += align4(*length);
        if (offset > datagram.size()) break;
    }
}

// ---- NflogReader ---------------------------------------------------------------------------------

namespace {

Result<void> configure(mnl_socket* socket, std::uint16_t group, std::uint32_t copy_bytes,
                       std::uint32_t batch_packets) {
    std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
    std::uint32_t portid = mnl_socket_get_portid(socket);
    auto exchange = [&](nlmsghdr* header, const char* what) -> Result<void> {
        header->nlmsg_flags |= NLM_F_ACK;
        header->nlmsg_seq = static_cast<std::uint32_t>(time(nullptr)) + group;
        if (mnl_socket_sendto(socket, header, header->nlmsg_len) < 0)
            return fail(std::string("nflog ") + what + ": " + std::strerror(errno));
        std::vector<char> reply(MNL_SOCKET_BUFFER_SIZE);
        ssize_t n = mnl_socket_recvfrom(socket, reply.data(), reply.size());
        if (n < 0) return fail(std::string("nflog ") + what + ": " + std::strerror(errno));
        if (mnl_cb_run(reply.data(), static_cast<std::size_t>(n), header->nlmsg_seq, portid, nullptr, nullptr) < 0)
            return fail("nflog " + std::string(what) + " group " + std::to_string(group) + ": " +
                        std::strerror(errno) + (errno == EBUSY ? " (another program owns this group)" : ""));
        return {};
    };
    nlmsghdr* header = nflog_nlmsg_put_header(buffer.data(), NFULNL_MSG_CONFIG, AF_UNSPEC, group);
    nflog_attr_put_cfg_cmd(header, NFULNL_CFG_CMD_BIND);
    if (auto ok = exchange(header, "bind"); !ok) return ok;

    header = nflog_nlmsg_put_header(buffer.data(), NFULNL_MSG_CONFIG, AF_UNSPEC, group);
    nflog_attr_put_cfg_mode(header, NFULNL_COPY_PACKET, copy_bytes);
    mnl_attr_put_u16(header, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
    // Let the kernel pack up to 32 packets per message, flushed after 10 ms at the latest: far
    // fewer wake-ups under load. A group whose packets someone waits on (SPA) asks for 1: the
    // 10 ms batching timeout alone was most of the SPA-to-open latency (measured, bench/spa_latency.sh).
    mnl_attr_put_u32(header, NFULA_CFG_QTHRESH, htonl(std::max<std::uint32_t>(batch_packets, 1)));
    if (batch_packets > 1) mnl_attr_put_u32(header, NFULA_CFG_TIMEOUT, htonl(1));
    return exchange(header, "configure");
}

}  // namespace

Result<std::unique_ptr<NflogReader>> NflogReader::open(const std::vector<std::uint16_t>& groups,
                                                       std::uint32_t copy_bytes, std::size_t receive_buffer,
                                                       std::uint32_t batch_packets) {
    std::unique_ptr<NflogReader> reader(new NflogReader());
    reader->socket_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!reader->socket_) return fail(std::string("nflog socket: ") + std::strerror(errno));
    if (mnl_socket_bind(reader->socket_, 0, MNL_SOCKET_AUTOPID) < 0)
        return fail(std::string("nflog bind: ") + std::strerror(errno));
    int fd = mnl_socket_get_fd(reader->socket_);
    int size = static_cast<int>(receive_buffer);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    for (std::uint16_t group : groups) {
        if (auto ok = configure(reader->socket_, group, copy_bytes, batch_packets); !ok)
            return tl::unexpected(ok.error());
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    reader->groups_ = groups;
    reader->buffer_.resize((256 * 1024) / sizeof(std::uint64_t));
    return reader;
}

NflogReader::~NflogReader() {
    if (socket_) mnl_socket_close(socket_);
}

int NflogReader::fd() const { return mnl_socket_get_fd(socket_); }

std::uint64_t NflogReader::on_readable(std::size_t max_datagrams) {
    std::uint64_t overruns = 0;
    for (std::size_t i = 0; i < max_datagrams; ++i) {
        ssize_t n = ::recv(fd(), buffer_.data(), buffer_.size() * sizeof(std::uint64_t), 0);
        if (n < 0) {
            if (errno == ENOBUFS) {
                ++overruns;
                dispatcher_.note_overrun();
                continue;
            }
            break;  // EAGAIN: drained
        }
        dispatcher_.feed(as_bytes(buffer_.data(), static_cast<std::size_t>(n)));
    }
    return overruns;
}

}  // namespace portcullis::intake
