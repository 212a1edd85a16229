/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the XDP program and user space: every map key and value, flag and
 * constant that both sides use, with the map names and capacities and the helpers that compute
 * a key or a slot. Included by bpf/ratelimit.bpf.c and by the C++ daemon, CLI and tests, so a
 * layout is written exactly once. Fixed-width types only; no padding the compiler could choose
 * differently on the two sides (the C++ side static_asserts the sizes). Helpers are static
 * inline C that both compilers take.
 */
#ifndef RATELIMIT_ABI_H
#define RATELIMIT_ABI_H

#include <linux/types.h>

/* Bumped whenever a map layout below changes: pins of another version are never adopted. */
#define RL_ABI_VERSION 5

/* Addresses are IPv6; an IPv4 address a.b.c.d is stored as ::ffff:a.b.c.d (RFC 4291 2.5.5.2). */
#define RL_ADDR_LEN 16
#define RL_IPV4_MAPPED_PREFIXLEN 96

#define RL_MAX_LIMITS 4      /* stacked limits per rule */
#define RL_MAX_VLAN_TAGS 2   /* 802.1Q / 802.1ad tags walked before giving up (non-IP) */
#define RL_MAX_IPV6_EXT 6    /* IPv6 extension headers walked to check the chain is whole */
#define RL_MAX_INTERFACES 32 /* attach slots with their own counters */
#define RL_CAS_RETRIES 8     /* compare-and-swap attempts on a contended bucket */
#define RL_NO_RULE 0xffffffffu

/*
 * Capacities the maps are compiled with. The daemon sizes them at load (max_rules, max_prefixes,
 * max_sources: see RL_RULE_BUCKET_ENTRIES and RL_PREFIX_ENTRIES for the maps sized from them).
 */
#define RL_DEFAULT_MAX_RULES 16384
#define RL_DEFAULT_MAX_SOURCES 65536
#define RL_DEFAULT_MAX_BANS                                                                        \
    65536 /* rld_bans: a hash, never evicted; full, new bans are refused                           \
           */
/* Prefixes of all rules together (max_prefixes): a rule of a 100,000-line file takes one slot. */
#define RL_DEFAULT_MAX_PREFIXES 1048576
#define RL_RULE_BUCKET_ENTRIES(rules) ((rules)*RL_MAX_LIMITS)
/* The trie: the rules' prefixes and the IPv4 space entry (ipv4_space_key in datapath.hpp). */
#define RL_PREFIX_ENTRIES(prefixes) ((prefixes) + 1)

/*
 * The admission filter (seen) and the evicted-TAT sketch are arrays of 2^L cells (the sketch: one
 * such row per RL_SKETCH_ROWS), L = rl_cells_log2(max_sources): at least twice the table, so that
 * one source in two finds its cells free of another's state when the table is full, and at least
 * 2^RL_MIN_CELLS_LOG2 (1.5 MiB in all), so that a small table does not also make the sketch share
 * cells between the few thousand sources of a modest botnet.
 */
#define RL_SKETCH_ROWS 2
#define RL_MIN_CELLS_LOG2 16
#define RL_DEFAULT_CELLS_LOG2 17 /* rl_cells_log2(RL_DEFAULT_MAX_SOURCES) */
#define RL_SEEN_ENTRIES(log2) (1u << (log2))
#define RL_SKETCH_ENTRIES(log2) ((__u32)RL_SKETCH_ROWS << (log2))

static inline __u32 rl_cells_log2(__u32 max_sources)
{
    __u32 log2 = RL_MIN_CELLS_LOG2;

    while (log2 < 31 && (1ull << log2) < 2ull * max_sources)
        log2++;
    return log2;
}

