#pragma once
// Size limits shared by every netlink element writer (runtime sets and the staged static sets), so
// the encoders cannot drift apart.
#include <cstddef>

namespace portcullis::kernel {

inline constexpr std::size_t kMaxElementsNestBytes = 60 * 1024;      // under nla_len's 65535
inline constexpr std::size_t kMaxBatchBytes = 4 * 1024 * 1024;       // one sendmsg()
inline constexpr std::size_t kSocketBufferBytes = 16 * 1024 * 1024;  // > kMaxBatchBytes

}  // namespace portcullis::kernel
