// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/datapath.hpp"

#include <endian.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>

#include <spdlog/spdlog.h>

#include "sys/time.hpp"
#include "ratelimit/gcra.h"

namespace ratelimit
{

static_assert(sizeof(rl_prefix_key) == 20);
static_assert(sizeof(rl_limit) == 24);
static_assert(sizeof(rl_rule) == 8 + RL_MAX_LIMITS * sizeof(rl_limit) + 16);
static_assert(sizeof(rl_source) == 8 * RL_MAX_LIMITS + 16 + 24);
static_assert(sizeof(rl_block_key) == 24);
static_assert(sizeof(rl_source_counters) == 48);
static_assert(sizeof(rl_settings) == 24);
static_assert(sizeof(rl_seen) == 8);
static_assert(sizeof(rl_pressure) == 16);
static_assert(sizeof(rl_drop_memo) == 96);
static_assert(sizeof(rl_ban) == 32);
static_assert(sizeof(rl_rule_counts) == 16 * RL_RULE_OUTCOMES + 16);
// The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of a map's name (see RL_MAP_NAME).
static_assert(sizeof(RL_MAP_NAME(RL_MAP_PREFIXES)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_RULES)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_RULE_BUCKETS)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_SOURCES)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_SOURCE_COUNTERS)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_BLOCKS)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_DROP_MEMO)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_SETTINGS)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_STATS)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_SEEN)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_TAT_SKETCH)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_PRESSURE)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_BANS)) <= BPF_OBJ_NAME_LEN);
static_assert(sizeof(RL_MAP_NAME(RL_MAP_RULE_COUNTS)) <= BPF_OBJ_NAME_LEN);

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

std::uint64_t random_seed()
{
    std::uint64_t seed = 0;
    ssize_t got = ::getrandom(&seed, sizeof(seed), 0);
    if (got != static_cast<ssize_t>(sizeof(seed)))
        throw SystemError(got < 0 ? errno : EIO, "draw the seed of the source hash");
    return seed;
}

// Adds `from` to `to`, outcome by outcome.
void add_traffic(rl_source_counters &to, const rl_source_counters &from)
{
    for (int o = 0; o < RL_OUTCOME_COUNT; o++) {
        to.packets[o] += from.packets[o];
        to.bytes[o] += from.bytes[o];
    }
}

bool any_packets(const rl_source_counters &traffic)
{
    for (int o = 0; o < RL_OUTCOME_COUNT; o++)
        if (traffic.packets[o] != 0)
            return true;
    return false;
}

// Whether the program recorded the first packet of the source in its entry (and which outcome is
// one of this ABI's).
bool has_first_packet(const rl_source &entry)
{
    return entry.first_bytes != 0 && entry.first_outcome < RL_OUTCOME_COUNT;
}

// A source's first packet as its `sources` entry records it, while the counters of every source
// stream by: 24 bytes each, so a million of them take 24 MB (a map of whole counters, 100 MB).
// The address is held as two big-endian halves, so that ordering is two integer compares.
struct FirstPacket {
    std::uint64_t high = 0, low = 0;
    std::uint32_t bytes = 0;
    std::uint8_t outcome = 0;
    bool merged = false; // added to its source's traffic already

    static std::pair<std::uint64_t, std::uint64_t> halves(const rl_source_key &key)
    {
        std::uint64_t high, low;
        std::memcpy(&high, key.addr, 8);
        std::memcpy(&low, key.addr + 8, 8);
        return {be64toh(high), be64toh(low)};
    }
    rl_source_key key() const
    {
        rl_source_key key{};
        const std::uint64_t high_be = htobe64(high), low_be = htobe64(low);
        std::memcpy(key.addr, &high_be, 8);
        std::memcpy(key.addr + 8, &low_be, 8);
        return key;
    }
    std::pair<std::uint64_t, std::uint64_t> order() const { return {high, low}; }
};

