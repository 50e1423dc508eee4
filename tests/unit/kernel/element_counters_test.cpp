// The element comment parser reads nft's user-data TLVs (type, length, value) from the kernel:
// bounds-checked, and the counter name is the comment's C string.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernel/netlink_element_counters.hpp"

namespace {

using portcullis::kernel::element_comment;

std::vector<std::uint8_t> tlv(std::uint8_t type, const std::string& value, bool nul = true) {
    std::vector<std::uint8_t> out{type, static_cast<std::uint8_t>(value.size() + (nul ? 1 : 0))};
    out.insert(out.end(), value.begin(), value.end());
    if (nul) out.push_back(0);
    return out;
}

TEST(ElementComment, FindsTheCommentAmongOtherTlvs) {
    auto data = tlv(5, "xx");
    auto comment = tlv(0, "svc_vpn_accepted");
    data.insert(data.end(), comment.begin(), comment.end());
    EXPECT_EQ(element_comment(data.data(), static_cast<std::uint32_t>(data.size())), "svc_vpn_accepted");
}

TEST(ElementComment, TruncatedOrAbsentGivesNothing) {
    auto data = tlv(0, "svc_vpn_accepted");
    EXPECT_EQ(element_comment(data.data(), 5), "");  // length says more than there is
    EXPECT_EQ(element_comment(data.data(), 1), "");
    EXPECT_EQ(element_comment(nullptr, 0), "");
    auto other = tlv(3, "abc");
    EXPECT_EQ(element_comment(other.data(), static_cast<std::uint32_t>(other.size())), "");
}

TEST(ElementComment, WithoutTerminatorTakesTheWholeValue) {
    auto data = tlv(0, "svc_x_dropped", false);
    EXPECT_EQ(element_comment(data.data(), static_cast<std::uint32_t>(data.size())), "svc_x_dropped");
}

}  // namespace
