// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ratelimitd's XDP program: finds the rule for a packet's source address (longest prefix wins),
 * charges the rule's token buckets and passes or drops the packet before the kernel allocates an
 * skb. Bucket arithmetic lives in ratelimit/gcra.h, shared with user space and its unit tests.
 */
#include "parse.h"
#include "ratelimit/addr.h"
#include "ratelimit/gcra.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Which attach slot's counters this instance of the program moves. Set before load. */
const volatile __u32 iface_slot = 0;

/* Source prefix -> rule index. Rules never live in an LRU map: a flood cannot evict them. */
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __type(key, struct rl_prefix_key);
    __type(value, struct rl_prefix_value);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
} prefixes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_rule);
    __uint(max_entries, 16384);
} rules SEC(".maps");

/* Buckets of RL_PER_RULE limits, at rule * RL_MAX_LIMITS + limit. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_bucket);
    __uint(max_entries, 16384 * RL_MAX_LIMITS);
} rule_buckets SEC(".maps");

/* Shared per-source state: cached rule and RL_PER_SOURCE buckets. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, struct rl_source_key);
    __type(value, struct rl_source);
    __uint(max_entries, 65536);
} sources SEC(".maps");

/* Per-CPU per-source counters: counting never writes a cache line another CPU uses. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
    __type(key, struct rl_source_key);
    __type(value, struct rl_source_counters);
    __uint(max_entries, 65536);
} source_counters SEC(".maps");

/* Buckets of RL_PER_PREFIX limits. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __type(key, struct rl_block_key);
    __type(value, struct rl_bucket);
    __uint(max_entries, 65536);
} blocks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_settings);
    __uint(max_entries, 1);
} settings SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __type(key, __u32);
    __type(value, struct rl_counter);
    __uint(max_entries, RL_STATS_ENTRIES);
} stats SEC(".maps");

/* What classification decided, and for whom. */
struct rl_decision {
    __u32 reason;          /* enum rl_reason */
    __u32 verdict;         /* enum rl_verdict */
    struct rl_source *src; /* the source's entry, if it has one: count it per source too */
    int src_created;       /* this packet created that entry */
};

/*
 * The source's entry with an up-to-date cached rule, or NULL if no rule matches it (then it is
 * not tracked) or no entry could be made. The LPM lookup runs only for a new source or after the
 * daemon changed the rules (a new generation).
 */
