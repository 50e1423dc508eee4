#include "dissect/esp/esp.hpp"

namespace portcullis::dissect::esp {

Parsed<Packet> Packet::parse(Bytes data) {
    if (data.size() < 8) return reject(Anomaly::esp_truncated);
    Packet view;
    view.spi_ = *read_be32(data, 0);
    view.sequence_ = *read_be32(data, 4);
    if (view.spi_ == 0) return reject(Anomaly::esp_zero_spi);
    view.encrypted_ = data.subspan(8);
    return view;
}

}  // namespace portcullis::dissect::esp
