// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The event loop outlives a handler that throws: the failure is logged and the loop serves on,
// so one failed event (a state save in the expiry handler, say) never ends the daemon without
// its clean shutdown. It records the longest a handler held it, and which handler that was.

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>

#include "sys/event_loop.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/time.hpp"

namespace ratelimit
{
namespace
{

UniqueFd make_eventfd()
{
    return UniqueFd(check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"));
}

void signal_fd(int fd)
{
    const std::uint64_t one = 1;
    check(static_cast<int>(::write(fd, &one, sizeof one)), "write an eventfd");
}

void drain(int fd)
{
    std::uint64_t count;
    check(static_cast<int>(::read(fd, &count, sizeof count)), "read an eventfd");
}

TEST(EventLoopTest, AHandlerThatThrowsIsLoggedAndTheLoopServesOn)
{
    EventLoop loop;
    const UniqueFd failing = make_eventfd(), next = make_eventfd();
    int failures = 0;
    bool next_served = false;
    // Each failure wakes the failing handler again, twice, then `next`: the loop must run the
    // throwing handler three times, and then a handler of another fd.
    loop.watch(failing.get(), "a failing handler", [&](std::uint32_t) {
        drain(failing.get());
        failures++;
        signal_fd(failures < 3 ? failing.get() : next.get());
        if (failures == 2)
            throw 42; // not a std::exception either
        throw std::runtime_error("cannot write the state file");
    });
    loop.watch(next.get(), "the next handler", [&](std::uint32_t) {
        drain(next.get());
        next_served = true;
        loop.stop();
    });
    signal_fd(failing.get());
    EXPECT_NO_THROW(loop.run());
    EXPECT_EQ(failures, 3);
    EXPECT_TRUE(next_served);
}

// As the daemon's expiry timer: its handler fails (a state file that cannot be written), and the
// timer's next expiry is served all the same.
TEST(EventLoopTest, ATimerWhoseHandlerThrowsIsServedAgain)
{
    EventLoop loop;
    const UniqueFd timer(
        check(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create"));
    itimerspec every_ms{};
    every_ms.it_value = every_ms.it_interval = to_timespec(std::chrono::milliseconds(1));
    check(timerfd_settime(timer.get(), 0, &every_ms, nullptr), "timerfd_settime");
    int expiries = 0;
    loop.watch(timer.get(), "a failing timer", [&](std::uint32_t) {
        drain_timer(timer.get(), "the test's timer");
        if (++expiries == 3)
            loop.stop();
        else
            throw std::runtime_error("cannot write the state file");
    });
    EXPECT_NO_THROW(loop.run());
    EXPECT_EQ(expiries, 3);
}

TEST(EventLoopTest, TheLongestHandlerIsRecordedWithItsName)
{
    using namespace std::chrono_literals;
    EventLoop loop;
    EXPECT_EQ(loop.longest_stall().took, 0ns);
    EXPECT_EQ(loop.longest_stall().name, "");
    const UniqueFd slow = make_eventfd(), quick = make_eventfd();
    loop.watch(slow.get(), "a slow handler", [&](std::uint32_t) {
        drain(slow.get());
        std::this_thread::sleep_for(30ms);
        signal_fd(quick.get());
    });
    loop.watch(quick.get(), "a quick handler", [&](std::uint32_t) {
        drain(quick.get());
        loop.stop();
    });
    signal_fd(slow.get());
    loop.run();
    const EventLoop::Stall stall = loop.longest_stall();
    EXPECT_GE(stall.took, 30ms);
    EXPECT_LT(stall.took, 1s);
    EXPECT_EQ(stall.name, "a slow handler");
    // Sleeping takes no CPU time: the handler that ran longest on the CPU may be either.
    EXPECT_LT(stall.on_cpu, 30ms);
}

} // namespace
} // namespace ratelimit
