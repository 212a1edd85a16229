// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ratelimitd's XDP program: finds the rule for a packet's source address (longest prefix wins),
 * charges the rule's token buckets and passes or drops the packet before the kernel allocates an
 * skb. Bucket arithmetic lives in ratelimit/gcra.h, shared with user space and its unit tests.
 */
#include "parse.h"
#include "ratelimit/gcra.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Which attach slot's counters this instance of the program moves. Set before load. */
const volatile __u32 iface_slot = 0;
/* The admission filter and each sketch row have 2^cells_log2 cells. Set before load. */
const volatile __u32 cells_log2 = RL_DEFAULT_CELLS_LOG2;

/* Source prefix -> rule index. Rules never live in an LRU map: a flood cannot evict them. */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __type(key, struct rl_prefix_key);
    __type(value, struct rl_prefix_value);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, RL_PREFIX_ENTRIES(RL_DEFAULT_MAX_PREFIXES));
} RL_MAP_PREFIXES SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_rule);
    __uint(max_entries, RL_DEFAULT_MAX_RULES);
} RL_MAP_RULES SEC(".maps");

/* Buckets of RL_PER_RULE limits, at rl_rule_bucket_slot(rule, limit). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_bucket);
    __uint(max_entries, RL_RULE_BUCKET_ENTRIES(RL_DEFAULT_MAX_RULES));
} RL_MAP_RULE_BUCKETS SEC(".maps");

/* Shared per-source state: cached rule and RL_PER_SOURCE buckets. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, struct rl_source_key);
    __type(value, struct rl_source);
    __uint(max_entries, RL_DEFAULT_MAX_SOURCES);
} RL_MAP_SOURCES SEC(".maps");

/* The admission filter (struct rl_seen): a source's cells are at rl_seen_slot(), one a way. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_seen);
    __uint(max_entries, RL_SEEN_ENTRIES(RL_DEFAULT_CELLS_LOG2));
} RL_MAP_SEEN SEC(".maps");

/* The evicted-TAT sketch, at rl_sketch_slot(): what a source without an entry owes. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, RL_SKETCH_ENTRIES(RL_DEFAULT_CELLS_LOG2));
} RL_MAP_TAT_SKETCH SEC(".maps");

/* Per-CPU per-source counters: counting never writes a cache line another CPU uses. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
    __type(key, struct rl_source_key);
    __type(value, struct rl_source_counters);
    __uint(max_entries, RL_DEFAULT_MAX_SOURCES);
} RL_MAP_SOURCE_COUNTERS SEC(".maps");

/* Buckets of RL_PER_PREFIX limits. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, struct rl_block_key);
    __type(value, struct rl_bucket);
    __uint(max_entries, RL_DEFAULT_MAX_SOURCES);
} RL_MAP_BLOCKS SEC(".maps");

/* This CPU's last dropped source (struct rl_drop_memo). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_drop_memo);
    __uint(max_entries, 1);
} RL_MAP_DROP_MEMO SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_settings);
    __uint(max_entries, 1);
} RL_MAP_SETTINGS SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_counter);
    __uint(max_entries, RL_STATS_ENTRIES);
} RL_MAP_STATS SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_pressure);
    __uint(max_entries, 1);
} RL_MAP_PRESSURE SEC(".maps");

/* Bans by source (struct rl_ban): a hash, not an LRU, so a flood cannot evict a ban. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, struct rl_source_key);
    __type(value, struct rl_ban);
    __uint(max_entries, RL_DEFAULT_MAX_BANS);
} RL_MAP_BANS SEC(".maps");

/* Per rule slot, per CPU: packets and bytes by outcome (enum rl_rule_outcome), bans started. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_rule_counts);
    __uint(max_entries, RL_DEFAULT_MAX_RULES);
} RL_MAP_RULE_COUNTS SEC(".maps");

/* What classification decided, and for whom. */
struct rl_decision {
    __u32 rule;                /* the rule slot that judged the packet; RL_NO_RULE: none */
    __u32 reason;              /* enum rl_reason */
    __u32 verdict;             /* enum rl_verdict */
    struct rl_source *src;     /* the source's entry, if it has one: count it per source too */
    struct rl_drop_memo *memo; /* this CPU's drop memo, if it decided: count the packet there */
    __u64 empty_until;         /* RL_REASON_OVER_LIMIT: see rl_drop_memo; 0 if unknown */
    int precise_clock;         /* the rule's clock */
    int empty_shared;          /* RL_REASON_OVER_LIMIT: the empty bucket was a per-rule or /N one */
    int admitted;              /* this packet gave the source its entry */
    int refused;               /* a rule's source judged without an entry */
};

