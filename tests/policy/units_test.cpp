// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Human units: what each parser accepts, what it refuses and why, and that formatting a value
// gives text that parses back to it.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/units.hpp"

namespace ratelimit::config
{
namespace
{

using namespace std::chrono_literals;
using Parser = Parsed<std::uint64_t> (*)(std::string_view);

struct Accepted {
    std::string text;
    std::uint64_t value;
};

struct Refused {
    std::string text;
    std::string reason; // a distinctive part of the error
};

void expect_accepts(Parser parse, const std::vector<Accepted> &cases)
{
    for (const auto &[text, value] : cases) {
        auto parsed = parse(text);
        ASSERT_TRUE(parsed.value) << text << ": " << parsed.error;
        EXPECT_EQ(*parsed.value, value) << text;
        EXPECT_TRUE(parsed.error.empty()) << text;
    }
}

void expect_refuses(Parser parse, const std::vector<Refused> &cases)
{
    for (const auto &[text, reason] : cases) {
        auto parsed = parse(text);
        EXPECT_FALSE(parsed.value) << text << " parsed as " << parsed.value.value_or(0);
        EXPECT_TRUE(parsed.error.starts_with("\"" + text + "\"")) << parsed.error;
        EXPECT_NE(parsed.error.find(reason), std::string::npos)
            << text << ": \"" << parsed.error << "\" lacks \"" << reason << "\"";
    }
}

TEST(Units, PacketRates)
{
    expect_accepts(parse_packet_rate, {{"1000pps", 1000},
                                       {"1000", 1000},
                                       {"1pps", 1},
                                       {"1.5kpps", 1500},
                                       {"1.5Kpps", 1500},
                                       {"10 kpps", 10000},
                                       {"2Mpps", 2000000},
                                       {"0.25Mpps", 250000},
                                       {"100Mpps", 100000000},
                                       {"0.1Gpps", 100000000}});
    expect_refuses(parse_packet_rate, {{"0pps", "below the minimum of 1pps"},
                                       {"0", "below the minimum of 1pps"},
                                       {"1Gpps", "above the maximum of 100Mpps"},
                                       {"100000001", "above the maximum of 100Mpps"},
                                       {"99999999999999999999999pps", "above the maximum"},
                                       {"100ppm", "unknown unit \"ppm\"; use pps, kpps"},
                                       {"1.5pps", "not a whole number of packets per second"},
                                       {"1.0000000001kpps", "more than 9 decimals"},
                                       {"fast", "is not a packet rate"},
                                       {"-5pps", "is not a packet rate"},
                                       {"1.pps", "is not a packet rate"},
                                       {".5kpps", "is not a packet rate"},
                                       {"", "is not a packet rate"}});
}

TEST(Units, ByteRatesInBitsAndBytes)
{
    expect_accepts(parse_byte_rate, {{"8bit", 1},
                                     {"12bit", 2}, // 1.5 bytes, rounded
                                     {"500kbit", 62500},
                                     {"500Kbit", 62500},
                                     {"10Mbit", 1250000},
                                     {"10Mbit/s", 1250000},
                                     {"1Gbit", 125000000},
                                     {"400Gbit", 50000000000},
                                     {"1B/s", 1},
                                     {"125kB/s", 125000},
                                     {"125KB/s", 125000},
                                     {"1MB/s", 1000000},
                                     {"1MiB/s", 1048576},
                                     {"2GiB/s", 2147483648},
                                     {"1.5B/s", 2}});
    expect_refuses(parse_byte_rate, {{"1000000", "needs a unit; use bit, kbit"},
                                     {"1bit", "below the minimum of 8bit"},
                                     {"0B/s", "below the minimum of 8bit"},
                                     {"401Gbit", "above the maximum of 400Gbit"},
                                     {"10Mbps", "unknown unit \"Mbps\""},
                                     {"10mbit", "unknown unit \"mbit\""},
                                     {"lots", "is not a byte rate"}});
}

TEST(Units, Sizes)
{
    expect_accepts(parse_size, {{"1500", 1500},
                                {"1500B", 1500},
                                {"64KB", 64000},
                                {"64kB", 64000},
                                {"256KiB", 262144},
                                {"1.5KiB", 1536},
                                {"1MiB", 1048576},
                                {"1MB", 1000000},
                                {"1GB", 1000000000}});
    expect_refuses(parse_size, {{"0B", "below the minimum of 1B"},
                                {"2GB", "above the maximum of 1GB"},
                                {"1GiB", "above the maximum of 1GB"},
                                {"1.5B", "not a whole number of bytes"},
                                {"10KIB", "unknown unit \"KIB\"; use B, kB"},
                                {"big", "is not a size"}});
}

TEST(Units, PacketCounts)
{
    expect_accepts(parse_packet_count, {{"1", 1}, {"2000", 2000}, {"1000000000", 1000000000}});
    expect_refuses(parse_packet_count, {{"0", "below the minimum of 1"},
                                        {"1000000001", "above the maximum of 1000000000"},
                                        {"10k", "unknown unit \"k\"; write a whole number"},
                                        {"1.5", "not a whole number of packets"}});
}

using DurationCase = std::pair<std::string, std::chrono::milliseconds>;

void expect_durations(const std::vector<DurationCase> &accepted,
                      const std::vector<Refused> &refused)
{
    for (const auto &[text, expected] : accepted) {
        auto parsed = parse_duration(text);
        ASSERT_TRUE(parsed.value) << text << ": " << parsed.error;
        EXPECT_EQ(*parsed.value, expected) << text;
    }
    for (const auto &[text, reason] : refused) {
        auto parsed = parse_duration(text);
        EXPECT_FALSE(parsed.value) << text;
        EXPECT_NE(parsed.error.find(reason), std::string::npos) << parsed.error;
    }
}

TEST(Units, Durations)
{
    expect_durations({{"500ms", 500ms},
                      {"30s", 30s},
                      {"5m", 5min},
                      {"1h", 1h},
                      {"1.5h", 90min},
                      {"7d", std::chrono::days(7)},
                      {"365d", std::chrono::days(365)}},
                     {{"0s", "below the minimum of 1ms"},
                      {"30", "needs a unit; use ms, s"},
                      {"0.5ms", "not a whole number"},
                      {"366d", "above the maximum of 365d"},
                      {"1y", "unknown unit \"y\""}});
}

TEST(Units, ParsesCompoundDurationsFromTheLargestUnitDown)
{
    expect_durations({{"1h30m", 90min},
                      {"1h 30m", 90min},
                      {"2d12h", std::chrono::days(2) + 12h},
                      {"1m30.5s", 90500ms},
                      {"1s500ms", 1500ms},
                      {"364d23h59m", std::chrono::days(365) - 1min}},
                     {{"30m1h", "smaller one first"},
                      {"1h1h", "repeats a unit"},
                      {"1h30", "bad part: \"30\" needs a unit"},
                      {"1h30x", "unknown unit \"x\""},
                      {"365d1h", "above the maximum of 365d"}});
}

TEST(Units, FormatsInTheLargestExactUnit)
{
    EXPECT_EQ(format_packet_rate(1), "1pps");
    EXPECT_EQ(format_packet_rate(1000), "1kpps");
    EXPECT_EQ(format_packet_rate(1500), "1.5kpps");
    EXPECT_EQ(format_packet_rate(1250), "1.25kpps");
    EXPECT_EQ(format_packet_rate(12345), "12345pps"); // 12.345kpps would take three decimals
    EXPECT_EQ(format_packet_rate(2000000), "2Mpps");
    EXPECT_EQ(format_packet_rate(100000000), "100Mpps");

    EXPECT_EQ(format_bit_rate(1), "8bit");
    EXPECT_EQ(format_bit_rate(62500), "500kbit");
    EXPECT_EQ(format_bit_rate(1250000), "10Mbit");
    EXPECT_EQ(format_bit_rate(50000000000), "400Gbit");

    EXPECT_EQ(format_size(1518), "1518B");
    EXPECT_EQ(format_size(1536), "1.5KiB");
    EXPECT_EQ(format_size(64000), "64kB"); // not 62.5KiB: fewer decimals in the same magnitude
    EXPECT_EQ(format_size(262144), "256KiB");
    EXPECT_EQ(format_size(1048576), "1MiB");
    EXPECT_EQ(format_size(1000000000), "1GB");

    EXPECT_EQ(format_duration(500ms), "500ms");
    EXPECT_EQ(format_duration(1500ms), "1.5s");
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(90s), "1.5m");
    EXPECT_EQ(format_duration(61s), "61s");
    EXPECT_EQ(format_duration(std::chrono::days(7)), "7d");
}

// Values a config commonly holds, plus every small one and some awkward ones.
std::vector<std::uint64_t> common_values(std::uint64_t max)
{
    std::vector<std::uint64_t> values;
    for (std::uint64_t value = 1; value <= 5000; value++)
        values.push_back(value);
    for (std::uint64_t base : {1000ull, 1024ull})
        for (std::uint64_t power = base; power <= max; power *= base)
            for (std::uint64_t factor : {1, 2, 3, 5, 10, 64, 100, 256, 500})
                if (power * factor <= max)
                    values.push_back(power * factor);
    values.insert(values.end(), {12345, 1234567, 99999999, 1000001, max});
    return values;
}

void expect_round_trips(Parser parse, std::string (*format)(std::uint64_t), std::uint64_t max)
{
    for (std::uint64_t value : common_values(max)) {
        std::string text = format(value);
        auto parsed = parse(text);
        ASSERT_TRUE(parsed.value) << value << " -> " << text << ": " << parsed.error;
        EXPECT_EQ(*parsed.value, value) << value << " -> " << text;
    }
}

TEST(Units, FormattedValuesParseBack)
{
    expect_round_trips(parse_packet_rate, format_packet_rate, kMaxPacketRate);
    expect_round_trips(parse_byte_rate, format_bit_rate, kMaxByteRate);
    expect_round_trips(parse_size, format_size, kMaxBurst);
    for (std::chrono::milliseconds duration : std::vector<std::chrono::milliseconds>{
             1ms, 999ms, 1500ms, 61s, 90s, 5min, 1h, 36h, kMaxDuration}) {
        auto parsed = parse_duration(format_duration(duration));
        ASSERT_TRUE(parsed.value) << format_duration(duration) << ": " << parsed.error;
        EXPECT_EQ(*parsed.value, duration) << format_duration(duration);
    }
}

} // namespace
} // namespace ratelimit::config
