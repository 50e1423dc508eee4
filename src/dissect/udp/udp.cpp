#include "dissect/udp/udp.hpp"

namespace portcullis::dissect::udp {

Parsed<Datagram> Datagram::parse(Bytes segment) {
    if (segment.size() < 8) return reject(Anomaly::udp_truncated);
    Datagram view;
    view.source_port_ = *read_be16(segment, 0);
    view.destination_port_ = *read_be16(segment, 2);
    view.length_ = *read_be16(segment, 4);
    view.checksum_ = *read_be16(segment, 6);
    // Length 0 is legal for jumbograms over IPv6 only; either way the data is all we have.
    std::size_t length = view.length_ == 0 ? segment.size() : view.length_;
    if (length < 8) return reject(Anomaly::udp_bad_length);
    if (length > segment.size()) {
        view.truncated_ = true;
        length = segment.size();
    }
    view.payload_ = segment.subspan(8, length - 8);
    return view;
}

}  // namespace portcullis::dissect::udp
