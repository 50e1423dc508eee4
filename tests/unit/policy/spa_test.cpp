// guard = "spa", [spa] and [[spa.key]]: what the loader accepts, refuses and warns about, each
// diagnostic at its file:line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "helpers.hpp"

namespace portcullis::policy {
namespace {

using testing::count;
using testing::dump;
using testing::load;

constexpr const char* kKey = "bhvkmHEp/5IZJyAoO4R7JONqwtDzY5R+jZ0NKylDDI8=";
constexpr const char* kHmac =
    "rM7KtwvE0DHGduo1pEA22D74q48Ry22tbvOHGQD5dqwWksbf+EwfQDmrnVih8ha2FTkr2KhsP2bT0fHg2IaebA==";

// Lines 7-11: an SPA-guarded service; line 12 is [spa]; the test's [spa] keys start on line 13.
constexpr std::string_view kSpaService = R"([[service]]
name = "ssh"
ports = ["tcp/2222"]
allow_from = ["any"]
guard = "spa"
[spa]
)";

LoadResult host(std::string_view text) { return load(std::string(testing::kHostHeader) + std::string(text)); }
LoadResult spa(std::string_view text) { return host(std::string(kSpaService) + std::string(text)); }

std::string inline_key(std::string_view extra = "", std::string_view name = "alice") {
    return "[[spa.key]]\nname = \"" + std::string(name) + "\"\nkey = \"" + kKey + "\"\nhmac_key = \"" + kHmac +
           "\"\nservices = [\"ssh\"]\n" + std::string(extra);
}

TEST(PolicySpa, DefaultsAndAnInlineKeyLoad) {
    auto result = spa(inline_key());
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(count(result, Severity::warning), 0u) << dump(result);
    const Policy& policy = *result.policy;
    EXPECT_EQ(policy.services.at(0).guard, Guard::spa);
    ASSERT_TRUE(policy.spa);
    EXPECT_EQ(policy.spa->port, 62201);
    EXPECT_EQ(policy.spa->window_seconds, 120u);
    EXPECT_EQ(policy.spa->per_source_per_second, 5u);
    EXPECT_EQ(policy.spa->burst_packets, 10u);
    EXPECT_EQ(policy.spa->log_group, 62201);
    ASSERT_EQ(policy.spa->keys.size(), 1u);
    const auto& key = policy.spa->keys[0];
    EXPECT_EQ(key.name, "alice");
    EXPECT_EQ(key.key.size(), 32u);
    EXPECT_EQ(key.hmac_key.size(), 64u);
    EXPECT_EQ(key.services, std::vector<std::string>{"ssh"});
    EXPECT_EQ(key.max_open_seconds, 3600u);
    EXPECT_FALSE(key.allow_embedded_address);
    EXPECT_TRUE(key.sources.empty());
    EXPECT_FALSE(key.key_file);
}

TEST(PolicySpa, EverySettingIsRead) {
    auto result = spa("port = 40001\nwindow = \"60s\"\nrate_limit = \"2/s\"\nrate_burst = 4\nlog_group = 77\n" +
                      inline_key("max_open = \"10m\"\nallow_embedded_address = true\n"
                                 "sources = [\"198.51.100.0/24\", \"2001:db8::/32\"]\n"));
    ASSERT_TRUE(result.ok()) << dump(result);
    const Spa& s = *result.policy->spa;
    EXPECT_EQ(s.port, 40001);
    EXPECT_EQ(s.window_seconds, 60u);
    EXPECT_EQ(s.per_source_per_second, 2u);
    EXPECT_EQ(s.burst_packets, 4u);
    EXPECT_EQ(s.log_group, 77);
    EXPECT_EQ(s.keys[0].max_open_seconds, 600u);
    EXPECT_TRUE(s.keys[0].allow_embedded_address);
    EXPECT_EQ(s.keys[0].sources.size(), 2u);
}

TEST(PolicySpa, UnknownKeyInSpaSectionSuggestsTheRightOne) {
    auto result = spa("windw = \"60s\"\n" + inline_key());
    EXPECT_ERROR_AT(result, "unknown key \"windw\" in [spa]; did you mean \"window\"?", 13, 1);
}

TEST(PolicySpa, UnknownKeyInStanza) {
    auto result = spa(inline_key("hmac = \"x\"\n"));
    EXPECT_ERROR_AT(result, "unknown key \"hmac\" in [[spa.key]]", 18, 1);
}

TEST(PolicySpa, PortOutOfRange) {
    auto result = spa("port = 70000\n" + inline_key());
    EXPECT_ERROR_AT(result, "port is 70000, out of range", 13, 8);
}

TEST(PolicySpa, WindowOutsideTenSecondsToAnHour) {
    auto result = spa("window = \"2h\"\n" + inline_key());
    EXPECT_ERROR_AT(result, "window is 7200s; expected 10s-1h", 13, 10);
    auto small = spa("window = 5\n" + inline_key());
    EXPECT_ERROR_AT(small, "window is 5s", 13, 10);
}

TEST(PolicySpa, BadRateLimit) {
    auto result = spa("rate_limit = \"fast\"\n" + inline_key());
    EXPECT_ERROR_AT(result, "rate_limit is \"fast\"; expected packets per second", 13, 14);
}

TEST(PolicySpa, LogGroupOutOfRange) {
    auto result = spa("log_group = -1\n" + inline_key());
    EXPECT_ERROR_AT(result, "log_group is -1, out of range", 13, 13);
}

TEST(PolicySpa, LogGroupSharedWithDropLogIsAnError) {
    std::string text = std::string(testing::kHostHeader);
    text.insert(text.find("wan = \"eth0\"\n") + 13, "log_drops = 5\n");  // line 4; everything shifts by one
    text += std::string(kSpaService) + "log_group = 5\n" + inline_key();
    auto result = load(text);
    EXPECT_ERROR_AT(result, "[spa] log_group 5 is also firewall.log_drops", 13, 1);
}

TEST(PolicySpa, KeyWrittenAsAStringInsteadOfStanzas) {
    auto result = spa("key = \"abc\"\n");
    EXPECT_ERROR_AT(result, "key is string \"abc\"; expected [[spa.key]] stanzas", 13, 7);
}

TEST(PolicySpa, StanzaWithoutName) {
    auto result = spa(std::string("[[spa.key]]\nkey = \"") + kKey + "\"\nhmac_key = \"" + kHmac +
                      "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "spa key #1 has no name", 13, 1);
}

TEST(PolicySpa, BadAndDuplicateKeyNames) {
    auto bad = spa(inline_key("", "Alice"));
    EXPECT_ERROR_AT(bad, "spa key name \"Alice\"", 14, 8);
    auto twice = spa(inline_key() + inline_key());
    EXPECT_ERROR_AT(twice, "duplicate spa key name \"alice\" (first used at line 14)", 19, 8);
}

TEST(PolicySpa, StanzaWithoutAnyKeys) {
    auto result = spa("[[spa.key]]\nname = \"alice\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "spa key \"alice\" has no keys; expected key + hmac_key", 13, 1);
}

TEST(PolicySpa, KeyWithoutHmacKey) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey + "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "has key but no hmac_key; expected both", 15, 7);
}

TEST(PolicySpa, HmacKeyWithoutKey) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nhmac_key = \"") + kHmac +
                      "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "has hmac_key but no key", 15, 12);
}

