// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A data path tracking many sources without sending a frame: entries written straight into the
// pinned `sources` and `source_counters` maps with batch updates (a million take about a second),
// as the program would have made them for sources 11.0.0.0, 11.0.0.1, ... Each has a first
// packet recorded in its entry and some packets on CPU 0 in its counters.

#include <cstdint>

namespace ratelimit::test
{

// Writes `count` sources (at most 2^24) into the maps at `sources_fd` and `counters_fd`; returns
// how many the maps took (an LRU map may evict some of them as it fills).
std::uint32_t fill_sources(int sources_fd, int counters_fd, std::uint32_t count);

} // namespace ratelimit::test
