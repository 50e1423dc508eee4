#pragma once
// A visitor built from lambdas, for std::visit over the IR's variants:
//   std::visit(Overloaded{[](const A&) {...}, [](const B&) {...}}, value);

namespace portcullis {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace portcullis