/*
 * The program's maps by name: the SEC(".maps") variables of ratelimit.bpf.c, the skeleton's
 * fields (skel->maps.RL_MAP_SOURCES) and the pin files (RL_MAP_NAME(RL_MAP_SOURCES)). The rld_
 * prefix says whose they are in `bpftool map`. The kernel keeps 15 characters of a name
 * (BPF_OBJ_NAME_LEN): libbpf cuts a longer one short when it creates the map, and takes that
 * short name for the map when it adopts a pinned one, so "ratelimitd_sources" and
 * "ratelimitd_source_counters" would both be "ratelimitd_sour". Every name here fits.
 */
#define RL_MAP_PREFIXES rld_prefixes
#define RL_MAP_RULES rld_rules
#define RL_MAP_RULE_BUCKETS rld_rule_bkts
#define RL_MAP_SOURCES rld_sources
#define RL_MAP_SOURCE_COUNTERS rld_src_counts
#define RL_MAP_BLOCKS rld_blocks
#define RL_MAP_DROP_MEMO rld_drop_memo
#define RL_MAP_SETTINGS rld_settings
#define RL_MAP_STATS rld_stats
#define RL_MAP_SEEN rld_seen
#define RL_MAP_TAT_SKETCH rld_tat_sketch
#define RL_MAP_PRESSURE rld_pressure
#define RL_MAP_BANS rld_bans
#define RL_MAP_RULE_COUNTS rld_rule_counts
#define RL_STRINGIFY_(x) #x
#define RL_MAP_NAME(map) RL_STRINGIFY_(map) /* the name as a string: RL_MAP_NAME(RL_MAP_STATS) */

/*
 * Bucket time. Token buckets are kept in GCRA form (see gcra.h): one 64-bit "theoretical
 * arrival time" (TAT) per bucket, in units of 2^-RL_TIME_SHIFT ns. A quarter nanosecond keeps the
 * per-packet rounding error at most 0.125 ns of bucket time, while a signed 64-bit difference
 * still spans 73 years, more than a burst that takes 31 years to refill (10^9 packets at 1 pps).
 */
#define RL_TIME_SHIFT 2
/* Fractional bits of rl_limit.interval (bucket time per packet or byte, 32.32 fixed point). */
#define RL_INTERVAL_FRAC_BITS 32

enum rl_action {
    RL_ACTION_LIMIT = 0, /* charge the rule's limits */
    RL_ACTION_ALLOW = 1, /* never limited */
    RL_ACTION_DENY = 2,  /* always dropped */
};

enum rl_unit {
    RL_UNIT_PACKETS = 0, /* one unit per packet */
    RL_UNIT_BYTES = 1,   /* one unit per byte of the frame */
};

enum rl_per {
    RL_PER_SOURCE = 0, /* each source address has its own bucket */
    RL_PER_PREFIX = 1, /* sources within one prefix of per_prefixlen bits share a bucket */
    RL_PER_RULE = 2,   /* all sources matching the rule share one bucket */
};

enum rl_rule_flags {
    RL_RULE_MONITOR = 1u << 0,       /* count would-be drops, pass everything */
    RL_RULE_PRECISE_CLOCK = 1u << 1, /* a burst shorter than a coarse clock tick: read ktime */
};

enum rl_settings_flags {
    RL_SETTINGS_MONITOR = 1u << 0,        /* global monitor mode */
    RL_SETTINGS_DROP_MALFORMED = 1u << 1, /* drop IP packets with no source or broken headers */
    /* A ban may apply: a rule bans, or rld_bans holds entries. Without it, a source with no entry
     * (new or evicted) is judged without looking for its ban, which a spoofed flood would pay for
     * on every frame. The daemon sets it before installing a rule that bans and clears it only
     * once no rule bans and rld_bans is empty. */
    RL_SETTINGS_BANS = 1u << 2,
};

enum rl_verdict {
    RL_VERDICT_PASS = 0,
    RL_VERDICT_DROP = 1,
    RL_VERDICT_COUNT,
};

