// `portcullis diagnose CAPTURE [--json]`: read a capture, reconstruct the VPN sessions in it and
// say for each whether it worked and, if not, why — with the frames that prove it.
#include <cstdio>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/command.hpp"
#include "diagnose/diagnose.hpp"
#include "intake/capture_reader.hpp"

namespace portcullis::cli {

namespace {

nlohmann::json endpoint_json(const diagnose::Endpoint& endpoint) {
    return {{"address", endpoint.address.to_string()}, {"port", endpoint.port}};
}

nlohmann::json report_json(const diagnose::Report& report) {
    nlohmann::json sessions = nlohmann::json::array();
    for (const diagnose::Session& session : report.sessions) {
        nlohmann::json findings = nlohmann::json::array();
        for (const diagnose::Finding& finding : session.findings) {
            nlohmann::json item = {{"code", finding.code},
                                   {"severity", diagnose::severity_name(finding.severity)},
                                   {"summary", finding.summary},
                                   {"frames", finding.frames}};
            if (finding.frames_omitted != 0) item["frames_omitted"] = finding.frames_omitted;
            if (!finding.advice.empty()) item["advice"] = finding.advice;
            findings.push_back(std::move(item));
        }
        sessions.push_back({{"protocol", session.protocol},
                            {"id", session.id},
                            {"initiator", endpoint_json(session.initiator)},
                            {"responder", endpoint_json(session.responder)},
                            {"outcome", diagnose::outcome_name(session.outcome)},
                            {"cause", session.cause},
                            {"first_frame", session.first_frame},
                            {"last_frame", session.last_frame},
                            {"packets", session.packets},
                            {"findings", std::move(findings)}});
    }
    nlohmann::json anomalies = nlohmann::json::object();
    for (const auto& [name, count] : report.anomalies) anomalies[name] = count;
    nlohmann::json out = {{"capture", report.capture},
                          {"link_type", report.link_type},
                          {"frames", report.frames},
                          {"vpn_frames", report.vpn_frames},
                          {"malformed_frames", report.malformed},
                          {"anomalies", std::move(anomalies)},
                          {"session_cap_hit", report.session_cap_hit},
                          {"sessions_not_tracked", report.sessions_not_tracked},
                          {"failure", report.any_failure()},
                          {"sessions", std::move(sessions)}};
    if (!report.read_error.empty()) out["read_error"] = report.read_error;
    return out;
}

int run_diagnose(const std::string& path, bool json) {
    auto reader = intake::CaptureReader::open(path);
    if (!reader) {
        fmt::print(stderr, "portcullis diagnose: {}\n", reader.error().message);
        return kPolicyInvalid;  // "the policy (or another input file) has errors"
    }
    diagnose::Diagnoser diagnoser;
    while (auto frame = (*reader)->next()) {
        double time = static_cast<double>(frame->seconds) + frame->nanoseconds * 1e-9;
        diagnoser.add_frame(frame->number, time, frame->link_type, frame->data);
    }
    diagnose::Report report = diagnoser.finish((*reader)->name(), (*reader)->link_type_name());
    if ((*reader)->error()) {
        report.read_error = (*reader)->error()->message;
        if (report.frames == 0) {
            fmt::print(stderr, "portcullis diagnose: {}\n", report.read_error);
            return kPolicyInvalid;
        }
    }
    if (json) {
        fmt::print("{}\n", report_json(report).dump(2));
    } else {
        fmt::print("{}", diagnose::render_text(report));
    }
    return report.any_failure() ? kFindings : kOk;
}

}  // namespace

void register_diagnose(CLI::App& app, Action& action) {
    auto* sub = app.add_subcommand(
        "diagnose", "explain why VPN connections in a capture (pcap/pcapng, - for stdin) fail");
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    sub->add_option("CAPTURE", *path, "capture file (pcap or pcapng), or - for standard input")->required();
    sub->add_flag("--json", *json, "print the report as JSON");
    sub->callback([&action, path, json] {
        action = [path, json] { return run_diagnose(*path, *json); };
    });
}

}  // namespace portcullis::cli
