// Masquerade (source rewrite on LAN → WAN egress, replies restored) and the PPTP helper's
// incoming calls, evaluated on packets built by hand.
#include "support.hpp"

namespace portcullis::simulate::testing {
namespace {

const std::string kWan = "eth0", kLan = "eth1";
const std::string kLanHost = "192.0.2.50", kServer = "198.51.100.80", kGatewayWan = "203.0.113.1";

PacketBuilder lan_to_server(std::uint8_t flags) {
    return PacketBuilder().ethernet().ipv4(kLanHost, kServer).tcp(40000, 443, flags);
}

Options with_gateway_address() {
    Options options;
    options.gateway_addresses = {addr(kGatewayWan)};
    return options;
}

TEST(SimulateMasquerade, LanToWanSourceBecomesTheWanAddressAndRepliesAreRestored) {
    auto sim = make("examples/gateway-ikev2.toml", with_gateway_address());
    ASSERT_TRUE(sim);
    Feeder feed(*sim);

    Outcome syn = feed(lan_to_server(kSyn), 1000, kLan);
    EXPECT_EQ(syn.verdict, Verdict::accept);
    EXPECT_EQ(syn.path, Path::forward);
    EXPECT_EQ(syn.iif, kLan);
    EXPECT_EQ(syn.oif, kWan);
    EXPECT_EQ(syn.ct_state, "new");
    EXPECT_EQ(syn.snat.value_or(""), kGatewayWan);
    EXPECT_EQ(syn.decided_by.chain, "forward_filter");  // the filter's accept explains it, not the nat chain

    // The reply as the WAN side sees it: addressed to the gateway, yet forwarded to the LAN host.
    Outcome syn_ack = feed(PacketBuilder().ethernet().ipv4(kServer, kGatewayWan).tcp(443, 40000, kSynAck));
    EXPECT_EQ(syn_ack.verdict, Verdict::accept);
    EXPECT_EQ(syn_ack.iif, kWan);
    EXPECT_EQ(syn_ack.path, Path::forward);
    EXPECT_EQ(syn_ack.oif, kLan);
    EXPECT_EQ(syn_ack.ct_state, "established");
    EXPECT_EQ(syn_ack.unsnat.value_or(""), kLanHost);
    EXPECT_EQ(syn_ack.connection, syn.connection);

    // Later packets of the connection keep the binding without the nat chain.
    Outcome ack = feed(lan_to_server(kAck), -1, kLan);
    EXPECT_EQ(ack.ct_state, "established");
    EXPECT_EQ(ack.snat.value_or(""), kGatewayWan);

    // The same reply as a LAN-side capture shows it (destination already restored).
    Outcome data = feed(PacketBuilder().ethernet().ipv4(kServer, kLanHost).tcp(443, 40000, kPshAck));
    EXPECT_EQ(data.verdict, Verdict::accept);
    EXPECT_EQ(data.iif, kWan);
    EXPECT_EQ(data.path, Path::forward);
    EXPECT_EQ(data.unsnat.value_or(""), kLanHost);
    EXPECT_EQ(data.connection, syn.connection);

    // Only replies are restored: a new connection to the masqueraded port is the gateway's own.
    Outcome probe = feed(PacketBuilder().ethernet().ipv4(kServer, kGatewayWan).tcp(443, 40001, kSyn));
    EXPECT_EQ(probe.verdict, Verdict::drop);
    EXPECT_EQ(probe.path, Path::input);
    EXPECT_FALSE(probe.unsnat);
    EXPECT_EQ(sim->conntrack().size(), 1u);
}

TEST(SimulateMasquerade, WithIifLanRepliesStillArriveFromTheWan) {
    Options options = with_gateway_address();
    options.iif = kLan;
    auto sim = make("examples/gateway-ikev2.toml", options);
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    EXPECT_EQ(feed(lan_to_server(kSyn)).snat.value_or(""), kGatewayWan);
    Outcome reply = feed(PacketBuilder().ethernet().ipv4(kServer, kLanHost).tcp(443, 40000, kSynAck));
    EXPECT_EQ(reply.iif, kWan);
    EXPECT_EQ(reply.ct_state, "established");
    EXPECT_EQ(reply.unsnat.value_or(""), kLanHost);
    // A LAN packet that is not a reply still arrives on the LAN as --iif says.
    Outcome other = feed(PacketBuilder().ethernet().ipv4(kLanHost, kServer).udp(5353, 53, 8));
    EXPECT_EQ(other.iif, kLan);
    EXPECT_EQ(other.oif, kWan);
    EXPECT_EQ(other.snat.value_or(""), kGatewayWan);
}

TEST(SimulateMasquerade, UnknownWanAddressIsSaidAndLanSideRepliesAreStillRestored) {
    auto sim = make("examples/gateway-ikev2.toml", {});
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    Outcome syn = feed(lan_to_server(kSyn), 1000, kLan);
    EXPECT_EQ(syn.snat.value_or(""), "<wan address>");
    Outcome reply = feed(PacketBuilder().ethernet().ipv4(kServer, kLanHost).tcp(443, 40000, kSynAck));
    EXPECT_EQ(reply.ct_state, "established");
    EXPECT_EQ(reply.unsnat.value_or(""), kLanHost);
}

TEST(SimulateMasquerade, TrafficFromTheWanIsNeverMasqueraded) {
    auto sim = make("examples/gateway-ikev2.toml", with_gateway_address());
    ASSERT_TRUE(sim);
    Feeder feed(*sim);
    // IKE forwarded to the LAN server: DNAT, no source rewrite (the rule wants iifname eth1).
    Outcome ike = feed(PacketBuilder().ethernet().ipv4("198.51.100.7", kGatewayWan).udp(500, 500, 36).raw(
        dissect::testing::Buffer(36, 0)));
    EXPECT_FALSE(ike.snat);
    // Host mode has no masquerade chain at all.
    auto host = make("tests/unit/simulate/policies/host-pptp.toml", {});
    ASSERT_TRUE(host);
    Feeder host_feed(*host);
    EXPECT_FALSE(host_feed(lan_to_server(kSyn), 1000, kLan).snat);
}

// ---- PPTP incoming calls ------------------------------------------------------------------------

struct IncomingCall {
    std::uint8_t icrp_result = 1;
    std::uint16_t iccn_peer = 0x0001;  // the PNS's call ID, as the ICCN names it
};

// Control connection client (PNS) 198.51.100.7 → gateway (DNAT to the PAC 192.0.2.20); the PAC
// announces an incoming call 0x4000, the PNS answers with its call 0x0001. Returns GRE from the
// client for the call and GRE from the PAC back to the client.
std::pair<Outcome, Outcome> incoming_call(const IncomingCall& call) {
    auto sim = make("examples/gateway-pptp.toml", {});
    EXPECT_TRUE(sim);
    if (!sim) return {};
    Feeder feed(*sim);
    const std::string client = "198.51.100.7", wan = "203.0.113.1";
    auto to_server = [&](std::uint8_t flags, Buffer payload = {}) {
        return PacketBuilder().ethernet().ipv4(client, wan).tcp(3000, 1723, flags).raw(payload);
    };
    auto to_client = [&](std::uint8_t flags, Buffer payload = {}) {
        return PacketBuilder().ethernet().ipv4(wan, client).tcp(1723, 3000, flags).raw(payload);
    };
    using dissect::testing::pptp_message;
    EXPECT_EQ(feed(to_server(kSyn)).verdict, Verdict::accept);
    EXPECT_EQ(feed(to_client(kSynAck)).path, Path::reply);
    EXPECT_EQ(feed(to_server(kAck)).ct_state, "established");
    EXPECT_EQ(feed(to_client(kPshAck, pptp_message(9, {{12, 0x4000}}))).path, Path::reply);  // ICRQ
    EXPECT_EQ(feed(to_server(kPshAck, pptp_message(10, {{12, 0x0001}, {14, 0x4000}}, {{16, call.icrp_result}})))
                  .verdict,
              Verdict::accept);  // ICRP
    EXPECT_EQ(feed(to_client(kPshAck, pptp_message(11, {{12, call.iccn_peer}}))).path, Path::reply);  // ICCN
    Outcome from_client =
        feed(PacketBuilder().ethernet().ipv4(client, wan).gre_enhanced(0x4000, 1).raw(Buffer(12, 0xff)));
    Outcome from_server =
        feed(PacketBuilder().ethernet().ipv4(wan, client).gre_enhanced(0x0001, 1).raw(Buffer(12, 0xff)));
    return {from_client, from_server};
}

TEST(SimulatePptpHelper, IncomingCallConnectedOpensGreBothWays) {
    auto [from_client, from_server] = incoming_call({});
    EXPECT_EQ(from_client.verdict, Verdict::accept);
    EXPECT_EQ(from_client.ct_state, "related");
    EXPECT_EQ(from_client.path, Path::forward);
    EXPECT_EQ(from_client.dnat.value_or(""), "192.0.2.20");
    EXPECT_EQ(from_server.verdict, Verdict::accept);
    EXPECT_EQ(from_server.ct_state, "established");
    EXPECT_EQ(from_server.connection, from_client.connection);
}

TEST(SimulatePptpHelper, IncomingCallRefusedOrUnknownOpensNothing) {
    auto [refused, refused_back] = incoming_call({.icrp_result = 3});
    EXPECT_EQ(refused.verdict, Verdict::reject);
    EXPECT_NE(refused.ct_state, "related");
    auto [other_call, other_back] = incoming_call({.iccn_peer = 0x0002});
    EXPECT_EQ(other_call.verdict, Verdict::reject);
    EXPECT_NE(other_call.ct_state, "related");
}

}  // namespace
}  // namespace portcullis::simulate::testing
