#include "dissect/icmp/icmp.hpp"

namespace portcullis::dissect::icmp {

Parsed<Message> Message::parse_v4(Bytes data) {
    if (data.size() < 8) return reject(Anomaly::icmp_truncated);
    Message view;
    view.v6_ = false;
    view.type_ = *read_u8(data, 0);
    view.code_ = *read_u8(data, 1);
    view.checksum_ = *read_be16(data, 2);
    view.rest_ = *read_be32(data, 4);
    view.body_ = data.subspan(8);
    if (view.is_error()) view.quoted_ = view.body_;
    return view;
}

Parsed<Message> Message::parse_v6(Bytes data) {
    auto view = parse_v4(data);
    if (!view) return view;
    view->v6_ = true;
    view->quoted_ = view->is_error() ? view->body_ : Bytes{};
    return view;
}

bool Message::is_error() const {
    if (v6_) return type_ >= 1 && type_ <= 4;
    return type_ == 3 || type_ == 4 || type_ == 5 || type_ == 11 || type_ == 12;
}

bool Message::is_echo() const {
    if (v6_) return type_ == 128 || type_ == 129;
    return type_ == 0 || type_ == 8;
}

std::optional<std::uint32_t> Message::mtu() const {
    if (v6_ && type_ == 2) return rest_;
    if (!v6_ && type_ == 3 && code_ == 4) return rest_ & 0xffff;
    return std::nullopt;
}

}  // namespace portcullis::dissect::icmp
