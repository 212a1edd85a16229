// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The admission filter's and the evicted-TAT sketch's helpers of include/ratelimit/abi.h and
// gcra.h, driven from user space: the same functions the XDP program runs.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "ratelimit/gcra.h"

namespace ratelimit
{
namespace
{

// The source ::ffff:10.0.x.y of number i.
rl_source_key source(std::uint32_t i)
{
    rl_source_key key{};
    const std::uint8_t v4[4] = {10, 0, static_cast<std::uint8_t>(i >> 8),
                                static_cast<std::uint8_t>(i)};
    RL_ADDR_FROM_IPV4(key.addr, v4);
    return key;
}

std::uint64_t hash_of(std::uint32_t i, std::uint64_t seed)
{
    const rl_source_key key = source(i);
    return RL_SOURCE_HASH(key.addr, seed);
}

TEST(SketchTest, CellsAreAPowerOfTwoAtLeastTwiceTheTableAndNeverFew)
{
    EXPECT_EQ(rl_cells_log2(RL_DEFAULT_MAX_SOURCES), RL_DEFAULT_CELLS_LOG2);
    EXPECT_EQ(rl_cells_log2(1024), RL_MIN_CELLS_LOG2)
        << "a small table still gets RL_MIN_CELLS_LOG2";
    EXPECT_EQ(rl_cells_log2(1u << 16), 17u);
    EXPECT_EQ(rl_cells_log2(1000000), 21u);
    EXPECT_EQ(rl_cells_log2(1u << 27), 28u); // the largest max_sources the config takes
    EXPECT_EQ(RL_SKETCH_ENTRIES(28), 1u << 29);
}

TEST(SketchTest, SlotsStayInTheirRowAndFingerprintsAreNeverEmpty)
{
    const std::uint32_t log2 = 4;
    for (std::uint32_t i = 0; i < 1000; i++) {
        const std::uint64_t hash = hash_of(i, 42);
        for (std::uint32_t way = 0; way < RL_SEEN_WAYS; way++)
            EXPECT_LT(rl_seen_slot(hash, way, log2), 1u << log2);
        EXPECT_NE(rl_seen_fingerprint(hash), 0u);
        for (std::uint32_t row = 0; row < RL_SKETCH_ROWS; row++)
            EXPECT_EQ(rl_sketch_slot(hash, 3, 1, row, log2) >> log2, row);
    }
    EXPECT_EQ(rl_seen_fingerprint(0), 1u);
}

TEST(SketchTest, TheSeedMovesEverySourcesCells)
{
    std::uint32_t moved = 0;
    for (std::uint32_t i = 0; i < 1000; i++)
        moved += rl_sketch_slot(hash_of(i, 1), 0, 0, 0, 20) !=
                 rl_sketch_slot(hash_of(i, 2), 0, 0, 0, 20);
    EXPECT_GT(moved, 990u);
}

TEST(SketchTest, RowsSpreadSourcesIndependently)
{
    // Sources sharing their row-0 cell rarely share their row-1 cell too.
    const std::uint32_t log2 = 6, sources = 4096;
    std::uint32_t both = 0, first = 0;
    for (std::uint32_t i = 1; i < sources; i++) {
        const std::uint64_t a = hash_of(0, 7), b = hash_of(i, 7);
        if (rl_sketch_slot(a, 0, 0, 0, log2) == rl_sketch_slot(b, 0, 0, 0, log2)) {
            first++;
            both += rl_sketch_slot(a, 0, 0, 1, log2) == rl_sketch_slot(b, 0, 0, 1, log2);
        }
    }
    EXPECT_GT(first, 30u);
    EXPECT_LT(both, first / 8);
}

TEST(SketchTest, TheSeenFirstPacketKeepsItsBytesAndOutcome)
{
    const std::uint32_t first = RL_SEEN_FIRST(1514u, RL_OUTCOME_WOULD_DROP);
    EXPECT_EQ(RL_SEEN_FIRST_BYTES(first), 1514u);
    EXPECT_EQ(RL_SEEN_FIRST_OUTCOME(first), static_cast<std::uint32_t>(RL_OUTCOME_WOULD_DROP));
}

TEST(SketchTest, RaisingOnlyMovesACellForward)
{
    const std::uint64_t now = 1ull << 40;
    __u64 cell = 0;
    rl_tat_raise(&cell, now);
    EXPECT_EQ(cell, now);
    rl_tat_raise(&cell, now - 5);
    EXPECT_EQ(cell, now);
    rl_tat_raise(&cell, now + 5);
    EXPECT_EQ(cell, now + 5);
    // Compared as a signed difference, as bucket TATs are: across the wrap too.
    __u64 wrapping = ~0ull - 2;
    rl_tat_raise(&wrapping, 3);
    EXPECT_EQ(wrapping, 3u);
    EXPECT_EQ(rl_tat_earliest(~0ull - 2, 3), ~0ull - 2);
    EXPECT_EQ(rl_tat_earliest(now, now + 1), now);
}

TEST(SketchTest, CollisionsOnlyEverMakeTheEstimateMorePessimistic)
{
    // Many sources in a tiny sketch (16 cells a row): whatever shares their cells, each
    // source's estimate is never earlier than its own latest TAT.
    const std::uint32_t log2 = 4, sources = 500;
    std::vector<__u64> sketch(RL_SKETCH_ENTRIES(log2));
    std::vector<std::uint64_t> truth(sources);
    std::mt19937_64 rng(3);
    std::uint64_t now = 1ull << 40;
    for (int step = 0; step < 20000; step++) {
        const std::uint32_t i = rng() % sources;
        now += rng() % 1000;
        truth[i] = now + rng() % 100000; // the TAT its bucket reached
        for (std::uint32_t row = 0; row < RL_SKETCH_ROWS; row++)
            rl_tat_raise(&sketch[rl_sketch_slot(hash_of(i, 9), 2, 1, row, log2)], truth[i]);
    }
    std::uint32_t pessimistic = 0;
    for (std::uint32_t i = 0; i < sources; i++) {
        const std::uint64_t hash = hash_of(i, 9);
        const std::uint64_t estimate = rl_tat_earliest(sketch[rl_sketch_slot(hash, 2, 1, 0, log2)],
                                                       sketch[rl_sketch_slot(hash, 2, 1, 1, log2)]);
        EXPECT_GE(static_cast<std::int64_t>(estimate - truth[i]), 0) << "source " << i;
        pessimistic += estimate != truth[i];
    }
    EXPECT_GT(pessimistic, 0u) << "the sketch is small enough for collisions";
}

} // namespace
} // namespace ratelimit
