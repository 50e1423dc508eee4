#pragma once
// The project's error-carrying return type. tl::expected (libexpected-dev) because the
// toolchains we must support (g++ 12, clang 14) do not ship std::expected.
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace portcullis {

struct Error {
    std::string message;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(std::string message) {
    return tl::unexpected<Error>(Error{std::move(message)});
}

}  // namespace portcullis
