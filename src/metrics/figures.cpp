// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "metrics/figures.hpp"

#include <chrono>
#include <filesystem>

namespace ratelimit::metrics
{

namespace
{

Family counter(std::string name, std::string help)
{
    return {std::move(name), MetricType::Counter, std::move(help), {}};
}

Family gauge(std::string name, std::string help)
{
    return {std::move(name), MetricType::Gauge, std::move(help), {}};
}

// Packets or bytes (`amount`) of every counter.
Family traffic(std::string name, std::string help, const std::vector<TrafficCounter> &counters,
               std::uint64_t TrafficCounter::*amount)
{
    Family family = counter(std::move(name), std::move(help));
    for (const auto &row : counters)
        family.samples.push_back(
            {{{"interface", row.interface}, {"verdict", row.verdict}, {"reason", row.reason}},
             row.*amount});
    return family;
}

double unix_seconds(WallClock::time_point time)
{
    return std::chrono::duration<double>(time.time_since_epoch()).count();
}

} // namespace

std::map<Origin, std::size_t> rules_by_origin(const std::vector<DesiredRule> &desired)
{
    std::map<Origin, std::size_t> count = {
        {Origin::Config, 0}, {Origin::Runtime, 0}, {Origin::Default, 0}};
    for (const auto &rule : desired)
        count[rule.origin]++;
    return count;
}

std::vector<Family> metric_families(std::string_view version, const DaemonFigures &daemon,
                                    const KernelFigures &kernel)
{
    std::vector<Family> families;

    Family build = gauge("ratelimitd_build_info", "Always 1: the version of ratelimitd serving "
                                                  "these metrics, as a label.");
    build.samples.push_back({{{"version", std::string(version)}}, std::uint64_t{1}});
    families.push_back(std::move(build));

    families.push_back(traffic(
        "ratelimitd_packets_total",
        "Packets the XDP program judged on an interface, by verdict (pass, drop) and reason. "
        "reason=\"untracked\": passed because no entry could be made for the source in the "
        "source map.",
        kernel.counters, &TrafficCounter::packets));
    families.push_back(traffic("ratelimitd_bytes_total",
                               "Bytes of the frames counted in ratelimitd_packets_total, as XDP "
                               "sees them (Ethernet header included, FCS not).",
                               kernel.counters, &TrafficCounter::bytes));

    Family tracked =
        gauge("ratelimitd_tracked_sources",
              "Sources with an entry (their buckets) in the data path's LRU source map. The kernel "
              "does not count LRU evictions: ratelimitd_source_evictions_total estimates them; "
              "a source that could not be given an entry shows as "
              "ratelimitd_packets_total{reason=\"untracked\"}.");
    tracked.samples.push_back({{}, std::uint64_t{kernel.tracked_sources}});
    families.push_back(std::move(tracked));

    Family admissions = counter(
        "ratelimitd_source_admissions_total",
        "Sources given an entry in the source map: on their second packet, once the admission "
        "filter has seen them (a spoofed source seen once never gets one).");
    admissions.samples.push_back({{}, kernel.source_admissions});
    families.push_back(std::move(admissions));
    Family refused = counter(
        "ratelimitd_source_admissions_refused_total",
        "Packets of sources a rule matches judged without an entry in the source map (new, or "
        "evicted): charged against the evicted-TAT sketch and the shared buckets instead. Rises "
        "with every new source; rising with steady traffic means the table is too small for it.");
    refused.samples.push_back({{}, kernel.source_admissions_refused});
    families.push_back(std::move(refused));
    Family evictions = counter(
        "ratelimitd_source_evictions_total",
        "Entries the source map's LRU evicted, estimated as admissions - tracked sources - "
        "entries the daemon removed (ratelimitctl forget), never decreasing. An evicted source "
        "keeps its debt in the evicted-TAT sketch.");
    evictions.samples.push_back({{}, kernel.source_evictions});
    families.push_back(std::move(evictions));
    Family filter_fill = gauge(
        "ratelimitd_admission_filter_fill",
        "Share (0 to 1) of the admission filter's cells holding a source seen once, from a "
        "sample of 4096 cells. Near 1: newcomers' cells are overwritten before their second "
        "packet (a flood of new sources), and legitimate newcomers take longer to be admitted.");
    filter_fill.samples.push_back({{}, kernel.admission_filter_fill});
    families.push_back(std::move(filter_fill));
    Family sketch_fill = gauge(
        "ratelimitd_tat_sketch_fill",
        "Share (0 to 1) of the evicted-TAT sketch's cells holding a debt (a TAT ahead of now), "
        "from a sample of 4096 cells of its first row. A source without an entry whose cells all "
        "hold another's debt is limited by it: about this figure squared of newcomers are.");
    sketch_fill.samples.push_back({{}, kernel.tat_sketch_fill});
    families.push_back(std::move(sketch_fill));
    Family stall = gauge("ratelimitd_event_loop_longest_stall_seconds",
                         "The longest the daemon's event loop was held by one event since it "
                         "started: signals, timers and control requests waited that long. Reads of "
                         "large maps run off the loop.");
    stall.samples.push_back({{}, std::chrono::duration<double>(kernel.loop_longest_stall).count()});
    families.push_back(std::move(stall));

    Family capacity = gauge("ratelimitd_source_capacity",
                            "Entries the source map holds (max_sources) before the least "
                            "recently used source is evicted.");
    capacity.samples.push_back({{}, std::uint64_t{daemon.source_capacity}});
    families.push_back(std::move(capacity));

    Family bans = gauge("ratelimitd_bans", "Sources banned now (ratelimitctl bans).");
    bans.samples.push_back({{}, std::uint64_t{kernel.active_bans}});
    families.push_back(std::move(bans));
    Family ban_capacity = gauge("ratelimitd_ban_capacity",
                                "Bans (and repeat offenders remembered) the bans map holds "
                                "(max_bans); when it is full, new bans are refused.");
    ban_capacity.samples.push_back({{}, std::uint64_t{daemon.ban_capacity}});
    families.push_back(std::move(ban_capacity));
    Family started = counter("ratelimitd_bans_total",
                             "Bans started, by the rule (its prefix) that the source kept "
                             "exceeding. Packets dropped by bans are "
                             "ratelimitd_packets_total{reason=\"banned\"}.");
    Family bans_refused = counter("ratelimitd_bans_refused_total",
                                  "Bans not started because the bans map was full, by rule.");
    for (const auto &rule : kernel.bans) {
        started.samples.push_back({{{"rule", rule.rule}}, rule.started});
        bans_refused.samples.push_back({{{"rule", rule.rule}}, rule.refused});
    }
    families.push_back(std::move(started));
    families.push_back(std::move(bans_refused));

    Family rule_packets = counter(
        "ratelimitd_rule_packets_total",
        "Packets each rule judged, by verdict and reason. Only named rules (\"name\" in the "
        "config, ratelimitctl --name) have series of their own; every unnamed rule, and a rule "
        "removed since, is summed under rule=\"\".");
    Family rule_bytes = counter("ratelimitd_rule_bytes_total",
                                "Bytes of the frames counted in ratelimitd_rule_packets_total.");
    for (const auto &row : kernel.rule_counters) {
        const std::vector<Label> labels = {
            {"rule", row.rule}, {"verdict", row.verdict}, {"reason", row.reason}};
        rule_packets.samples.push_back({labels, row.packets});
        rule_bytes.samples.push_back({labels, row.bytes});
    }
    families.push_back(std::move(rule_packets));
    families.push_back(std::move(rule_bytes));

    Family rules = gauge("ratelimitd_rules",
                         "Rules in force, by origin: config, runtime (added with ratelimitctl) or "
                         "default.");
    for (const auto &[origin, count] : daemon.rules)
        rules.samples.push_back({{{"origin", to_string(origin)}}, std::uint64_t{count}});
    families.push_back(std::move(rules));

    Family reloads = counter("ratelimitd_config_reloads_total",
                             "Config reloads (SIGHUP, ratelimitctl reload) by result. Kept across "
                             "restarts that adopt the pinned data path, as the packet counters "
                             "are.");
    reloads.samples.push_back({{{"result", "success"}}, daemon.reloads.success});
    reloads.samples.push_back({{{"result", "failure"}}, daemon.reloads.failure});
    families.push_back(std::move(reloads));

    Family loaded = gauge("ratelimitd_last_reload_success_timestamp_seconds",
                          "When the config in force was loaded, at start or by the last "
                          "successful reload (Unix time).");
    loaded.samples.push_back({{}, unix_seconds(daemon.last_reload_success)});
    families.push_back(std::move(loaded));

    // Labelled by the file's name: the state directory is one, and takes a restart to change.
    Family saved = gauge("ratelimitd_state_saved",
                         "1 while the state file holds the state in force; 0 while writing it "
                         "fails (a full or read-only disk): the daemon runs on with the state in "
                         "memory, retries, and ratelimitctl status says why.");
    Family write_failures = counter("ratelimitd_state_write_failures_total",
                                    "Failed writes of the state file since the daemon started.");
    for (const auto &file : daemon.state_files) {
        const std::vector<Label> labels = {
            {"file", std::filesystem::path(file.path()).filename().string()}};
        saved.samples.push_back({labels, std::uint64_t{file.saved()}});
        write_failures.samples.push_back({labels, file.failures()});
    }
    families.push_back(std::move(saved));
    families.push_back(std::move(write_failures));

    Family xdp = gauge("ratelimitd_xdp_attached",
                       "1 while ratelimitd's program is attached to the interface, labelled with "
                       "the mode the kernel reports (native, generic); 0 if the interface has "
                       "another program or none (mode=\"none\").");
    for (const auto &attached : kernel.xdp)
        xdp.samples.push_back({{{"interface", attached.interface}, {"mode", attached.mode}},
                               std::uint64_t{attached.ours}});
    families.push_back(std::move(xdp));

    return families;
}

} // namespace ratelimit::metrics