/* ----- bans (see struct rl_ban) ----- */

/* The end of the source's ban that applies under rule `rule`, in ktime ns; 0 if none does. */
static __always_inline __u64 rl_ban_lookup(const struct rl_source_key *source, __u32 rule)
{
    struct rl_ban *ban = bpf_map_lookup_elem(&RL_MAP_BANS, source);

    if (!ban || (!(ban->flags & RL_BAN_SCOPE_ALL) && ban->rule != rule))
        return 0;
    return ban->until;
}

/* Whether the source's cached ban is in force now; *until says till when (ktime ns). */
static __always_inline int rl_ban_in_force(struct rl_source *src, __u64 *until)
{
    __u64 end = src->banned_until;

    if (!end)
        return 0;
    if ((__s64)(end - bpf_ktime_get_coarse_ns()) <= 0) {
        src->banned_until = 0; /* over: no clock read for it again */
        return 0;
    }
    *until = end;
    return 1;
}

/* Bans the source for its offence against rule `rule_index`, longer for a repeat offender; the
 * ban's end, or 0 if rld_bans had no room for it. */
static __always_inline __u64 rl_ban_start(struct rl_source *src, const struct rl_rule *rule,
                                          __u32 rule_index, const struct rl_source_key *source,
                                          __u64 now)
{
    struct rl_ban *earlier = bpf_map_lookup_elem(&RL_MAP_BANS, source);
    struct rl_ban ban = {.since = now, .rule = rule_index, .offences = 1, .flags = rule->ban_flags};
    struct rl_rule_counts *counts = bpf_map_lookup_elem(&RL_MAP_RULE_COUNTS, &rule_index);
    __u64 duration = rule->ban_for_ns;

    if (earlier && (__s64)(now - earlier->until) < (__s64)RL_BAN_REPEAT_WINDOW_NS) {
        __u32 doublings = earlier->offences;

        if (doublings > RL_BAN_MAX_DOUBLINGS)
            doublings = RL_BAN_MAX_DOUBLINGS;
        ban.offences = earlier->offences + 1;
        duration <<= doublings;
    }
    ban.until = now + duration;
    src->offence_since = 0;
    if (bpf_map_update_elem(&RL_MAP_BANS, source, &ban, BPF_ANY) != 0) {
        if (counts)
            counts->bans_refused++; /* full: the source stays judged by its buckets */
        return 0;
    }
    if (counts)
        counts->bans_started++;
    src->banned_until = ban.until;
    return ban.until;
}

/*
 * Counts a packet that rule `rule_index` (which has a ban) judged by its buckets in the source's
 * offence window, and bans the source if the window shows it kept exceeding the rule. `judged` is
 * 1 for a drop (over the limit), 0 for a pass, plus twice the drops this CPU's memo replayed since
 * it last asked. Returns the end of the ban it started, or 0. A global function (BPF takes five
 * arguments): the verifier checks it once, not on every path that reaches it.
 */
__noinline __u64 rl_ban_judge(struct rl_source *src, const struct rl_rule *rule, __u32 rule_index,
                              const struct rl_source_key *source, __u64 judged)
{
    __u64 now, since;
    __u32 carried = judged >> 1;
    int dropped = judged & 1, over;

    if (!src || !rule || !source)
        return 0;
    now = bpf_ktime_get_coarse_ns();
    since = src->offence_since;
    over = since && now - since > rule->ban_after_ns;
    if (over) {
        __u64 passed = src->offence_passed + !dropped;
        __u64 total = passed + src->offence_dropped + carried + dropped;

        if (passed * RL_BAN_PASS_RATIO < total)
            return rl_ban_start(src, rule, rule_index, source, now);
    }
    if (over || !since) {
        if (!dropped) { /* no window, or one that ends without a ban */
            if (since)
                src->offence_since = 0;
            return 0;
        }
        src->offence_since = now; /* this drop opens a window */
        src->offence_passed = 0;
        src->offence_dropped = 1 + carried;
        return 0;
    }
    if (dropped) {
        __sync_fetch_and_add(&src->offence_dropped, 1 + carried);
    } else {
        __sync_fetch_and_add(&src->offence_passed, 1);
        if (carried)
            __sync_fetch_and_add(&src->offence_dropped, carried);
    }
    return 0;
}

