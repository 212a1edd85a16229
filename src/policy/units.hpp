// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Human units for rates, sizes and durations, read from and written back to text. Parsing is
// exact (decimal fractions are scaled as integers, never as floating point), and formatting
// picks a spelling that parses back to the same value.
//
// Spellings accepted (case-sensitive: "m" is minutes, "M" is mega):
//   packet rate   1000, 1000pps, 1.5kpps (also Kpps), 2Mpps, 1Gpps      -> packets/s
//   byte rate     8bit, 500kbit (also Kbit), 10Mbit, 1Gbit, each also with "/s";
//                 1B/s, 125kB/s (also KB/s), 1MB/s, 1GB/s, 1KiB/s, 1MiB/s, 2GiB/s -> bytes/s
//   size          1500, 1500B, 64kB (also KB), 1MB, 1GB, 256KiB, 1MiB, 1GiB     -> bytes
//   packet count  1000                                                          -> packets
//   duration      500ms, 30s, 5m, 1h, 7d, and sums of them from the largest unit
//                 down: 1h30m, 2d 12h, 1m30s                                  -> milliseconds
// A space may separate number and unit. k, M, G are powers of 1000; Ki, Mi, Gi powers of 1024.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "json/validated.hpp"

namespace ratelimit::config
{

inline constexpr std::uint64_t kMaxPacketRate = 100'000'000;  // 100 Mpps
inline constexpr std::uint64_t kMaxByteRate = 50'000'000'000; // 400 Gbit/s
inline constexpr std::uint64_t kMaxBurst = 1'000'000'000;     // packets, or bytes
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::days(365);

// Packets per second, 1 .. kMaxPacketRate. A bare number is packets per second.
Parsed<std::uint64_t> parse_packet_rate(std::string_view text);
// Bytes per second, 1 .. kMaxByteRate, rounded to a whole byte. Needs a unit: bits or bytes.
Parsed<std::uint64_t> parse_byte_rate(std::string_view text);
// Bytes, 1 .. kMaxBurst. A bare number is bytes.
Parsed<std::uint64_t> parse_size(std::string_view text);
// Packets, 1 .. kMaxBurst.
Parsed<std::uint64_t> parse_packet_count(std::string_view text);
// 1 ms .. kMaxDuration. Needs a unit (each part of a compound duration does).
Parsed<std::chrono::milliseconds> parse_duration(std::string_view text);

// In the largest unit that states the value exactly with at most two decimals: "1.5kpps".
std::string format_packet_rate(std::uint64_t packets_per_second);
std::string format_bit_rate(std::uint64_t bytes_per_second); // "10Mbit"
std::string format_size(std::uint64_t bytes);                // "256KiB", "64kB", "1518B"
std::string format_duration(std::chrono::milliseconds duration);

} // namespace ratelimit::config
