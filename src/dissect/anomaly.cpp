#include "dissect/anomaly.hpp"

namespace portcullis::dissect {

std::string_view anomaly_name(Anomaly anomaly) {
    switch (anomaly) {
#define PC_DISSECT_NAME(name) \
    case Anomaly::name:       \
        return #name;
        PC_DISSECT_ANOMALIES(PC_DISSECT_NAME)
#undef PC_DISSECT_NAME
    }
    return "unknown";
}

}  // namespace portcullis::dissect
