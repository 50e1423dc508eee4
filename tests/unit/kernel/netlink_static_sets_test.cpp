#include <gtest/gtest.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernel/netlink_static_sets.hpp"
#include "kernel/transaction.hpp"

namespace portcullis::kernel {
namespace {

namespace ir = compile::ir;
using Bytes = std::vector<std::uint8_t>;

Prefix P(const char* text) { return *Prefix::parse(text); }
policy::PortRange ports(std::uint16_t first, std::uint16_t last) { return policy::PortRange{first, last}; }
policy::PortRange port(std::uint16_t number) { return ports(number, number); }

ir::Element element(std::vector<ir::Value> key, std::string comment = {}, ir::MapData data = {}) {
    ir::Element out;
    out.key = std::move(key);
    out.data = std::move(data);
    out.counter = std::move(comment);
    return out;
}

// The shape of the compiler's accept4_forward_tcp: ipv4_addr . inet_service, interval, counted.
ir::Set accept_set() {
    ir::Set set;
    set.name = "accept4_forward_tcp";
    set.key = {ir::DataType::ipv4_addr, ir::DataType::inet_service};
    set.flags.interval = true;
    set.counted = true;
    set.elements.push_back(element({P("198.18.0.0/29"), port(10000)}, "svc_svc0_accepted"));
    set.elements.push_back(element({P("203.0.113.7"), ports(40000, 40100)}, "svc_b_accepted"));
    return set;
}

TEST(StaticSetEncoding, ConcatenatedIntervalSetsCarryKeyAndKeyEndPaddedPerField) {
    auto wire = encode_static_set(accept_set());
    ASSERT_TRUE(wire);
    EXPECT_EQ(wire->name, "accept4_forward_tcp");
    ASSERT_EQ(wire->elements.size(), 2u);
    const WireElement& first = wire->elements[0];
    EXPECT_EQ(first.key, (Bytes{198, 18, 0, 0, 0x27, 0x10, 0, 0}));
    EXPECT_EQ(first.key_end, (Bytes{198, 18, 0, 7, 0x27, 0x10, 0, 0}));
    EXPECT_EQ(first.comment, "svc_svc0_accepted");
    EXPECT_EQ(first.flags, 0u);
    EXPECT_TRUE(first.data.empty());
    const WireElement& second = wire->elements[1];
    EXPECT_EQ(second.key, (Bytes{203, 0, 113, 7, 0x9c, 0x40, 0, 0}));      // 40000
    EXPECT_EQ(second.key_end, (Bytes{203, 0, 113, 7, 0x9c, 0xa4, 0, 0}));  // 40100
}

TEST(StaticSetEncoding, Ipv6ConcatenationKeepsSixteenAddressBytes) {
    ir::Set set;
    set.name = "accept6_local_udp";
    set.key = {ir::DataType::ipv6_addr, ir::DataType::inet_service};
    set.flags.interval = true;
    set.elements.push_back(element({P("2001:db8::/32"), port(500)}, "c"));
    auto wire = encode_static_set(set);
    ASSERT_TRUE(wire);
    ASSERT_EQ(wire->elements.size(), 1u);
    Bytes key(20, 0), end(20, 0xff);
    key[0] = 0x20, key[1] = 0x01, key[2] = 0x0d, key[3] = 0xb8;
    end[0] = 0x20, end[1] = 0x01, end[2] = 0x0d, end[3] = 0xb8;
    key[16] = end[16] = 0x01, key[17] = end[17] = 0xf4;
    key[18] = end[18] = key[19] = end[19] = 0;
    EXPECT_EQ(wire->elements[0].key, key);
    EXPECT_EQ(wire->elements[0].key_end, end);
}

TEST(StaticSetEncoding, SingleFieldIntervalSetsSendStartAndExclusiveEndElements) {
    ir::Set set;
    set.name = "refuse_forward_tcp";
    set.key = {ir::DataType::inet_service};
    set.flags.interval = true;
    set.counted = true;
    set.elements.push_back(element({port(10000)}, "svc_a_dropped"));
    set.elements.push_back(element({ports(40000, 40100)}, "svc_b_dropped"));
    auto wire = encode_static_set(set);
    ASSERT_TRUE(wire);
    ASSERT_EQ(wire->elements.size(), 4u);
    EXPECT_EQ(wire->elements[0].key, (Bytes{0x27, 0x10}));
    EXPECT_EQ(wire->elements[0].comment, "svc_a_dropped");
    EXPECT_EQ(wire->elements[0].flags, 0u);
    EXPECT_TRUE(wire->elements[0].key_end.empty());
    EXPECT_EQ(wire->elements[1].key, (Bytes{0x27, 0x11}));
    EXPECT_EQ(wire->elements[1].flags, static_cast<std::uint32_t>(NFT_SET_ELEM_INTERVAL_END));
    EXPECT_TRUE(wire->elements[1].comment.empty());
    EXPECT_EQ(wire->elements[3].key, (Bytes{0x9c, 0xa5}));  // 40101
}

TEST(StaticSetEncoding, PlainSetsAndDnatMapsUseExactLengthsOrPaddedConcatenations) {
    ir::Set mgmt;
    mgmt.name = "mgmt_ports";
    mgmt.key = {ir::DataType::inet_proto, ir::DataType::inet_service};
    mgmt.elements.push_back(element({ir::Proto{6}, port(22)}));
    auto wire = encode_static_set(mgmt);
    ASSERT_TRUE(wire);
    EXPECT_EQ(wire->elements.at(0).key, (Bytes{6, 0, 0, 0, 0, 22, 0, 0}));
    EXPECT_TRUE(wire->elements[0].key_end.empty());

    ir::Set dnat;
    dnat.name = "dnat4_ports";
    dnat.key = {ir::DataType::inet_proto, ir::DataType::inet_service};
    dnat.data = {ir::DataType::ipv4_addr};
    dnat.elements.push_back(element({ir::Proto{17}, port(51820)}, {}, ir::NatTarget{P("192.0.2.10").address, {}}));
    wire = encode_static_set(dnat);
    ASSERT_TRUE(wire);
    EXPECT_EQ(wire->elements.at(0).key, (Bytes{17, 0, 0, 0, 0xca, 0x6c, 0, 0}));
    EXPECT_EQ(wire->elements[0].data, (Bytes{192, 0, 2, 10}));

    ir::Set remap = dnat;
    remap.name = "dnat4_remap";
    remap.data = {ir::DataType::ipv4_addr, ir::DataType::inet_service};
    remap.elements = {element({ir::Proto{6}, port(443)}, {}, ir::NatTarget{P("192.0.2.10").address, 8443})};
    wire = encode_static_set(remap);
    ASSERT_TRUE(wire);
    EXPECT_EQ(wire->elements.at(0).data, (Bytes{192, 0, 2, 10, 0x20, 0xfb, 0, 0}));

    ir::Set single;
    single.name = "mgmt4";
    single.key = {ir::DataType::ipv4_addr};
    single.elements.push_back(element({P("203.0.113.10")}));
    wire = encode_static_set(single);
    ASSERT_TRUE(wire);
    EXPECT_EQ(wire->elements.at(0).key, (Bytes{203, 0, 113, 10}));
}

TEST(StaticSetEncoding, SetsItCannotWriteAreLeftToTheText) {
    ir::Set runtime;
    runtime.name = "ban4";
    runtime.key = {ir::DataType::ipv4_addr};
    runtime.runtime = true;
    EXPECT_FALSE(encode_static_set(runtime));

    ir::Set timed = runtime;
    timed.runtime = false;
    timed.flags.timeout = true;
    EXPECT_FALSE(encode_static_set(timed));

    ir::Set vmap;
    vmap.name = "services";
    vmap.key = {ir::DataType::inet_proto, ir::DataType::inet_service};
    vmap.data = {ir::DataType::verdict};
    vmap.elements.push_back(element({ir::Proto{6}, port(22)}, {}, ir::Verdict{ir::Verdict::Kind::jump, "svc_ssh"}));
    EXPECT_FALSE(encode_static_set(vmap));

    ir::Set to_the_top;  // nft writes open-ended rbtree intervals with extra userdata
    to_the_top.name = "refuse_local_tcp";
    to_the_top.key = {ir::DataType::inet_service};
    to_the_top.flags.interval = true;
    to_the_top.elements.push_back(element({ports(60000, 65535)}));
    EXPECT_FALSE(encode_static_set(to_the_top));

    ir::Set range_without_interval;
    range_without_interval.name = "x";
    range_without_interval.key = {ir::DataType::ipv4_addr};
    range_without_interval.elements.push_back(element({P("192.0.2.0/24")}));
    EXPECT_FALSE(encode_static_set(range_without_interval));

    ir::Set wrong_family;
    wrong_family.name = "y";
    wrong_family.key = {ir::DataType::ipv4_addr};
    wrong_family.elements.push_back(element({P("2001:db8::1")}));
    EXPECT_FALSE(encode_static_set(wrong_family));
}

// What a batch says, read back with libmnl/libnftnl as the kernel would see it.
struct Decoded {
    std::vector<std::uint16_t> types;  // nfnetlink message types in order
    std::vector<std::uint32_t> seqs;
    std::vector<std::string> sets;      // per NEWSETELEM message
    std::vector<std::size_t> elements;  // per NEWSETELEM message
    std::vector<std::string> comments;
};

struct ElementsSeen {
    std::size_t count = 0;
    std::vector<std::string>* comments = nullptr;
};

Decoded decode(const std::vector<char>& bytes) {
    Decoded out;
    std::size_t at = 0;
    while (at + sizeof(nlmsghdr) <= bytes.size()) {
        nlmsghdr header;
        std::memcpy(&header, bytes.data() + at, sizeof header);
        EXPECT_GE(header.nlmsg_len, sizeof header);
        if (header.nlmsg_len < sizeof header) break;
        out.types.push_back(header.nlmsg_type);
        out.seqs.push_back(header.nlmsg_seq);
        EXPECT_EQ(header.nlmsg_flags & NLM_F_ACK, 0);
        if ((header.nlmsg_type & 0xff) == NFT_MSG_NEWSETELEM && (header.nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES) {
            std::vector<std::uint64_t> aligned((header.nlmsg_len + 7) / 8);
            std::memcpy(aligned.data(), bytes.data() + at, header.nlmsg_len);
            auto* copy = static_cast<const nlmsghdr*>(static_cast<const void*>(aligned.data()));
            nftnl_set* set = nftnl_set_alloc();
            EXPECT_GE(nftnl_set_elems_nlmsg_parse(copy, set), 0);
            out.sets.emplace_back(nftnl_set_get_str(set, NFTNL_SET_NAME));
            ElementsSeen seen{0, &out.comments};
            nftnl_set_elem_foreach(
                set,
                [](nftnl_set_elem* element, void* data) -> int {
                    auto* seen = static_cast<ElementsSeen*>(data);
                    ++seen->count;
                    if (!nftnl_set_elem_is_set(element, NFTNL_SET_ELEM_USERDATA)) return 0;
                    std::uint32_t length = 0;
                    const auto* userdata =
                        static_cast<const char*>(nftnl_set_elem_get(element, NFTNL_SET_ELEM_USERDATA, &length));
                    // type 0 (comment), length, the text with its NUL
                    EXPECT_GE(length, 3u);
                    EXPECT_EQ(userdata[0], 0);
                    EXPECT_EQ(static_cast<std::uint32_t>(static_cast<unsigned char>(userdata[1])) + 2, length);
                    EXPECT_EQ(userdata[length - 1], 0);
                    seen->comments->emplace_back(userdata + 2);
                    return 0;
                },
                &seen);
            nftnl_set_free(set);
            out.elements.push_back(seen.count);
        }
        at += NLMSG_ALIGN(header.nlmsg_len);
    }
    EXPECT_EQ(at, bytes.size());
    return out;
}

TEST(StaticSetBatches, OneBatchCarriesEverySetBetweenBeginAndEnd) {
    std::vector<WireSet> sets{*encode_static_set(accept_set())};
    ir::Set refuse;
    refuse.name = "refuse_forward_tcp";
    refuse.key = {ir::DataType::inet_service};
    refuse.flags.interval = true;
    refuse.elements.push_back(element({port(10000)}, "svc_a_dropped"));
    sets.push_back(*encode_static_set(refuse));

    auto batches = encode_static_batches(sets, NFPROTO_INET, "portcullis", 100);
    ASSERT_EQ(batches.size(), 1u);
    Decoded decoded = decode(batches[0].bytes);
    ASSERT_EQ(decoded.types.size(), 4u);
    EXPECT_EQ(decoded.types.front(), NFNL_MSG_BATCH_BEGIN);
    EXPECT_EQ(decoded.types.back(), NFNL_MSG_BATCH_END);
    EXPECT_EQ(decoded.seqs, (std::vector<std::uint32_t>{100, 101, 102, 103}));
    EXPECT_EQ(batches[0].first_message_seq, 101u);
    EXPECT_EQ(batches[0].messages, 2u);
    EXPECT_EQ(decoded.sets, (std::vector<std::string>{"accept4_forward_tcp", "refuse_forward_tcp"}));
    EXPECT_EQ(decoded.elements, (std::vector<std::size_t>{2, 2}));
    EXPECT_EQ(decoded.comments, (std::vector<std::string>{"svc_svc0_accepted", "svc_b_accepted", "svc_a_dropped"}));
    EXPECT_EQ(batches[0].message_sets, decoded.sets);
}

TEST(StaticSetBatches, LargeSetsSplitIntoMessagesAndBatchesWithoutLosingAnElement) {
    ir::Set big;
    big.name = "accept4_forward_udp";
    big.key = {ir::DataType::ipv4_addr, ir::DataType::inet_service};
    big.flags.interval = true;
    for (std::uint32_t i = 0; i < 3000; ++i) {
        Prefix source = P("198.18.0.0/29");
        std::uint32_t base = (198u << 24) | (18u << 16);
        std::uint32_t address = base + i * 8;
        for (int b = 0; b < 4; ++b) source.address.bytes[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(address >> (24 - 8 * b));
        big.elements.push_back(element({source, port(static_cast<std::uint16_t>(10000 + i))}, "svc_svc" + std::to_string(i) + "_accepted"));
    }
    std::vector<WireSet> sets{*encode_static_set(big)};
    const std::size_t one = wire_element_bytes(sets[0].elements[0]);
    auto batches = encode_static_batches(sets, NFPROTO_INET, "portcullis", 1, /*max_nest_bytes=*/100 * one,
                                         /*max_batch_bytes=*/8 * 100 * one);
    ASSERT_GT(batches.size(), 1u);
    std::size_t total = 0;
    std::uint32_t expected_seq = 1;
    for (const auto& batch : batches) {
        Decoded decoded = decode(batch.bytes);
        EXPECT_LE(batch.bytes.size(), 8 * 100 * one);
        for (auto seq : decoded.seqs) EXPECT_EQ(seq, expected_seq++);
        for (auto count : decoded.elements) {
            EXPECT_LE(count, 100u);
            total += count;
        }
        EXPECT_EQ(decoded.elements.size(), batch.messages);
    }
    EXPECT_EQ(total, 3000u);
}

// ---- apply: the staged first apply ------------------------------------------------------------

compile::Compiled staged_policy() {
    compile::Compiled next;
    next.table_text = "table inet portcullis {\n"
                      "\tcounter default_dropped {\n\t}\n"
                      "\n"
                      "\tset accept4_forward_tcp {\n"
                      "\t\ttype ipv4_addr . inet_service\n"
                      "\t\tflags interval\n"
                      "\t\tcounter\n"
                      "\t\telements = {\n"
                      "\t\t\t198.18.0.0/29 . 10000 comment \"svc_svc0_accepted\",\n"
                      "\t\t\t203.0.113.7 . 40000-40100 comment \"svc_b_accepted\"\n"
                      "\t\t}\n"
                      "\t}\n"
                      "\n"
                      "\tset ban4 {\n\t\ttype ipv4_addr\n\t\tflags interval,timeout\n\t\ttimeout 1h\n\t}\n"
                      "\n"
                      "\tmap services {\n\t\ttype inet_proto . inet_service : verdict\n"
                      "\t\telements = { tcp . 22 : jump svc_ssh }\n\t}\n"
                      "\n"
                      "\tchain forward_filter {\n"
                      "\t\ttype filter hook forward priority filter; policy accept;\n"
                      "\t\tip saddr . ct original proto-dst @accept4_forward_tcp accept\n"
                      "\t\tcounter name \"default_dropped\" drop\n"
                      "\t}\n"
                      "\n"
                      "\tchain svc_ssh {\n\t\taccept\n\t}\n"
                      "}\n";
    next.manifest.sets = {"accept4_forward_tcp"};
    next.manifest.runtime_sets = {"ban4"};
    next.manifest.chains = {"forward_filter"};
    next.manifest.counters = {"default_dropped"};
    next.sets.push_back(accept_set());
    ir::Set ban;
    ban.name = "ban4";
    ban.key = {ir::DataType::ipv4_addr};
    ban.flags.interval = ban.flags.timeout = true;
    ban.runtime = true;
    next.sets.push_back(ban);
    ir::Set services;
    services.name = "services";
    services.key = {ir::DataType::inet_proto, ir::DataType::inet_service};
    services.data = {ir::DataType::verdict};
    services.elements.push_back(element({ir::Proto{6}, port(22)}, {}, ir::Verdict{ir::Verdict::Kind::jump, "svc_ssh"}));
    next.sets.push_back(services);
    return next;
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

TEST(StagedApply, BlankChainsKeepsEveryOtherLineWhereItWas) {
    const std::string text = staged_policy().table_text;
    std::string blanked = blank_chains(text);
    EXPECT_EQ(lines(blanked), lines(text));
    EXPECT_EQ(blanked.find("chain"), std::string::npos);
    EXPECT_NE(blanked.find("set accept4_forward_tcp"), std::string::npos);
    EXPECT_EQ(blanked.substr(0, text.find("\tchain")), text.substr(0, text.find("\tchain")));
}

TEST(StagedApply, FirstApplyCreatesSetsThenElementsThenChains) {
    RecordingNftables nft;
    nft.netlink_elements = true;
    auto next = staged_policy();
    auto outcome = apply_table(nft, next);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_FALSE(outcome->table_existed);
    EXPECT_EQ(nft.sequence, (std::vector<std::string>{"run:commit", "elements", "run:commit"}));
    ASSERT_EQ(nft.committed.size(), 2u);
    // 1: every object but no chain, and not the elements that go over netlink; `create` (exclusive),
    // so a table someone made meanwhile fails step 1 instead of being merged into and then deleted.
    EXPECT_EQ(nft.committed[0].rfind("create table inet portcullis\n", 0), 0u) << nft.committed[0].substr(0, 80);
    EXPECT_EQ(nft.committed[0].find("chain"), std::string::npos);
    EXPECT_EQ(nft.committed[0].find("198.18.0.0/29"), std::string::npos);
    EXPECT_NE(nft.committed[0].find("set accept4_forward_tcp"), std::string::npos);
    EXPECT_NE(nft.committed[0].find("set ban4"), std::string::npos);
    // verdict maps jump to chains, so their elements wait for the chains
    EXPECT_NE(nft.committed[0].find("map services"), std::string::npos);
    EXPECT_EQ(nft.committed[0].find("jump svc_ssh"), std::string::npos);
    EXPECT_NE(nft.committed[1].find("tcp . 22 : jump svc_ssh"), std::string::npos);
    // 2: only the static set with elements (the runtime ban set is not written).
    ASSERT_EQ(nft.element_writes.size(), 1u);
    ASSERT_EQ(nft.element_writes[0].size(), 1u);
    EXPECT_EQ(nft.element_writes[0][0].name, "accept4_forward_tcp");
    EXPECT_EQ(nft.element_writes[0][0].elements.size(), 2u);
    // 3: the chains with all their rules; the elements are still not text; lines as compiled.
    EXPECT_NE(nft.committed[1].find("ip saddr . ct original proto-dst @accept4_forward_tcp accept"), std::string::npos);
    EXPECT_EQ(nft.committed[1].find("198.18.0.0/29"), std::string::npos);
    EXPECT_EQ(nft.committed[1], outcome->transaction.script);
    EXPECT_EQ(lines(nft.committed[1]), lines(next.table_text) + outcome->transaction.prelude_lines);
}

TEST(StagedApply, RejectedElementsDeleteTheTableAgain) {
    RecordingNftables nft;
    nft.netlink_elements = true;
    nft.fail_element_writes = "the kernel refused elements of set accept4_forward_tcp: File exists";
    auto outcome = apply_table(nft, staged_policy());
    ASSERT_FALSE(outcome);
    EXPECT_EQ(nft.sequence, (std::vector<std::string>{"run:commit", "elements", "run:commit"}));
    ASSERT_EQ(nft.committed.size(), 2u);
    EXPECT_EQ(nft.committed[1], build_delete());
    EXPECT_NE(outcome.error().message.find("nothing was changed"), std::string::npos);
    EXPECT_NE(outcome.error().message.find("accept4_forward_tcp: File exists"), std::string::npos);
}

TEST(StagedApply, RejectedChainsDeleteTheTableAgainAndSayWhereInTheCompiledText) {
    RecordingNftables nft;
    nft.netlink_elements = true;
    nft.fail_when_script_contains = "ct original proto-dst";
    nft.failure_message = "transaction:29:3-9: Error: Could not process rule: No such file or directory";
    auto outcome = apply_table(nft, staged_policy());
    ASSERT_FALSE(outcome);
    EXPECT_EQ(nft.sequence, (std::vector<std::string>{"run:commit", "elements", "run:commit", "run:commit"}));
    ASSERT_EQ(nft.committed.size(), 2u);  // the sets-only table, then its removal
    EXPECT_EQ(nft.committed[1], build_delete());
    EXPECT_NE(outcome.error().message.find("nothing was changed"), std::string::npos);
    EXPECT_NE(outcome.error().message.find("table:28:3-9"), std::string::npos) << outcome.error().message;
}

TEST(StagedApply, FailedRemovalIsReported) {
    RecordingNftables nft;
    nft.netlink_elements = true;
    nft.fail_element_writes = "netlink send: No buffer space available";
    nft.fail_when_script_contains = "delete table";
    nft.failure_message = "Error: Operation not permitted";
    auto outcome = apply_table(nft, staged_policy());
    ASSERT_FALSE(outcome);
    EXPECT_NE(outcome.error().message.find("removing the partly created table failed too"), std::string::npos);
}

TEST(StagedApply, ReplacingDryRunsAndSnapshotsKeepTheOneTransaction) {
    {  // the table exists: the usual replacement (kept sets are updated element by element)
        RecordingNftables nft;
        nft.netlink_elements = true;
        nft.table_text = "table inet portcullis {\n\tset ban4 {\n\t\ttype ipv4_addr\n\t\tflags interval,timeout\n\t}\n}\n";
        ASSERT_TRUE(apply_table(nft, staged_policy()));
        EXPECT_TRUE(nft.element_writes.empty());
        EXPECT_EQ(nft.committed.size(), 1u);
    }
    {  // dry run
        RecordingNftables nft;
        nft.netlink_elements = true;
        ASSERT_TRUE(apply_table(nft, staged_policy(), /*dry_run_only=*/true));
        EXPECT_TRUE(nft.element_writes.empty());
        EXPECT_EQ(nft.sequence, (std::vector<std::string>{"run:check"}));
    }
    {  // a table text without IR sets (a saved snapshot being restored)
        RecordingNftables nft;
        nft.netlink_elements = true;
        auto next = staged_policy();
        next.sets.clear();
        ASSERT_TRUE(apply_table(nft, next));
        EXPECT_TRUE(nft.element_writes.empty());
        ASSERT_EQ(nft.committed.size(), 1u);
        EXPECT_NE(nft.committed[0].find("198.18.0.0/29"), std::string::npos);
    }
    {  // an adapter without netlink element writes
        RecordingNftables nft;
        ASSERT_TRUE(apply_table(nft, staged_policy()));
        EXPECT_EQ(nft.sequence, (std::vector<std::string>{"run:commit"}));
    }
}

}  // namespace
}  // namespace portcullis::kernel