// The names of the pins in `dir`; none if it does not exist.
std::vector<std::string> pin_names(const std::string &dir)
{
    std::vector<std::string> names;
    std::error_code error;
    std::filesystem::directory_iterator it(dir, error);
    if (error == std::errc::no_such_file_or_directory)
        return names;
    for (; !error && it != std::filesystem::directory_iterator(); it.increment(error))
        names.push_back(it->path().filename().string());
    if (error)
        throw SystemError(error.value(), "list the pins in " + dir);
    return names;
}

struct KeyLess {
    bool operator()(const rl_source_key &a, const rl_source_key &b) const
    {
        return std::memcmp(a.addr, b.addr, RL_ADDR_LEN) < 0;
    }
};

} // namespace

rl_prefix_key prefix_key(const Prefix &prefix)
{
    rl_prefix_key key{};
    key.prefixlen = prefix.length;
    std::memcpy(key.addr, prefix.address.bytes.data(), RL_ADDR_LEN);
    return key;
}

Prefix prefix_of_key(const rl_prefix_key &key)
{
    Prefix prefix;
    prefix.length = key.prefixlen;
    std::memcpy(prefix.address.bytes.data(), key.addr, RL_ADDR_LEN);
    return prefix;
}

rl_prefix_key ipv4_space_key()
{
    return prefix_key(*parse_prefix("0.0.0.0/0"));
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
            if (options.pins)
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
    if (!adopted_) {
        // New maps: a seed of the program's source hash that nobody outside can know. Adopted
        // ones keep theirs, which the filter's and the sketch's cells were placed by.
        auto current = settings().lookup(0).value_or(rl_settings{});
        current.seed = random_seed();
        settings().update(0, current);
    }
    // Fresh maps, or maps of a daemon that did not keep it yet: IPv4 gets what it had (no
    // entry, no rule), and from now on no IPv6 prefix can be its longest match.
    // (A lookup would not do: the trie answers it with the longest match, not this exact key.)
    const rl_prefix_key space = ipv4_space_key();
    const rl_prefix_value no_rule{RL_NO_RULE};
    if (bpf_map_update_elem(bpf_map__fd(programs_[0]->maps.RL_MAP_PREFIXES), &space, &no_rule,
                            BPF_NOEXIST) != 0 &&
        errno != EEXIST)
        throw SystemError(errno,
                          "add the entry for 0.0.0.0/0 to map " RL_MAP_NAME(RL_MAP_PREFIXES));
}

void Datapath::size_maps(ratelimit_bpf *skel) const
{
    skel->rodata->cells_log2 = cells_log2();
    set_max_entries(skel->maps.RL_MAP_SEEN, RL_SEEN_ENTRIES(cells_log2()));
    set_max_entries(skel->maps.RL_MAP_TAT_SKETCH, RL_SKETCH_ENTRIES(cells_log2()));
    set_max_entries(skel->maps.RL_MAP_RULES, options_.max_rules);
    set_max_entries(skel->maps.RL_MAP_RULE_BUCKETS, RL_RULE_BUCKET_ENTRIES(options_.max_rules));
    set_max_entries(skel->maps.RL_MAP_PREFIXES, RL_PREFIX_ENTRIES(options_.max_prefixes));
    set_max_entries(skel->maps.RL_MAP_SOURCES, options_.max_sources);
    set_max_entries(skel->maps.RL_MAP_SOURCE_COUNTERS, options_.max_sources);
    set_max_entries(skel->maps.RL_MAP_BLOCKS, options_.max_sources);
    set_max_entries(skel->maps.RL_MAP_BANS, options_.max_bans);
    set_max_entries(skel->maps.RL_MAP_RULE_COUNTS, options_.max_rules);
}

