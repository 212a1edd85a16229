// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/datapath.hpp"

#include <string>

namespace ratelimit
{

static_assert(sizeof(rl_prefix_key) == 20);
static_assert(sizeof(rl_limit) == 24);
static_assert(sizeof(rl_rule) == 8 + RL_MAX_LIMITS * sizeof(rl_limit));
static_assert(sizeof(rl_source) == 8 * RL_MAX_LIMITS + 16);
static_assert(sizeof(rl_block_key) == 24);
static_assert(sizeof(rl_source_counters) == 32);
static_assert(sizeof(rl_settings) == 8);

namespace
{

void set_max_entries(bpf_map *map, std::uint32_t entries)
{
    check(bpf_map__set_max_entries(map, entries),
          std::string("size map ") + bpf_map__name(map) + " to " + std::to_string(entries));
}

} // namespace

Datapath::Datapath(const DatapathOptions &options) : options_(options)
{
    if (options.iface_slot >= RL_MAX_INTERFACES)
        throw KernelError(EINVAL, "interface slot " + std::to_string(options.iface_slot) +
                                      " is beyond the " + std::to_string(RL_MAX_INTERFACES) +
                                      " the program counts");
    skel_->rodata->iface_slot = options.iface_slot;
    set_max_entries(skel_->maps.rules, options.max_rules);
    set_max_entries(skel_->maps.rule_buckets, options.max_rules * RL_MAX_LIMITS);
    set_max_entries(skel_->maps.prefixes, options.max_rules * RL_MAX_LIMITS);
    set_max_entries(skel_->maps.sources, options.max_sources);
    set_max_entries(skel_->maps.source_counters, options.max_sources);
    set_max_entries(skel_->maps.blocks, options.max_sources);
    skel_.load();
}

int Datapath::program_fd() const
{
    return bpf_program__fd(skel_->progs.ratelimit_xdp);
}

template <typename M>
M Datapath::view(bpf_map *map) const
{
    return M(bpf_map__fd(map), bpf_map__name(map));
}

Map<rl_prefix_key, rl_prefix_value> Datapath::prefixes() const
{
    return view<Map<rl_prefix_key, rl_prefix_value>>(skel_->maps.prefixes);
}

Map<std::uint32_t, rl_rule> Datapath::rules() const
{
    return view<Map<std::uint32_t, rl_rule>>(skel_->maps.rules);
}

Map<std::uint32_t, rl_bucket> Datapath::rule_buckets() const
{
    return view<Map<std::uint32_t, rl_bucket>>(skel_->maps.rule_buckets);
}

Map<rl_source_key, rl_source> Datapath::sources() const
{
    return view<Map<rl_source_key, rl_source>>(skel_->maps.sources);
}

PerCpuMap<rl_source_key, rl_source_counters> Datapath::source_counters() const
{
    return view<PerCpuMap<rl_source_key, rl_source_counters>>(skel_->maps.source_counters);
}

Map<rl_block_key, rl_bucket> Datapath::blocks() const
{
    return view<Map<rl_block_key, rl_bucket>>(skel_->maps.blocks);
}

Map<std::uint32_t, rl_settings> Datapath::settings() const
{
    return view<Map<std::uint32_t, rl_settings>>(skel_->maps.settings);
}

PerCpuMap<std::uint32_t, rl_counter> Datapath::stats() const
{
    return view<PerCpuMap<std::uint32_t, rl_counter>>(skel_->maps.stats);
}

void Datapath::publish_rules()
{
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.generation++;
    settings().update(0, current);
}

void Datapath::set_settings_flags(std::uint32_t flags)
{
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.flags = flags;
    settings().update(0, current);
}

rl_source_counters Datapath::source_traffic(const rl_source_key &source) const
{
    rl_source_counters total{};
    if (auto entry = sources().lookup(source); entry && entry->first_bytes) {
        total.packets[entry->first_verdict] = 1;
        total.bytes[entry->first_verdict] = entry->first_bytes;
    }
    for (const auto &c :
         source_counters().lookup(source).value_or(std::vector<rl_source_counters>{})) {
        for (int v = 0; v < RL_VERDICT_COUNT; v++) {
            total.packets[v] += c.packets[v];
            total.bytes[v] += c.bytes[v];
        }
    }
    return total;
}

rl_counter Datapath::counter(rl_reason reason, rl_verdict verdict) const
{
    rl_counter total{};
    auto per_cpu = stats().lookup(rl_stats_index(options_.iface_slot, reason, verdict));
    for (const auto &c : per_cpu.value_or(std::vector<rl_counter>{})) {
        total.packets += c.packets;
        total.bytes += c.bytes;
    }
    return total;
}

} // namespace ratelimit
