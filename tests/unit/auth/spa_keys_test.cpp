#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "auth/spa_keys.hpp"
#include "vector_file.hpp"

namespace portcullis::auth {
namespace {

const std::string kKey = "j+Rscuzbdb3+Cl/16nvQcOnoHPdrA/KdsMxkzPlpSeY=";
const std::string kHmac =
    "B0IJJzVFvrfW40JXnoh1IS/eb8HsuNG/NTvegI28Ui+T8uEsUtWZ9i8lN5a73yoCqj8/Xol/69HQ5HcPUNC/5g==";

std::string temp_file(const std::string& content, mode_t mode) {
    static int counter = 0;
    std::string path = (std::filesystem::temp_directory_path() /
                        ("pc-auth-keys-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                           .string();
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
}

TEST(SpaKeys, KeyGenOutputParses) {
    // Exactly what `fwknop --key-gen` prints.
    auto material = parse_key_text("KEY_BASE64: " + kKey + "\nHMAC_KEY_BASE64: " + kHmac + "\n");
    ASSERT_TRUE(material) << material.error().message;
    EXPECT_EQ(material->key.size(), 32u);
    EXPECT_EQ(material->hmac_key.size(), 64u);
}

TEST(SpaKeys, RcStanzasAreSelectedByName) {
    std::string rc = "[default]\nSPA_SERVER_PORT 62201\n\n[laptop]\nKEY_BASE64 " + kKey + "\nHMAC_KEY_BASE64 " +
                     kHmac + "\nSPOOF_USER alice\n\n[other]\nKEY cleartext-pass\nHMAC_KEY_BASE64 " + kHmac + "\n";
    auto laptop = parse_key_text(rc, "laptop");
    ASSERT_TRUE(laptop) << laptop.error().message;
    EXPECT_EQ(laptop->username, "alice");
    EXPECT_EQ(laptop->key.size(), 32u);
    auto other = parse_key_text(rc, "other");
    ASSERT_TRUE(other);
    EXPECT_EQ(std::string(other->key.begin(), other->key.end()), "cleartext-pass");
    auto unnamed = parse_key_text(rc);
    ASSERT_FALSE(unnamed);
    EXPECT_NE(unnamed.error().message.find("2 stanzas"), std::string::npos);
    EXPECT_FALSE(parse_key_text(rc, "missing"));
    // One real stanza next to [default] needs no name.
    EXPECT_TRUE(parse_key_text("[default]\n[only]\nKEY_BASE64 " + kKey + "\nHMAC_KEY_BASE64 " + kHmac + "\n"));
}

TEST(SpaKeys, RefusesWeakOrUnsupportedSettings) {
    std::string base = "KEY_BASE64 " + kKey + "\nHMAC_KEY_BASE64 " + kHmac + "\n";
    auto expect_error = [](const std::string& text, const std::string& needle) {
        auto result = parse_key_text(text);
        ASSERT_FALSE(result) << text;
        EXPECT_NE(result.error().message.find(needle), std::string::npos) << result.error().message;
    };
    expect_error("KEY_BASE64 " + kKey + "\n", "HMAC key is required");
    expect_error("HMAC_KEY_BASE64 " + kHmac + "\n", "no KEY_BASE64");
    expect_error(base + "ENCRYPTION_MODE legacy\n", "legacy");
    expect_error(base + "USE_HMAC N\n", "USE_HMAC");
    expect_error(base + "USE_GPG Y\n", "GnuPG");
    expect_error(base + "HMAC_DIGEST_TYPE md5\n", "SHA256");
    expect_error("KEY_BASE64 not*base64\nHMAC_KEY_BASE64 " + kHmac + "\n", "line 1");
    expect_error("KEY_BASE64 " + kKey + "\nHMAC_KEY_BASE64 c2hvcnQ=\n", "16-128");
    expect_error("KEY " + std::string(33, 'k') + "\nHMAC_KEY_BASE64 " + kHmac + "\n", "1-32");
    EXPECT_TRUE(parse_key_text(base + "ENCRYPTION_MODE CBC\nUSE_HMAC Y\nHMAC_DIGEST_TYPE sha256\n"));
}

TEST(SpaKeys, FromBase64) {
    EXPECT_TRUE(key_material_from_base64(kKey, kHmac));
    EXPECT_FALSE(key_material_from_base64("!!", kHmac));
    EXPECT_FALSE(key_material_from_base64(kKey, ""));
}

TEST(SpaKeys, KeyFileMustNotBeReadableByOthers) {
    std::string content = "KEY_BASE64 " + kKey + "\nHMAC_KEY_BASE64 " + kHmac + "\n";
    std::string good = temp_file(content, 0600);
    EXPECT_TRUE(load_key_file(good));
    std::string read_only = temp_file(content, 0400);
    EXPECT_TRUE(load_key_file(read_only));
    std::string open = temp_file(content, 0644);
    auto refused = load_key_file(open);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("chmod 600"), std::string::npos);
    EXPECT_NE(refused.error().message.find("0644"), std::string::npos);
    std::string group = temp_file(content, 0640);
    EXPECT_FALSE(load_key_file(group));
    EXPECT_FALSE(load_key_file("/nonexistent/pc-auth-key"));
    EXPECT_FALSE(load_key_file("/tmp"));
    for (const auto& path : {good, read_only, open, group}) std::filesystem::remove(path);
}

}  // namespace
}  // namespace portcullis::auth
