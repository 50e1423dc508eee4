#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dissect/ike/ike.hpp"
#include "test_util.hpp"

namespace portcullis::dissect::testing {
namespace {

using namespace portcullis::dissect::ike;

Buffer hex(const std::string& text) {
    Buffer out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    return out;
}

IkeBuilder sa_init_request() {
    IkeProposal proposal;
    proposal.number = 1;
    proposal.protocol = kProtocolIke;
    proposal.transforms = {IkeTransform::v2(1, 12, 256), IkeTransform::v2(2, 5),
                           IkeTransform::v2(3, 12), IkeTransform::v2(4, 14)};
    Buffer cookie = repeat(0xc0, 16);
    return std::move(IkeBuilder::v2(exchange::kV2IkeSaInit, 0xaabbccdd00112233ull)
                         .notify_v2(notify::kV2Cookie, cookie)
                         .sa({proposal})
                         .ke_v2(14, 256)
                         .nonce()
                         .notify_v2(notify::kV2NatDetectionSourceIp, repeat(0x5a, 20))
                         .notify_v2(notify::kV2NatDetectionDestinationIp, repeat(0xa5, 20))
                         .notify_v2(notify::kV2FragmentationSupported)
                         .vendor(hex("882fe56d6fd20dbc2251613b2ebe5beb")));
}

TEST(Ike, V2HeaderFields) {
    Frame frame(sa_init_request().message_id(0).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    const Header& h = message->header();
    EXPECT_TRUE(message->is_v2());
    EXPECT_EQ(h.initiator_spi, 0xaabbccdd00112233ull);
    EXPECT_EQ(h.responder_spi, 0u);
    EXPECT_EQ(h.exchange_type, exchange::kV2IkeSaInit);
    EXPECT_EQ(h.major_version, 2);
    EXPECT_EQ(h.minor_version, 0);
    EXPECT_TRUE(h.v2_initiator());
    EXPECT_FALSE(h.v2_response());
    EXPECT_EQ(h.next_payload, payload::kV2Notify);
    EXPECT_EQ(h.length, frame.data.size());
    EXPECT_FALSE(message->truncated());
    EXPECT_EQ(message->validate(), Anomaly::none);
}

TEST(Ike, V2PayloadChainOrderAndContents) {
    Frame frame(sa_init_request().bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    std::vector<std::uint8_t> types;
    std::vector<std::uint16_t> notifies;
    auto chain = message->payloads();
    while (auto p = chain.next()) {
        types.push_back(p->type);
        if (p->type == payload::kV2Notify) notifies.push_back(NotifyPayload::parse(*p)->type);
    }
    EXPECT_EQ(chain.anomaly(), Anomaly::none);
    EXPECT_EQ(types, (std::vector<std::uint8_t>{41, 33, 34, 40, 41, 41, 41, 43}));
    EXPECT_EQ(notifies, (std::vector<std::uint16_t>{16390, 16388, 16389, 16430}));

    auto ke = KeyExchangePayload::parse(*message->find(payload::kV2KeyExchange));
    ASSERT_TRUE(ke);
    EXPECT_EQ(ke->dh_group, 14);
    EXPECT_EQ(ke->key_data.size(), 256u);

    auto vid = VendorIdPayload::parse(*message->find(payload::kV2VendorId));
    EXPECT_EQ(vid->kind(), VendorKind::strongswan);

    auto cookie = NotifyPayload::parse(*message->find(payload::kV2Notify));
    ASSERT_TRUE(cookie);
    EXPECT_EQ(cookie->type, notify::kV2Cookie);
    EXPECT_EQ(cookie->data.size(), 16u);
    EXPECT_FALSE(cookie->is_error());
}

TEST(Ike, V2ProposalsTransformsAndDhGroup) {
    IkeProposal ike_proposal{1, kProtocolIke, {}, {IkeTransform::v2(1, 20, 128), IkeTransform::v2(2, 7),
                                                  IkeTransform::v2(4, 19), IkeTransform::v2(4, 31)}};
    IkeProposal esp_proposal{2, kProtocolEsp, {0xde, 0xad, 0xbe, 0xef},
                             {IkeTransform::v2(1, 12, 256), IkeTransform::v2(3, 12), IkeTransform::v2(5, 0)}};
    Frame frame(IkeBuilder::v2(exchange::kV2IkeSaInit).sa({ike_proposal, esp_proposal}).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    auto sa = SaPayload::parse(*message->find(payload::kV2Sa));
    ASSERT_TRUE(sa);
    auto proposals = sa->proposal_chain();
    auto first = proposals.next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->number, 1);
    EXPECT_EQ(first->protocol_id, kProtocolIke);
    EXPECT_EQ(first->transform_count, 4);
    std::vector<std::uint16_t> groups;
    auto transforms = first->transform_chain();
    std::optional<Transform> encr;
    while (auto t = transforms.next()) {
        if (t->type == transform::kV2Encryption) encr = t;
        if (auto group = t->dh_group()) groups.push_back(*group);
    }
    EXPECT_EQ(transforms.anomaly(), Anomaly::none);
    EXPECT_EQ(groups, (std::vector<std::uint16_t>{19, 31}));
    ASSERT_TRUE(encr);
    EXPECT_EQ(encr->id, 20);
    EXPECT_EQ(encr->key_length(), 128);
    auto second = proposals.next();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->protocol_id, kProtocolEsp);
    EXPECT_EQ(second->spi.size(), 4u);
    EXPECT_FALSE(proposals.next());
    EXPECT_EQ(proposals.anomaly(), Anomaly::none);
    EXPECT_EQ(dh_group_name(19), "ecp256");
    EXPECT_EQ(dh_group_name(31), "curve25519");
    EXPECT_EQ(transform_type_name(4), "KE");
}

TEST(Ike, V2InvalidKeNamesAcceptedGroup) {
    Buffer group = {0x00, 0x0e};
    Frame frame(IkeBuilder::v2(exchange::kV2IkeSaInit, 1, 0, 0x20)
                    .notify_v2(notify::kV2InvalidKePayload, group).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_TRUE(message->header().v2_response());
    auto n = NotifyPayload::parse(*message->find(payload::kV2Notify));
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->is_error());
    EXPECT_EQ(n->invalid_ke_group(), 14);
    EXPECT_EQ(notify_name(true, n->type), "INVALID_KE_PAYLOAD");
}

TEST(Ike, V2EncryptedPayloadEndsTheChain) {
    Frame frame(IkeBuilder::v2(exchange::kV2IkeAuth, 1, 2).encrypted_v2(payload::kV2IdInitiator).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    auto chain = message->payloads();
    auto sk = chain.next();
    ASSERT_TRUE(sk);
    EXPECT_EQ(sk->type, payload::kV2Encrypted);
    EXPECT_EQ(sk->next_type, payload::kV2IdInitiator);  // inner first payload, not followed
    EXPECT_FALSE(chain.next());
    EXPECT_EQ(chain.anomaly(), Anomaly::none);
}

TEST(Ike, V2Fragments) {
    Frame frame(IkeBuilder::v2(exchange::kV2IkeAuth, 1, 2).fragment_v2(2, 3).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    auto skf = V2FragmentPayload::parse(*message->find(payload::kV2EncryptedFragment));
    ASSERT_TRUE(skf);
    EXPECT_EQ(skf->number, 2);
    EXPECT_EQ(skf->total, 3);
    EXPECT_EQ(skf->encrypted.size(), 32u);
}

TEST(Ike, V2Delete) {
    Frame frame(IkeBuilder::v2(exchange::kV2Informational, 1, 2).delete_v2(kProtocolEsp, {0x11, 0x22}).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    auto del = DeletePayload::parse(*message->find(payload::kV2Delete));
    ASSERT_TRUE(del);
    EXPECT_EQ(del->protocol_id, kProtocolEsp);
    EXPECT_EQ(del->spi_count, 2);
    EXPECT_EQ(del->spis.size(), 8u);
}

TEST(Ike, V1MainModeSaAttributesVendorIdsNatD) {
    IkeTransform t;
    t.id = 1;  // KEY_IKE
    t.tv(transform::kV1AttrEncryption, 7).tv(transform::kAttrKeyLength, 256)
        .tv(transform::kV1AttrHash, 2).tv(transform::kV1AttrAuthMethod, 1)
        .tv(transform::kV1AttrGroupDescription, 14).tv(transform::kV1AttrLifeType, 1)
        .tlv(transform::kV1AttrLifeDuration, {0x00, 0x01, 0x51, 0x80});
    IkeProposal proposal{1, kProtocolIke, {}, {t}};
    Frame frame(IkeBuilder::v1(exchange::kV1MainMode)
                    .sa({proposal})
                    .vendor(hex("4a131c81070358455c5728f20e95452f"))
                    .vendor(hex("90cb80913ebb696e086381b5ec427b1f"))
                    .vendor(hex("4048b7d56ebce88525e7de7f00d6c2d380000000"))
                    .vendor(hex("afcad71368a1f1c96b8696fc77570100"))
                    .vendor(hex("1e2b516905991c7d7c96fcbfb587e46100000009"))
                    .vendor(hex("deadbeef"))
                    .payload(payload::kV1NatD, repeat(0x44, 20))
                    .payload(payload::kV1NatDDraft, repeat(0x55, 16))
                    .bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_FALSE(message->is_v2());
    EXPECT_EQ(message->header().major_version, 1);
    EXPECT_EQ(exchange_name(false, message->header().exchange_type), "Identity Protection (Main Mode)");
    EXPECT_EQ(message->validate(), Anomaly::none);

    auto sa = SaPayload::parse(*message->find(payload::kV1Sa));
    ASSERT_TRUE(sa);
    EXPECT_EQ(sa->doi, 1u);
    EXPECT_EQ(sa->situation, 1u);
    auto proposals = sa->proposal_chain();
    auto p = proposals.next();
    ASSERT_TRUE(p);
    auto transforms = p->transform_chain();
    auto tr = transforms.next();
    ASSERT_TRUE(tr);
    EXPECT_FALSE(tr->v2);
    EXPECT_EQ(tr->number, 1);
    EXPECT_EQ(tr->id, 1);
    EXPECT_EQ(tr->dh_group(), 14);
    EXPECT_EQ(tr->key_length(), 256);
    EXPECT_EQ(tr->attribute(transform::kV1AttrEncryption), 7u);
    EXPECT_EQ(tr->attribute(transform::kV1AttrLifeDuration), 86400u);
    EXPECT_FALSE(tr->attribute(99));

    std::vector<VendorKind> kinds;
    std::vector<std::size_t> nat_d;
    auto chain = message->payloads();
    while (auto item = chain.next()) {
        if (item->type == payload::kV1VendorId) kinds.push_back(VendorIdPayload::parse(*item)->kind());
        if (item->type == payload::kV1NatD || item->type == payload::kV1NatDDraft)
            nat_d.push_back(item->body.size());
    }
    EXPECT_EQ(kinds, (std::vector<VendorKind>{VendorKind::nat_t_rfc3947, VendorKind::nat_t_draft,
                                              VendorKind::fragmentation, VendorKind::dpd,
                                              VendorKind::ms_nt5, VendorKind::unknown}));
    EXPECT_EQ(nat_d, (std::vector<std::size_t>{20, 16}));
    EXPECT_EQ(vendor_name(VendorKind::nat_t_rfc3947), "RFC 3947 NAT-T");
}

TEST(Ike, V1NotifyAndFragment) {
    Frame frame(IkeBuilder::v1(exchange::kV1Informational, 5, 6)
                    .notify_v1(notify::kV1NoProposalChosen)
                    .fragment_v1(7, 2, true)
                    .bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    auto n = NotifyPayload::parse(*message->find(payload::kV1Notify));
    ASSERT_TRUE(n);
    EXPECT_FALSE(n->v2);
    EXPECT_EQ(n->doi, 1u);
    EXPECT_EQ(n->type, 14);
    EXPECT_EQ(n->protocol_id, kProtocolIke);
    EXPECT_EQ(n->spi.size(), 16u);
    EXPECT_EQ(notify_name(false, n->type), "NO-PROPOSAL-CHOSEN");
    EXPECT_FALSE(n->invalid_ke_group());
    auto frag = V1FragmentPayload::parse(*message->find(payload::kV1Fragment));
    ASSERT_TRUE(frag);
    EXPECT_EQ(frag->id, 7);
    EXPECT_EQ(frag->number, 2);
    EXPECT_TRUE(frag->last);
}

TEST(Ike, V1EncryptedMessageHasNoVisiblePayloads) {
    Frame frame(IkeBuilder::v1(exchange::kV1QuickMode, 1, 2, 0x01).payload(8, repeat(0x99, 40)).bytes());
    auto message = Message::parse(frame.bytes());
    ASSERT_TRUE(message);
    EXPECT_TRUE(message->encrypted_v1());
    EXPECT_FALSE(message->payloads().next());
    EXPECT_EQ(message->validate(), Anomaly::none);
}

TEST(Ike, PayloadChainLoopAndLengthProtection) {
    // A zero-length payload would loop forever without the length check.
    Buffer zero = IkeBuilder::v2(34).vendor(repeat(1, 4)).bytes();
    set16(zero, 30, 0);
    Frame z(zero);
    auto message = Message::parse(z.bytes());
    ASSERT_TRUE(message);
    auto chain = message->payloads();
    EXPECT_FALSE(chain.next());
    EXPECT_EQ(chain.anomaly(), Anomaly::ike_payload_bad_length);

    IkeBuilder many = IkeBuilder::v2(34);
    for (std::size_t i = 0; i < kMaxPayloads + 1; ++i) many.vendor({1});
    Frame m(many.bytes());
    auto long_chain = Message::parse(m.bytes());
    ASSERT_TRUE(long_chain);
    EXPECT_EQ(long_chain->validate(), Anomaly::ike_payload_chain_too_long);

    Frame dangling(IkeBuilder::v2(34).next_payload_override(33).bytes());
    EXPECT_EQ(Message::parse(dangling.bytes())->validate(), Anomaly::ike_payload_truncated);
}

TEST(Ike, HeaderRejections) {
    Frame short_frame(Buffer(27, 0));
    EXPECT_EQ(Message::parse(short_frame.bytes()).error(), Anomaly::ike_truncated);
    Buffer v3 = IkeBuilder::v2(34).bytes();
    v3[17] = 0x30;
    Frame f3(v3);
    EXPECT_EQ(Message::parse(f3.bytes()).error(), Anomaly::ike_bad_version);
    Frame bad_length(IkeBuilder::v2(34).length_override(27).bytes());
    EXPECT_EQ(Message::parse(bad_length.bytes()).error(), Anomaly::ike_bad_length);
    Frame long_length(IkeBuilder::v2(34).length_override(4000).bytes());
    auto message = Message::parse(long_length.bytes());
    ASSERT_TRUE(message);
    EXPECT_TRUE(message->truncated());
    EXPECT_EQ(message->validate(), Anomaly::ike_length_exceeds_data);
}

TEST(Ike, Names) {
    EXPECT_EQ(exchange_name(true, 34), "IKE_SA_INIT");
    EXPECT_EQ(exchange_name(true, 35), "IKE_AUTH");
    EXPECT_EQ(exchange_name(false, 32), "Quick Mode");
    EXPECT_EQ(exchange_name(false, 4), "Aggressive");
    EXPECT_EQ(exchange_name(true, 200), "unknown");
    EXPECT_EQ(payload_name(53), "SKF");
    EXPECT_EQ(payload_name(20), "NAT-D");
    EXPECT_EQ(notify_name(true, 16388), "NAT_DETECTION_SOURCE_IP");
    EXPECT_EQ(notify_name(true, 16430), "IKEV2_FRAGMENTATION_SUPPORTED");
    EXPECT_EQ(notify_name(true, 24), "AUTHENTICATION_FAILED");
    EXPECT_EQ(notify_name(false, 24), "AUTHENTICATION-FAILED");
    EXPECT_EQ(notify_name(false, 36136), "R-U-THERE");
    EXPECT_EQ(protocol_name(3), "ESP");
}

}  // namespace
}  // namespace portcullis::dissect::testing
