#pragma once
// NFLOG intake: the daemon binds the groups the compiled table logs to and hands each decoded
// packet to the observers (later: knock sequences, SPA, scan detection) through one interface.
// Kernel overruns (ENOBUFS on the socket, gaps in the per-group sequence numbers) and malformed
// messages are counted, never fatal.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

struct mnl_socket;

namespace portcullis::intake {

// One logged packet. Views point into the reader's receive buffer: valid only during the call.
struct NflogPacket {
    std::uint16_t group = 0;
    std::uint8_t family = 0;          // nfgen family of the hook (NFPROTO_IPV4/IPV6/INET/...)
    std::uint16_t hw_protocol = 0;    // ethertype (0x0800 IPv4, 0x86dd IPv6)
    std::uint8_t hook = 0;
    std::string_view prefix;          // the log statement's prefix ("" when none)
    std::uint32_t in_ifindex = 0;     // 0 = unknown
    std::uint32_t out_ifindex = 0;
    std::optional<std::array<std::uint8_t, 8>> hw_address;
    std::uint16_t hw_address_length = 0;
    std::optional<std::uint32_t> seq;  // per-group sequence number (we ask for it)
    Bytes payload;                     // the network-layer packet, possibly truncated
};

// The one interface consumers implement. Called on the daemon's loop thread; must not block.
class PacketObserver {
public:
    virtual ~PacketObserver() = default;
    virtual void on_packet(const NflogPacket& packet) = 0;
};

enum class NflogAnomaly : std::uint8_t {
    truncated_message,   // netlink header or length inconsistent
    not_a_packet,        // another NFULNL message type in the stream
    bad_attributes,      // attribute lengths/types the parser refused
    missing_payload,     // a packet message without NFULA_PAYLOAD
    bad_packet_header,   // NFULA_PACKET_HDR/HWADDR/ifindex of the wrong size
};
inline constexpr std::size_t kNflogAnomalyCount = 5;
const char* anomaly_name(NflogAnomaly anomaly);

struct NflogCounters {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;        // payload bytes handed to observers
    std::uint64_t overruns = 0;     // ENOBUFS: the kernel dropped messages for us
    std::uint64_t lost = 0;         // packets missing according to sequence numbers
    std::array<std::uint64_t, kNflogAnomalyCount> anomalies{};
    std::uint64_t malformed() const;
};

// Decodes one netlink message (header included) that claims to be an NFLOG packet. On failure
// returns the anomaly; never reads outside `message`. `message` must be 4-byte aligned.
struct DecodeResult {
    std::optional<NflogPacket> packet;
    std::optional<NflogAnomaly> anomaly;
};
DecodeResult decode_nflog_message(Bytes message);

// Feeds a buffer of netlink messages (one recv()) through the decoder, updating counters,
// tracking per-group sequence gaps and calling observers. Pure: unit tests drive it directly.
class NflogDispatcher {
public:
    void add_observer(PacketObserver* observer) { observers_.push_back(observer); }
    void remove_observer(PacketObserver* observer);
    void feed(Bytes datagram);
    void note_overrun() { ++counters_.overruns; }
    const NflogCounters& counters() const { return counters_; }

private:
    std::vector<PacketObserver*> observers_;
    std::map<std::uint16_t, std::uint32_t> last_seq_;
    NflogCounters counters_;
};

class NflogReader {
public:
    // copy_bytes: how much of each packet the kernel copies to us. batch_packets: the kernel packs
    // up to this many packets per message, flushed after 10 ms at the latest; 1 delivers every
    // packet at once (SPA: its sender is waiting to connect).
    static Result<std::unique_ptr<NflogReader>> open(const std::vector<std::uint16_t>& groups,
                                                     std::uint32_t copy_bytes = 2048,
                                                     std::size_t receive_buffer = 4 * 1024 * 1024,
                                                     std::uint32_t batch_packets = 32);
    ~NflogReader();
    NflogReader(const NflogReader&) = delete;
    NflogReader& operator=(const NflogReader&) = delete;

    int fd() const;
    // Drains the socket (non-blocking). Returns how many overruns (ENOBUFS) it met.
    std::uint64_t on_readable(std::size_t max_datagrams = 256);
    NflogDispatcher& dispatcher() { return dispatcher_; }
    const std::vector<std::uint16_t>& groups() const { return groups_; }

private:
    NflogReader() = default;
    mnl_socket* socket_ = nullptr;
    std::vector<std::uint16_t> groups_;
    std::vector<std::uint64_t> buffer_;  // uint64 storage keeps netlink headers aligned
    NflogDispatcher dispatcher_;
};

}  // namespace portcullis::intake
