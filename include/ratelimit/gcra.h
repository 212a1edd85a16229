/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Token-bucket arithmetic, in one place for the XDP program and for user space (daemon and unit
 * tests). Pure inline functions of their arguments: the caller passes `now`.
 *
 * GCRA (the virtual-scheduling form of a token bucket) keeps one number per bucket, the
 * theoretical arrival time (TAT): the moment at which the bucket will be full again. With
 *   cost      = bucket time one packet consumes (1/rate per packet or per byte),
 *   tolerance = bucket time a full burst spans (burst/rate),
 *   debt      = TAT - now, clamped to [0, tolerance],
 * a packet conforms iff debt + cost <= tolerance, and admitting it sets TAT = now + debt + cost.
 * The number of tokens available is (tolerance - debt) / cost. One 64-bit word is the whole state,
 * so it can be advanced with a compare-and-swap: exact across CPUs, and a packet that does not
 * conform only reads it.
 *
 * Arithmetic (all unsigned 64-bit, no 128-bit operations in the BPF program):
 * - times are in units of 2^-RL_TIME_SHIFT ns and TAT - now is taken modulo 2^64 as a signed
 *   number: right while the two are within 73 years of each other (a new bucket's TAT of 0
 *   reads as full for the first 73 years of uptime), so the wrap of the clock itself, after
 *   146 years, does not matter either.
 * - interval (time units per packet or byte) is 32.32 fixed point and below 2^64 for any rate of
 *   at least one unit per second; cost = units * interval is split into its integer and
 *   fractional halves so that neither product can overflow for units < 2^20.
 * - tolerance < 2^62: a burst of 10^9 packets at 1 pps is 4 * 10^18 units.
 */
#ifndef RATELIMIT_GCRA_H
#define RATELIMIT_GCRA_H

#include "abi.h"

/* A plain load the compiler may neither tear nor cache, in BPF as in C++. */
#define RL_READ_ONCE_U64(p) (*(const volatile __u64 *)(p))

static inline __u64 rl_time_from_ns(__u64 ns)
{
    return ns << RL_TIME_SHIFT;
}

/* Bucket time consumed by `units` packets or bytes, rounded to the nearest time unit. */
static inline __u64 rl_limit_cost(const struct rl_limit *limit, __u64 units)
{
    const __u64 frac_mask = (1ull << RL_INTERVAL_FRAC_BITS) - 1;
    const __u64 half = 1ull << (RL_INTERVAL_FRAC_BITS - 1);
    __u64 whole = units * (limit->interval >> RL_INTERVAL_FRAC_BITS);
    __u64 frac = (units * (limit->interval & frac_mask) + half) >> RL_INTERVAL_FRAC_BITS;

    return whole + frac;
}

/* Units one packet of `frame_len` bytes is charged for. */
static inline __u64 rl_limit_units(const struct rl_limit *limit, __u32 frame_len)
{
    return limit->unit == RL_UNIT_BYTES ? frame_len : 1;
}

/*
 * Bucket time owed at `now` by a bucket whose TAT is `tat`. Clamped from below: a TAT in the past
 * means a full bucket, however long ago. Clamped from above: a TAT further ahead than the
 * tolerance can only come from a limit that has since been tightened, and then the bucket is
 * empty, not locked out for the old, longer tolerance.
 */
static inline __u64 rl_gcra_debt(__u64 tat, __u64 now, __u64 tolerance)
{
    __s64 ahead = (__s64)(tat - now);

    if (ahead <= 0)
        return 0;
    if ((__u64)ahead > tolerance)
        return tolerance;
    return (__u64)ahead;
}

/* Whether a packet of `cost` conforms to a bucket in state `tat`; if so, *next_tat is the TAT
 * after admitting it. */
static inline int rl_gcra_conforms(__u64 tat, __u64 now, __u64 cost, __u64 tolerance,
                                   __u64 *next_tat)
{
    __u64 debt = rl_gcra_debt(tat, now, tolerance);

    if (cost > tolerance - debt)
        return 0;
    *next_tat = now + debt + cost;
    return 1;
}

/* Tokens (packets or bytes) a bucket in state `tat` holds at `now`. */
static inline __u64 rl_gcra_tokens(const struct rl_limit *limit, __u64 tat, __u64 now)
{
    __u64 room = limit->tolerance - rl_gcra_debt(tat, now, limit->tolerance);
    __u64 per_unit = rl_limit_cost(limit, 1);

    return per_unit ? room / per_unit : 0;
}

