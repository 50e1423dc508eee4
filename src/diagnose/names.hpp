#pragma once
// Plain-words meanings of protocol codes, for findings and advice. Kept here rather than in
// dissect because they are explanations for admins, not protocol names.
#include <cstdint>
#include <string>

namespace portcullis::diagnose {

std::string ike_notify_label(bool v2, std::uint16_t type);    // "NO_PROPOSAL_CHOSEN (14)"
std::string ike_notify_advice(bool v2, std::uint16_t type);   // what to check
std::string l2tp_stopccn_result(std::uint16_t result);
std::string l2tp_cdn_result(std::uint16_t result);
std::string l2tp_error_code(std::uint16_t error);
std::string pptp_sccrp_result(std::uint8_t result);
std::string pptp_ocrp_result(std::uint8_t result);
std::string pptp_error_code(std::uint8_t error);
std::string icmp_meaning(bool v6, std::uint8_t type, std::uint8_t code);
std::string hex64(std::uint64_t value);
std::string hex32(std::uint32_t value);

}  // namespace portcullis::diagnose