/*
 * What a packet came to, as a source's counters keep it: its verdict, except that a pass only
 * monitor mode granted (denied, or over the limit) is told apart, so that a dry run shows per
 * source what enforcing would drop. The first two are the verdicts' values.
 */
enum rl_outcome {
    RL_OUTCOME_PASSED = RL_VERDICT_PASS,
    RL_OUTCOME_DROPPED = RL_VERDICT_DROP,
    RL_OUTCOME_WOULD_DROP = 2, /* passed by monitor mode */
    RL_OUTCOME_COUNT,
};

/* Why a packet got its verdict. Counted per interface, reason and verdict. */
enum rl_reason {
    RL_REASON_NON_IP = 0,     /* not IPv4/IPv6: always passed */
    RL_REASON_MALFORMED = 1,  /* no readable (or valid) source; broken, with drop_malformed */
    RL_REASON_NO_RULE = 2,    /* no rule and no default matched the source */
    RL_REASON_ALLOWED = 3,    /* matched an allow rule */
    RL_REASON_DENIED = 4,     /* matched a deny rule (passed in monitor mode) */
    RL_REASON_CONFORMING = 5, /* every bucket had room */
    RL_REASON_OVER_LIMIT = 6, /* some bucket was empty (passed in monitor mode) */
    RL_REASON_UNTRACKED = 7,  /* no bucket could be allocated for the source: passed */
    RL_REASON_BANNED = 8,     /* the source is banned (see struct rl_ban; passed in monitor mode) */
    RL_REASON_COUNT,
};

/* Key of the per-source maps: the source address. */
struct rl_source_key {
    __u8 addr[RL_ADDR_LEN];
};

/* LPM trie key: a source prefix. prefixlen counts bits of the (IPv4-mapped) IPv6 address. */
struct rl_prefix_key {
    __u32 prefixlen;
    __u8 addr[RL_ADDR_LEN];
};

/* LPM trie value: index of the rule in the rules array. Several prefixes may share one rule. */
struct rl_prefix_value {
    __u32 rule;
};

struct rl_limit {
    __u64 interval;     /* bucket time per unit, 32.32 fixed point: 1 s / rate, in time units */
    __u64 tolerance;    /* bucket time a full burst spans: how far a TAT may run ahead of now */
    __u8 unit;          /* enum rl_unit */
    __u8 per;           /* enum rl_per */
    __u8 per_prefixlen; /* RL_PER_PREFIX: bits of the IPv6/IPv4-mapped address that are kept */
    __u8 pad[5];
};

struct rl_rule {
    __u8 action;    /* enum rl_action */
    __u8 nlimits;   /* limits[0..nlimits) are in force */
    __u8 flags;     /* enum rl_rule_flags */
    __u8 ban_flags; /* enum rl_ban_flags */
    __u8 pad[4];
    struct rl_limit limits[RL_MAX_LIMITS];
    __u64 ban_after_ns; /* RL_ACTION_LIMIT: the offence a ban takes (see rl_ban); 0: no ban */
    __u64 ban_for_ns;   /* how long a first ban lasts */
};

/*
 * Shared (not per-CPU) state of one source: exact whichever CPU its packets land on. A source
 * gets an entry on its second packet (see rl_seen): its buckets then start from the sketch's
 * estimate, and the packet before (the one the filter remembered) is kept here, not in
 * source_counters.
 */
struct rl_source {
    __u64 tat[RL_MAX_LIMITS]; /* TAT of each RL_PER_SOURCE limit of the cached rule */
    __u32 rule;               /* cached LPM result (RL_NO_RULE: none) ... */
    __u32 generation;         /* ... valid while it equals rl_settings.generation */
    __u32 first_bytes;        /* the packet the admission filter remembered, which is */
    __u8 first_outcome;       /* not in source_counters (enum rl_outcome) */
    __u8 pad[3];
    /* Bans (see struct rl_ban): the source's ban, cached like its rule, and its offence window. */
    __u64 banned_until;    /* ktime ns; 0: none. Read from rld_bans with the rule, valid with it */
    __u64 offence_since;   /* ktime ns of the drop that opened the offence window; 0: none open */
    __u32 offence_passed;  /* packets the rule passed in the window */
    __u32 offence_dropped; /* and dropped (those the drop memo dropped, once it hands back) */
};