/*
 * For a packet that did not conform to the bucket at *tat (last read as `seen`): a TAT more than
 * twice the tolerance ahead can only come from a limit tightened since it was written. Pulling it
 * back to an empty bucket lets the source refill at the new rate from now, instead of waiting out
 * the old, longer tolerance. This is the only write an over-limit packet makes, and only once.
 *
 * Why twice: CPUs read the clock at slightly different moments, so a packet may carry a `now`
 * that is stale by up to one coarse-clock tick against a TAT another CPU just advanced. Such a
 * TAT is at most a tick beyond the tolerance, and a rule reads the coarse clock only if its
 * tolerance spans two ticks, so staleness never triggers this; pulling a TAT back for it would
 * hand out a tick's worth of tokens.
 */
static inline void rl_bucket_settle(__u64 *tat, __u64 seen, __u64 now, __u64 tolerance)
{
    if ((__s64)(seen - now) > (__s64)(2 * tolerance))
        __sync_val_compare_and_swap(tat, seen, now + tolerance);
}

/*
 * Charges `cost` to the bucket at *tat if it has room, racing other CPUs with compare-and-swap.
 * Every failed swap means another CPU admitted a packet, so the loop makes progress; after
 * RL_CAS_RETRIES lost races the bucket is being drained faster than it can be read and the
 * packet is treated as over the limit.
 */
static inline int rl_bucket_take(__u64 *tat, __u64 now, __u64 cost, __u64 tolerance)
{
    __u64 seen = RL_READ_ONCE_U64(tat);

    for (int attempt = 0; attempt < RL_CAS_RETRIES; attempt++) {
        __u64 next, prev;

        if (!rl_gcra_conforms(seen, now, cost, tolerance, &next)) {
            rl_bucket_settle(tat, seen, now, tolerance);
            return 0;
        }
        prev = __sync_val_compare_and_swap(tat, seen, next);
        if (prev == seen)
            return 1;
        seen = prev;
    }
    return 0;
}

/*
 * The evicted-TAT sketch (see RL_MAP_TAT_SKETCH in abi.h) keeps maxima: a cell only moves
 * forward, to the latest TAT written to it, and a source's estimate is the earliest of its
 * cells. TATs are compared as a signed difference, as everywhere else (an unwritten cell, 0,
 * is earlier than any TAT).
 */
static inline __u64 rl_tat_earliest(__u64 a, __u64 b)
{
    return (__s64)(a - b) <= 0 ? a : b;
}

/* Raises the cell at *cell to `tat` unless it is already there or beyond, racing other CPUs
 * with compare-and-swap. A lost race means another CPU raised the cell meanwhile; after
 * RL_CAS_RETRIES of them the write gives up, the cell having just been raised by a source that
 * hashes there (the same one, most likely, charged on another CPU). */
static inline void rl_tat_raise(__u64 *cell, __u64 tat)
{
    __u64 seen = RL_READ_ONCE_U64(cell);

    for (int attempt = 0; attempt < RL_CAS_RETRIES; attempt++) {
        __u64 prev;

        if ((__s64)(seen - tat) >= 0)
            return;
        prev = __sync_val_compare_and_swap(cell, seen, tat);
        if (prev == seen)
            return;
        seen = prev;
    }
}

#ifndef __bpf__
/*
 * User space only: configuring a limit and carrying a bucket across a limit change. These need
 * 128-bit intermediates, which the BPF program never does.
 */

/* Fills the bucket parameters of `limit` for `rate` units per second (>= 1) and a burst of
 * `burst` units (>= 1). */
static inline void rl_limit_set_rate(struct rl_limit *limit, __u64 rate, __u64 burst)
{
    const unsigned __int128 second = (unsigned __int128)1000000000ull << RL_TIME_SHIFT;

    limit->interval = (__u64)(((second << RL_INTERVAL_FRAC_BITS) + rate / 2) / rate);
    if (limit->unit == RL_UNIT_PACKETS) {
        /* Exactly `burst` packets fit, whatever rounding rl_limit_cost() does. */
        limit->tolerance = burst * rl_limit_cost(limit, 1);
    } else {
        unsigned __int128 span = (unsigned __int128)burst * limit->interval;

        limit->tolerance =
            (__u64)((span + (1ull << (RL_INTERVAL_FRAC_BITS - 1))) >> RL_INTERVAL_FRAC_BITS);
    }
}

/*
 * The TAT that gives a bucket under `next` the same number of tokens that it holds at `now` under
 * `prev` (capped at next's burst), so that changing a rule's rate or burst neither hands out a
 * fresh burst nor locks its sources out.
 */
static inline __u64 rl_gcra_rescale(__u64 tat, __u64 now, const struct rl_limit *prev,
                                    const struct rl_limit *next)
{
    __u64 room = prev->tolerance - rl_gcra_debt(tat, now, prev->tolerance);
    unsigned __int128 next_room = (unsigned __int128)room * next->interval / prev->interval;

    if (next_room >= next->tolerance)
        return now;
    return now + (next->tolerance - (__u64)next_room);
}
#endif /* !__bpf__ */

#endif /* RATELIMIT_GCRA_H */
