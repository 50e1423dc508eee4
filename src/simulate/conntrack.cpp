#include "simulate/conntrack.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace portcullis::simulate {

Tuple inverse(const Tuple& tuple) {
    return Tuple{tuple.destination, tuple.source, tuple.protocol, tuple.destination_port,
                 tuple.source_port};
}

std::string tuple_text(const Tuple& t) {
    return fmt::format("{}:{} → {}:{} proto {}", t.source.to_string(), t.source_port,
                       t.destination.to_string(), t.destination_port, t.protocol);
}

Conntrack::Found Conntrack::find(const Tuple& tuple, double now) {
    auto it = by_tuple_.find(tuple);
    if (it == by_tuple_.end()) return {};
    auto conn = connections_.find(it->second.first);
    if (conn == connections_.end()) return {};
    if (conn->second.expires <= now) {
        remove(conn->first);
        return {};
    }
    return {&conn->second, it->second.second};
}

const Connection* Conntrack::get(std::uint64_t id) const {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : &it->second;
}

Connection* Conntrack::get(std::uint64_t id) {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : &it->second;
}

void Conntrack::index(const Connection& c) {
    by_tuple_[c.original] = {c.id, false};
    by_tuple_[c.reply] = {c.id, true};
}

void Conntrack::unindex(const Connection& c) {
    for (const Tuple* t : {&c.original, &c.reply}) {
        auto it = by_tuple_.find(*t);
        if (it != by_tuple_.end() && it->second.first == c.id) by_tuple_.erase(it);
    }
}

Connection& Conntrack::insert(Connection connection) {
    // A tuple can belong to one connection only: the newer one replaces a stale holder.
    for (const Tuple* t : {&connection.original, &connection.reply}) {
        auto it = by_tuple_.find(*t);
        if (it != by_tuple_.end()) remove(it->second.first);
    }
    connection.id = next_id_++;
    auto [it, inserted] = connections_.emplace(connection.id, std::move(connection));
    index(it->second);
    return it->second;
}

void Conntrack::remove(std::uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    unindex(it->second);
    connections_.erase(it);
}

void Conntrack::expect(Expectation expectation) {
    expectations_.push_back(std::move(expectation));
}

std::optional<Expectation> Conntrack::take_expectation(const Tuple& tuple, double now) {
    expectations_.erase(std::remove_if(expectations_.begin(), expectations_.end(),
                                       [&](const Expectation& e) { return e.expires <= now; }),
                        expectations_.end());
    for (auto it = expectations_.begin(); it != expectations_.end(); ++it) {
        const Tuple& want = it->tuple;
        if (want.source == tuple.source && want.destination == tuple.destination &&
            want.protocol == tuple.protocol && want.destination_port == tuple.destination_port) {
            Expectation found = *it;
            expectations_.erase(it);
            return found;
        }
    }
    return std::nullopt;
}

void Conntrack::map_gre_key(const Tuple& tuple, std::uint16_t source_key) {
    Tuple key = tuple;
    key.source_port = 0;
    gre_keys_[key] = source_key;
}

std::uint16_t Conntrack::gre_source_key(const Tuple& tuple) const {
    Tuple key = tuple;
    key.source_port = 0;
    auto it = gre_keys_.find(key);
    return it == gre_keys_.end() ? 0 : it->second;
}

double conntrack_timeout(const Connection& c) {
    switch (c.original.protocol) {
        case 6:
            switch (c.tcp) {
                case TcpState::syn_sent: return 120;
                case TcpState::syn_recv: return 60;
                case TcpState::established: return 5 * 86400;
                case TcpState::fin_wait: return 120;
                case TcpState::close: return 10;
                case TcpState::none: return 120;
            }
            return 120;
        case 17: return c.seen_reply ? 120 : 30;
        case 1:
        case 58: return 30;
        case 47: return c.seen_reply ? 180 : 30;
        default: return 600;
    }
}

}  // namespace portcullis::simulate
