// Input: an IKEv1 or IKEv2 message. Walks every structure the module understands.
#include "dissect/ike/ike.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;
using namespace portcullis::dissect::ike;

namespace {

void walk_sa(const Payload& payload) {
    auto sa = SaPayload::parse(payload);
    if (!sa) return;
    fuzz::use(sa->doi + sa->situation);
    auto proposals = sa->proposal_chain();
    while (auto proposal = proposals.next()) {
        fuzz::use(proposal->number + proposal->protocol_id + proposal->transform_count);
        fuzz::use(proposal->spi);
        fuzz::use(protocol_name(proposal->protocol_id).size());
        auto transforms = proposal->transform_chain();
        while (auto transform = transforms.next()) {
            fuzz::use(transform->type + transform->id + transform->number);
            fuzz::use(transform->key_length());
            fuzz::use(transform->dh_group());
            if (auto group = transform->dh_group()) fuzz::use(dh_group_name(*group).size());
            fuzz::use(transform_type_name(transform->type).size());
            auto attributes = transform->attribute_chain();
            while (auto attribute = attributes.next()) {
                fuzz::use(attribute->type + attribute->short_value);
                fuzz::use(attribute->long_value);
                fuzz::use(attribute->integer());
            }
            fuzz::use(static_cast<int>(attributes.anomaly()));
        }
        fuzz::use(static_cast<int>(transforms.anomaly()));
    }
    fuzz::use(static_cast<int>(proposals.anomaly()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto message = Message::parse(fuzz::input(data, size));
    if (!message) return 0;
    const Header& h = message->header();
    fuzz::use(h.initiator_spi ^ h.responder_spi);
    fuzz::use(h.exchange_type + h.flags + h.message_id + h.length);
    fuzz::use(exchange_name(h.is_v2(), h.exchange_type).size());
    fuzz::use(message->encrypted_v1() + message->truncated());
    fuzz::use(static_cast<int>(message->validate()));
    auto chain = message->payloads();
    while (auto payload = chain.next()) {
        fuzz::use(payload->type + payload->next_type + payload->critical + payload->length + payload->offset);
        fuzz::use(payload->body);
        fuzz::use(payload_name(payload->type).size());
        switch (payload->type) {
        case payload::kV1Sa:
        case payload::kV2Sa: walk_sa(*payload); break;
        case payload::kV1KeyExchange:
        case payload::kV2KeyExchange:
            if (auto ke = KeyExchangePayload::parse(*payload)) {
                fuzz::use(ke->dh_group);
                fuzz::use(ke->key_data);
            }
            break;
        case payload::kV1Notify:
        case payload::kV2Notify:
            if (auto n = NotifyPayload::parse(*payload)) {
                fuzz::use(n->type + n->protocol_id + n->doi + n->is_error());
                fuzz::use(n->spi);
                fuzz::use(n->data);
                fuzz::use(n->invalid_ke_group());
                fuzz::use(notify_name(n->v2, n->type).size());
            }
            break;
        case payload::kV1Delete:
        case payload::kV2Delete:
            if (auto d = DeletePayload::parse(*payload)) {
                fuzz::use(d->protocol_id + d->spi_size + d->spi_count);
                fuzz::use(d->spis);
            }
            break;
        case payload::kV1VendorId:
        case payload::kV2VendorId:
            if (auto v = VendorIdPayload::parse(*payload)) fuzz::use(vendor_name(v->kind()).size());
            break;
        case payload::kV2EncryptedFragment:
            if (auto f = V2FragmentPayload::parse(*payload)) fuzz::use(f->number + f->total);
            break;
        case payload::kV1Fragment:
            if (auto f = V1FragmentPayload::parse(*payload)) fuzz::use(f->id + f->number + f->last);
            break;
        default: break;
        }
    }
    fuzz::use(static_cast<int>(chain.anomaly()));
    return 0;
}