TEST(PolicySpa, KeyThatIsNotBase64) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"not base64!\"\nhmac_key = \"") + kHmac +
                      "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "key: KEY_BASE64 is not valid base64", 15, 7);
}

TEST(PolicySpa, HmacKeyTooShort) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey +
                      "\"\nhmac_key = \"c2hvcnQ=\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "hmac_key: HMAC key must be 16-128 bytes, got 5", 16, 12);
}

TEST(PolicySpa, RijndaelKeyTooLong) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kHmac + "\"\nhmac_key = \"" + kHmac +
                      "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "key: Rijndael key must be 1-32 bytes, got 64", 15, 7);
}

TEST(PolicySpa, KeyFileAndInlineKeysTogether) {
    auto result = spa(inline_key("key_file = \"/nonexistent\"\n"));
    EXPECT_ERROR_AT(result, "has both key_file and inline keys", 18, 12);
}

TEST(PolicySpa, StanzaNameWithoutKeyFile) {
    auto result = spa(inline_key("key_stanza = \"office\"\n"));
    EXPECT_ERROR_AT(result, "key_stanza applies only with key_file", 18, 14);
}

TEST(PolicySpa, NoServicesAndEmptyServices) {
    auto none = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey + "\"\nhmac_key = \"" + kHmac +
                    "\"\n");
    EXPECT_ERROR_AT(none, "spa key \"alice\" has no services", 13, 1);
    auto empty = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey + "\"\nhmac_key = \"" + kHmac +
                     "\"\nservices = []\n");
    EXPECT_ERROR_AT(empty, "services is empty", 17, 12);
}