static __always_inline struct rl_source *
rl_source_resolve(const struct rl_packet *pkt, __u32 generation, int *created, int *untracked)
{
    struct rl_source *src = bpf_map_lookup_elem(&sources, &pkt->source);
    struct rl_prefix_key lpm = {.prefixlen = RL_ADDR_LEN * 8};
    struct rl_prefix_value *match;
    __u32 rule;

    if (src && src->generation == generation)
        return src;

    __builtin_memcpy(lpm.addr, pkt->source.addr, RL_ADDR_LEN);
    match = bpf_map_lookup_elem(&prefixes, &lpm);
    rule = match ? match->rule : RL_NO_RULE;

    if (!src) {
        struct rl_source fresh = {.rule = rule, .generation = generation};

        if (rule == RL_NO_RULE)
            return NULL;
        /* Another CPU may create it first (-EEXIST): either way, look it up. */
        bpf_map_update_elem(&sources, &pkt->source, &fresh, BPF_NOEXIST);
        src = bpf_map_lookup_elem(&sources, &pkt->source);
        if (src)
            *created = 1;
        else
            *untracked = 1;
        return src;
    }
    if (src->rule != rule) {
        /* Now under another rule: its buckets start full, as a new source's would. */
        __builtin_memset(src->tat, 0, sizeof(src->tat));
        src->rule = rule;
    }
    src->generation = generation;
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
        slot = rule_index * RL_MAX_LIMITS + index;
        bucket = bpf_map_lookup_elem(&rule_buckets, &slot);
        return bucket ? &bucket->tat : NULL;
    default: {
        struct rl_block_key block = {.rule = rule_index, .limit = index};
        struct rl_bucket full = {};

        __builtin_memcpy(block.addr, pkt->source.addr, RL_ADDR_LEN);
        rl_mask_addr(block.addr, limit->per_prefixlen);
        bucket = bpf_map_lookup_elem(&blocks, &block);
        if (!bucket) {
            bpf_map_update_elem(&blocks, &block, &full, BPF_NOEXIST);
            bucket = bpf_map_lookup_elem(&blocks, &block);
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
};

/* Checks (charge = 0) or charges (charge = 1) limit `index` of the rule. */
static __always_inline int rl_limit_check_or_charge(const struct rl_rule *rule,
                                                    struct rl_source *src,
                                                    const struct rl_charge *ch, __u32 index,
                                                    int charge)
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
    if (charge)
        return rl_bucket_take(tat, ch->now, cost, limit->tolerance) ? RL_LIMIT_ROOM
                                                                    : RL_LIMIT_EMPTY;
    seen = RL_READ_ONCE_U64(tat);
    if (rl_gcra_conforms(seen, ch->now, cost, limit->tolerance, &next))
        return RL_LIMIT_ROOM;
    rl_bucket_settle(tat, seen, ch->now, limit->tolerance);
    return RL_LIMIT_EMPTY;
}

/*
 * The same as a global function, for stacked limits: the verifier checks it once, on its own,
 * instead of once for every path that reaches each call, which keeps the program's verification
 * cost linear in the number of stacked limits (a single limit is charged inline: no call).
 */
__noinline int rl_limit_apply(const struct rl_rule *rule, struct rl_source *src,
                              const struct rl_charge *ch, __u32 index, int charge)
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
 */
static __always_inline __u32 rl_charge_limits(const struct rl_rule *rule, __u32 rule_index,
                                              struct rl_source *src, const struct rl_packet *pkt)
{
    __u32 nlimits = rule->nlimits; /* read once: the daemon may rewrite the rule meanwhile */
    struct rl_charge ch = {.pkt = *pkt, .rule_index = rule_index};

    ch.now = rl_time_from_ns((rule->flags & RL_RULE_PRECISE_CLOCK) ? bpf_ktime_get_ns()
                                                                   : bpf_ktime_get_coarse_ns());
    if (nlimits == 1) {
        switch (rl_limit_check_or_charge(rule, src, &ch, 0, 1)) {
        case RL_LIMIT_ROOM:
            return RL_REASON_CONFORMING;
        case RL_LIMIT_EMPTY:
            return RL_REASON_OVER_LIMIT;
        default:
            return RL_REASON_UNTRACKED;
        }
    }
    for (int charge = 0; charge <= 1; charge++) {
        for (__u32 i = 0; i < RL_MAX_LIMITS && i < nlimits; i++) {
            switch (rl_limit_apply(rule, src, &ch, i, charge)) {
            case RL_LIMIT_ROOM:
                break;
            case RL_LIMIT_EMPTY:
                return RL_REASON_OVER_LIMIT;
            default:
                return RL_REASON_UNTRACKED;
            }
        }
    }
    return RL_REASON_CONFORMING;
}

static __always_inline void rl_classify(const struct rl_packet *pkt, const struct rl_settings *cfg,
                                        struct rl_decision *d)
{
    int untracked = 0, monitor;
    struct rl_source *src = rl_source_resolve(pkt, cfg->generation, &d->src_created, &untracked);
    struct rl_rule *rule;
    __u32 rule_index;

    if (!src) {
        d->reason = untracked ? RL_REASON_UNTRACKED : RL_REASON_NO_RULE;
        return;
    }
    rule_index = src->rule;
    d->src = src;
    if (rule_index == RL_NO_RULE) {
        d->reason = RL_REASON_NO_RULE;
        return;
    }
    rule = bpf_map_lookup_elem(&rules, &rule_index);
    if (!rule) {
        d->reason = RL_REASON_NO_RULE;
        return;
    }

    monitor = (cfg->flags & RL_SETTINGS_MONITOR) || (rule->flags & RL_RULE_MONITOR);
    switch (rule->action) {
    case RL_ACTION_ALLOW:
        d->reason = RL_REASON_ALLOWED;
        return;
    case RL_ACTION_DENY:
        d->reason = RL_REASON_DENIED;
        break;
    default:
        d->reason = rl_charge_limits(rule, rule_index, src, pkt);
        break;
    }
    if ((d->reason == RL_REASON_DENIED || d->reason == RL_REASON_OVER_LIMIT) && !monitor)
        d->verdict = RL_VERDICT_DROP;
}

/* A source's per-CPU counters from its second packet on (the first is kept in its entry). */
static __always_inline void rl_count_source(const struct rl_packet *pkt, __u32 verdict)
{
    struct rl_source_counters *counters = bpf_map_lookup_elem(&source_counters, &pkt->source);

    if (counters) {
        counters->packets[verdict]++;
        counters->bytes[verdict] += pkt->frame_len;
    } else {
        struct rl_source_counters second = {};

        second.packets[verdict] = 1;
        second.bytes[verdict] = pkt->frame_len;
        bpf_map_update_elem(&source_counters, &pkt->source, &second, BPF_NOEXIST);
    }
}

/*
 * Counts the packet globally and, for a source with an entry, per source. A source's first packet
 * is kept in its (just created, so not yet shared) entry rather than in the per-CPU counters: a
 * spoofed flood of one packet per source then never pays for a per-CPU entry.
 */
static __always_inline void rl_count(const struct rl_packet *pkt, const struct rl_decision *d)
{
    __u32 index = rl_stats_index(iface_slot, d->reason, d->verdict);
    struct rl_counter *counter = bpf_map_lookup_elem(&stats, &index);

    if (counter) {
        counter->packets++;
        counter->bytes += pkt->frame_len;
    }
    if (!d->src)
        return;
    if (d->src_created) {
        d->src->first_bytes = pkt->frame_len;
        d->src->first_verdict = d->verdict;
        return;
    }
    rl_count_source(pkt, d->verdict);
}

SEC("xdp")
int ratelimit_xdp(struct xdp_md *ctx)
{
    struct rl_decision d = {.verdict = RL_VERDICT_PASS};
    struct rl_packet pkt = {};
    const struct rl_settings *cfg;
    __u32 zero = 0;

    cfg = bpf_map_lookup_elem(&settings, &zero);
    if (!cfg)
        return XDP_PASS; /* unreachable: a one-entry array always has entry 0 */

    switch (rl_parse(ctx, &pkt)) {
    case RL_PARSE_NON_IP:
        d.reason = RL_REASON_NON_IP;
        break;
    case RL_PARSE_MALFORMED:
        d.reason = RL_REASON_MALFORMED;
        if ((cfg->flags & RL_SETTINGS_DROP_MALFORMED) && !(cfg->flags & RL_SETTINGS_MONITOR))
            d.verdict = RL_VERDICT_DROP;
        break;
    default:
        rl_classify(&pkt, cfg, &d);
        break;
    }

    /* The one exit: every verdict is counted. */
    rl_count(&pkt, &d);
    return d.verdict == RL_VERDICT_DROP ? XDP_DROP : XDP_PASS;
}
