// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// HOST:PORT: what the config accepts for a listening address is what the exporter binds to, and
// what it refuses it says why.

#include <gtest/gtest.h>

#include <string>

#include "net/endpoint.hpp"

namespace ratelimit
{
namespace
{

TEST(EndpointTest, AnAddressOrANameAndAPort)
{
    EXPECT_EQ(parse_endpoint("127.0.0.1:9469").endpoint, (Endpoint{"127.0.0.1", 9469}));
    EXPECT_EQ(parse_endpoint("[::1]:9100").endpoint, (Endpoint{"::1", 9100}));
    EXPECT_EQ(parse_endpoint("localhost:65535").endpoint, (Endpoint{"localhost", 65535}));
    EXPECT_EQ(parse_endpoint("metrics-1.example.org:1").endpoint,
              (Endpoint{"metrics-1.example.org", 1}));
    EXPECT_TRUE(parse_endpoint("0.0.0.0:9469").problem.empty());
}

struct Refusal {
    const char *name; // of the test case
    const char *text;
    const char *problem;
};

class EndpointRefusalTest : public ::testing::TestWithParam<Refusal>
{
};

TEST_P(EndpointRefusalTest, SaysWhy)
{
    const EndpointParse parsed = parse_endpoint(GetParam().text);
    EXPECT_FALSE(parsed.endpoint) << GetParam().text;
    EXPECT_EQ(parsed.problem, GetParam().problem) << GetParam().text;
}

constexpr const char *kNotHostPort = "is not HOST:PORT, e.g. 127.0.0.1:9469";
constexpr const char *kNoPort = "has no port 1 .. 65535 after the last ':'";
constexpr const char *kNoHost =
    "has no valid host before the port (an IPv4 or IPv6 address, or a host name)";

INSTANTIATE_TEST_SUITE_P(
    Refusals, EndpointRefusalTest,
    ::testing::Values(Refusal{"NoColon", "127.0.0.1", kNotHostPort},
                      Refusal{"Empty", "", kNotHostPort},
                      Refusal{"PortZero", "127.0.0.1:0", kNoPort},
                      Refusal{"PortTooHigh", "127.0.0.1:65536", kNoPort},
                      Refusal{"PortMissing", "127.0.0.1:", kNoPort},
                      Refusal{"PortNotANumber", "127.0.0.1:94x", kNoPort},
                      Refusal{"PortNegative", "127.0.0.1:-1", kNoPort},
                      Refusal{"Ipv6WithoutBrackets", "::1:9469",
                              "needs brackets around an IPv6 address, e.g. [::1]:9469"},
                      Refusal{"BadAddress", "10.0.0.300:9469", kNoHost},
                      Refusal{"BracketsAroundNoAddress", "[not an address]:9469", kNoHost},
                      Refusal{"NoHost", ":9469", kNoHost}),
    [](const ::testing::TestParamInfo<Refusal> &info) { return std::string(info.param.name); });

} // namespace
} // namespace ratelimit
