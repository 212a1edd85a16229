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
              "does not count LRU evictions; a source that could not be given an entry shows as "
              "ratelimitd_packets_total{reason=\"untracked\"}.");
    tracked.samples.push_back({{}, std::uint64_t{kernel.tracked_sources}});
    families.push_back(std::move(tracked));

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
