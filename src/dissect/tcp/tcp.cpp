#include "dissect/tcp/tcp.hpp"

namespace portcullis::dissect::tcp {

Parsed<Segment> Segment::parse(Bytes segment) {
    if (segment.size() < 20) return reject(Anomaly::tcp_truncated);
    Segment view;
    view.source_port_ = *read_be16(segment, 0);
    view.destination_port_ = *read_be16(segment, 2);
    view.sequence_ = *read_be32(segment, 4);
    view.acknowledgment_ = *read_be32(segment, 8);
    view.header_length_ = static_cast<std::uint8_t>((*read_u8(segment, 12) >> 4) * 4);
    view.flags_ = *read_u8(segment, 13);
    view.window_ = *read_be16(segment, 14);
    view.checksum_ = *read_be16(segment, 16);
    view.urgent_pointer_ = *read_be16(segment, 18);
    if (view.header_length_ < 20) return reject(Anomaly::tcp_bad_data_offset);
    if (view.header_length_ > segment.size()) return reject(Anomaly::tcp_options_truncated);
    view.options_ = segment.subspan(20, view.header_length_ - 20u);
    view.payload_ = segment.subspan(view.header_length_);
    return view;
}

}  // namespace portcullis::dissect::tcp