/*
 * A cell of the admission filter (RL_MAP_SEEN, at rl_seen_slot()): the last source without an
 * entry whose packet hashed here and was not held by a shared (per-rule or /N) bucket, with that
 * packet. The source's next packet, on any CPU, finds its fingerprint and earns it an entry; a
 * source seen once (a spoofed one) never gets one. Zero: empty.
 */
struct rl_seen {
    __u32 fingerprint; /* rl_seen_fingerprint() */
    __u32 first;       /* RL_SEEN_FIRST(bytes, outcome) of that packet */
};

#define RL_SEEN_FIRST(bytes, outcome) (((bytes) < (1u << 30) ? (bytes) << 2 : ~3u) | (outcome))
#define RL_SEEN_FIRST_BYTES(first) ((first) >> 2)
#define RL_SEEN_FIRST_OUTCOME(first) ((first)&3)

/*
 * The evicted-TAT sketch (RL_MAP_TAT_SKETCH): RL_SKETCH_ROWS rows of __u64 TATs. Every charge to
 * an RL_PER_SOURCE bucket raises the cell of each row at rl_sketch_slot(source, rule, limit,
 * row) to the bucket's TAT (never lowers it: rl_tat_raise()); the earliest of a source's cells
 * (rl_tat_earliest()) is then never earlier than its own TAT, whoever else hashed there. A source
 * without an entry (new, or evicted from the table) is judged by that estimate: it never gets
 * more than it had, and another source's debt sharing all its cells can only give it less.
 */

/* Per-CPU figures of the source table's admission (the single entry of RL_MAP_PRESSURE). */
struct rl_pressure {
    __u64 admitted; /* sources given an entry (seen twice) */
    __u64 refused;  /* packets of a rule's source judged without an entry */
};

/* Bucket of an RL_PER_PREFIX limit: one per (rule, limit, masked source). */
struct rl_block_key {
    __u32 rule;
    __u32 limit;
    __u8 addr[RL_ADDR_LEN];
};

struct rl_bucket {
    __u64 tat;
};

/* Per-CPU per-source traffic, by outcome, from a source's second packet on (see rl_source). */
struct rl_source_counters {
    __u64 packets[RL_OUTCOME_COUNT];
    __u64 bytes[RL_OUTCOME_COUNT];
};

/*
 * Per-CPU memo of the last source this CPU dropped, so that a flood from one source is dropped
 * without a look at shared maps: while the rules' generation is unchanged, a denied source stays
 * denied, and an over-limit source's bucket cannot have room before `empty_until` (its TAT, which
 * only moves forward, minus the tolerance, plus one packet). The drops counted here (`pending`)
 * move to source_counters when the memo turns to another source; readers add them.
 */
struct rl_drop_memo {
    struct rl_source_key source;
    __u32 generation;   /* valid while it equals rl_settings.generation */
    __u8 reason;        /* RL_REASON_DENIED, RL_REASON_OVER_LIMIT or RL_REASON_BANNED; else none */
    __u8 verdict;       /* enum rl_verdict (monitor mode passes) */
    __u8 precise_clock; /* which clock empty_until is read against */
    __u8 pad;
    __u32 rule; /* the rule that decided (RL_NO_RULE: none), whose counters count it */
    __u32 pad2;
    __u64 empty_until; /* RL_REASON_OVER_LIMIT: bucket time; RL_REASON_BANNED: the ban's end */
    struct rl_source_counters
        pending;    /* this CPU's traffic of `source` not yet in source_counters */
    __u64 unjudged; /* over-limit drops replayed since `source`'s bucket was last consulted */
};

