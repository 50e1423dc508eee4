#include "dissect/l2tp/l2tp.hpp"

namespace portcullis::dissect::l2tp {

std::optional<std::uint16_t> Avp::value16() const {
    if (value.size() != 2) return std::nullopt;
    return read_be16(value, 0);
}

std::optional<std::uint32_t> Avp::value32() const {
    if (value.size() != 4) return std::nullopt;
    return read_be32(value, 0);
}

std::optional<Avp> AvpChain::next() {
    if (anomaly_ != Anomaly::none || position_ >= area_.size()) return std::nullopt;
    auto fail = [&](Anomaly anomaly) -> std::optional<Avp> {
        anomaly_ = anomaly;
        return std::nullopt;
    };
    if (count_ == kMaxAvps) return fail(Anomaly::l2tp_avp_chain_too_long);
    auto bits = read_be16(area_, position_);
    auto vendor = read_be16(area_, position_ + 2);
    auto type = read_be16(area_, position_ + 4);
    if (!bits || !vendor || !type) return fail(Anomaly::l2tp_avp_truncated);
    Avp avp;
    avp.mandatory = (*bits & 0x8000) != 0;
    avp.hidden = (*bits & 0x4000) != 0;
    avp.length = static_cast<std::uint16_t>(*bits & 0x03ff);
    avp.vendor_id = *vendor;
    avp.type = *type;
    if (avp.length < 6) return fail(Anomaly::l2tp_avp_bad_length);
    if (avp.length > area_.size() - position_) return fail(Anomaly::l2tp_avp_truncated);
    avp.value = area_.subspan(position_ + 6, avp.length - 6u);
    position_ += avp.length;
    ++count_;
    return avp;
}

Parsed<Message> Message::parse(Bytes data) {
    auto flags = read_be16(data, 0);
    if (!flags) return reject(Anomaly::l2tp_truncated);
    Message view;
    view.flags_ = *flags;
    view.version_ = static_cast<std::uint8_t>(*flags & 0x000f);
    std::size_t offset = 2;
    if (view.version_ == 3) {
        if (view.is_control()) {
            // flags(2) length(2) control connection ID(4) Ns(2) Nr(2)
            if (!view.has_length() || !view.has_sequence())
                return reject(Anomaly::l2tp_control_missing_fields);
            if (data.size() < 12) return reject(Anomaly::l2tp_truncated);
            view.length_ = read_be16(data, 2);
            view.tunnel_id_ = *read_be32(data, 4);
            view.ns_ = read_be16(data, 8);
            view.nr_ = read_be16(data, 10);
            offset = 12;
        } else {
            // flags(2) reserved(2) session ID(4): the session payload follows (cookie first).
            if (data.size() < 8) return reject(Anomaly::l2tp_truncated);
            view.session_id_ = *read_be32(data, 4);
            view.body_ = data.subspan(8);
            return view;
        }
    } else if (view.version_ == 2) {
        if (view.is_control() && (!view.has_length() || !view.has_sequence()))
            return reject(Anomaly::l2tp_control_missing_fields);
        if (view.has_length()) {
            view.length_ = read_be16(data, offset);
            if (!view.length_) return reject(Anomaly::l2tp_truncated);
            offset += 2;
        }
        auto tunnel = read_be16(data, offset);
        auto session = read_be16(data, offset + 2);
        if (!tunnel || !session) return reject(Anomaly::l2tp_truncated);
        view.tunnel_id_ = *tunnel;
        view.session_id_ = *session;
        offset += 4;
        if (view.has_sequence()) {
            view.ns_ = read_be16(data, offset);
            view.nr_ = read_be16(data, offset + 2);
            if (!view.ns_ || !view.nr_) return reject(Anomaly::l2tp_truncated);
            offset += 4;
        }
        if (view.has_offset()) {
            auto pad = read_be16(data, offset);
            if (!pad) return reject(Anomaly::l2tp_truncated);
            offset += 2;
            if (*pad > data.size() - offset) return reject(Anomaly::l2tp_bad_offset);
            offset += *pad;
        }
    } else {
        return reject(Anomaly::l2tp_bad_version);
    }
    std::size_t end = data.size();
    if (view.length_) {
        if (*view.length_ < offset) return reject(Anomaly::l2tp_bad_length);
        if (*view.length_ > data.size()) {
            view.truncated_ = true;
        } else {
            end = *view.length_;
        }
    }
    view.body_ = data.subspan(offset, end - offset);
    return view;
}

std::optional<std::uint16_t> Message::message_type() const {
    if (!is_control()) return std::nullopt;
    auto chain = avps();
    auto first = chain.next();
    if (!first || first->hidden || first->vendor_id != 0 || first->type != avp::kMessageType)
        return std::nullopt;
    return first->value16();
}

std::optional<Avp> Message::find_avp(std::uint16_t type, std::uint16_t vendor_id) const {
    auto chain = avps();
    while (auto item = chain.next()) {
        if (item->type == type && item->vendor_id == vendor_id) return item;
    }
    return std::nullopt;
}

std::optional<ResultCode> Message::result_code() const {
    auto item = find_avp(avp::kResultCode);
    if (!item || item->hidden) return std::nullopt;
    auto result = read_be16(item->value, 0);
    if (!result) return std::nullopt;
    ResultCode code;
    code.result = *result;
    code.error = read_be16(item->value, 2);
    if (item->value.size() > 4) code.message = item->value.subspan(4);
    return code;
}

Anomaly Message::validate() const {
    if (truncated_) return Anomaly::l2tp_truncated;
    if (!is_control() || is_zlb()) return Anomaly::none;
    auto chain = avps();
    bool first = true;
    while (auto item = chain.next()) {
        if (first) {
            if (item->vendor_id != 0 || item->type != avp::kMessageType || item->value.size() != 2)
                return Anomaly::l2tp_message_type_missing;
            if (item->hidden) return Anomaly::l2tp_message_type_hidden;
            first = false;
        }
        if (item->vendor_id == 0 && item->type == avp::kResultCode && !item->hidden &&
            item->value.size() < 2)
            return Anomaly::l2tp_result_code_truncated;
    }
    if (chain.anomaly() != Anomaly::none) return chain.anomaly();
    return first ? Anomaly::l2tp_message_type_missing : Anomaly::none;
}

std::string_view message_type_name(std::uint16_t type) {
    switch (type) {
    case message::kSccrq: return "SCCRQ";
    case message::kSccrp: return "SCCRP";
    case message::kScccn: return "SCCCN";
    case message::kStopCcn: return "StopCCN";
    case message::kHello: return "HELLO";
    case message::kOcrq: return "OCRQ";
    case message::kOcrp: return "OCRP";
    case message::kOccn: return "OCCN";
    case message::kIcrq: return "ICRQ";
    case message::kIcrp: return "ICRP";
    case message::kIccn: return "ICCN";
    case message::kCdn: return "CDN";
    case message::kWen: return "WEN";
    case message::kSli: return "SLI";
    case message::kV3Ack: return "ACK";
    }
    return "unknown";
}

}  // namespace portcullis::dissect::l2tp
