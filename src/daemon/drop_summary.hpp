#pragma once
// Drops logged over NFLOG are summarised per interval (one "drops" event with totals and the
// top sources), never one event per packet: a flood must not turn into a flood of log lines.
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/net.hpp"
#include "intake/nflog_reader.hpp"

namespace portcullis::daemon {

// Source address of an IPv4/IPv6 packet, read with the bounds-checked readers.
std::optional<Address> packet_source(Bytes payload);

class DropSummary final : public intake::PacketObserver {
public:
    static constexpr std::size_t kMaxTrackedSources = 4096;  // beyond: counted as "other"
    static constexpr std::size_t kTopSources = 10;

    void on_packet(const intake::NflogPacket& packet) override;
    // The summary of everything since the last take(); nullopt when nothing was dropped.
    std::optional<nlohmann::json> take(double interval_seconds);
    std::uint64_t total_packets() const { return total_packets_; }

private:
    std::map<Address, std::uint64_t> by_source_;
    std::map<std::string, std::uint64_t> by_prefix_;
    std::uint64_t packets_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t untracked_ = 0;
    std::uint64_t total_packets_ = 0;
};

}  // namespace portcullis::daemon
