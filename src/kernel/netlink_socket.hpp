#pragma once
// One NETLINK_NETFILTER socket (libmnl) shared by the set writer and the counter reader: sized
// buffers, a sequence counter, and the two exchanges nf_tables needs — a batch whose messages
// each get an ACK or an error, and a dump.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace portcullis::kernel {

// "inet" → NFPROTO_INET etc.; nullopt-like 0xff on an unknown name.
std::uint8_t nfproto_from_name(const std::string& family);

class NetlinkSocket {
public:
    static Result<std::unique_ptr<NetlinkSocket>> open(std::size_t buffer_bytes);
    ~NetlinkSocket();
    NetlinkSocket(const NetlinkSocket&) = delete;
    NetlinkSocket& operator=(const NetlinkSocket&) = delete;

    std::uint32_t next_seq() { return ++seq_; }
    std::uint32_t portid() const { return portid_; }

    // Per-message outcome of a batch: 0 = accepted, else a positive errno.
    struct BatchOutcome {
        std::vector<int> errors;  // one per message seq, in order
        bool any_error() const;
    };
    // `buffer` holds BATCH_BEGIN, the messages with seqs first_seq..first_seq+count-1 (each with
    // NLM_F_ACK), and BATCH_END. Waits for one ACK/error per message.
    Result<BatchOutcome> send_batch(std::span<const char> buffer, std::uint32_t first_seq,
                                    std::size_t count);

    // Sends one dump request and calls `on_message` for every reply message until NLMSG_DONE.
    Result<void> dump(std::span<const char> request, std::uint32_t seq,
                      const std::function<void(const nlmsghdr*)>& on_message);

private:
    NetlinkSocket() = default;
    mnl_socket* socket_ = nullptr;
    std::uint32_t portid_ = 0;
    std::uint32_t seq_ = 0;
    std::vector<char> receive_buffer_;
};

}  // namespace portcullis::kernel
