// The NAT-D digests against the published test vectors (RFC 1321, FIPS 180-4 examples).
#include <gtest/gtest.h>

#include <string>

#include "diagnose/digest.hpp"

namespace portcullis::diagnose {
namespace {

std::string hex_digest(HashAlgorithm algorithm, const std::string& text) {
    std::vector<std::uint8_t> data(text.begin(), text.end());
    std::string out;
    static const char* digits = "0123456789abcdef";
    for (std::uint8_t byte : digest(algorithm, data)) {
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 15]);
    }
    return out;
}

const std::string kTwoBlocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

TEST(Digest, Md5) {
    EXPECT_EQ(hex_digest(HashAlgorithm::md5, ""), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(hex_digest(HashAlgorithm::md5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex_digest(HashAlgorithm::md5, "12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
              "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Digest, Sha1) {
    EXPECT_EQ(hex_digest(HashAlgorithm::sha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(hex_digest(HashAlgorithm::sha1, kTwoBlocks), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(hex_digest(HashAlgorithm::sha1, std::string(1000000, 'a')),
              "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Digest, Sha2) {
    EXPECT_EQ(hex_digest(HashAlgorithm::sha2_256, "abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex_digest(HashAlgorithm::sha2_256, kTwoBlocks),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hex_digest(HashAlgorithm::sha2_384, "abc"),
              "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
              "8086072ba1e7cc2358baeca134c825a7");
    EXPECT_EQ(hex_digest(HashAlgorithm::sha2_512, "abc"),
              "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Digest, UnknownAlgorithmGivesNothing) {
    EXPECT_TRUE(digest(HashAlgorithm::unknown, std::vector<std::uint8_t>{1, 2, 3}).empty());
}

}  // namespace
}  // namespace portcullis::diagnose
