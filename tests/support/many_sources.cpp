// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "many_sources.hpp"

#include <bpf/bpf.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "ratelimit/abi.h"
#include "sys/error.hpp"
#include "sys/map.hpp"

namespace ratelimit::test
{

namespace
{

constexpr std::uint32_t kBatch = 65536;

// 11.x.y.z as the program keys it (IPv4-mapped IPv6).
rl_source_key source_key(std::uint32_t index)
{
    rl_source_key key{};
    key.addr[10] = key.addr[11] = 0xff;
    key.addr[12] = 11;
    key.addr[13] = static_cast<std::uint8_t>(index >> 16);
    key.addr[14] = static_cast<std::uint8_t>(index >> 8);
    key.addr[15] = static_cast<std::uint8_t>(index);
    return key;
}

std::uint32_t entries(int fd)
{
    std::uint32_t count = 0;
    Map<rl_source_key, rl_source>(fd, RL_MAP_NAME(RL_MAP_SOURCES))
        .for_each([&count](const rl_source_key &, const rl_source &) { count++; });
    return count;
}

} // namespace

std::uint32_t fill_sources(int sources_fd, int counters_fd, std::uint32_t count)
{
    if (count > (1u << 24))
        throw std::invalid_argument("fill_sources: at most 2^24 sources");
    const std::size_t cpus = possible_cpus();
    std::vector<rl_source_key> keys;
    std::vector<rl_source> sources;
    std::vector<rl_source_counters> counters;
    for (std::uint32_t first = 0; first < count; first += kBatch) {
        const std::uint32_t n = std::min(kBatch, count - first);
        keys.assign(n, rl_source_key{});
        sources.assign(n, rl_source{});
        counters.assign(std::size_t{n} * cpus, rl_source_counters{});
        for (std::uint32_t i = 0; i < n; i++) {
            keys[i] = source_key(first + i);
            sources[i].rule = RL_NO_RULE;
            sources[i].first_bytes = 64;
            sources[i].first_outcome = RL_OUTCOME_PASSED;
            rl_source_counters &cpu0 = counters[std::size_t{i} * cpus];
            cpu0.packets[RL_OUTCOME_PASSED] = 1 + (first + i) % 1000;
            cpu0.bytes[RL_OUTCOME_PASSED] = 64 * cpu0.packets[RL_OUTCOME_PASSED];
            cpu0.packets[RL_OUTCOME_DROPPED] = (first + i) % 97;
            cpu0.bytes[RL_OUTCOME_DROPPED] = 64 * cpu0.packets[RL_OUTCOME_DROPPED];
        }
        std::uint32_t written = n;
        check(bpf_map_update_batch(sources_fd, keys.data(), sources.data(), &written, nullptr),
              "write a batch of sources");
        written = n;
        check(bpf_map_update_batch(counters_fd, keys.data(), counters.data(), &written, nullptr),
              "write a batch of source counters");
    }
    return entries(sources_fd);
}

} // namespace ratelimit::test