/* The rule of the longest prefix that matches the source (RL_NO_RULE: none). */
static __always_inline __u32 rl_match_rule(const struct rl_packet *pkt)
{
    struct rl_prefix_key lpm = {.prefixlen = RL_ADDR_LEN * 8};
    struct rl_prefix_value *match;

    __builtin_memcpy(lpm.addr, pkt->source.addr, RL_ADDR_LEN);
    match = bpf_map_lookup_elem(&RL_MAP_PREFIXES, &lpm);
    return match ? match->rule : RL_NO_RULE;
}

/*
 * The source's entry with an up-to-date cached rule, or NULL if it has none (see rl_seen: an entry
 * is earned). *rule_index is its rule either way. The LPM lookup runs only for a source without
 * an entry or after the daemon changed the rules (a new generation).
 */
static __always_inline struct rl_source *rl_source_resolve(const struct rl_packet *pkt,
                                                           __u32 generation, __u32 *rule_index)
{
    struct rl_source *src = bpf_map_lookup_elem(&RL_MAP_SOURCES, &pkt->source);
    __u32 rule;

    if (src && src->generation == generation) {
        *rule_index = src->rule;
        return src;
    }
    rule = rl_match_rule(pkt);
    *rule_index = rule;
    if (!src)
        return NULL;
    if (src->rule != rule) {
        /* Now under another rule: its buckets start full, as a new source's would. */
        __builtin_memset(src->tat, 0, sizeof(src->tat));
        src->rule = rule;
    }
    src->banned_until = rl_ban_lookup(&pkt->source, rule);
    src->generation = generation;
    return src;
}

/* Whose cells of the sketch: a source's (by its hash) under the first `nlimits` of a rule. */
struct rl_sketch_ref {
    __u64 hash;
    __u32 rule_index;
    __u32 nlimits;
};

/*
 * Fills src->tat[] with the sketch's estimate for each RL_PER_SOURCE limit of `ref` (charge = 0),
 * or raises the sketch's cells to src->tat[] (charge = 1). A global function: the verifier checks
 * it once.
 */
__noinline int rl_sketch_apply(const struct rl_rule *rule, const struct rl_sketch_ref *ref,
                               struct rl_source *src, int charge)
{
    if (!rule || !ref || !src)
        return 0;
    for (__u32 i = 0; i < RL_MAX_LIMITS && i < ref->nlimits; i++) {
        __u64 estimate = 0;

        if (rule->limits[i].per != RL_PER_SOURCE)
            continue;
        for (__u32 row = 0; row < RL_SKETCH_ROWS; row++) {
            __u32 slot = rl_sketch_slot(ref->hash, ref->rule_index, i, row, cells_log2);
            __u64 *cell = bpf_map_lookup_elem(&RL_MAP_TAT_SKETCH, &slot);
            __u64 value;

            if (!cell)
                continue; /* unreachable: the slot is within the sketch */
            if (charge) {
                rl_tat_raise(cell, src->tat[i]);
                continue;
            }
            value = RL_READ_ONCE_U64(cell);
            estimate = row == 0 ? value : rl_tat_earliest(estimate, value);
        }
        if (!charge)
            src->tat[i] = estimate;
    }
    return 0;
}

/*
 * Gives a source the filter remembered (`seen`, its cell) an entry, its buckets from the sketch
 * and its first packet from the filter, and empties the cell (the source is in the table now: if
 * it is evicted, it must be seen again). NULL if no entry could be made. Another CPU may make it
 * first (-EEXIST): either way, the entry is looked up.
 */
static __always_inline struct rl_source *
rl_source_admit(const struct rl_packet *pkt, const struct rl_rule *rule, __u32 rule_index,
                __u32 generation, __u64 hash, struct rl_seen *seen, struct rl_decision *d)
{
    __u32 first = seen->first;
    struct rl_source fresh = {.rule = rule_index,
                              .generation = generation,
                              .first_bytes = RL_SEEN_FIRST_BYTES(first),
                              .first_outcome = RL_SEEN_FIRST_OUTCOME(first),
                              .banned_until = rl_ban_lookup(&pkt->source, rule_index)};
    struct rl_sketch_ref ref = {.hash = hash, .rule_index = rule_index, .nlimits = rule->nlimits};
    struct rl_source *src;

    rl_sketch_apply(rule, &ref, &fresh, 0);
    d->admitted = bpf_map_update_elem(&RL_MAP_SOURCES, &pkt->source, &fresh, BPF_NOEXIST) == 0;
    src = bpf_map_lookup_elem(&RL_MAP_SOURCES, &pkt->source);
    if (src)
        seen->fingerprint = 0;
    return src;
}