/*
 * Bans. A limit rule with a ban (rl_rule.ban_after_ns) bans a source that keeps exceeding it:
 * the source's offence window opens at a drop by the rule (its bucket had no room) when none is
 * open, and counts every packet the rule judges for the source from then on, passed or dropped
 * (drops the drop memo replayed count once that CPU consults the bucket again). At the first
 * packet the rule judges more than ban_after_ns after the window opened, the source is banned if
 * fewer than one in RL_BAN_PASS_RATIO of the window's packets, that one included, passed
 * (passed * RL_BAN_PASS_RATIO < passed + dropped); if not, the window closes, and if that packet
 * was a drop it opens the next. Monitor mode neither bans nor enforces a ban (it counts the
 * would-drop).
 *
 * A ban drops the traffic of the rule (or all of the source's traffic with RL_BAN_SCOPE_ALL)
 * until `until`. Its entry stays in rld_bans for RL_BAN_REPEAT_WINDOW_NS after that (the daemon
 * removes it later): a source banned again meanwhile is a repeat offender, banned for ban_for_ns
 * doubled once per earlier offence, at most RL_BAN_MAX_DOUBLINGS times.
 */
#define RL_BAN_PASS_RATIO 10
#define RL_BAN_MAX_DOUBLINGS 6
#define RL_BAN_REPEAT_WINDOW_NS (24ull * 3600 * 1000000000)

enum rl_ban_flags {
    RL_BAN_SCOPE_ALL = 1u << 0, /* the ban drops all of the source's traffic, not only the rule's */
};

struct rl_ban {
    __u64 since;    /* ktime ns: when the ban began */
    __u64 until;    /* ktime ns: when it ends */
    __u32 rule;     /* the rule whose traffic the source kept exceeding */
    __u32 offences; /* bans of this source, this one included, each within the repeat window */
    __u32 flags;    /* enum rl_ban_flags */
    __u32 pad;
};

/* Per-CPU global counters, indexed by rl_stats_index(). */
struct rl_counter {
    __u64 packets;
    __u64 bytes;
};

/* The single entry of the settings array. */
struct rl_settings {
    __u32 generation; /* bumped by the daemon after every rule or settings change and flush:
                         drops cached lookups and drop memos */
    __u32 flags;      /* enum rl_settings_flags */
    __u64 seed;       /* of rl_source_hash(): random, drawn when the maps are created */
    __u64 removed;    /* sources the daemon removed from the table (the program never reads it) */
};

/* The outcome a packet of `reason` and `verdict` is counted as per source. */
static inline __u32 rl_outcome_of(__u32 reason, __u32 verdict)
{
    if (verdict == RL_VERDICT_PASS &&
        (reason == RL_REASON_DENIED || reason == RL_REASON_OVER_LIMIT ||
         reason == RL_REASON_BANNED))
        return RL_OUTCOME_WOULD_DROP;
    return verdict;
}

static inline __u32 rl_stats_index(__u32 iface_slot, __u32 reason, __u32 verdict)
{
    return (iface_slot * RL_REASON_COUNT + reason) * RL_VERDICT_COUNT + verdict;
}

#define RL_STATS_ENTRIES (RL_MAX_INTERFACES * RL_REASON_COUNT * RL_VERDICT_COUNT)

/*
 * Per-rule counters (RL_MAP_RULE_COUNTS, a per-CPU array of struct rl_rule_counts indexed by rule
 * slot): the packets and bytes each rule slot judged, by what it came to, and the bans it started.
 * Only the reasons a rule can give are kept, each with the verdicts it can have (allowed,
 * conforming and untracked only pass; denied, over_limit and banned drop, or pass in monitor
 * mode): RL_RULE_OUTCOMES cells a slot, not RL_REASON_COUNT * RL_VERDICT_COUNT (18). One element
 * a slot, not one a cell: the kernel allocates a per-CPU array element by element, and at 100k
 * rules a cell each was most of a start's time. Memory: max_rules * 160 bytes per possible CPU:
 * 2.5 MiB a CPU at the default 16384 rules. The daemon zeroes a slot when it gives it to a rule.
 */
