// Input: a TCP 1723 payload (one or more PPTP control messages).
#include "dissect/pptp/pptp.hpp"
#include "fuzz_util.hpp"

using namespace portcullis;
using namespace portcullis::dissect;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pptp::MessageStream stream(fuzz::input(data, size));
    while (auto m = stream.next()) {
        fuzz::use(m->length() + m->message_type() + m->magic_cookie() + m->control_type());
        fuzz::use(m->call_id());
        fuzz::use(m->peer_call_id());
        fuzz::use(m->result_code());
        fuzz::use(m->error_code());
        fuzz::use(m->cause_code());
        fuzz::use(m->stop_reason());
        fuzz::use(m->protocol_version());
        fuzz::use(m->echo_identifier());
        fuzz::use(m->framing_capabilities());
        fuzz::use(m->host_name());
        fuzz::use(pptp::control_type_name(m->control_type()).size());
        if (auto r = m->result_code()) fuzz::use(pptp::result_code_name(m->control_type(), *r).size());
        if (auto e = m->error_code()) fuzz::use(pptp::error_code_name(*e).size());
    }
    fuzz::use(static_cast<int>(stream.anomaly()));
    return 0;
}
