// The exposure report of `check`: text and JSON say what the compiled table enforces.
#include "compile/report.hpp"

#include "support.hpp"

namespace {

using namespace pc_test;
using portcullis::compile::render_report_json;
using portcullis::compile::render_report_text;

fs::path own_policy(const std::string& name) {
    return source_root() / "tests/unit/compile/policies" / (name + ".toml");
}

const nlohmann::json& service(const nlohmann::json& report, const std::string& name) {
    for (const auto& s : report["services"])
        if (s["name"] == name) return s;
    static const nlohmann::json none;
    ADD_FAILURE() << "no service " << name;
    return none;
}

TEST(ReportJson, GatewayServicesExposuresAndDestinations) {
    auto report = render_report_json(load_policy(own_policy("gateway_mixed")));
    EXPECT_EQ(report["mode"], "gateway");
    EXPECT_EQ(report["default_action"], "reject");
    EXPECT_EQ(report["masquerade"], true);
    EXPECT_EQ(report["logging"]["nflog_group"], 5);
    EXPECT_EQ(report["logging"]["rate_per_second"], 20);
    ASSERT_EQ(report["services"].size(), 5u);
    // Sorted by name whatever the file order.
    EXPECT_EQ(report["services"][0]["name"], "legacy-pptp");
    EXPECT_EQ(report["services"][4]["name"], "wg");

    const auto& vpn = service(report, "vpn");
    EXPECT_EQ(vpn["preset"], "ikev2");
    EXPECT_NE(vpn["explanation"].get<std::string>().find("UDP 4500"), std::string::npos);
    ASSERT_EQ(vpn["exposures"].size(), 3u);
    EXPECT_EQ(vpn["exposures"][0]["port"], "udp/500");
    EXPECT_EQ(vpn["exposures"][0]["delivery"], "forwarded");
    EXPECT_EQ(vpn["exposures"][0]["destination"], "192.0.2.10:500");
    EXPECT_EQ(vpn["exposures"][0]["families"], nlohmann::json::array({"ipv4"}));
    EXPECT_EQ(vpn["exposures"][2]["port"], "esp");
    EXPECT_EQ(vpn["exposures"][2]["destination"], "192.0.2.10");
    EXPECT_EQ(vpn["sources"], nlohmann::json::array({"any"}));

    const auto& web = service(report, "web");
    EXPECT_EQ(web["exposures"][0]["destination"], "192.0.2.12:443");
    EXPECT_NE(web["exposures"][0]["note"].get<std::string>().find("8443 becomes 443"), std::string::npos);

    const auto& pptp = service(report, "legacy-pptp");
    EXPECT_EQ(pptp["exposures"][1]["port"], "gre");
    EXPECT_EQ(pptp["exposures"][1]["delivery"], "pptp_expectation");
    EXPECT_EQ(pptp["exposures"][1]["destination"], "192.0.2.11");

    const auto& media = service(report, "media");
    EXPECT_EQ(media["exposures"][0]["destination"], "2001:db8:2::10");  // a range keeps its ports
    EXPECT_EQ(media["sources"], nlohmann::json::array({"2001:db8::/32", "198.51.100.7"}));
    ASSERT_EQ(media["notes"].size(), 1u);
    EXPECT_NE(media["notes"][0].get<std::string>().find("IPv4 sources cannot reach"), std::string::npos);

    const auto& wg = service(report, "wg");
    EXPECT_EQ(wg["guard"], "grant");
    EXPECT_EQ(wg["exposures"][0]["delivery"], "local");
    EXPECT_EQ(wg["grant_sets"], nlohmann::json::array({"grant4_wg", "grant6_wg"}));

    EXPECT_EQ(report["management"]["ports"], nlohmann::json::array({"tcp/22"}));
    EXPECT_EQ(report["management"]["active"], true);
}

TEST(ReportJson, HostL2tpOnlyInsideIpsec) {
    auto report = render_report_json(load_policy(own_policy("host_l2tp")));
    const auto& l2tp = service(report, "l2tp");
    const auto& last = l2tp["exposures"].back();
    EXPECT_EQ(last["port"], "udp/1701");
    EXPECT_EQ(last["delivery"], "local_inside_ipsec");
    EXPECT_EQ(last["destination"], "this host");
}

TEST(ReportJson, WarningsCarryLocations) {
    auto report = render_report_json(load_policy(own_policy("gateway_minimal")));
    ASSERT_FALSE(report["warnings"].empty());  // no management block: lockout risk
    const auto& w = report["warnings"][0];
    EXPECT_NE(w["file"].get<std::string>().find("gateway_minimal.toml"), std::string::npos);
    EXPECT_NE(w["text"].get<std::string>().find(": warning: "), std::string::npos);
    EXPECT_EQ(report["management"]["active"], false);
}

TEST(ReportText, SaysWhatIsReachableFromWhereAndWhy) {
    auto text = render_report_text(load_policy(own_policy("gateway_mixed")));
    EXPECT_NE(text.find("Service vpn (preset ikev2)"), std::string::npos) << text;
    EXPECT_NE(text.find("udp/500"), std::string::npos);
    EXPECT_NE(text.find("-> 192.0.2.10:500"), std::string::npos);
    EXPECT_NE(text.find("reject every other packet"), std::string::npos);
    EXPECT_NE(text.find("sources  203.0.113.10, 2001:db8:1::/64, 198.51.100.0/24"), std::string::npos) << text;
    EXPECT_NE(text.find("guard    grant"), std::string::npos);
    EXPECT_NE(text.find("PPTP call"), std::string::npos);
    EXPECT_NE(text.find("Warnings ("), std::string::npos);
    // Exposure rows of one service are aligned: every "-> " starts in the same column.
    auto block = text.substr(text.find("Service vpn"));
    block = block.substr(0, block.find("counters"));
    std::vector<std::size_t> columns;
    std::size_t at = 0;
    while ((at = block.find("-> ", at)) != std::string::npos) {
        columns.push_back(at - block.rfind('\n', at));
        at += 3;
    }
    ASSERT_EQ(columns.size(), 3u);
    EXPECT_EQ(columns[0], columns[1]);
    EXPECT_EQ(columns[1], columns[2]);
}

TEST(ReportText, LongSourceListsAreShortened) {
    portcullis::policy::Policy p;
    p.wan_interfaces = {"eth0"};
    portcullis::policy::Service s;
    s.name = "many";
    s.ports = {{portcullis::policy::IpProtocol::udp, portcullis::policy::PortRange{1194, 1194}, {}}};
    for (int i = 0; i < 20; ++i) s.allow_from.push_back(*portcullis::Prefix::parse("192.0.2." + std::to_string(i)));
    p.services.push_back(s);
    auto text = render_report_text(p);
    EXPECT_NE(text.find("and 12 more (see --json)"), std::string::npos) << text;
    EXPECT_EQ(render_report_json(p)["services"][0]["sources"].size(), 20u);
}

}  // namespace
