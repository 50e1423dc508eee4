#include "diagnose/names.hpp"

#include <cstdio>

#include "dissect/ike/ike.hpp"

namespace portcullis::diagnose {

std::string hex64(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
    return buffer;
}

std::string hex32(std::uint32_t value) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%08x", value);
    return buffer;
}

std::string ike_notify_label(bool v2, std::uint16_t type) {
    // The protocol names live with the dissector; this file adds only what admins should do.
    const std::string_view name = dissect::ike::notify_name(v2, type);
    std::string label = name != "unknown" ? std::string(name) : (v2 ? "notify" : "notification");
    return label + " (" + std::to_string(type) + ")";
}

std::string ike_notify_advice(bool v2, std::uint16_t type) {
    switch (type) {
        case 14:
            return "The two peers share no acceptable algorithm set. Compare the initiator's "
                   "offer below with the responder's configured proposals (encryption, "
                   "integrity/hash, PRF, DH group) and add a common one on either side.";
        case 17:
            return v2 ? "The responder wants a different Diffie-Hellman group; the initiator "
                        "should retry with the group named. Put that group first in the "
                        "initiator's proposal to save a round trip."
                      : "The responder rejected the key exchange data; check the DH group.";
        case 7:
            return "The responder could not parse the message: check for a middlebox "
                   "altering packets, or an implementation bug on one side.";
        case 24:
            return "Authentication failed: the pre-shared key, certificate or EAP credentials "
                   "do not match what the responder expects. Check the PSK on both sides (and "
                   "the identities it is bound to).";
        case 18:
            return "The responder rejected the identity (ID payload): check the configured "
                   "local/remote identities on both sides.";
        case 23:
        case 25:
            return "The peer's hash/signature did not verify: usually a pre-shared key "
                   "mismatch or the wrong certificate.";
        case 16:
            return "The peer could not parse the payloads — with IKEv1 Main Mode this often "
                   "means it decrypted message 5 with the wrong key, i.e. a pre-shared key "
                   "mismatch.";
        case 38:
        case 39:
            return "The traffic selectors (subnets) do not match: align local_ts/remote_ts "
                   "(leftsubnet/rightsubnet) on both sides.";
        case 36:
            return "The responder could not assign a virtual IP: check its address pool.";
        case 4:
            return "The peer does not know this IKE SA (it restarted or lost state).";
        default:
            return "The peer refused the request with this error; check its log for details.";
    }
}

std::string l2tp_stopccn_result(std::uint16_t result) {
    switch (result) {
        case 1: return "general request to clear the control connection";
        case 2: return "general error (see error code)";
        case 3: return "control channel already exists";
        case 4: return "requester is not authorized to establish a control channel";
        case 5: return "protocol version of the requester is not supported";
        case 6: return "requester is being shut down";
        case 7: return "finite state machine error";
        default: return "result code " + std::to_string(result);
    }
}

std::string l2tp_cdn_result(std::uint16_t result) {
    switch (result) {
        case 1: return "call disconnected due to loss of carrier";
        case 2: return "call disconnected for the reason in the error code";
        case 3: return "call disconnected for administrative reasons";
        case 4: return "no facilities available (temporary)";
        case 5: return "no facilities available (permanent)";
        case 6: return "invalid destination";
        case 7: return "no carrier detected";
        case 8: return "busy signal";
        case 9: return "no dial tone";
        case 10: return "call not established within the time allotted";
        case 11: return "call connected but no appropriate framing detected";
        default: return "result code " + std::to_string(result);
    }
}

std::string l2tp_error_code(std::uint16_t error) {
    switch (error) {
        case 0: return "no general error";
        case 1: return "no control connection exists yet for this peer";
        case 2: return "length is wrong";
        case 3: return "a field is out of range or reserved";
        case 4: return "insufficient resources";
        case 5: return "invalid session ID";
        case 6: return "vendor-specific error";
        case 7: return "try another LNS";
        case 8: return "unknown mandatory AVP";
        default: return "error code " + std::to_string(error);
    }
}

std::string pptp_sccrp_result(std::uint8_t result) {
    switch (result) {
        case 1: return "successful channel establishment";
        case 2: return "general error (see error code)";
        case 3: return "command channel already exists";
        case 4: return "requester is not authorized to establish a command channel";
        case 5: return "the protocol version of the requester is not supported";
        default: return "result code " + std::to_string(result);
    }
}

std::string pptp_ocrp_result(std::uint8_t result) {
    switch (result) {
        case 1: return "connected";
        case 2: return "general error (see error code)";
        case 3: return "no carrier";
        case 4: return "busy";
        case 5: return "no dial tone";
        case 6: return "time-out";
        case 7: return "do not accept";
        default: return "result code " + std::to_string(result);
    }
}

std::string pptp_error_code(std::uint8_t error) {
    switch (error) {
        case 0: return "none";
        case 1: return "not connected";
        case 2: return "bad format";
        case 3: return "bad value";
        case 4: return "no resource";
        case 5: return "bad call ID";
        case 6: return "PAC error";
        default: return "error code " + std::to_string(error);
    }
}

std::string icmp_meaning(bool v6, std::uint8_t type, std::uint8_t code) {
    if (!v6) {
        if (type == 3) {
            switch (code) {
                case 0: return "network unreachable";
                case 1: return "host unreachable";
                case 2: return "protocol unreachable";
                case 3: return "port unreachable";
                case 4: return "fragmentation needed";
                case 9:
                case 10: return "network/host administratively prohibited";
                case 13: return "communication administratively prohibited";
                default: return "destination unreachable (code " + std::to_string(code) + ")";
            }
        }
        if (type == 11) return "time exceeded";
        return "ICMP error type " + std::to_string(type);
    }
    if (type == 1) {
        switch (code) {
            case 0: return "no route to destination";
            case 1: return "communication administratively prohibited";
            case 3: return "address unreachable";
            case 4: return "port unreachable";
            case 5: return "source address failed ingress/egress policy";
            case 6: return "reject route to destination";
            default: return "destination unreachable (code " + std::to_string(code) + ")";
        }
    }
    if (type == 2) return "packet too big";
    if (type == 3) return "time exceeded";
    return "ICMPv6 error type " + std::to_string(type);
}

}  // namespace portcullis::diagnose
