// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Times as the kernel takes and gives them (timespec: clock_gettime, clock_nanosleep, timerfd)
// and as the code counts them (nanoseconds, std::chrono), converted in one place.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include "sys/error.hpp"

namespace ratelimit
{

inline constexpr std::uint64_t kNsPerSecond = 1'000'000'000;

constexpr std::uint64_t to_ns(const timespec &time)
{
    return static_cast<std::uint64_t>(time.tv_sec) * kNsPerSecond +
           static_cast<std::uint64_t>(time.tv_nsec);
}

// A duration, or a time since a clock's epoch; one before the epoch is the epoch.
constexpr timespec to_timespec(std::chrono::nanoseconds time)
{
    const std::int64_t ns = std::max<std::int64_t>(time.count(), 0);
    return {static_cast<time_t>(ns / kNsPerSecond), static_cast<long>(ns % kNsPerSecond)};
}

template <typename Clock, typename Duration>
constexpr timespec to_timespec(std::chrono::time_point<Clock, Duration> time)
{
    return to_timespec(
        std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()));
}

// clock_gettime(2) in nanoseconds; `what` names the clock in the error.
inline std::uint64_t clock_ns(clockid_t clock, const std::string &what)
{
    timespec now{};
    check(clock_gettime(clock, &now), "read " + what);
    return to_ns(now);
}

// Takes the expirations of a non-blocking timerfd, so that it stops being readable until it
// expires again; `what` names the timer in the error.
inline void drain_timer(int timer_fd, const std::string &what)
{
    std::uint64_t expirations;
    if (::read(timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        throw SystemError(errno, "read " + what);
}

} // namespace ratelimit
