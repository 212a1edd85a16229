// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Typed map views on real kernel maps: whole-map reads in batches (several batches, a hash bucket
// larger than the batch, per-CPU values), batched updates, batched deletes that skip keys already
// gone, and errors that name the map.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "bpf_test.hpp"
#include "sys/fd.hpp"
#include "sys/map.hpp"

namespace ratelimit::test
{
namespace
{

struct Value {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    bool operator==(const Value &) const = default;
};

class MapTest : public ::testing::Test
{
  protected:
    void SetUp() override { RL_REQUIRE_BPF(); }

    // A map of the test's own, freed when the test ends.
    int create(bpf_map_type type, std::uint32_t key_size, std::uint32_t value_size,
               std::uint32_t entries)
    {
        int fd = bpf_map_create(type, "rl_map_test", key_size, value_size, entries, nullptr);
        EXPECT_GE(fd, 0) << "create a map: " << std::strerror(-fd);
        fds_.emplace_back(fd);
        return fd;
    }

    Map<std::uint32_t, Value> hash(std::uint32_t entries)
    {
        return {create(BPF_MAP_TYPE_HASH, 4, sizeof(Value), entries), "test_hash"};
    }

    // `count` entries: key i has value {i, 3 * i}.
    static void fill(Map<std::uint32_t, Value> &map, std::uint32_t count)
    {
        for (std::uint32_t i = 0; i < count; i++)
            map.update(i, {i, 3ull * i});
    }

    std::vector<UniqueFd> fds_;
};

TEST_F(MapTest, ForEachReadsEveryEntryOnceAcrossBatches)
{
    constexpr std::uint32_t kEntries = 3 * detail::kFirstBatchSize + 17;
    auto map = hash(2 * kEntries);
    fill(map, kEntries);
    std::map<std::uint32_t, Value> seen;
    map.for_each([&](const std::uint32_t &key, const Value &value) {
        EXPECT_TRUE(seen.emplace(key, value).second) << "key " << key << " twice";
    });
    ASSERT_EQ(seen.size(), kEntries);
    for (const auto &[key, value] : seen)
        EXPECT_EQ(value, (Value{key, 3ull * key}));
}

TEST_F(MapTest, ABucketLargerThanTheBatchGrowsTheBatch)
{
    // With batches of one, any two keys in one hash bucket need a larger batch; 512 keys in 1024
    // buckets all but surely share some.
    constexpr std::uint32_t kEntries = 512;
    auto map = hash(2 * kEntries);
    fill(map, kEntries);
    std::set<std::uint32_t> seen;
    std::uint32_t largest = 0, batches = 0;
    detail::lookup_in_batches<std::uint32_t, Value>(
        map.fd(), map.name(), 1,
        [&](const std::uint32_t *keys, const Value *values, std::uint32_t count) {
            batches++;
            largest = std::max(largest, count);
            for (std::uint32_t i = 0; i < count; i++) {
                EXPECT_TRUE(seen.insert(keys[i]).second) << "key " << keys[i] << " twice";
                EXPECT_EQ(values[i], (Value{keys[i], 3ull * keys[i]}));
            }
        },
        1);
    EXPECT_EQ(seen.size(), kEntries);
    EXPECT_GE(largest, 2u) << "no batch grew past one entry";
    EXPECT_GT(batches, 1u);
}

TEST_F(MapTest, ForEachOnAnArrayReadsEverySlot)
{
    constexpr std::uint32_t kEntries = detail::kFirstBatchSize + 5;
    Map<std::uint32_t, Value> array(create(BPF_MAP_TYPE_ARRAY, 4, sizeof(Value), kEntries),
                                    "test_array");
    array.update(kEntries - 1, {7, 8});
    std::uint32_t slots = 0;
    array.for_each([&](const std::uint32_t &key, const Value &value) {
        EXPECT_EQ(key, slots++);
        EXPECT_EQ(value, (key == kEntries - 1 ? Value{7, 8} : Value{}));
    });
    EXPECT_EQ(slots, kEntries);
}

TEST_F(MapTest, ARunOfAnArrayStartsAtItsFirstKey)
{
    Map<std::uint32_t, Value> array(create(BPF_MAP_TYPE_ARRAY, 4, sizeof(Value), 10), "test_array");
    for (std::uint32_t i = 0; i < 10; i++)
        array.update(i, {i, 0});
    auto firsts = [](const std::vector<Value> &values) {
        std::vector<std::uint64_t> out;
        for (const Value &v : values)
            out.push_back(v.a);
        return out;
    };
    EXPECT_EQ(firsts(array.lookup_run(0, 3)), (std::vector<std::uint64_t>{0, 1, 2}));
    EXPECT_EQ(firsts(array.lookup_run(4, 2)), (std::vector<std::uint64_t>{4, 5}));
    EXPECT_EQ(firsts(array.lookup_run(8, 5)), (std::vector<std::uint64_t>{8, 9}))
        << "cut at the end";
    EXPECT_EQ(array.lookup_run(0, 10).size(), 10u);
}

TEST_F(MapTest, AnEmptyMapHasNoEntries)
{
    auto map = hash(16);
    std::uint32_t entries = 0;
    map.for_each([&](const std::uint32_t &, const Value &) { entries++; });
    EXPECT_EQ(entries, 0u);
    EXPECT_TRUE(map.keys().empty());
    EXPECT_EQ(map.erase(std::span<const std::uint32_t>{}), 0u);
}

TEST_F(MapTest, PerCpuValuesComeOnePerPossibleCpu)
{
    constexpr std::uint32_t kEntries = detail::kFirstBatchSize + 3;
    PerCpuMap<std::uint32_t, Value> map(
        create(BPF_MAP_TYPE_PERCPU_HASH, 4, sizeof(Value), 2 * kEntries), "test_percpu");
    for (std::uint32_t i = 0; i < kEntries; i++)
        map.update(i, {i, i + 1});
    const auto cpus = static_cast<std::size_t>(possible_cpus());
    auto one = map.lookup(5);
    ASSERT_TRUE(one);
    ASSERT_EQ(one->size(), cpus);
    EXPECT_EQ((*one)[0], (Value{5, 6}));
    for (std::size_t cpu = 1; cpu < cpus; cpu++)
        EXPECT_EQ((*one)[cpu], Value{}) << "update writes CPU 0's copy only";
    EXPECT_FALSE(map.lookup(kEntries));

    std::set<std::uint32_t> seen;
    map.for_each([&](const std::uint32_t &key, std::span<const Value> values) {
        seen.insert(key);
        ASSERT_EQ(values.size(), cpus);
        EXPECT_EQ(values[0], (Value{key, key + 1}));
        for (std::size_t cpu = 1; cpu < cpus; cpu++)
            EXPECT_EQ(values[cpu], Value{});
    });
    EXPECT_EQ(seen.size(), kEntries);
}

TEST_F(MapTest, BatchedEraseSkipsKeysThatAreGone)
{
    auto map = hash(64);
    fill(map, 10);
    const std::vector<std::uint32_t> keys = {1, 40, 3, 4, 41, 42, 9};
    EXPECT_EQ(map.erase(std::span<const std::uint32_t>(keys)), 4u);
    std::vector<std::uint32_t> left = map.keys();
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::uint32_t>{0, 2, 5, 6, 7, 8}));
    // All gone already.
    EXPECT_EQ(map.erase(std::span<const std::uint32_t>(keys)), 0u);
}

