#include "simulate/report.hpp"

#include <fmt/format.h>

#include <cctype>
#include <type_traits>

#include "intake/capture_reader.hpp"

namespace portcullis::simulate {

namespace {

std::optional<std::uint32_t> parse_seconds(const std::string& text) {
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    std::size_t i = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
        if (value > 0xffffffffull) return std::nullopt;
    }
    if (i == 0) return std::nullopt;
    std::uint64_t unit = 1;
    if (i + 1 == text.size()) {
        switch (text[i]) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            default: return std::nullopt;
        }
    } else if (i != text.size()) {
        return std::nullopt;
    }
    if (value * unit > 0xffffffffull) return std::nullopt;
    return static_cast<std::uint32_t>(value * unit);
}

// Splits "THING[:SECONDS]" where THING may itself contain ':' (IPv6): "[THING]:SECONDS" or a
// THING that parses whole.
template <typename Parse>
auto split_seconds(const std::string& text, Parse parse, const char* what)
    -> Result<std::pair<std::decay_t<decltype(*parse(std::string()))>, std::optional<std::uint32_t>>> {
    using Value = std::decay_t<decltype(*parse(std::string()))>;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos) return fail(fmt::format("{} \"{}\": missing ']'", what, text));
        auto inner = parse(text.substr(1, close - 1));
        if (!inner) return fail(fmt::format("{} \"{}\": {}", what, text, inner.error().message));
        std::optional<std::uint32_t> seconds;
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':' || !(seconds = parse_seconds(text.substr(close + 2))))
                return fail(fmt::format("{} \"{}\": expected [ADDRESS]:SECONDS", what, text));
        }
        return std::pair<Value, std::optional<std::uint32_t>>{*inner, seconds};
    }
    if (auto whole = parse(text)) return std::pair<Value, std::optional<std::uint32_t>>{*whole, std::nullopt};
    auto colon = text.rfind(':');
    if (colon != std::string::npos) {
        auto head = parse(text.substr(0, colon));
        auto seconds = parse_seconds(text.substr(colon + 1));
        if (head && seconds) return std::pair<Value, std::optional<std::uint32_t>>{*head, seconds};
        if (head) return fail(fmt::format("{} \"{}\": \"{}\" is not a number of seconds", what, text,
                                          text.substr(colon + 1)));
    }
    auto error = parse(text);
    return fail(fmt::format("{} \"{}\": {}", what, text, error.error().message));
}

Result<Prefix> prefix_or_address(const std::string& text) {
    if (text.find('/') != std::string::npos) return Prefix::parse(text);
    auto address = Address::parse(text);
    if (!address) return tl::unexpected(address.error());
    return Prefix{*address, static_cast<std::uint8_t>(address->width_bits())};
}

std::string verdict_text(const Outcome& o) {
    std::string out = verdict_name(o.verdict);
    if (o.verdict == Verdict::reject && !o.reject_with.empty()) out += " (" + o.reject_with + ")";
    return out;
}

std::string decision_text(const Decision& d) {
    if (d.chain.empty()) return d.text;
    if (d.rule == 0) return d.chain + ": " + d.text;
    std::string out = fmt::format("{} #{}: {}", d.chain, d.rule, d.text);
    return out;
}

}  // namespace

Result<InitialGrant> parse_grant(const std::string& text) {
    auto equals = text.find('=');
    if (equals == std::string::npos || equals == 0)
        return fail("--grant \"" + text + "\": expected SERVICE=ADDRESS[:SECONDS]");
    auto rest = split_seconds(text.substr(equals + 1), [](const std::string& t) { return Address::parse(t); },
                              "--grant");
    if (!rest) return tl::unexpected(rest.error());
    return InitialGrant{text.substr(0, equals), rest->first, rest->second};
}

Result<InitialBan> parse_ban(const std::string& text) {
    auto rest = split_seconds(text, prefix_or_address, "--ban");
    if (!rest) return tl::unexpected(rest.error());
    return InitialBan{rest->first, rest->second};
}

std::string render_text(const Outcome& o, bool explain) {
    std::string line = fmt::format("#{:<6} {:<58} {:<7}", o.packet.frame, summary_text(o.packet), verdict_text(o));
    if (o.verdict != Verdict::skip) {
        std::string where = path_name(o.path);
        if (o.dnat) where += " → " + *o.dnat;
        if (o.snat) where += " masq " + *o.snat;
        if (o.unsnat) where += " → " + *o.unsnat + " (unmasq)";
        line += fmt::format(" {:<9} ct={:<11}", where, o.ct_state.empty() ? "-" : o.ct_state);
    }
    if (!explain) {
        const Decision& d = o.decided_by;
        std::string brief = d.chain.empty() ? d.text : (d.rule ? fmt::format("{} #{}", d.chain, d.rule) : d.chain + " " + d.text);
        if (!d.element.empty()) brief += " [" + d.element + "]";
        return line + " " + brief + "\n";
    }
    line += "\n";
    if (o.datagram_frame && *o.datagram_frame != o.packet.frame)
        line += fmt::format("        fragment of the datagram decided at frame {}\n", *o.datagram_frame);
    for (const auto& step : o.trace) {
        if (step.rule == 0)
            line += fmt::format("        {}: {}\n", step.chain, step.text);
        else
            line += fmt::format("        {} #{}: {}{}\n", step.chain, step.rule, step.text,
                                step.element.empty() ? "" : "   [element " + step.element + "]");
    }
    for (const auto& log : o.logs) line += "        log " + log + "\n";
    line += "        decided by " + decision_text(o.decided_by);
    if (!o.decided_by.element.empty()) line += "   [element " + o.decided_by.element + "]";
    return line + "\n";
}