TEST(PolicySpa, KeyNamesAMissingService) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey + "\"\nhmac_key = \"" + kHmac +
                      "\"\nservices = [\"sssh\"]\n");
    EXPECT_ERROR_AT(result, "names service \"sssh\", which does not exist (did you mean \"ssh\"?)", 17, 13);
}

TEST(PolicySpa, KeyNamesAServiceWithoutSpaGuard) {
    auto result = host(std::string(kSpaService) + inline_key() +
                       "[[service]]\nname = \"web\"\nports = [\"tcp/443\"]\nallow_from = [\"any\"]\n");
    // The key's services are ["ssh"]: fine. Now one that names "web" (guard none).
    auto bad = host(std::string(kSpaService) +
                    std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey + "\"\nhmac_key = \"" + kHmac +
                    "\"\nservices = [\"ssh\", \"web\"]\n" +
                    "[[service]]\nname = \"web\"\nports = [\"tcp/443\"]\nallow_from = [\"any\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_ERROR_AT(bad, "names service \"web\", which is not guarded by SPA", 17, 20);
}

TEST(PolicySpa, RepeatedServiceInKeyIsAWarning) {
    auto result = spa(std::string("[[spa.key]]\nname = \"alice\"\nkey = \"") + kKey + "\"\nhmac_key = \"" + kHmac +
                      "\"\nservices = [\"ssh\", \"ssh\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "lists service \"ssh\" twice", 17, 20);
}

TEST(PolicySpa, BadMaxOpen) {
    auto result = spa(inline_key("max_open = \"soon\"\n"));
    EXPECT_ERROR_AT(result, "max_open:", 18, 12);
}

TEST(PolicySpa, AllowEmbeddedAddressMustBeABoolean) {
    auto result = spa(inline_key("allow_embedded_address = \"true\"\n"));
    EXPECT_ERROR_AT(result, "allow_embedded_address is string \"true\"; expected true or false without quotes", 18, 26);
}

TEST(PolicySpa, SourcesAnyAndBadPrefix) {
    auto any = spa(inline_key("sources = [\"any\"]\n"));
    EXPECT_ERROR_AT(any, "sources cannot be \"any\"", 18, 12);
    auto bad = spa(inline_key("sources = [\"198.51.100.0/33\"]\n"));
    EXPECT_ERROR_AT(bad, "sources: ", 18, 12);
}

TEST(PolicySpa, GuardSpaWithoutSpaSection) {
    auto result = host("[[service]]\nname = \"ssh\"\nports = [\"tcp/2222\"]\nallow_from = [\"any\"]\nguard = \"spa\"\n");
    EXPECT_ERROR_AT(result, "has guard = \"spa\" but the policy has no [spa] section", 11, 9);
}

TEST(PolicySpa, GuardSpaWithoutAnyKeyIsAWarning) {
    auto result = spa("");
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_WARNING_AT(result, "no [[spa.key]] lists it: nobody can open it", 11, 9);
    EXPECT_WARNING_AT(result, "[spa] has no [[spa.key]]", 12, 1);
}

TEST(PolicySpa, SpaSectionWithoutSpaServiceIsAWarning) {
    auto result = host("[[service]]\nname = \"ssh\"\nports = [\"tcp/2222\"]\nallow_from = [\"any\"]\nguard = \"grant\"\n"
                       "[spa]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    auto with_key = host("[[service]]\nname = \"ssh\"\nports = [\"tcp/2222\"]\nallow_from = [\"any\"]\n"
                         "guard = \"grant\"\n[spa]\n" + inline_key());
    // The key names "ssh", which has guard "grant": an error; and [spa] serves no service.
    EXPECT_ERROR_AT(with_key, "which is not guarded by SPA", 17, 13);
    EXPECT_WARNING_AT(with_key, "no service has guard = \"spa\"", 12, 1);
}

TEST(PolicySpa, SpaPortCollidingWithAServicePort) {
    auto result = host(std::string(kSpaService) + "port = 2222\n" + inline_key() +
                       "[[service]]\nname = \"dns\"\nports = [\"udp/2222\"]\nallow_from = [\"any\"]\n");
    // Reported at the later claim (the dns port), naming the earlier one.
    EXPECT_ERROR_AT(result, "which [spa] port (udp/2222) already claims at line 13", 21, 10);
}

