// Input: a UDP 1701 payload (L2TPv2 or L2TPv3).
#include "dissect/l2tp/l2tp.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto message = l2tp::Message::parse(fuzz::input(data, size));
    if (!message) return 0;
    fuzz::use(message->version() + message->is_control() + message->is_zlb());
    fuzz::use(message->length());
    fuzz::use(message->tunnel_id() + message->session_id());
    fuzz::use(message->ns());
    fuzz::use(message->nr());
    fuzz::use(message->body());
    fuzz::use(static_cast<int>(message->validate()));
    if (auto type = message->message_type()) fuzz::use(l2tp::message_type_name(*type).size());
    if (auto result = message->result_code()) {
        fuzz::use(result->result);
        fuzz::use(result->error);
        fuzz::use(result->message);
    }
    auto avps = message->avps();
    while (auto avp = avps.next()) {
        fuzz::use(avp->type + avp->vendor_id + avp->length + avp->hidden + avp->mandatory);
        fuzz::use(avp->value16());
        fuzz::use(avp->value32());
        fuzz::use(avp->value);
    }
    fuzz::use(static_cast<int>(avps.anomaly()));
    return 0;
}