/* The TAT word of limit `index` of rule `rule_index` for this packet, or NULL if it has none. */
static __always_inline __u64 *rl_limit_bucket(const struct rl_limit *limit, __u32 rule_index,
                                              __u32 index, struct rl_source *src,
                                              const struct rl_packet *pkt)
{
    struct rl_bucket *bucket;
    __u32 slot;

    switch (limit->per) {
    case RL_PER_SOURCE:
        return &src->tat[index];
    case RL_PER_RULE:
        slot = rl_rule_bucket_slot(rule_index, index);
        bucket = bpf_map_lookup_elem(&RL_MAP_RULE_BUCKETS, &slot);
        return bucket ? &bucket->tat : NULL;
    default: {
        struct rl_block_key block;
        struct rl_bucket full = {};

        RL_BLOCK_KEY_OF(&block, rule_index, index, pkt->source.addr, limit->per_prefixlen);
        bucket = bpf_map_lookup_elem(&RL_MAP_BLOCKS, &block);
        if (!bucket) {
            bpf_map_update_elem(&RL_MAP_BLOCKS, &block, &full, BPF_NOEXIST);
            bucket = bpf_map_lookup_elem(&RL_MAP_BLOCKS, &block);
        }
        return bucket ? &bucket->tat : NULL;
    }
    }
}

enum rl_limit_result {
    RL_LIMIT_ROOM,      /* the bucket had room (and was charged, if asked to) */
    RL_LIMIT_EMPTY,     /* the bucket had no room */
    RL_LIMIT_NO_BUCKET, /* no bucket could be allocated */
};

/* The packet being charged to a rule (BPF calls take at most five arguments). */
struct rl_charge {
    struct rl_packet pkt;
    __u64 now;
    __u32 rule_index;
    __u64 empty_until; /* out: see rl_drop_memo; 0 if the empty bucket counts bytes */
    int empty_shared;  /* out: the empty bucket was a per-rule or /N one */
};

/* Checks (charge = 0) or charges (charge = 1) limit `index` of the rule. */
static __always_inline int rl_limit_check_or_charge(const struct rl_rule *rule,
                                                    struct rl_source *src, struct rl_charge *ch,
                                                    __u32 index, int charge)
{
    const struct rl_limit *limit;
    __u64 *tat, cost, seen, next;

    if (index >= RL_MAX_LIMITS)
        return RL_LIMIT_NO_BUCKET;
    limit = &rule->limits[index];
    tat = rl_limit_bucket(limit, ch->rule_index, index, src, &ch->pkt);
    if (!tat)
        return RL_LIMIT_NO_BUCKET;
    cost = rl_limit_cost(limit, rl_limit_units(limit, ch->pkt.frame_len));
    if (charge) {
        if (rl_bucket_take(tat, ch->now, cost, limit->tolerance))
            return RL_LIMIT_ROOM;
        seen = RL_READ_ONCE_U64(tat);
    } else {
        seen = RL_READ_ONCE_U64(tat);
        if (rl_gcra_conforms(seen, ch->now, cost, limit->tolerance, &next))
            return RL_LIMIT_ROOM;
        rl_bucket_settle(tat, seen, ch->now, limit->tolerance);
    }
    /* A packet bucket has no room for another packet until the TAT comes within a tolerance
     * minus one packet of now; a smaller frame may fit a byte bucket sooner. */
    if (limit->unit == RL_UNIT_PACKETS)
        ch->empty_until = seen - limit->tolerance + cost;
    ch->empty_shared = limit->per != RL_PER_SOURCE;
    return RL_LIMIT_EMPTY;
}

/*
 * The same as a global function, for stacked limits: the verifier checks it once, on its own,
 * instead of once for every path that reaches each call, which keeps the program's verification
 * cost linear in the number of stacked limits (a single limit is charged inline: no call).
 */
