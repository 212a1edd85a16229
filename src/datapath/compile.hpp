// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Turns a limit as a user states it (rate, burst, who shares the bucket) into the data path's
// rl_limit / rl_rule, including the choice of clock.

#include <cstdint>
#include <optional>
#include <span>

#include "policy/rule.hpp"
#include "ratelimit/abi.h"

namespace ratelimit
{

rl_limit compile_limit(const LimitSpec &spec);

// A rule whose burst spans less than two ticks of the coarse clock reads the precise clock: the
// coarse one refills in tick-sized steps, and a bucket too small to hold a step would lose rate.
// A ban applies to a limit rule only.
rl_rule compile_rule(rl_action action, std::span<const LimitSpec> limits, bool monitor,
                     const std::optional<BanSpec> &ban = std::nullopt);

// Resolution of bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE): one kernel tick.
std::uint64_t coarse_clock_resolution_ns();

// The bucket clock of a rule, as the XDP program reads it, in bucket time units.
std::uint64_t bucket_now(const rl_rule &rule);

} // namespace ratelimit
