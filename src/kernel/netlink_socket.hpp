#pragma once
// One NETLINK_NETFILTER socket (libmnl) shared by the set writer and the counter reader: sized
// buffers, a sequence counter, and the two exchanges nf_tables needs — a batch, answered only
// with the errors of the messages the kernel rejected, and a dump.
#include <atomic>
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
    // `count` consecutive sequence numbers; returns the first.
    std::uint32_t reserve_seqs(std::uint32_t count) {
        std::uint32_t first = seq_ + 1;
        seq_ += count;
        return first;
    }
    std::uint32_t portid() const { return portid_; }

    // Per-message outcome of a batch: 0 = accepted, else a positive errno.
    struct BatchOutcome {
        std::vector<int> errors;  // one per message seq, in order
        bool any_error() const;
    };
    // `buffer` holds BATCH_BEGIN (seq first_seq - 1), the messages with seqs
    // first_seq..first_seq+count-1 (without NLM_F_ACK) and BATCH_END (first_seq + count). nfnetlink processes a batch synchronously inside sendmsg(), so
    // once it returns every error (and any ACK) is already queued on the socket: the replies are
    // drained without waiting, and messages nobody complained about were accepted. An error
    // whose seq is outside the range (BATCH_BEGIN, a failed commit) fails every message.
    Result<BatchOutcome> send_batch(std::span<const char> buffer, std::uint32_t first_seq,
                                    std::size_t count);

    // Sends one dump request and calls `on_message` for every reply message until NLMSG_DONE.
    // With `cancel`, the dump is abandoned (an error) once it reads true between two replies.
    Result<void> dump(std::span<const char> request, std::uint32_t seq,
                      const std::function<void(const nlmsghdr*)>& on_message,
                      const std::atomic<bool>* cancel = nullptr);

private:
    NetlinkSocket() = default;
    mnl_socket* socket_ = nullptr;
    std::uint32_t portid_ = 0;
    std::uint32_t seq_ = 0;
    std::vector<char> receive_buffer_;
};

// Folds one datagram of replies to a batch into `errors` (one slot per message, seqs first_seq..):
// an error for a message sets its slot; an error on BATCH_BEGIN (first_seq - 1, which is also
// what a failed commit is reported against) or BATCH_END (first_seq + count) fails every slot
// still 0. ACKs (error 0), other seqs (stale replies) and other messages are ignored. Pure.
void fold_batch_replies(std::span<const char> datagram, std::uint32_t first_seq,
                        std::vector<int>& errors);

}  // namespace portcullis::kernel
