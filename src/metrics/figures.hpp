// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// What /metrics reports, as plain figures, and the metric families made of them. Pure: the daemon
// publishes its own figures, the metrics thread reads the kernel's at scrape time (exporter.hpp),
// and this turns both into families for exposition.hpp. Every label takes a bounded set of
// values (interfaces, verdicts, reasons, origins, results): never one series per source.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exposition.hpp"
#include "metrics/reload_counts.hpp"
#include "state/desired.hpp"
#include "state/state_file.hpp"

namespace ratelimit::metrics
{

// An interface the daemon attached its program to; its attach slot is its index in
// DaemonFigures::interfaces.
struct AttachedInterface {
    std::string name;
    int ifindex = 0;
};

// The daemon's own figures: its event loop publishes a copy whenever one changes.
struct DaemonFigures {
    std::uint32_t source_capacity = 0;   // max_sources
    std::uint32_t ban_capacity = 0;      // max_bans
    std::map<Origin, std::size_t> rules; // rules in force by origin; every origin, zero too
    ReloadCounts reloads;
    WallClock::time_point last_reload_success{}; // when the config in force was loaded
    std::vector<AttachedInterface> interfaces;
    std::vector<SaveStatus> state_files; // the state directory's files
    // The rule slots of the named rules in force, and their names: ratelimitd_rule_*_total's
    // "rule" label. Every other slot's counts are summed under rule="".
    std::map<std::uint32_t, std::string> named_rule_slots;
};

// What rules judged, by the rule's name ("" for all unnamed rules together), verdict and reason.
struct RuleCounter {
    std::string rule;
    std::string verdict;
    std::string reason;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
};

// Which program an interface the daemon attached to has, as the kernel reports it at scrape time.
struct XdpState {
    std::string interface;
    std::string mode;  // query_xdp's: native, generic, ... or none
    bool ours = false; // the daemon's program for the interface's slot is the one attached
};

// One of the program's global counters: an interface's packets and bytes of one verdict and
// reason, named as ratelimitctl stats names them ("pass", "over_limit").
struct TrafficCounter {
    std::string interface;
    std::string verdict;
    std::string reason;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
};

// The bans a rule started, and those the bans map had no room for.
struct RuleBans {
    std::string rule; // the rule's prefix (state/bans.hpp rule_names)
    std::uint64_t started = 0, refused = 0;
};

// What the metrics thread reads from the kernel at scrape time.
struct KernelFigures {
    std::vector<TrafficCounter> counters;
    std::size_t tracked_sources = 0;
    // The source table's admission (see TablePressure in datapath/datapath.hpp).
    std::uint64_t source_admissions = 0, source_admissions_refused = 0, source_evictions = 0;
    double admission_filter_fill = 0, tat_sketch_fill = 0;
    std::size_t active_bans = 0;
    std::vector<RuleBans> bans;                     // rules that started or refused any
    std::vector<RuleCounter> rule_counters;         // named rules', then rule=""
    std::vector<XdpState> xdp;                      // in attach-slot order
    std::chrono::nanoseconds loop_longest_stall{0}; // the daemon's event loop, since it started
};

// The rules of `desired` counted by origin, with a zero for an origin that has none.
std::map<Origin, std::size_t> rules_by_origin(const std::vector<DesiredRule> &desired);

// The ratelimitd_* families, in a fixed order.
std::vector<Family> metric_families(std::string_view version, const DaemonFigures &daemon,
                                    const KernelFigures &kernel);

} // namespace ratelimit::metrics
