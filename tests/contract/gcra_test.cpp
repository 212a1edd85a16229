// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The bucket arithmetic of include/ratelimit/gcra.h, driven from user space: the same functions
// the XDP program runs.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "datapath/compile.hpp"
#include "ratelimit/gcra.h"

namespace ratelimit
{
namespace
{

constexpr std::uint64_t kSecond = 1000000000ull;

rl_limit packets(std::uint64_t rate, std::uint64_t burst)
{
    return compile_limit({RL_UNIT_PACKETS, rate, burst});
}

rl_limit bytes(std::uint64_t rate, std::uint64_t burst)
{
    return compile_limit({RL_UNIT_BYTES, rate, burst});
}

// Offers `count` packets of `len` bytes at `now_ns`; returns how many were admitted.
std::uint64_t offer(const rl_limit &limit, __u64 &tat, std::uint64_t now_ns, std::uint64_t count,
                    std::uint32_t len = 64)
{
    std::uint64_t admitted = 0;
    std::uint64_t cost = rl_limit_cost(&limit, rl_limit_units(&limit, len));
    for (std::uint64_t i = 0; i < count; i++)
        admitted += rl_bucket_take(&tat, rl_time_from_ns(now_ns), cost, limit.tolerance);
    return admitted;
}

TEST(Gcra, FreshBucketAdmitsExactlyTheBurst)
{
    for (std::uint64_t rate : {1ull, 7ull, 1000ull, 33333ull, 1000000ull, 100000000ull}) {
        for (std::uint64_t burst : {1ull, 2ull, 10ull, 999ull}) {
            rl_limit limit = packets(rate, burst);
            __u64 tat = 0;
            EXPECT_EQ(offer(limit, tat, 5 * kSecond, burst + 50), burst)
                << "rate " << rate << " burst " << burst;
        }
    }
}

TEST(Gcra, RefillsAtTheRate)
{
    rl_limit limit = packets(1000, 10);
    __u64 tat = 0;
    std::uint64_t t = 10 * kSecond, ms = kSecond / 1000;
    ASSERT_EQ(offer(limit, tat, t, 100), 10u);
    EXPECT_EQ(offer(limit, tat, t + ms - 1, 5), 0u); // just short of one token
    EXPECT_EQ(offer(limit, tat, t + ms, 5), 1u);
    EXPECT_EQ(offer(limit, tat, t + 6 * ms, 100), 5u);
    EXPECT_EQ(offer(limit, tat, t + 100 * kSecond, 1000), 10u); // capped at the burst
}

TEST(Gcra, SustainedRateIsExactOverManyPackets)
{
    // A source sending at twice the rate for 10 s, timestamps in ns: burst + rate * t admitted.
    struct Case {
        rl_limit limit;
        std::uint64_t rate, burst;
        std::uint32_t len;
    };
    const Case cases[] = {
        {packets(1000, 100), 1000, 100, 64},
        {packets(33333, 50), 33333, 50, 64},
        {packets(3000000, 1000), 3000000, 1000, 64},
        {bytes(125000, 3000), 125000, 3000, 1500},               // 1 Mbit/s
        {bytes(1250000000, 1 << 20), 1250000000, 1 << 20, 1500}, // 10 Gbit/s
    };
    for (const auto &c : cases) {
        __u64 tat = 0, admitted_units = 0;
        std::uint64_t units_per_packet = rl_limit_units(&c.limit, c.len);
        std::uint64_t gap_ns = kSecond * units_per_packet / (2 * c.rate);
        std::uint64_t start = 1000 * kSecond, duration = 10 * kSecond;
        for (std::uint64_t t = start; t < start + duration; t += gap_ns)
            admitted_units += offer(c.limit, tat, t, 1, c.len) * units_per_packet;
        double expected = c.burst + c.rate * 10.0;
        EXPECT_NEAR(admitted_units / expected, 1.0, 0.001) << "rate " << c.rate;
    }
}

TEST(Gcra, CoarseClockKeepsTheRateWhenTheBurstSpansTwoTicks)
{
    // The XDP program reads a clock that moves in 4 ms steps (HZ=250) unless the rule's burst is
    // shorter than two ticks; with a burst of two ticks the refill of each step fits the bucket.
    const std::uint64_t tick = 4000000, rate = 100000, burst = rate * 2 * tick / kSecond;
    rl_limit limit = packets(rate, burst);
    __u64 tat = 0, admitted = 0, start = 50 * kSecond;
    for (std::uint64_t t = start; t < start + 2 * kSecond; t += kSecond / (3 * rate))
        admitted += offer(limit, tat, t / tick * tick, 1);
    EXPECT_NEAR(admitted / (burst + rate * 2.0), 1.0, 0.01);
}

TEST(Gcra, ExtremesDoNotOverflow)
{
    // 1 pps with a burst of 10^9: the bucket spans 31 years and still holds 10^9 tokens.
    rl_limit slow = packets(1, 1000000000);
    EXPECT_LT(slow.tolerance, 1ull << 63);
    EXPECT_EQ(rl_gcra_tokens(&slow, 0, rl_time_from_ns(kSecond)), 1000000000u);

    // 100 Mpps: 10 ns per packet, exactly 40 time units.
    rl_limit fast = packets(100000000, 1000000000);
    EXPECT_EQ(rl_limit_cost(&fast, 1), 40u);
    EXPECT_EQ(rl_gcra_tokens(&fast, 0, rl_time_from_ns(kSecond)), 1000000000u);

    // 400 Gbit/s: 0.02 ns per byte. A 1500-byte frame costs 30 ns = 120 units.
    rl_limit line = bytes(50000000000ull, 1000000000);
    EXPECT_EQ(rl_limit_cost(&line, 1500), 120u);
    EXPECT_EQ(rl_limit_cost(&line, 1000000), 80000u);

    // 1 byte/s (8 bit/s): a 64 KiB frame is 65536 s of bucket time.
    rl_limit crawl = bytes(1, 1000000000);
    EXPECT_EQ(rl_limit_cost(&crawl, 65536), rl_time_from_ns(65536 * kSecond));
}

TEST(Gcra, LongIdleRefillsAndClockWrapIsHarmless)
{
    rl_limit limit = packets(10, 5);
    __u64 tat = 0;
    ASSERT_EQ(offer(limit, tat, kSecond, 10), 5u);
    // A year idle.
    EXPECT_EQ(offer(limit, tat, kSecond + 365ull * 86400 * kSecond, 10), 5u);

    // Bucket time wraps modulo 2^64 after 146 years of uptime: a bucket drained just before the
    // wrap refills across it.
    std::uint64_t near_wrap = ~0ull - rl_time_from_ns(kSecond / 2);
    std::uint64_t cost = rl_limit_cost(&limit, 1);
    tat = near_wrap - rl_time_from_ns(kSecond); // full a second ago
    std::uint64_t taken = 0;
    for (int i = 0; i < 10; i++)
        taken += rl_bucket_take(&tat, near_wrap, cost, limit.tolerance);
    EXPECT_EQ(taken, 5u);
    std::uint64_t after_wrap = near_wrap + rl_time_from_ns(kSecond); // wrapped past zero
    EXPECT_LT(after_wrap, near_wrap);
    EXPECT_EQ(rl_gcra_tokens(&limit, tat, after_wrap), 5u);
}

TEST(Gcra, RescaleKeepsTokensAcrossARateChange)
{
    rl_limit before = packets(1000, 100);
    __u64 tat = 0, t = 10 * kSecond;
    ASSERT_EQ(offer(before, tat, t, 60), 60u); // 40 tokens left
    std::uint64_t now = rl_time_from_ns(t);
    ASSERT_EQ(rl_gcra_tokens(&before, tat, now), 40u);

    // Slower rate, bigger burst: still 40 tokens, not a fresh burst.
    rl_limit slower = packets(10, 1000);
    std::uint64_t moved = rl_gcra_rescale(tat, now, &before, &slower);
    EXPECT_EQ(rl_gcra_tokens(&slower, moved, now), 40u);

    // Smaller burst than the tokens held: capped at the new burst.
    rl_limit small = packets(1000, 10);
    EXPECT_EQ(rl_gcra_tokens(&small, rl_gcra_rescale(tat, now, &before, &small), now), 10u);

    // An empty bucket stays empty.
    __u64 drained = tat;
    offer(before, drained, t, 1000);
    EXPECT_EQ(rl_gcra_tokens(&slower, rl_gcra_rescale(drained, now, &before, &slower), now), 0u);
}

TEST(Gcra, TightenedLimitWithoutRescaleIsEmptyNotLockedOut)
{
    // A bucket drained under a long tolerance, then read under a short one (no rescale): it
    // counts as empty and refills at the new rate within one new tolerance.
    rl_limit loose = packets(10, 1000); // 100 s of tolerance
    __u64 tat = 0, t = 10 * kSecond;
    ASSERT_EQ(offer(loose, tat, t, 2000), 1000u);
    rl_limit tight = packets(10, 5); // 0.5 s
    EXPECT_EQ(offer(tight, tat, t, 1), 0u);
    EXPECT_EQ(offer(tight, tat, t + kSecond / 10, 3), 1u); // one token after 100 ms
}

TEST(Gcra, ConcurrentTakersNeverOverAdmit)
{
    // Two threads race on one bucket at one instant: exactly the burst is admitted in total.
    rl_limit limit = packets(1000, 100000);
    __u64 tat = 0;
    const std::uint64_t now = rl_time_from_ns(kSecond), cost = rl_limit_cost(&limit, 1);
    std::atomic<std::uint64_t> admitted{0};
    auto hammer = [&] {
        std::uint64_t mine = 0;
        for (int i = 0; i < 200000; i++)
            mine += rl_bucket_take(&tat, now, cost, limit.tolerance);
        admitted += mine;
    };
    std::thread a(hammer), b(hammer);
    a.join();
    b.join();
    EXPECT_EQ(admitted.load(), 100000u);
}

} // namespace
} // namespace ratelimit
