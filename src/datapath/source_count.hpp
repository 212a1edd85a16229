// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// How many sources the program tracks, without anyone waiting long for it: the kernel keeps no
// count of an LRU hash map, and counting a million entries takes a tenth of a second. A thread of
// its own counts when a reader finds the figure stale; the reader waits for that count as long as
// it can afford (the event loop a few milliseconds, a metrics scrape longer) and otherwise takes
// the last count with its age. A small map is counted in microseconds, so its readers always get
// a count made after they asked.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "datapath/datapath.hpp"

namespace ratelimit
{

class TrackedSourceCount
{
  public:
    using Clock = std::chrono::steady_clock;
    // A count is stale once older than this many times what making it took: recounting on
    // demand then costs at most a tenth of the counting thread's time.
    static constexpr int kAgeOverCost = 10;

    struct Figure {
        std::uint64_t count = 0;
        Clock::duration age{}; // since the count began
    };

    // `dp` must outlive the count. Counts once before returning.
    explicit TrackedSourceCount(const Datapath &dp);
    ~TrackedSourceCount();
    TrackedSourceCount(const TrackedSourceCount &) = delete;
    TrackedSourceCount &operator=(const TrackedSourceCount &) = delete;

    // The count, from any thread. A stale one is recounted, waiting at most `wait` for it (the
    // count begun after this call), and not at all if the last count took longer than that; past
    // that, the last count and its age.
    Figure figure(Clock::duration wait);

  private:
    void serve();

    const Datapath &dp_;
    std::mutex mutex_;
    std::condition_variable wake_, counted_;
    // Guarded by mutex_: the last count, when it began and what it took.
    std::uint64_t count_ = 0;
    Clock::time_point began_{};
    Clock::duration took_{};
    bool requested_ = false, stopping_ = false;
    std::thread thread_;
};

} // namespace ratelimit
