// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The loaded XDP program and its maps, sized at load time. Everything above (reconcile, daemon,
// tests, benchmarks) reaches the kernel's data path through this class.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "datapath/pins.hpp"
#include "net/address.hpp"

#include "sys/map.hpp"
#include "sys/skeleton.hpp"
#include "ratelimit.skel.h"
#include "ratelimit/abi.h"

namespace ratelimit
{

struct DatapathOptions {
    // Tracked sources (and /N blocks) before LRU eviction.
    std::uint32_t max_sources = RL_DEFAULT_MAX_SOURCES;
    // Rule slots.
    std::uint32_t max_rules = RL_DEFAULT_MAX_RULES;
    // Prefixes of all rules together: the trie holds RL_PREFIX_ENTRIES(max_prefixes).
    std::uint32_t max_prefixes = RL_DEFAULT_MAX_PREFIXES;
    // Bans (and repeat offenders remembered) at once; when full, new bans are refused.
    std::uint32_t max_bans = RL_DEFAULT_MAX_BANS;
    std::uint32_t programs = 1; // one program per attach slot, each with its counters
    // Where the maps are pinned (PinLayout::maps_dir(), on bpffs), so that a restarted daemon
    // adopts them with their rules, buckets and counters. None: nothing is pinned.
    std::optional<PinLayout> pins;
};

// ::ffff:0:0/96, the prefix of every IPv4 source (0.0.0.0/0 as the trie keys it). The trie always
// holds it: with the rule of 0.0.0.0/0 when there is one, else RL_NO_RULE. Then no IPv6 prefix
// shorter than /96 (::/0, ::/8) is ever an IPv4 source's longest match: IPv6 rules cover IPv6
// sources only.
rl_prefix_key ipv4_space_key();
// The trie key of `prefix`: the one place a key of the prefixes trie is made, for every entry
// the daemon writes, removes or looks up; prefix_of_key reads one back.
rl_prefix_key prefix_key(const Prefix &prefix);
Prefix prefix_of_key(const rl_prefix_key &key);
bool is_ipv4_space(const rl_prefix_key &key);

// A rule slot's counters summed over CPUs.
rl_rule_counts sum_rule_counts(std::span<const rl_rule_counts> cpus);

// How full the source table is, as the program counts it (struct rl_pressure) and as a bounded
// sample of the admission filter and the sketch shows it.
struct TablePressure {
    std::uint64_t admitted = 0; // sources given an entry, summed over CPUs
    std::uint64_t refused = 0;  // packets of a rule's source judged without an entry
    std::uint64_t removed = 0;  // entries the daemon removed (rl_settings.removed)
    // Entries the LRU evicted, estimated: admitted - tracked - removed, never lower than an
    // earlier estimate (the figures are not read at one instant).
    std::uint64_t evictions = 0;
    double filter_fill = 0; // sampled filter cells holding a source
    double sketch_fill = 0; // sampled sketch cells holding a TAT ahead of now (a debt)
};

// Cells of the filter and of the sketch's first row that TablePressure's fill figures read.
inline constexpr std::uint32_t kFillSampleCells = 4096;

class Datapath
{
  public:
    explicit Datapath(const DatapathOptions &options);

    int program_fd(std::uint32_t slot = 0) const;
    // The maps were adopted from pins left by an earlier daemon (and not created empty).
    bool adopted() const { return adopted_; }
    // Removes the map pins: the maps then live only as long as this process and its programs.
    void unpin_maps();
    const DatapathOptions &options() const { return options_; }

    Map<rl_prefix_key, rl_prefix_value> prefixes() const;
    Map<std::uint32_t, rl_rule> rules() const;
    Map<std::uint32_t, rl_bucket> rule_buckets() const;
    Map<rl_source_key, rl_source> sources() const;
    PerCpuMap<rl_source_key, rl_source_counters> source_counters() const;
    Map<rl_block_key, rl_bucket> blocks() const;
    Map<std::uint32_t, rl_settings> settings() const;
    PerCpuMap<std::uint32_t, rl_counter> stats() const;
    PerCpuMap<std::uint32_t, rl_drop_memo> drop_memos() const;
    Map<std::uint32_t, rl_seen> seen_filter() const;
    Map<std::uint32_t, std::uint64_t> tat_sketch() const;
    PerCpuMap<std::uint32_t, rl_pressure> pressure() const;
    // log2 of the cells of the filter and of each sketch row (rl_cells_log2(max_sources)).
    std::uint32_t cells_log2() const;

    // The program's admission figures and a sample of kFillSampleCells cells of each array: a
    // few system calls whatever the table's size. `tracked`: the entries in `sources`, counted
    // before this call.
    TablePressure table_pressure(std::uint64_t tracked = 0) const;
    // Counts `count` entries removed from `sources` by the daemon (see TablePressure::removed).
    void count_removed_sources(std::uint64_t count) const;
    // Forgets what the sketch holds for `source` under rule `rule` (each RL_PER_SOURCE limit).
    void forget_sketched(const rl_source_key &source, std::uint32_t rule) const;
    Map<rl_source_key, rl_ban> bans() const;
    // What each rule slot judged, by outcome, and the bans it started, per CPU.
    PerCpuMap<std::uint32_t, rl_rule_counts> rule_counts() const;
    // Those of rule slot `rule`, summed over CPUs.
    rl_rule_counts rule_counts_of(std::uint32_t rule) const;

    // Makes the program drop every cached rule lookup and drop memo: call after changing
    // prefixes, rules or settings, or forgetting bucket state.
    void publish_rules() const;
    void set_settings_flags(std::uint32_t flags);
    std::uint32_t settings_flags() const;

    // A source's traffic by outcome, from the three places the program counts it (rl_count()):
    // its first packet, kept in its `sources` entry; the per-CPU counters of the rest, summed;
    // and the drops CPUs' memos counted and have not moved to those counters yet. Zero for an
    // unknown source.
    rl_source_counters source_traffic(const rl_source_key &source) const;
    // Every source with traffic recorded, counted as source_traffic() counts one: f(key,
    // traffic) once each, in no particular order. Each map is read in batches.
    using TrafficVisitor = std::function<void(const rl_source_key &, const rl_source_counters &)>;
    void for_each_source_traffic(const TrafficVisitor &visit) const;

    // Global counters of one reason and verdict at one attach slot, summed over CPUs.
    rl_counter counter(rl_reason reason, rl_verdict verdict, std::uint32_t slot = 0) const;

  private:
    template <typename M>
    M view(bpf_map *map) const;
    void size_maps(ratelimit_bpf *skel) const;
    bool adopt_or_create_pins();
    // The one reader of a source's traffic: for `only`, or for every source if null.
    void read_source_traffic(const rl_source_key *only, const TrafficVisitor &visit) const;

    DatapathOptions options_;
    bool adopted_ = false;
    mutable std::atomic<std::uint64_t> evictions_{0}; // the highest estimate yet
    // programs_[0] owns the maps; the others reuse them with their own attach slot.
    std::vector<Skeleton<ratelimit_bpf>> programs_;
};

} // namespace ratelimit