enum rl_rule_outcome {
    RL_RULE_ALLOWED = 0,         /* allowed, pass */
    RL_RULE_CONFORMING = 1,      /* conforming, pass */
    RL_RULE_UNTRACKED = 2,       /* untracked, pass */
    RL_RULE_DENIED = 3,          /* denied, drop */
    RL_RULE_DENIED_PASS = 4,     /* denied, passed by monitor mode */
    RL_RULE_OVER_LIMIT = 5,      /* over_limit, drop */
    RL_RULE_OVER_LIMIT_PASS = 6, /* over_limit, passed by monitor mode */
    RL_RULE_BANNED = 7,          /* banned, drop */
    RL_RULE_BANNED_PASS = 8,     /* banned, passed by monitor mode */
    RL_RULE_OUTCOMES,
};

struct rl_rule_counts {
    struct rl_counter outcomes[RL_RULE_OUTCOMES]; /* at rl_rule_outcome_of(reason, verdict) */
    __u64 bans_started;                           /* bans this rule started */
    __u64 bans_refused;                           /* and those rld_bans had no room for */
};

/* The cell of `reason` and `verdict` among a rule's counters; RL_RULE_OUTCOMES for a pair no rule
 * gives (non_ip, malformed, no_rule; a drop that is allowed). */
static inline __u32 rl_rule_outcome_of(__u32 reason, __u32 verdict)
{
    __u32 pass = verdict == RL_VERDICT_PASS;

    switch (reason) {
    case RL_REASON_ALLOWED:
        return pass ? RL_RULE_ALLOWED : RL_RULE_OUTCOMES;
    case RL_REASON_CONFORMING:
        return pass ? RL_RULE_CONFORMING : RL_RULE_OUTCOMES;
    case RL_REASON_UNTRACKED:
        return pass ? RL_RULE_UNTRACKED : RL_RULE_OUTCOMES;
    case RL_REASON_DENIED:
        return pass ? RL_RULE_DENIED_PASS : RL_RULE_DENIED;
    case RL_REASON_OVER_LIMIT:
        return pass ? RL_RULE_OVER_LIMIT_PASS : RL_RULE_OVER_LIMIT;
    case RL_REASON_BANNED:
        return pass ? RL_RULE_BANNED_PASS : RL_RULE_BANNED;
    default:
        return RL_RULE_OUTCOMES;
    }
}

/* Where the bucket of limit `limit` of rule `rule` is in rule_buckets (an RL_PER_RULE limit). */
static inline __u32 rl_rule_bucket_slot(__u32 rule, __u32 limit)
{
    return rule * RL_MAX_LIMITS + limit;
}

/* The rule and the limit whose bucket is at `slot` of rule_buckets. */
static inline __u32 rl_rule_bucket_rule(__u32 slot)
{
    return slot / RL_MAX_LIMITS;
}

static inline __u32 rl_rule_bucket_limit(__u32 slot)
{
    return slot % RL_MAX_LIMITS;
}

/* Keeps the first `prefixlen` bits of an RL_ADDR_LEN-byte address, zeroing the rest. */
static inline void rl_mask_addr(__u8 *addr, __u32 prefixlen)
{
    for (__u32 i = 0; i < RL_ADDR_LEN; i++) {
        __u32 bit = i * 8;

        if (prefixlen <= bit)
            addr[i] = 0;
        else if (prefixlen < bit + 8)
            addr[i] &= (__u8)(0xff << (bit + 8 - prefixlen));
    }
}

/*
 * The two below are macros so that their copies keep the alignment their arguments have where
 * they are used: behind a __u8 * parameter, the BPF backend would copy byte by byte.
 */