__noinline int rl_limit_apply(const struct rl_rule *rule, struct rl_source *src,
                              struct rl_charge *ch, __u32 index, int charge)
{
    if (!rule || !src || !ch)
        return RL_LIMIT_NO_BUCKET;
    return rl_limit_check_or_charge(rule, src, ch, index, charge);
}

/*
 * Charges every limit of the rule, or none: a packet passes only if all its buckets have room.
 * With several limits stacked, all are checked before any is charged; between the check and the
 * charge another CPU may drain a bucket, and then the packet is dropped and the limits charged
 * before it keep the charge.
 *
 * A source without an entry (`src` is then a stack copy, `unadmitted`) is charged against the
 * sketch's estimate of its buckets, read only once its shared (per-rule, /N) buckets are found to
 * have room: a flood those hold reads no more, writes nothing and does not even hash its source
 * (`seed` keys the hash, taken when the sketch is first needed).
 */
static __always_inline __u32 rl_charge_limits(const struct rl_rule *rule, __u32 rule_index,
                                              __u32 nlimits, struct rl_source *src,
                                              const struct rl_packet *pkt, __u64 seed,
                                              int unadmitted, struct rl_decision *d)
{
    struct rl_charge ch = {.pkt = *pkt, .rule_index = rule_index};
    struct rl_sketch_ref ref = {.rule_index = rule_index, .nlimits = nlimits};
    int result = RL_LIMIT_ROOM;

    ch.now = rl_time_from_ns((rule->flags & RL_RULE_PRECISE_CLOCK) ? bpf_ktime_get_ns()
                                                                   : bpf_ktime_get_coarse_ns());
    if (unadmitted) {
        for (__u32 i = 0;
             i < RL_MAX_LIMITS && i < nlimits && nlimits > 1 && result == RL_LIMIT_ROOM; i++)
            if (rule->limits[i].per != RL_PER_SOURCE)
                result = rl_limit_apply(rule, src, &ch, i, 0);
        if (result == RL_LIMIT_ROOM) {
            ref.hash = RL_SOURCE_HASH(pkt->source.addr, seed);
            rl_sketch_apply(rule, &ref, src, 0);
        }
    }
    if (result == RL_LIMIT_ROOM) {
        if (nlimits == 1) {
            result = rl_limit_check_or_charge(rule, src, &ch, 0, 1);
        } else {
            for (int charge = 0; charge <= 1 && result == RL_LIMIT_ROOM; charge++)
                for (__u32 i = 0; i < RL_MAX_LIMITS && i < nlimits && result == RL_LIMIT_ROOM; i++)
                    result = rl_limit_apply(rule, src, &ch, i, charge);
        }
    }
    switch (result) {
    case RL_LIMIT_ROOM:
        /* Every charge is written through to the sketch, so that it outlives the entry. */
        if (!unadmitted)
            ref.hash = RL_SOURCE_HASH(pkt->source.addr, seed);
        rl_sketch_apply(rule, &ref, src, 1);
        return RL_REASON_CONFORMING;
    case RL_LIMIT_EMPTY:
        d->empty_until = ch.empty_until;
        d->empty_shared = ch.empty_shared;
        return RL_REASON_OVER_LIMIT;
    default:
        return RL_REASON_UNTRACKED;
    }
}