nlohmann::json to_json(const Outcome& o, bool explain) {
    const Packet& p = o.packet;
    nlohmann::json j = {{"frame", p.frame}, {"time", p.time}, {"verdict", verdict_name(o.verdict)}};
    if (p.family) {
        j["family"] = p.family == 4 ? "ipv4" : "ipv6";
        j["src"] = p.source.to_string();
        j["dst"] = p.destination.to_string();
        j["proto"] = protocol_name(p.l4proto);
        j["length"] = p.length;
        if (p.ip_id) j["ip_id"] = *p.ip_id;
        if (p.source_port) j["sport"] = *p.source_port;
        if (p.destination_port) j["dport"] = *p.destination_port;
        if (p.icmp_type) j["icmp_type"] = *p.icmp_type;
        if (p.fragment) j["fragment_offset"] = p.fragment->offset_bytes;
    }
    j["packet"] = summary_text(p);
    if (o.verdict == Verdict::reject) j["reject_with"] = o.reject_with;
    j["path"] = path_name(o.path);
    if (!o.iif.empty()) j["iif"] = o.iif;
    if (!o.oif.empty()) j["oif"] = o.oif;
    if (!o.ct_state.empty()) j["ct_state"] = o.ct_state;
    if (o.connection) j["connection"] = *o.connection;
    if (o.dnat) j["dnat"] = *o.dnat;
    if (o.snat) j["snat"] = *o.snat;
    if (o.unsnat) j["unsnat"] = *o.unsnat;
    if (o.datagram_frame) j["datagram_frame"] = *o.datagram_frame;
    nlohmann::json decided = {{"text", o.decided_by.text}};
    if (!o.decided_by.chain.empty()) decided["chain"] = o.decided_by.chain;
    if (o.decided_by.rule) decided["rule"] = o.decided_by.rule;
    if (!o.decided_by.element.empty()) decided["element"] = o.decided_by.element;
    j["decided_by"] = decided;
    if (!o.logs.empty()) j["logs"] = o.logs;
    if (explain) {
        nlohmann::json trace = nlohmann::json::array();
        for (const auto& step : o.trace) {
            nlohmann::json s = {{"chain", step.chain}, {"text", step.text}};
            if (step.rule) s["rule"] = step.rule;
            if (!step.element.empty()) s["element"] = step.element;
            trace.push_back(std::move(s));
        }
        j["trace"] = std::move(trace);
    }
    return j;
}

std::string render_summary(const Summary& s) {
    std::string out = fmt::format("\n{} packets:", s.packets);
    for (const char* v : {"accept", "drop", "reject", "skip"}) {
        auto it = s.verdicts.find(v);
        out += fmt::format(" {} {}", it == s.verdicts.end() ? 0 : it->second, v);
        if (std::string(v) != "skip") out += ",";
    }
    out += "\npaths:";
    for (const auto& [path, count] : s.paths) out += fmt::format(" {} {}", path, count);
    out += fmt::format("\nconnections created: {}, log messages: {}\ncounters:\n", s.connections, s.logged);
    for (const auto& [name, value] : s.counters)
        out += fmt::format("  {:<32} {:>8} packets {:>10} bytes\n", name, value.packets, value.bytes);
    return out;
}

nlohmann::json to_json(const Summary& s) {
    nlohmann::json verdicts = {{"accept", 0}, {"drop", 0}, {"reject", 0}, {"skip", 0}};
    for (const auto& [v, count] : s.verdicts) verdicts[v] = count;
    nlohmann::json counters = nlohmann::json::object();
    for (const auto& [name, value] : s.counters)
        counters[name] = {{"packets", value.packets}, {"bytes", value.bytes}};
    return {{"summary",
             {{"packets", s.packets},
              {"verdicts", verdicts},
              {"paths", s.paths},
              {"connections", s.connections},
              {"logged", s.logged},
              {"counters", counters}}}};
}

Result<CaptureRun> run_capture(Simulator& simulator, const std::string& path,
                               const std::function<void(const Outcome&)>& sink) {
    auto reader = intake::CaptureReader::open(path);
    if (!reader) return tl::unexpected(reader.error());
    CaptureRun run;
    while (auto frame = (*reader)->next()) {
        ++run.frames;
        const double time = static_cast<double>(frame->seconds) + frame->nanoseconds * 1e-9;
        Packet packet = decode_frame(frame->number, time, static_cast<std::uint32_t>(frame->link_type), frame->data);
        for (const auto& outcome : simulator.process(packet)) sink(outcome);
    }
    for (const auto& outcome : simulator.finish()) sink(outcome);
    if ((*reader)->error()) run.read_error = (*reader)->error()->message;
    return run;
}

}  // namespace portcullis::simulate
