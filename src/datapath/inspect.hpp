// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// What the control commands and the metrics ask of the data path's live state: the global
// counters, one source's buckets as the program would charge them, the heaviest sources, how
// many are tracked, and forgetting bucket state. Whole maps are read with batch lookups; per-CPU
// counters are summed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datapath/datapath.hpp"
#include "net/address.hpp"

namespace ratelimit
{

// One of the program's global counters, summed over CPUs.
struct CounterRow {
    std::string interface;
    std::uint32_t slot = 0; // the interface's attach slot
    rl_reason reason = RL_REASON_NON_IP;
    rl_verdict verdict = RL_VERDICT_PASS;
    rl_counter counted{};
};

// Every reason and verdict of every interface: what `ratelimitctl stats` and /metrics report.
// The interface at attach slot i is `interface_names[i]`; rows are in slot order, then reason,
// then verdict.
std::vector<CounterRow> read_counters(const Datapath &dp,
                                      const std::vector<std::string> &interface_names);

// What the rule slots judged, summed over CPUs, by the name of each slot's rule: `named` names
// the slots of named rules, and every other slot (unnamed, or free) is summed under "". Cells at
// enum rl_rule_outcome; "" is always there. `each_slot`, if given, sees each slot's own sum.
using RuleOutcomeCounts = std::array<rl_counter, RL_RULE_OUTCOMES>;
std::map<std::string, RuleOutcomeCounts> rule_counts_by_name(
    const Datapath &dp, const std::map<std::uint32_t, std::string> &named,
    const std::function<void(std::uint32_t, const rl_rule_counts &)> &each_slot = {});

// Calls `visit` with each (reason, verdict) a rule can count and its cell of `counts`.
void for_each_rule_outcome(
    const RuleOutcomeCounts &counts,
    const std::function<void(rl_reason, rl_verdict, const rl_counter &)> &visit);

// The bucket one limit of a rule charges for a source.
struct BucketState {
    std::uint32_t limit = 0; // its index among the rule's limits
    rl_unit unit = RL_UNIT_PACKETS;
    std::string per;          // "source", "rule" or "/N", as the config states it
    std::string owner;        // whose bucket: the source, its /N block ("10.1.2.0/24") or "rule"
    std::uint64_t tokens = 0; // packets or bytes it would admit now
    std::uint64_t burst = 0;  // what a full bucket admits
};

struct SourceState {
    std::optional<std::uint32_t> rule; // the rule slot the program's prefix lookup finds
    bool tracked = false;              // the source has an entry in `sources`
    std::vector<BucketState> buckets;  // the rule's limits; none for allow, deny or no rule
    rl_source_counters traffic{};
};

// The state the program holds for `source`, read as it would read it now: a bucket it has not
// made yet, or one it will reset because the source has moved to another rule, is full.
SourceState inspect_source(const Datapath &dp, const Address &source);

struct SourceTraffic {
    Address address;
    rl_source_counters traffic{};
};

struct SourceRanking {
    std::vector<SourceTraffic> heaviest; // highest score first
    std::size_t scanned = 0;             // sources with any traffic recorded
};

using TrafficScore = std::uint64_t (*)(const rl_source_counters &traffic);
// Drops and would-drops: in monitor mode the heaviest are those enforcing would drop most of.
std::uint64_t dropped_packets(const rl_source_counters &traffic);
std::uint64_t all_packets(const rl_source_counters &traffic);
std::uint64_t all_bytes(const rl_source_counters &traffic);

// The `count` sources with the highest score (ties: more packets, then the lower address), their
// traffic counted as Datapath::source_traffic counts it.
SourceRanking heaviest_sources(const Datapath &dp, std::size_t count, TrafficScore score);

// Entries in the `sources` map: the sources the program tracks.
std::size_t tracked_sources(const Datapath &dp);

struct ForgottenBuckets {
    std::size_t sources = 0;      // `sources` entries removed (their buckets and cached rule)
    std::size_t blocks = 0;       // per-/N buckets removed
    std::size_t rule_buckets = 0; // per-rule buckets refilled
};

// Forgets the bucket state of the sources inside `prefix`: their entries and the /N blocks that
// lie inside it. Without a prefix, every source and block, and every per-rule bucket is refilled.
// Traffic counters stay.
ForgottenBuckets forget_buckets(const Datapath &dp, const std::optional<Prefix> &prefix);

} // namespace ratelimit