// Points every map at its pin: libbpf then reuses a pinned map or creates and pins a new one.
// Pins are reused all together or not at all: if any has another layout (another capacity after
// a config change, say), or the directory holds a map this program does not have (an earlier
// version's, which named its maps otherwise), all are replaced, so that rules never refer to
// buckets of another shape and no map is left pinned that nothing uses.
bool Datapath::adopt_or_create_pins()
{
    const PinLayout &pins = *options_.pins;
    bpf_object *obj = programs_[0]->obj;
    std::set<std::string> ours;
    std::size_t pinned = 0;
    std::string refused; // why the pins found cannot be adopted
    for_each_shared_map(obj, [&](bpf_map *map) {
        ours.insert(bpf_map__name(map));
        const std::string path = pins.map(bpf_map__name(map));
        int fd = bpf_obj_get(path.c_str());
        if (fd < 0) {
            if (errno != ENOENT)
                throw SystemError(errno, "open the pinned map " + path);
            return;
        }
        pinned++;
        std::string why = incompatibility(fd, map);
        ::close(fd);
        if (!why.empty() && refused.empty())
            refused = std::string(bpf_map__name(map)) + " has " + why;
    });
    std::vector<std::string> strays;
    for (const std::string &name : pin_names(pins.maps_dir()))
        if (!ours.contains(name))
            strays.push_back(name);
    if (refused.empty() && !strays.empty())
        refused = strays.front() + " is not one of its maps";
    if (refused.empty() && pinned > 0 && pinned < ours.size())
        refused = "some are missing";

    if (!refused.empty()) {
        spdlog::warn("pinned maps in {} are not this program's ({}); replacing them: rules are "
                     "reinstalled, buckets and counters start afresh",
                     pins.maps_dir(), refused);
        strays.insert(strays.end(), ours.begin(), ours.end());
        for (const std::string &name : strays)
            if (::unlink(pins.map(name).c_str()) != 0 && errno != ENOENT)
                throw SystemError(errno, "remove the pin " + pins.map(name));
    }
    for_each_shared_map(obj, [&](bpf_map *map) {
        check(bpf_map__set_pin_path(map, pins.map(bpf_map__name(map)).c_str()),
              "set the pin path of map " + std::string(bpf_map__name(map)));
    });
    return pinned == ours.size() && refused.empty();
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
    return view<Map<rl_prefix_key, rl_prefix_value>>(programs_[0]->maps.RL_MAP_PREFIXES);
}

Map<std::uint32_t, rl_rule> Datapath::rules() const
{
    return view<Map<std::uint32_t, rl_rule>>(programs_[0]->maps.RL_MAP_RULES);
}

Map<std::uint32_t, rl_bucket> Datapath::rule_buckets() const
{
    return view<Map<std::uint32_t, rl_bucket>>(programs_[0]->maps.RL_MAP_RULE_BUCKETS);
}

Map<rl_source_key, rl_source> Datapath::sources() const
{
    return view<Map<rl_source_key, rl_source>>(programs_[0]->maps.RL_MAP_SOURCES);
}

PerCpuMap<rl_source_key, rl_source_counters> Datapath::source_counters() const
{
    return view<PerCpuMap<rl_source_key, rl_source_counters>>(
        programs_[0]->maps.RL_MAP_SOURCE_COUNTERS);
}

Map<rl_block_key, rl_bucket> Datapath::blocks() const
{
    return view<Map<rl_block_key, rl_bucket>>(programs_[0]->maps.RL_MAP_BLOCKS);
}

Map<std::uint32_t, rl_settings> Datapath::settings() const
{
    return view<Map<std::uint32_t, rl_settings>>(programs_[0]->maps.RL_MAP_SETTINGS);
}

PerCpuMap<std::uint32_t, rl_counter> Datapath::stats() const
{
    return view<PerCpuMap<std::uint32_t, rl_counter>>(programs_[0]->maps.RL_MAP_STATS);
}

PerCpuMap<std::uint32_t, rl_drop_memo> Datapath::drop_memos() const
{
    return view<PerCpuMap<std::uint32_t, rl_drop_memo>>(programs_[0]->maps.RL_MAP_DROP_MEMO);
}

Map<std::uint32_t, rl_seen> Datapath::seen_filter() const
{
    return view<Map<std::uint32_t, rl_seen>>(programs_[0]->maps.RL_MAP_SEEN);
}

Map<std::uint32_t, std::uint64_t> Datapath::tat_sketch() const
{
    return view<Map<std::uint32_t, std::uint64_t>>(programs_[0]->maps.RL_MAP_TAT_SKETCH);
}