TEST_F(MapTest, BatchedUpdateWritesEveryEntry)
{
    constexpr std::uint32_t kEntries = 3 * detail::kFirstBatchSize;
    auto map = hash(kEntries);
    std::vector<std::uint32_t> keys;
    std::vector<Value> values;
    for (std::uint32_t i = 0; i < kEntries; i++) {
        keys.push_back(i);
        values.push_back({i, 5ull * i});
    }
    map.update(keys, values);
    std::size_t seen = 0;
    map.for_each([&](const std::uint32_t &key, const Value &value) {
        EXPECT_EQ(value, (Value{key, 5ull * key}));
        seen++;
    });
    EXPECT_EQ(seen, kEntries);
    map.update(std::span<const std::uint32_t>{}, std::span<const Value>{});
}

TEST_F(MapTest, BatchedUpdateFailuresThrowNamingTheMap)
{
    auto map = hash(4);
    const std::vector<std::uint32_t> keys = {1, 2, 3, 4, 5};
    EXPECT_THROW(map.update(keys, std::vector<Value>(2)), std::invalid_argument);
    map.update(2, {9, 9});
    try {
        map.update(keys, std::vector<Value>(keys.size(), Value{1, 1}));
        FAIL() << "no error";
    } catch (const SystemError &e) {
        EXPECT_EQ(e.code().value(), E2BIG) << "full";
        EXPECT_NE(std::string(e.what()).find("test_hash"), std::string::npos) << e.what();
    }
    for (std::uint32_t key : {1u, 2u, 3u, 4u})
        EXPECT_EQ(map.lookup(key), (Value{1, 1})) << "the entries before the failure are written";
    EXPECT_FALSE(map.lookup(5));
}

TEST_F(MapTest, OneEntryAtATime)
{
    auto map = hash(4);
    EXPECT_FALSE(map.lookup(1));
    map.update(1, {1, 2});
    EXPECT_EQ(map.lookup(1), (Value{1, 2}));
    map.update(1, {3, 4}, BPF_EXIST);
    EXPECT_EQ(map.lookup(1), (Value{3, 4}));
    EXPECT_TRUE(map.erase(1));
    EXPECT_FALSE(map.erase(1));
    EXPECT_FALSE(map.lookup(1));
}

TEST_F(MapTest, AFailedCallIsASystemErrorNamingTheMap)
{
    auto map = hash(2);
    map.update(1, {});
    try {
        map.update(1, {}, BPF_NOEXIST);
        FAIL() << "no error";
    } catch (const SystemError &e) {
        EXPECT_EQ(e.code().value(), EEXIST);
        EXPECT_NE(std::string(e.what()).find("test_hash"), std::string::npos) << e.what();
    }
    map.update(2, {});
    EXPECT_THROW(map.update(3, {}), SystemError) << "full";
}

} // namespace
} // namespace ratelimit::test