/* Writes the IPv4 address at `v4` (4 bytes, network order) to `addr` as ::ffff:a.b.c.d. */
#define RL_ADDR_FROM_IPV4(addr, v4)                                                                \
    do {                                                                                           \
        __builtin_memset((addr), 0, 10);                                                           \
        (addr)[10] = 0xff;                                                                         \
        (addr)[11] = 0xff;                                                                         \
        __builtin_memcpy(&(addr)[12], (v4), 4);                                                    \
    } while (0)

/* Fills *key with the key of the bucket that an RL_PER_PREFIX limit (`limit` of rule `rule`,
 * keeping `prefixlen` bits) charges for a packet from the address `source`: the source's
 * block. */
#define RL_BLOCK_KEY_OF(key, rule_index, limit_index, source, prefixlen)                           \
    do {                                                                                           \
        (key)->rule = (rule_index);                                                                \
        (key)->limit = (limit_index);                                                              \
        __builtin_memcpy((key)->addr, (source), RL_ADDR_LEN);                                      \
        rl_mask_addr((key)->addr, (prefixlen));                                                    \
    } while (0)

/*
 * Where a source's state goes in the admission filter and the sketch: a 64-bit hash of its
 * address keyed by rl_settings.seed, which an attacker does not know, so that it cannot choose
 * sources that collide with a victim's cells. The mixer is MurmurHash3's finaliser (bijective).
 */
static inline __u64 rl_mix64(__u64 x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The hash of the address whose two halves (in memory order) are `lo` and `hi`. */
static inline __u64 rl_source_hash_words(__u64 lo, __u64 hi, __u64 seed)
{
    return rl_mix64(rl_mix64(lo ^ seed) ^ hi);
}

/* The hash of the RL_ADDR_LEN-byte address at `addr`. A macro for the reason given above. */
#define RL_SOURCE_HASH(addr, seed)                                                                 \
    ({                                                                                             \
        __u64 words_[2];                                                                           \
        __builtin_memcpy(words_, (addr), RL_ADDR_LEN);                                             \
        rl_source_hash_words(words_[0], words_[1], (seed));                                        \
    })

/*
 * The filter cells of a source of hash `hash`: one in each of RL_SEEN_WAYS ways (way 0 from the
 * hash's low bits, way 1 from a remix of it), and the fingerprint kept there (the hash's high
 * bits, never 0). A source finding its fingerprint in either cell is admitted, so two sources
 * that share one cell do not keep overwriting each other (as one way would have them do forever
 * when they send in turn): they share both only with a chance of 1 in 2^(2 cells_log2).
 */
#define RL_SEEN_WAYS 2

static inline __u32 rl_seen_slot(__u64 hash, __u32 way, __u32 cells_log2)
{
    __u64 bits = way ? rl_mix64(hash ^ 0x9e3779b97f4a7c15ull) : hash;

    return (__u32)bits & ((1u << cells_log2) - 1);
}

static inline __u32 rl_seen_fingerprint(__u64 hash)
{
    __u32 fingerprint = (__u32)(hash >> 32);

    return fingerprint ? fingerprint : 1;
}

/* The sketch cell, in row `row`, of limit `limit` of rule `rule` for a source of hash `hash`.
 * Each row mixes the hash afresh, so that two sources sharing a cell in one row (or the
 * filter's cell) are unlikely to share it in the other. */
static inline __u32 rl_sketch_slot(__u64 hash, __u32 rule, __u32 limit, __u32 row, __u32 cells_log2)
{
    __u64 which = ((__u64)rl_rule_bucket_slot(rule, limit) << 8 | row) + 1;
    __u64 mixed = rl_mix64(hash ^ (which * 0x9e3779b97f4a7c15ull));

    return (row << cells_log2) | ((__u32)mixed & ((1u << cells_log2) - 1));
}

#endif /* RATELIMIT_ABI_H */
