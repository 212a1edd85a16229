// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/source_count.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "datapath/inspect.hpp"
#include "sys/worker.hpp"

namespace ratelimit
{

TrackedSourceCount::TrackedSourceCount(const Datapath &dp) : dp_(dp)
{
    began_ = Clock::now();
    count_ = tracked_sources(dp_);
    took_ = Clock::now() - began_;
    const SignalsBlocked for_the_new_thread;
    thread_ = std::thread([this] { serve(); });
}

TrackedSourceCount::~TrackedSourceCount()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

TrackedSourceCount::Figure TrackedSourceCount::figure(Clock::duration wait)
{
    const auto asked = Clock::now();
    std::unique_lock lock(mutex_);
    if (asked - began_ > took_ * kAgeOverCost) {
        requested_ = true;
        wake_.notify_one();
        // A count that took longer than the wait last time would not be done in time either.
        if (took_ <= wait)
            counted_.wait_until(lock, asked + wait, [&] { return began_ >= asked || stopping_; });
    }
    return {count_, Clock::now() - began_};
}

void TrackedSourceCount::serve()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return requested_ || stopping_; });
        if (stopping_)
            return;
        requested_ = false;
        lock.unlock();
        const auto began = Clock::now();
        std::uint64_t count = 0;
        bool counted = false;
        try {
            count = tracked_sources(dp_);
            counted = true;
        } catch (const std::exception &e) {
            spdlog::warn("counting the tracked sources: {}", e.what());
        }
        const auto took = Clock::now() - began;
        lock.lock();
        if (counted) {
            count_ = count;
            began_ = began;
            took_ = took;
        }
        counted_.notify_all();
    }
}

} // namespace ratelimit