TEST(PolicySpa, UnknownGuardStillSuggests) {
    auto result = host("[[service]]\nname = \"ssh\"\nports = [\"tcp/2222\"]\nallow_from = [\"any\"]\nguard = \"spaa\"\n");
    EXPECT_ERROR_AT(result, "(did you mean \"spa\"?)", 11, 9);
}

// Key files: fwknop rc syntax, refused unless only the owner can read them.
class PolicySpaKeyFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("pc-policy-spa-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, const std::string& text, mode_t mode) {
        auto path = (dir_ / name).string();
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
        return path;
    }
    std::filesystem::path dir_;
};

std::string rc_text() { return std::string("KEY_BASE64: ") + kKey + "\nHMAC_KEY_BASE64: " + kHmac + "\n"; }

TEST_F(PolicySpaKeyFile, OwnerOnlyFileLoads) {
    auto path = write("alice.key", rc_text(), 0600);
    auto result = spa("[[spa.key]]\nname = \"alice\"\nkey_file = \"" + path + "\"\nservices = [\"ssh\"]\n");
    ASSERT_TRUE(result.ok()) << dump(result);
    const auto& key = result.policy->spa->keys.at(0);
    EXPECT_EQ(key.key.size(), 32u);
    EXPECT_EQ(key.hmac_key.size(), 64u);
    EXPECT_EQ(key.key_file, std::optional<std::string>{path});
}

TEST_F(PolicySpaKeyFile, RelativePathIsRelativeToThePolicyFile) {
    write("alice.key", rc_text(), 0600);
    auto policy_path = write("policy.toml",
                             std::string(testing::kHostHeader) + std::string(kSpaService) +
                                 "[[spa.key]]\nname = \"alice\"\nkey_file = \"alice.key\"\nservices = [\"ssh\"]\n",
                             0644);
    auto result = load_file(policy_path);
    ASSERT_TRUE(result.ok()) << dump(result);
    EXPECT_EQ(result.policy->spa->keys.at(0).key_file, std::optional<std::string>{(dir_ / "alice.key").string()});
}

TEST_F(PolicySpaKeyFile, GroupOrWorldReadableFileIsRefused) {
    auto path = write("alice.key", rc_text(), 0644);
    auto result = spa("[[spa.key]]\nname = \"alice\"\nkey_file = \"" + path + "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "mode 0644 lets others read the keys; chmod 600 it", 15, 12);
    auto group = write("bob.key", rc_text(), 0640);
    auto group_result = spa("[[spa.key]]\nname = \"bob\"\nkey_file = \"" + group + "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(group_result, "mode 0640", 15, 12);
}

TEST_F(PolicySpaKeyFile, MissingFileIsAnError) {
    auto result = spa("[[spa.key]]\nname = \"alice\"\nkey_file = \"" + (dir_ / "nope.key").string() +
                      "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "cannot stat the key file", 15, 12);
}

TEST_F(PolicySpaKeyFile, FileWithoutHmacKeyIsAnError) {
    auto path = write("alice.key", std::string("KEY_BASE64: ") + kKey + "\n", 0600);
    auto result = spa("[[spa.key]]\nname = \"alice\"\nkey_file = \"" + path + "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(result, "an HMAC key is required", 15, 12);
}

TEST_F(PolicySpaKeyFile, StanzaPicksOneOfSeveral) {
    auto path = write("fwknoprc",
                      std::string("[default]\n[home]\nKEY_BASE64 ") + kKey + "\nHMAC_KEY_BASE64 " + kHmac +
                          "\n[office]\nKEY_BASE64 " + kKey + "\nHMAC_KEY_BASE64 " + kHmac + "\n",
                      0600);
    auto ambiguous = spa("[[spa.key]]\nname = \"alice\"\nkey_file = \"" + path + "\"\nservices = [\"ssh\"]\n");
    EXPECT_ERROR_AT(ambiguous, "the key file has 2 stanzas; name one", 15, 12);
    auto chosen = spa("[[spa.key]]\nname = \"alice\"\nkey_file = \"" + path +
                      "\"\nkey_stanza = \"office\"\nservices = [\"ssh\"]\n");
    EXPECT_TRUE(chosen.ok()) << dump(chosen);
}

}  // namespace
}  // namespace portcullis::policy