static __always_inline int rl_same_source(const struct rl_source_key *a,
                                          const struct rl_source_key *b)
{
    const __u32 *x = (const __u32 *)a->addr, *y = (const __u32 *)b->addr;

    return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

/* Over-limit drops this CPU's memo replayed for the packet's source since it last asked the
 * bucket: they are handed to the source's offence window now. */
static __always_inline __u32 rl_memo_take_unjudged(struct rl_drop_memo *memo,
                                                   const struct rl_packet *pkt)
{
    __u64 unjudged = memo->unjudged;

    if (!unjudged || !rl_same_source(&memo->source, &pkt->source))
        return 0;
    memo->unjudged = 0;
    return unjudged > 0xffffffffull ? 0xffffffffu : (__u32)unjudged;
}

/*
 * The filter cell that holds the source's fingerprint (*found = 1), or else the one of its two
 * (struct rl_seen) to remember it in: an empty one, or either at random when both hold others.
 */
static __always_inline struct rl_seen *rl_seen_cell(__u64 hash, __u32 *fingerprint, int *found)
{
    __u32 slot0 = rl_seen_slot(hash, 0, cells_log2), slot1 = rl_seen_slot(hash, 1, cells_log2);
    struct rl_seen *way0 = bpf_map_lookup_elem(&RL_MAP_SEEN, &slot0);
    struct rl_seen *way1 = bpf_map_lookup_elem(&RL_MAP_SEEN, &slot1);

    *fingerprint = rl_seen_fingerprint(hash);
    *found = 1;
    if (way0 && way0->fingerprint == *fingerprint)
        return way0;
    if (way1 && way1->fingerprint == *fingerprint)
        return way1;
    *found = 0;
    if (!way0 || !way1)
        return way0 ? way0 : way1; /* unreachable: both slots are within the filter */
    if (!way0->fingerprint)
        return way0;
    if (!way1->fingerprint)
        return way1;
    return (bpf_get_prandom_u32() & 1) ? way1 : way0;
}

/*
 * Judges the packet. A source with no entry but a rule is judged without one: against the
 * sketch's estimate of its buckets. Only then, and only if no shared (per-rule, /N) bucket held
 * the packet, is the admission filter asked: a source it remembers (its packet before this one, on
 * any CPU) gets an entry now, whose buckets the sketch gives (this packet's charge included);
 * another is remembered. A spoofed flood that a per-rule cap holds thus reads its rule and that
 * bucket, and neither the filter nor the sketch.
 */
static __always_inline void rl_classify(const struct rl_packet *pkt, const struct rl_settings *cfg,
                                        struct rl_drop_memo *memo, struct rl_decision *d)
{
    __u32 rule_index, fingerprint = 0;
    int found = 0;
    struct rl_source *src = rl_source_resolve(pkt, cfg->generation, &rule_index);
    struct rl_seen *seen;
    struct rl_source unadmitted;
    struct rl_source *judged;
    struct rl_rule *rule;
    __u64 banned_until, hash;
    int monitor;

    d->src = src;
    if (rule_index == RL_NO_RULE) {
        d->reason = RL_REASON_NO_RULE;
        return;
    }
    rule = bpf_map_lookup_elem(&RL_MAP_RULES, &rule_index);
    if (!rule) {
        d->reason = RL_REASON_NO_RULE;
        return;
    }
    d->rule = rule_index;

    judged = src;
    if (!judged) {
        /* Judged on a stack copy; an evicted source's ban is looked up, as on admission, when
         * any ban may apply. */
        __builtin_memset(&unadmitted, 0, sizeof(unadmitted));
        if (cfg->flags & RL_SETTINGS_BANS)
            unadmitted.banned_until = rl_ban_lookup(&pkt->source, rule_index);
        judged = &unadmitted;
    }

    monitor = (cfg->flags & RL_SETTINGS_MONITOR) || (rule->flags & RL_RULE_MONITOR);
    if (rl_ban_in_force(judged, &banned_until)) {
        d->reason = RL_REASON_BANNED;
        d->empty_until = rl_time_from_ns(banned_until); /* the memo replays it till then */
    } else {
        switch (rule->action) {
        case RL_ACTION_ALLOW:
            d->reason = RL_REASON_ALLOWED;
            break;
        case RL_ACTION_DENY:
            d->reason = RL_REASON_DENIED;
            break;
        default:
            d->reason =
                rl_charge_limits(rule, rule_index, rule->nlimits, judged, pkt, cfg->seed, !src, d);
            d->precise_clock = !!(rule->flags & RL_RULE_PRECISE_CLOCK);
            /* The offence window lives in the entry: a source is judged for a ban once tracked. */
            if (src && rule->ban_after_ns && !monitor && d->reason != RL_REASON_UNTRACKED) {
                banned_until = rl_ban_judge(src, rule, rule_index, &pkt->source,
                                            ((__u64)rl_memo_take_unjudged(memo, pkt) << 1) |
                                                (d->reason == RL_REASON_OVER_LIMIT));
                if (banned_until && d->reason == RL_REASON_OVER_LIMIT) { /* from this packet on */
                    d->reason = RL_REASON_BANNED;
                    d->empty_until = rl_time_from_ns(banned_until);
                    d->precise_clock = 0;
                }
            }
            break;
        }
    }
    if ((d->reason == RL_REASON_DENIED || d->reason == RL_REASON_OVER_LIMIT ||
         d->reason == RL_REASON_BANNED) &&
        !monitor)
        d->verdict = RL_VERDICT_DROP;
    if (src)
        return;
    if ((d->reason == RL_REASON_OVER_LIMIT && d->empty_shared) ||
        d->reason == RL_REASON_UNTRACKED) {
        d->refused = 1; /* held by a shared bucket, or no bucket: not one to remember */
        return;
    }
    hash = RL_SOURCE_HASH(pkt->source.addr, cfg->seed);
    seen = rl_seen_cell(hash, &fingerprint, &found);
    if (seen && found)
        src = d->src = rl_source_admit(pkt, rule, rule_index, cfg->generation, hash, seen, d);
    if (src)
        return;
    d->refused = 1;
    if (seen) {
        seen->fingerprint = fingerprint;
        seen->first = RL_SEEN_FIRST(pkt->frame_len, rl_outcome_of(d->reason, d->verdict & 1));
    }
}

/* Adds `traffic` to a source's per-CPU counters (from its second packet on: the first is kept in
 * its entry). */
static __always_inline void rl_count_source(const struct rl_source_key *source,
                                            const struct rl_source_counters *traffic)
{
    struct rl_source_counters *counters = bpf_map_lookup_elem(&RL_MAP_SOURCE_COUNTERS, source);

    if (!counters) {
        bpf_map_update_elem(&RL_MAP_SOURCE_COUNTERS, source, traffic, BPF_NOEXIST);
        return;
    }
#pragma unroll
    for (int o = 0; o < RL_OUTCOME_COUNT; o++) {
        counters->packets[o] += traffic->packets[o];
        counters->bytes[o] += traffic->bytes[o];
    }
}

/* Whether this CPU's memo decides the packet (see struct rl_drop_memo); if so, it says how. */
static __always_inline int rl_memo_replay(struct rl_drop_memo *memo, const struct rl_packet *pkt,
                                          __u32 generation, struct rl_decision *d)
{
    if (memo->generation != generation ||
        (memo->reason != RL_REASON_DENIED && memo->reason != RL_REASON_OVER_LIMIT &&
         memo->reason != RL_REASON_BANNED) ||
        !rl_same_source(&memo->source, &pkt->source))
        return 0;
    if (memo->reason != RL_REASON_DENIED) {
        __u64 now =
            rl_time_from_ns(memo->precise_clock ? bpf_ktime_get_ns() : bpf_ktime_get_coarse_ns());

        if ((__s64)(memo->empty_until - now) <= 0)
            return 0; /* the bucket may have room again, or the ban is over: ask */
        if (memo->reason == RL_REASON_OVER_LIMIT)
            memo->unjudged++;
    }
    d->rule = memo->rule;
    d->reason = memo->reason;
    d->verdict = memo->verdict;
    d->memo = memo;
    return 1;
}

/* Remembers a denied, over-limit or banned decision for the source's next packets on this CPU. */
static __always_inline void rl_memo_record(struct rl_drop_memo *memo, const struct rl_packet *pkt,
                                           __u32 generation, const struct rl_decision *d)
{
    if (!d->src || !(d->reason == RL_REASON_DENIED || d->reason == RL_REASON_BANNED ||
                     (d->reason == RL_REASON_OVER_LIMIT && d->empty_until)))
        return;
    if (!rl_same_source(&memo->source, &pkt->source)) {
        memo->unjudged =
            0; /* another source's: they are never judged (a ban can only come later) */
        if (memo->pending.packets[RL_OUTCOME_PASSED] || memo->pending.packets[RL_OUTCOME_DROPPED] ||
            memo->pending.packets[RL_OUTCOME_WOULD_DROP])
            rl_count_source(&memo->source, &memo->pending);
        __builtin_memset(&memo->pending, 0, sizeof(memo->pending));
        memo->source = pkt->source;
    }
    memo->generation = generation;
    memo->rule = d->rule;
    memo->reason = d->reason;
    memo->verdict = d->verdict;
    memo->precise_clock = d->precise_clock;
    memo->empty_until = d->empty_until;
}

/*
 * Counts a packet that rule slot `rule` judged in that rule's counters: the one place per-rule
 * counts are written, once for every rule that judged the packet.
 */
static __always_inline void rl_count_rule(__u32 rule, __u32 reason, __u32 verdict, __u32 bytes)
{
    __u32 outcome = rl_rule_outcome_of(reason, verdict);
    struct rl_rule_counts *counts;

    if (rule == RL_NO_RULE || outcome >= RL_RULE_OUTCOMES)
        return;
    counts = bpf_map_lookup_elem(&RL_MAP_RULE_COUNTS, &rule);
    if (counts) {
        counts->outcomes[outcome].packets++;
        counts->outcomes[outcome].bytes += bytes;
    }
}

/*
 * Counts the packet globally, by the rule that judged it, and, for a source with an entry, per
 * source (by outcome: a pass that
 * only monitor mode granted is counted as a would-drop). A source's packet before its entry is
 * kept in its entry (from the filter's cell) rather than in the per-CPU counters, and its earlier
 * ones are counted only globally: a spoofed flood of one packet per source never pays for a
 * per-CPU entry. Packets the drop memo decided are counted in the memo. Admissions and packets
 * judged without an entry are counted in RL_MAP_PRESSURE.
 */
static __always_inline void rl_count(const struct rl_packet *pkt, const struct rl_decision *d)
{
    __u32 verdict = d->verdict & 1; /* pass or drop: the mask shows the verifier it is 0 or 1 */
    __u32 index = rl_stats_index(iface_slot, d->reason, verdict);
    struct rl_counter *counter = bpf_map_lookup_elem(&RL_MAP_STATS, &index);
    struct rl_source_counters one = {};
    __u32 outcome = rl_outcome_of(d->reason, verdict), zero = 0;

    if (counter) {
        counter->packets++;
        counter->bytes += pkt->frame_len;
    }
    rl_count_rule(d->rule, d->reason, verdict, pkt->frame_len);
    if (d->memo) {
        d->memo->pending.packets[outcome]++;
        d->memo->pending.bytes[outcome] += pkt->frame_len;
        return;
    }
    if (d->admitted || d->refused) {
        struct rl_pressure *pressure = bpf_map_lookup_elem(&RL_MAP_PRESSURE, &zero);

        if (pressure) {
            pressure->admitted += d->admitted;
            pressure->refused += d->refused;
        }
    }
    if (!d->src)
        return;
    one.packets[outcome] = 1;
    one.bytes[outcome] = pkt->frame_len;
    rl_count_source(&pkt->source, &one);
}

SEC("xdp")
int ratelimit_xdp(struct xdp_md *ctx)
{
    struct rl_decision d = {.rule = RL_NO_RULE, .verdict = RL_VERDICT_PASS};
    struct rl_packet pkt = {};
    const struct rl_settings *cfg;
    struct rl_drop_memo *memo;
    __u32 zero = 0, drop_malformed;
    int parsed;

    cfg = bpf_map_lookup_elem(&RL_MAP_SETTINGS, &zero);
    memo = bpf_map_lookup_elem(&RL_MAP_DROP_MEMO, &zero);
    if (!cfg || !memo)
        return XDP_PASS; /* unreachable: a one-entry array always has entry 0 */

    /*
     * A packet whose source can be read is judged by its source's rules, however odd the rest.
     * Not judged: IP frames with no readable source, IPv6 from an IPv4-mapped address (its key is
     * an IPv4 source's, which it must never be charged to; no IPv6 node sends from there, and the
     * kernel would deliver it, so it is dropped whatever the rules), and, with drop_malformed, IP
     * packets with broken headers, which the kernel would refuse anyway.
     */
    parsed = rl_parse(ctx, &pkt);
    drop_malformed = cfg->flags & RL_SETTINGS_DROP_MALFORMED;
    if (parsed == RL_PARSE_NON_IP) {
        d.reason = RL_REASON_NON_IP;
    } else if (parsed == RL_PARSE_MALFORMED || parsed == RL_PARSE_INVALID_SOURCE ||
               (parsed == RL_PARSE_IP_BROKEN && drop_malformed)) {
        d.reason = RL_REASON_MALFORMED;
        if ((drop_malformed || parsed == RL_PARSE_INVALID_SOURCE) &&
            !(cfg->flags & RL_SETTINGS_MONITOR))
            d.verdict = RL_VERDICT_DROP;
    } else if (!rl_memo_replay(memo, &pkt, cfg->generation, &d)) {
        rl_classify(&pkt, cfg, memo, &d);
        rl_memo_record(memo, &pkt, cfg->generation, &d);
    }

    /* The one exit: every verdict is counted. */
    rl_count(&pkt, &d);
    return d.verdict == RL_VERDICT_DROP ? XDP_DROP : XDP_PASS;
}
