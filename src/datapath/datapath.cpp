// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/datapath.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

namespace ratelimit
{

static_assert(sizeof(rl_prefix_key) == 20);
static_assert(sizeof(rl_limit) == 24);
static_assert(sizeof(rl_rule) == 8 + RL_MAX_LIMITS * sizeof(rl_limit));
static_assert(sizeof(rl_source) == 8 * RL_MAX_LIMITS + 16);
static_assert(sizeof(rl_block_key) == 24);
static_assert(sizeof(rl_source_counters) == 48);
static_assert(sizeof(rl_settings) == 8);
static_assert(sizeof(rl_drop_memo) == 80);

namespace
{

void set_max_entries(bpf_map *map, std::uint32_t entries)
{
    check(bpf_map__set_max_entries(map, entries),
          std::string("size map ") + bpf_map__name(map) + " to " + std::to_string(entries));
}

// The maps this program shares between its instances and pins: all but its .rodata, which
// holds each instance's own attach slot.
template <typename F>
void for_each_shared_map(bpf_object *obj, F &&f)
{
    bpf_map *map;
    bpf_object__for_each_map(map, obj)
    {
        if (!bpf_map__is_internal(map))
            f(map);
    }
}

std::string pin_path(const std::string &dir, bpf_map *map)
{
    return dir + "/" + bpf_map__name(map);
}

// Why a pinned map cannot stand in for `map` as this program defines it; empty if it can.
std::string incompatibility(int pinned_fd, bpf_map *map)
{
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    check(bpf_obj_get_info_by_fd(pinned_fd, &info, &len),
          std::string("read the pinned map ") + bpf_map__name(map));
    auto differs = [](const char *what, std::uint32_t pinned, std::uint32_t wanted) {
        return std::string(what) + " " + std::to_string(pinned) + " instead of " +
               std::to_string(wanted);
    };
    if (info.type != static_cast<std::uint32_t>(bpf_map__type(map)))
        return differs("type", info.type, bpf_map__type(map));
    if (info.key_size != bpf_map__key_size(map))
        return differs("key size", info.key_size, bpf_map__key_size(map));
    if (info.value_size != bpf_map__value_size(map))
        return differs("value size", info.value_size, bpf_map__value_size(map));
    if (info.max_entries != bpf_map__max_entries(map))
        return differs("capacity", info.max_entries, bpf_map__max_entries(map));
    if (info.map_flags != bpf_map__map_flags(map))
        return differs("flags", info.map_flags, bpf_map__map_flags(map));
    return {};
}

} // namespace

rl_prefix_key ipv4_space_key()
{
    rl_prefix_key key{};
    key.prefixlen = RL_IPV4_MAPPED_PREFIXLEN;
    key.addr[10] = 0xff;
    key.addr[11] = 0xff;
    return key;
}

bool is_ipv4_space(const rl_prefix_key &key)
{
    const rl_prefix_key space = ipv4_space_key();
    return key.prefixlen == space.prefixlen && std::memcmp(key.addr, space.addr, RL_ADDR_LEN) == 0;
}

Datapath::Datapath(const DatapathOptions &options) : options_(options)
{
    if (options.programs == 0 || options.programs > RL_MAX_INTERFACES)
        throw SystemError(EINVAL, "the program counts traffic for 1 to " +
                                      std::to_string(RL_MAX_INTERFACES) + " interfaces, not " +
                                      std::to_string(options.programs));
    programs_.reserve(options.programs);
    for (std::uint32_t slot = 0; slot < options.programs; slot++) {
        auto &skel = programs_.emplace_back();
        skel->rodata->iface_slot = slot;
        size_maps(skel.get());
        if (slot == 0) {
            if (!options.map_pin_dir.empty())
                adopted_ = adopt_or_create_pins();
        } else {
            for_each_shared_map(skel->obj, [&](bpf_map *map) {
                bpf_map *owner =
                    bpf_object__find_map_by_name(programs_[0]->obj, bpf_map__name(map));
                check(bpf_map__reuse_fd(map, bpf_map__fd(owner)),
                      std::string("share map ") + bpf_map__name(map));
            });
        }
        skel.load();
    }
    // Fresh maps, or maps of a daemon that did not keep it yet: IPv4 gets what it had (no
    // entry, no rule), and from now on no IPv6 prefix can be its longest match.
    // (A lookup would not do: the trie answers it with the longest match, not this exact key.)
    const rl_prefix_key space = ipv4_space_key();
    const rl_prefix_value no_rule{RL_NO_RULE};
    if (bpf_map_update_elem(bpf_map__fd(programs_[0]->maps.prefixes), &space, &no_rule,
                            BPF_NOEXIST) != 0 &&
        errno != EEXIST)
        throw SystemError(errno, "add the entry for 0.0.0.0/0 to map prefixes");
}

void Datapath::size_maps(ratelimit_bpf *skel) const
{
    set_max_entries(skel->maps.rules, options_.max_rules);
    set_max_entries(skel->maps.rule_buckets, options_.max_rules * RL_MAX_LIMITS);
    set_max_entries(skel->maps.prefixes, options_.max_rules * RL_MAX_LIMITS);
    set_max_entries(skel->maps.sources, options_.max_sources);
    set_max_entries(skel->maps.source_counters, options_.max_sources);
    set_max_entries(skel->maps.blocks, options_.max_sources);
}

// Points every map at its pin: libbpf then reuses a pinned map or creates and pins a new one.
// Pins are reused all together or not at all: if any has another layout (another capacity after
// a config change, say), all are replaced, so that rules never refer to buckets of another shape.
bool Datapath::adopt_or_create_pins()
{
    const std::string &dir = options_.map_pin_dir;
    bpf_object *obj = programs_[0]->obj;
    std::size_t pinned = 0, maps = 0;
    std::string refused;
    for_each_shared_map(obj, [&](bpf_map *map) {
        maps++;
        int fd = bpf_obj_get(pin_path(dir, map).c_str());
        if (fd < 0) {
            if (errno != ENOENT)
                throw SystemError(errno, "open the pinned map " + pin_path(dir, map));
            return;
        }
        pinned++;
        std::string why = incompatibility(fd, map);
        ::close(fd);
        if (!why.empty() && refused.empty())
            refused = std::string(bpf_map__name(map)) + " has " + why;
    });
    bool adopt = pinned == maps && refused.empty();
    if (pinned > 0 && !adopt) {
        spdlog::warn("pinned maps in {} are not this program's ({}); replacing them: rules are "
                     "reinstalled, buckets and counters start afresh",
                     dir, refused.empty() ? "some are missing" : refused);
        for_each_shared_map(obj, [&](bpf_map *map) {
            if (::unlink(pin_path(dir, map).c_str()) != 0 && errno != ENOENT)
                throw SystemError(errno, "remove the pin " + pin_path(dir, map));
        });
    }
    for_each_shared_map(obj, [&](bpf_map *map) {
        check(bpf_map__set_pin_path(map, pin_path(dir, map).c_str()),
              "set the pin path of map " + std::string(bpf_map__name(map)));
    });
    return adopt;
}

void Datapath::unpin_maps()
{
    for_each_shared_map(programs_[0]->obj, [](bpf_map *map) {
        if (bpf_map__is_pinned(map))
            check(bpf_map__unpin(map, nullptr), std::string("unpin map ") + bpf_map__name(map));
    });
}

int Datapath::program_fd(std::uint32_t slot) const
{
    return bpf_program__fd(programs_.at(slot)->progs.ratelimit_xdp);
}

template <typename M>
M Datapath::view(bpf_map *map) const
{
    return M(bpf_map__fd(map), bpf_map__name(map));
}

Map<rl_prefix_key, rl_prefix_value> Datapath::prefixes() const
{
    return view<Map<rl_prefix_key, rl_prefix_value>>(programs_[0]->maps.prefixes);
}

Map<std::uint32_t, rl_rule> Datapath::rules() const
{
    return view<Map<std::uint32_t, rl_rule>>(programs_[0]->maps.rules);
}

Map<std::uint32_t, rl_bucket> Datapath::rule_buckets() const
{
    return view<Map<std::uint32_t, rl_bucket>>(programs_[0]->maps.rule_buckets);
}

Map<rl_source_key, rl_source> Datapath::sources() const
{
    return view<Map<rl_source_key, rl_source>>(programs_[0]->maps.sources);
}

PerCpuMap<rl_source_key, rl_source_counters> Datapath::source_counters() const
{
    return view<PerCpuMap<rl_source_key, rl_source_counters>>(programs_[0]->maps.source_counters);
}

Map<rl_block_key, rl_bucket> Datapath::blocks() const
{
    return view<Map<rl_block_key, rl_bucket>>(programs_[0]->maps.blocks);
}

Map<std::uint32_t, rl_settings> Datapath::settings() const
{
    return view<Map<std::uint32_t, rl_settings>>(programs_[0]->maps.settings);
}

PerCpuMap<std::uint32_t, rl_counter> Datapath::stats() const
{
    return view<PerCpuMap<std::uint32_t, rl_counter>>(programs_[0]->maps.stats);
}

PerCpuMap<std::uint32_t, rl_drop_memo> Datapath::drop_memos() const
{
    return view<PerCpuMap<std::uint32_t, rl_drop_memo>>(programs_[0]->maps.drop_memo);
}

std::vector<std::pair<rl_source_key, rl_source_counters>> Datapath::pending_memo_traffic() const
{
    std::vector<std::pair<rl_source_key, rl_source_counters>> pending;
    for (const auto &memo : drop_memos().lookup(0).value_or(std::vector<rl_drop_memo>{}))
        pending.emplace_back(memo.source, memo.pending);
    return pending;
}

void Datapath::publish_rules() const
{
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.generation++;
    settings().update(0, current);
}

void Datapath::set_settings_flags(std::uint32_t flags)
{
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.flags = flags;
    current.generation++; // drop memos hold verdicts taken under the old flags
    settings().update(0, current);
}

void add_traffic(rl_source_counters &to, const rl_source_counters &from)
{
    for (int o = 0; o < RL_OUTCOME_COUNT; o++) {
        to.packets[o] += from.packets[o];
        to.bytes[o] += from.bytes[o];
    }
}

void add_first_packet(rl_source_counters &to, const rl_source &entry)
{
    if (entry.first_bytes == 0 || entry.first_outcome >= RL_OUTCOME_COUNT)
        return; // none recorded (or not by this ABI's program)
    to.packets[entry.first_outcome]++;
    to.bytes[entry.first_outcome] += entry.first_bytes;
}

rl_source_counters Datapath::source_traffic(const rl_source_key &source) const
{
    rl_source_counters total{};
    if (auto entry = sources().lookup(source); entry)
        add_first_packet(total, *entry);
    for (const auto &c :
         source_counters().lookup(source).value_or(std::vector<rl_source_counters>{}))
        add_traffic(total, c);
    for (const auto &[key, pending] : pending_memo_traffic())
        if (std::memcmp(key.addr, source.addr, RL_ADDR_LEN) == 0)
            add_traffic(total, pending);
    return total;
}

rl_counter Datapath::counter(rl_reason reason, rl_verdict verdict, std::uint32_t slot) const
{
    rl_counter total{};
    auto per_cpu = stats().lookup(rl_stats_index(slot, reason, verdict));
    for (const auto &c : per_cpu.value_or(std::vector<rl_counter>{})) {
        total.packets += c.packets;
        total.bytes += c.bytes;
    }
    return total;
}

} // namespace ratelimit
