// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Nanoseconds, std::chrono and timespec: one conversion each way.

#include <gtest/gtest.h>

#include <chrono>

#include "sys/time.hpp"

namespace ratelimit
{
namespace
{

using namespace std::chrono_literals;

TEST(TimeTest, TimespecAndNanosecondsConvertBothWays)
{
    const timespec spec = to_timespec(3s + 250ms + 7ns);
    EXPECT_EQ(spec.tv_sec, 3);
    EXPECT_EQ(spec.tv_nsec, 250'000'007);
    EXPECT_EQ(to_ns(spec), 3'250'000'007u);
    EXPECT_EQ(to_timespec(std::chrono::seconds(60)).tv_sec, 60);
}

TEST(TimeTest, ATimePointIsItsTimeSinceTheEpochAndNoneIsBeforeIt)
{
    const std::chrono::system_clock::time_point at(1'700'000'000s + 5us);
    const timespec spec = to_timespec(at);
    EXPECT_EQ(spec.tv_sec, 1'700'000'000);
    EXPECT_EQ(spec.tv_nsec, 5'000);
    const timespec before = to_timespec(std::chrono::system_clock::time_point(-1500ms));
    EXPECT_EQ(before.tv_sec, 0);
    EXPECT_EQ(before.tv_nsec, 0);
}

TEST(TimeTest, ClockReadsAdvance)
{
    const std::uint64_t first = clock_ns(CLOCK_MONOTONIC, "the monotonic clock");
    EXPECT_GE(clock_ns(CLOCK_MONOTONIC, "the monotonic clock"), first);
}

} // namespace
} // namespace ratelimit
