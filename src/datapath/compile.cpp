// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/compile.hpp"

#include <time.h>

#include <stdexcept>

#include "sys/error.hpp"
#include "sys/time.hpp"
#include "ratelimit/gcra.h"

namespace ratelimit
{

rl_limit compile_limit(const LimitSpec &spec)
{
    if (spec.rate == 0 || spec.burst == 0)
        throw std::invalid_argument("a limit needs a rate and a burst of at least 1");
    rl_limit limit{};
    limit.unit = spec.unit;
    limit.per = spec.per;
    limit.per_prefixlen = static_cast<std::uint8_t>(spec.per_prefixlen);
    rl_limit_set_rate(&limit, spec.rate, spec.burst);
    return limit;
}

std::uint64_t coarse_clock_resolution_ns()
{
    static const std::uint64_t resolution = [] {
        timespec res{};
        check(clock_getres(CLOCK_MONOTONIC_COARSE, &res), "read the coarse clock's resolution");
        return to_ns(res);
    }();
    return resolution;
}

rl_rule compile_rule(rl_action action, std::span<const LimitSpec> limits, bool monitor,
                     const std::optional<BanSpec> &ban)
{
    if (limits.size() > RL_MAX_LIMITS)
        throw std::invalid_argument("a rule stacks at most 4 limits");
    rl_rule rule{};
    rule.action = action;
    rule.flags = monitor ? RL_RULE_MONITOR : 0;
    if (action != RL_ACTION_LIMIT)
        return rule;
    const std::uint64_t two_ticks = rl_time_from_ns(2 * coarse_clock_resolution_ns());
    for (const auto &spec : limits) {
        rl_limit &limit = rule.limits[rule.nlimits++];
        limit = compile_limit(spec);
        if (limit.tolerance < two_ticks)
            rule.flags |= RL_RULE_PRECISE_CLOCK;
    }
    if (ban) {
        if (ban->after.count() <= 0 || ban->duration.count() <= 0)
            throw std::invalid_argument("a ban needs an \"after\" and a \"for\" of at least 1 ms");
        rule.ban_after_ns =
            static_cast<std::uint64_t>(std::chrono::nanoseconds(ban->after).count());
        rule.ban_for_ns =
            static_cast<std::uint64_t>(std::chrono::nanoseconds(ban->duration).count());
        rule.ban_flags = ban->scope == BanScope::All ? RL_BAN_SCOPE_ALL : 0;
    }
    return rule;
}

std::uint64_t bucket_now(const rl_rule &rule)
{
    // bpf_ktime_get_ns() is CLOCK_MONOTONIC; bpf_ktime_get_coarse_ns() is its coarse variant.
    clockid_t clock =
        (rule.flags & RL_RULE_PRECISE_CLOCK) ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_COARSE;
    return rl_time_from_ns(clock_ns(clock, "the bucket clock"));
}

} // namespace ratelimit