PerCpuMap<std::uint32_t, rl_pressure> Datapath::pressure() const
{
    return view<PerCpuMap<std::uint32_t, rl_pressure>>(programs_[0]->maps.RL_MAP_PRESSURE);
}

std::uint32_t Datapath::cells_log2() const
{
    return rl_cells_log2(options_.max_sources);
}

TablePressure Datapath::table_pressure(std::uint64_t tracked) const
{
    TablePressure figures;
    for (const auto &cpu : pressure().lookup(0).value_or(std::vector<rl_pressure>{})) {
        figures.admitted += cpu.admitted;
        figures.refused += cpu.refused;
    }
    figures.removed = settings().lookup(0).value_or(rl_settings{}).removed;
    // Read after `tracked`: an admission in between counts here and not there, so the estimate
    // may run ahead by the admissions of that moment, never behind.
    const std::uint64_t gone = figures.admitted - std::min(figures.admitted, tracked);
    std::uint64_t estimate = gone - std::min(gone, figures.removed);
    std::uint64_t highest = evictions_.load();
    while (estimate > highest && !evictions_.compare_exchange_weak(highest, estimate)) {
    }
    figures.evictions = std::max(estimate, highest);
    auto share = [](std::size_t some, std::size_t of) {
        return of ? static_cast<double>(some) / static_cast<double>(of) : 0.0;
    };
    const auto cells = seen_filter().lookup_run(0, kFillSampleCells);
    figures.filter_fill = share(std::count_if(cells.begin(), cells.end(),
                                              [](const rl_seen &c) { return c.fingerprint != 0; }),
                                cells.size());
    // A cell behind the clock holds no debt: a source charged by it alone gets a full bucket.
    const std::uint64_t now = rl_time_from_ns(clock_ns(CLOCK_MONOTONIC, "the bucket clock"));
    const auto tats = tat_sketch().lookup_run(0, kFillSampleCells);
    figures.sketch_fill = share(std::count_if(tats.begin(), tats.end(),
                                              [now](std::uint64_t tat) {
                                                  return static_cast<std::int64_t>(tat - now) > 0;
                                              }),
                                tats.size());
    return figures;
}

void Datapath::count_removed_sources(std::uint64_t count) const
{
    if (count == 0)
        return;
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.removed += count;
    settings().update(0, current);
}

void Datapath::forget_sketched(const rl_source_key &source, std::uint32_t rule) const
{
    const auto limits = rules().lookup(rule);
    if (!limits)
        return;
    const std::uint64_t hash =
        RL_SOURCE_HASH(source.addr, settings().lookup(0).value_or(rl_settings{}).seed);
    auto sketch = tat_sketch();
    for (std::uint32_t i = 0; i < limits->nlimits && i < RL_MAX_LIMITS; i++)
        if (limits->limits[i].per == RL_PER_SOURCE)
            for (std::uint32_t row = 0; row < RL_SKETCH_ROWS; row++)
                sketch.update(rl_sketch_slot(hash, rule, i, row, cells_log2()), 0);
}

Map<rl_source_key, rl_ban> Datapath::bans() const
{
    return view<Map<rl_source_key, rl_ban>>(programs_[0]->maps.RL_MAP_BANS);
}

PerCpuMap<std::uint32_t, rl_rule_counts> Datapath::rule_counts() const
{
    return view<PerCpuMap<std::uint32_t, rl_rule_counts>>(programs_[0]->maps.RL_MAP_RULE_COUNTS);
}

rl_rule_counts sum_rule_counts(std::span<const rl_rule_counts> cpus)
{
    rl_rule_counts total{};
    for (const auto &cpu : cpus) {
        for (std::uint32_t o = 0; o < RL_RULE_OUTCOMES; o++) {
            total.outcomes[o].packets += cpu.outcomes[o].packets;
            total.outcomes[o].bytes += cpu.outcomes[o].bytes;
        }
        total.bans_started += cpu.bans_started;
        total.bans_refused += cpu.bans_refused;
    }
    return total;
}

