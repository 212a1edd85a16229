// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The worker runs jobs on a thread of its own and hands their results back to the event loop;
// it refuses a job over its capacity at once, and takes one again once a result is handed back.

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "sys/error.hpp"
#include "sys/event_loop.hpp"
#include "sys/fd.hpp"
#include "sys/worker.hpp"

namespace ratelimit
{
namespace
{

using namespace std::chrono_literals;

TEST(WorkerTest, AJobRunsOffTheLoopAndItsResultOnTheLoop)
{
    EventLoop loop;
    Worker worker(loop, "the test's worker", 2);
    const auto loop_thread = std::this_thread::get_id();
    std::thread::id job_thread, finish_thread;
    ASSERT_TRUE(worker.submit([&]() -> Worker::Finish {
        job_thread = std::this_thread::get_id();
        return [&] {
            finish_thread = std::this_thread::get_id();
            loop.stop();
        };
    }));
    loop.run();
    EXPECT_NE(job_thread, loop_thread);
    EXPECT_EQ(finish_thread, loop_thread);
    EXPECT_EQ(worker.pending(), 0u);
}

TEST(WorkerTest, AJobOverItsCapacityIsRefusedAndTakenAgainOnceOneIsHandedBack)
{
    EventLoop loop;
    Worker worker(loop, "the test's worker", 2);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    int finished = 0;
    auto job = [&]() -> Worker::Finish {
        released.wait();
        return [&] {
            if (++finished == 2)
                loop.stop();
        };
    };
    ASSERT_TRUE(worker.submit(job));
    ASSERT_TRUE(worker.submit(job));
    EXPECT_FALSE(worker.submit(job)); // two wait or run already
    EXPECT_EQ(worker.pending(), 2u);
    release.set_value();
    loop.run();
    EXPECT_EQ(finished, 2);
    EXPECT_TRUE(worker.submit([]() -> Worker::Finish { return nullptr; }));
}

TEST(WorkerTest, AJobThatThrowsIsLoggedAndTheWorkerServesOn)
{
    EventLoop loop;
    Worker worker(loop, "the test's worker", 1);
    ASSERT_TRUE(
        worker.submit([]() -> Worker::Finish { throw std::runtime_error("the map is gone"); }));
    while (worker.pending() != 0)
        std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(worker.submit([&]() -> Worker::Finish { return [&] { loop.stop(); }; }));
    loop.run();
}

TEST(WorkerTest, ItsDestructorLetsTheRunningJobEndAndDropsTheWaitingOnes)
{
    EventLoop loop;
    std::atomic<int> started = 0, ran = 0;
    {
        Worker worker(loop, "the test's worker", 3);
        for (int i = 0; i < 3; i++)
            ASSERT_TRUE(worker.submit([&]() -> Worker::Finish {
                started++;
                std::this_thread::sleep_for(50ms);
                ran++;
                return nullptr;
            }));
        while (started == 0)
            std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(ran, 1);
}

} // namespace
} // namespace ratelimit
