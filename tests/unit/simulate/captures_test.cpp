// Shared public captures run end to end. The expected numbers come from reading the capture's
// conversations (see ../shared/captures/README.md), not from simulate's own output.
#include <gtest/gtest.h>

#include <map>

#include "compile/compile.hpp"
#include "dissect/link/link.hpp"
#include "intake/capture_reader.hpp"
#include "simulate/report.hpp"
#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

std::string shared(const std::string& relative) {
    return std::string(PC_SHARED_ROOT) + "/captures/" + relative;
}

struct CaptureResult {
    std::map<std::uint64_t, Outcome> by_frame;
    Summary summary;
};

CaptureResult simulate_capture(const std::string& policy, const std::string& capture, Options options = {}) {
    CaptureResult run;
    auto sim = make(policy, options);
    if (!sim) return run;
    auto result = run_capture(*sim, shared(capture), [&](const Outcome& o) { run.by_frame[o.packet.frame] = o; });
    EXPECT_TRUE(result) << (result ? "" : result.error().message);
    run.summary = sim->summary();
    return run;
}

// Counts IP frames and frames from one source, straight from the capture (link layer only).
struct FrameCount {
    std::uint64_t ip = 0, other = 0;
};
FrameCount count_frames(const std::string& capture) {
    FrameCount count;
    auto reader = intake::CaptureReader::open(shared(capture));
    EXPECT_TRUE(reader);
    if (!reader) return count;
    while (auto frame = (*reader)->next()) {
        auto link = dissect::link::parse(static_cast<std::uint32_t>(frame->link_type), frame->data);
        bool ip = link && (link->ethertype == dissect::link::kEtherTypeIpv4 ||
                           link->ethertype == dissect::link::kEtherTypeIpv6);
        ++(ip ? count.ip : count.other);
    }
    return count;
}

std::uint64_t verdicts(const Summary& s, const char* name) {
    auto it = s.verdicts.find(name);
    return it == s.verdicts.end() ? 0 : it->second;
}

// IKEv1 with NAT-T between 192.1.2.254 (initiator) and 192.1.2.23: the initiator opens UDP 500
// and then UDP 4500, both allowed from anyone by the ikev2 preset and DNATed to the LAN server;
// everything the responder sends is a reply of those two connections. So every IP frame is
// accepted, two connections exist and the service chain saw exactly their two first packets.
TEST(SimulateCaptures, IsakmpNatTraversalThroughTheGateway) {
    FrameCount frames = count_frames("tcpdump/isakmp4500.pcap");
    ASSERT_GT(frames.ip, 20u);
    CaptureResult run = simulate_capture("examples/gateway-ikev2.toml", "tcpdump/isakmp4500.pcap");
    EXPECT_EQ(run.summary.packets, frames.ip + frames.other);
    EXPECT_EQ(verdicts(run.summary, "accept"), frames.ip);
    EXPECT_EQ(verdicts(run.summary, "drop") + verdicts(run.summary, "reject"), 0u);
    EXPECT_EQ(verdicts(run.summary, "skip"), frames.other);
    EXPECT_EQ(run.summary.connections, 2u);
    for (const auto& [name, value] : run.summary.counters) {
        if (name == compile::accepted_counter("vpn")) {
            EXPECT_EQ(value.packets, 2u);
        }
    }
    // Frame 7 is the move to 4500 (README): a new connection, DNATed to the server.
    const Outcome& move = run.by_frame.at(7);
    EXPECT_EQ(move.ct_state, "new");
    EXPECT_EQ(move.dnat.value_or(""), "192.0.2.10:4500");
    EXPECT_EQ(move.path, Path::forward);
}

// PPTP between client 10.1.1.11 and server 10.1.1.10 (the host under the policy): 7 frames from
// the client (SYN, ACK, 3 control messages, the GRE frame 16, FIN) and 16 from the server. With
// the preset the helper reads the Outgoing-Call-Reply and the client's GRE is related; without
// it (tcp/1723 by hand) the same GRE frame is the only drop.
TEST(SimulateCaptures, PptpHelperMakesGreRelated) {
    CaptureResult with = simulate_capture("tests/unit/simulate/policies/host-pptp.toml", "tcpdump/pptp.pcap");
    EXPECT_EQ(with.by_frame.size(), 23u);
    EXPECT_EQ(verdicts(with.summary, "accept"), 23u);
    EXPECT_EQ(with.summary.paths["input"], 7u);
    EXPECT_EQ(with.summary.paths["output"], 16u);
    EXPECT_EQ(with.by_frame.at(16).ct_state, "related");
    EXPECT_EQ(with.summary.connections, 2u);

    CaptureResult without = simulate_capture("tests/unit/simulate/policies/host-tcp1723.toml", "tcpdump/pptp.pcap");
    EXPECT_EQ(verdicts(without.summary, "accept"), 22u);
    EXPECT_EQ(verdicts(without.summary, "drop"), 1u);
    EXPECT_EQ(without.by_frame.at(16).verdict, Verdict::drop);
    EXPECT_EQ(without.by_frame.at(16).ct_state, "new");
    EXPECT_EQ(without.by_frame.at(16).decided_by.chain, "deny_closed");
}

// The same NAT-T capture replayed entirely from the WAN side (--iif eth0: no packet is taken as an
// outbound reply) with the initiator banned: the ban rule sits before `ct state established`, so
// every initiator packet dies on it. The responder's packets arrive as new UDP 500/4500 flows
// from an unbanned source and are accepted. The host ban set (banh4) decides, element shown.
TEST(SimulateCaptures, BannedInitiatorNeverGetsThrough) {
    Options options;
    options.bans.push_back({prefix("192.1.2.254/32"), std::nullopt});
    options.iif = "eth0";
    CaptureResult run = simulate_capture("examples/gateway-ikev2.toml", "tcpdump/isakmp4500.pcap", options);
    std::uint64_t from_initiator = 0, dropped = 0;
    for (const auto& [frame, o] : run.by_frame) {
        if (o.packet.family == 0) continue;
        if (o.packet.source == addr("192.1.2.254")) {
            ++from_initiator;
            EXPECT_EQ(o.verdict, Verdict::drop) << "frame " << frame;
            EXPECT_NE(o.decided_by.text.find("@banh4"), std::string::npos) << o.decided_by.text;
            EXPECT_EQ(o.decided_by.element.rfind("192.1.2.254 (expires in", 0), 0u) << o.decided_by.element;
            ++dropped;
        } else {
            EXPECT_EQ(o.verdict, Verdict::accept) << "frame " << frame;
        }
    }
    EXPECT_GT(from_initiator, 10u);
    EXPECT_EQ(verdicts(run.summary, "drop"), dropped);
}

}  // namespace
}  // namespace portcullis::simulate::testing