rl_rule_counts Datapath::rule_counts_of(std::uint32_t rule) const
{
    return sum_rule_counts(rule_counts().lookup(rule).value_or(std::vector<rl_rule_counts>{}));
}

void Datapath::publish_rules() const
{
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.generation++;
    settings().update(0, current);
}

std::uint32_t Datapath::settings_flags() const
{
    return settings().lookup(0).value_or(rl_settings{}).flags;
}

void Datapath::set_settings_flags(std::uint32_t flags)
{
    auto current = settings().lookup(0).value_or(rl_settings{});
    current.flags = flags;
    current.generation++; // drop memos hold verdicts taken under the old flags
    settings().update(0, current);
}

rl_source_counters Datapath::source_traffic(const rl_source_key &source) const
{
    rl_source_counters total{};
    read_source_traffic(&source,
                        [&](const rl_source_key &, const rl_source_counters &t) { total = t; });
    return total;
}

void Datapath::for_each_source_traffic(const TrafficVisitor &visit) const
{
    read_source_traffic(nullptr, visit);
}

void Datapath::read_source_traffic(const rl_source_key *only, const TrafficVisitor &visit) const
{
    // Traffic held outside source_counters is read first and merged into the counters as those
    // stream by: first packets, kept sorted to be found by their key, and the memos' pending
    // drops, one memo per CPU. (An entry with no first packet recorded, or a memo with nothing
    // pending, has no traffic to add.)
    std::vector<FirstPacket> first;
    auto hold_first_packet = [&](const rl_source_key &key, const rl_source &entry) {
        if (has_first_packet(entry)) {
            const auto [high, low] = FirstPacket::halves(key);
            first.push_back({high, low, entry.first_bytes, entry.first_outcome});
        }
    };
    if (only) {
        if (auto entry = sources().lookup(*only); entry)
            hold_first_packet(*only, *entry);
    } else {
        // Untouched pages cost no memory: reserving for every source only spares the copies.
        first.reserve(options_.max_sources);
        sources().for_each(hold_first_packet);
        std::ranges::sort(first, {}, &FirstPacket::order);
    }
    std::map<rl_source_key, rl_source_counters, KeyLess> pending;
    for (const auto &memo : drop_memos().lookup(0).value_or(std::vector<rl_drop_memo>{}))
        if ((!only || std::memcmp(memo.source.addr, only->addr, RL_ADDR_LEN) == 0) &&
            any_packets(memo.pending))
            add_traffic(pending[memo.source], memo.pending);

    // Adds what is held for `key` to `traffic`, once.
    auto add_held = [&](const rl_source_key &key, rl_source_counters &traffic) {
        const auto wanted = FirstPacket::halves(key);
        auto packet = std::ranges::lower_bound(first, wanted, {}, &FirstPacket::order);
        if (packet != first.end() && packet->order() == wanted && !packet->merged) {
            traffic.packets[packet->outcome]++;
            traffic.bytes[packet->outcome] += packet->bytes;
            packet->merged = true;
        }
        if (auto memo = pending.find(key); memo != pending.end()) {
            add_traffic(traffic, memo->second);
            pending.erase(memo);
        }
    };
    auto visit_counted = [&](const rl_source_key &key, std::span<const rl_source_counters> cpus) {
        rl_source_counters traffic{};
        for (const auto &cpu : cpus)
            add_traffic(traffic, cpu);
        add_held(key, traffic);
        visit(key, traffic);
    };
    if (only)
        visit_counted(*only,
                      source_counters().lookup(*only).value_or(std::vector<rl_source_counters>{}));
    else
        source_counters().for_each(visit_counted);
    // Sources seen once, or only by drop memos, have no counters yet.
    for (const FirstPacket &packet : first) {
        if (packet.merged)
            continue;
        const rl_source_key key = packet.key();
        rl_source_counters traffic{};
        add_held(key, traffic);
        visit(key, traffic);
    }
    for (const auto &[key, traffic] : pending)
        visit(key, traffic);
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
