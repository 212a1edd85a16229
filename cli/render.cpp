// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "render.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/names.hpp"
#include "policy/units.hpp"

namespace ratelimit::ctl
{

namespace
{

using control::Command;
using nlohmann::json;

// Rows of cells, printed in columns as wide as their widest cell, two spaces apart.
class Table
{
  public:
    Table() = default;
    explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

    void print(std::ostream &out) const
    {
        std::vector<std::size_t> widths;
        for (const auto &row : rows_) {
            widths.resize(std::max(widths.size(), row.size()));
            for (std::size_t i = 0; i < row.size(); i++)
                widths[i] = std::max(widths[i], row[i].size());
        }
        for (const auto &row : rows_) {
            std::string line;
            for (std::size_t i = 0; i < row.size(); i++) {
                line += row[i];
                if (i + 1 < row.size())
                    line += std::string(widths[i] - row[i].size() + 2, ' ');
            }
            out << line << "\n";
        }
    }

  private:
    std::vector<std::vector<std::string>> rows_;
};

std::string fixed(double value, int decimals)
{
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

// "3d 4h", "2h 5m", "7m 30s", "12s": the largest unit that fits, and the next one if it adds.
std::string duration_text(std::int64_t seconds)
{
    constexpr std::pair<std::int64_t, const char *> kUnits[] = {
        {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
    constexpr std::size_t kLast = std::size(kUnits) - 1;
    std::size_t unit = 0;
    while (unit < kLast && seconds < kUnits[unit].first)
        unit++;
    const auto [size, name] = kUnits[unit];
    std::string text = std::to_string(seconds / size) + name;
    if (unit < kLast && seconds % size >= kUnits[unit + 1].first)
        text +=
            " " + std::to_string(seconds % size / kUnits[unit + 1].first) + kUnits[unit + 1].second;
    return text;
}

std::string count_text(const control::Count &count)
{
    return std::to_string(count.packets) + " packets, " + std::to_string(count.bytes) + " bytes";
}

// One limit of a rule for `match`, in human units: "100pps burst 200 per source", "10Mbit burst
// 256KiB per /24".
std::string limit_text(const LimitSpec &limit, const Prefix &match)
{
    std::string text;
    if (limit.unit == RL_UNIT_PACKETS)
        text = config::format_packet_rate(limit.rate) + " burst " + std::to_string(limit.burst);
    else
        text = config::format_bit_rate(limit.rate) + " burst " + config::format_size(limit.burst);
    return text + " per " + control::per_text(limit, match);
}

std::string limits_text(const std::vector<LimitSpec> &limits, const Prefix &match)
{
    std::string text;
    for (const auto &limit : limits)
        text += (text.empty() ? "" : ", ") + limit_text(limit, match);
    return text;
}

// The default covers every source: its limits are never per /N.
std::string limits_text(const control::DefaultLimits &fallback)
{
    return limits_text(fallback.limits, Prefix{});
}

// "-" for a rule that does not limit.
std::string limits_text(const Rule &rule)
{
    if (rule.action != RL_ACTION_LIMIT)
        return "-";
    // A listed "match_file" rule has no prefixes: its "/N" is shown as written.
    std::string text = limits_text(rule.limits, rule.match.empty() ? Prefix{} : rule.match.front());
    if (rule.ban)
        text += ", ban after " + config::format_duration(rule.ban->after) + " for " +
                config::format_duration(rule.ban->duration) +
                (rule.ban->scope == BanScope::All ? " (all traffic)" : "");
    return text;
}

std::string action_text(const Rule &rule)
{
    return std::string(name_of(kActionNames, rule.action));
}

std::string mode_text(const Rule &rule)
{
    return std::string(name_of(kModeNames, rule.monitor ? Mode::Monitor : Mode::Enforce));
}

// "203.0.113.0/24 limit 100pps burst 200 per source"
// "-" for an unnamed rule.
std::string name_text(const Rule &rule)
{
    return rule.name.empty() ? "-" : rule.name;
}

std::string rule_text(const Rule &rule)
{
    std::string text = control::match_text(rule) +
                       (rule.name.empty() ? "" : " (" + rule.name + ")") + " " + action_text(rule);
    if (rule.action == RL_ACTION_LIMIT)
        text += " " + limits_text(rule);
    if (rule.monitor)
        text += " (" + mode_text(rule) + ")";
    return text;
}

// A runtime rule's expiry: "never", or "in 1m 30s (2026-11-29T08:01:30Z)".
std::string expiry_text(const control::ActiveRuntimeRule &rule)
{
    if (!rule.expires_in_s)
        return "never";
    return "in " + duration_text(*rule.expires_in_s) + " (" + rule.expires.value() + ")";
}

// ", expires in 1m 30s (...)" for a rule that expires, else nothing.
std::string expiry_clause(const control::ActiveRuntimeRule &rule)
{
    return rule.expires_in_s ? ", expires " + expiry_text(rule) : "";
}

// "/var/lib/ratelimitd/runtime-rules.json: saved", or why not.
std::string state_file_text(const control::StateFileStatus &file)
{
    if (file.saved)
        return file.path + ": saved";
    return file.path + ": NOT SAVED (failed writes: " + std::to_string(file.write_failures) +
           "; retrying): " + file.error.value_or("");
}

// "passed", "dropped" and, when monitor mode passed some, "would drop".
void add_traffic_rows(Table &table, const control::Traffic &traffic)
{
    table.add({"passed", count_text(traffic.passed)});
    table.add({"dropped", count_text(traffic.dropped)});
    if (traffic.would_drop.packets != 0)
        table.add({"would drop", count_text(traffic.would_drop) + " (passed: monitor mode)"});
}

// After a change of the runtime rules that is in force but not in the state file.
void not_saved_warning(const control::StateFileStatus &file, std::ostream &out)
{
    if (!file.saved)
        out << "warning: in force, but not in the state file yet: a restart before the daemon "
               "can write it undoes this change. "
            << state_file_text(file) << "\n";
}

// "default for 0.0.0.0/0: ...", "config rule ...", "runtime rule ..., expires ...".
std::string applied_text(const control::AppliedRule &applied)
{
    const std::string origin(name_of(kOriginNames, applied.origin()));
    if (const auto *fallback = std::get_if<control::DefaultLimits>(&applied.rule))
        return "default for " + applied.prefix.to_string() + ": " + limits_text(*fallback);
    if (const auto *rule = std::get_if<Rule>(&applied.rule))
        return origin + " rule " + rule_text(*rule);
    const auto &runtime = std::get<control::ActiveRuntimeRule>(applied.rule);
    return origin + " rule " + rule_text(runtime.rule) + expiry_clause(runtime);
}

// A source's totals in a top sample: all its packets, its drops, its would-drops, all its bytes.
struct SourceTotals {
    std::uint64_t packets = 0, dropped = 0, would_drop = 0, bytes = 0;
};

SourceTotals totals_of(const control::Traffic &traffic)
{
    return {traffic.passed.packets + traffic.dropped.packets, traffic.dropped.packets,
            traffic.would_drop.packets, traffic.passed.bytes + traffic.dropped.bytes};
}

// Per second from `before` to `now`; none if a count went back (the source was forgotten and
// came back) or no time passed.
std::optional<SourceRates> rates(const SourceTotals &before, const SourceTotals &now,
                                 double seconds)
{
    if (seconds <= 0 || now.packets < before.packets || now.dropped < before.dropped ||
        now.would_drop < before.would_drop || now.bytes < before.bytes)
        return std::nullopt;
    auto per_second = [seconds](std::uint64_t later, std::uint64_t earlier) {
        return static_cast<double>(later - earlier) / seconds;
    };
    return SourceRates{
        per_second(now.packets, before.packets), per_second(now.dropped, before.dropped),
        per_second(now.would_drop, before.would_drop), per_second(now.bytes, before.bytes)};
}

// The rate shown is of what the sources are ranked by; would-drops rank as drops.
double rate_by(control::TopOrder by, const SourceRates &rates)
{
    switch (by) {
    case control::TopOrder::Drops:
        return rates.dropped + rates.would_drop;
    case control::TopOrder::Packets:
        return rates.packets;
    case control::TopOrder::Bytes:
        return rates.bytes;
    }
    return 0;
}

} // namespace

void render(const control::StatusResult &result, std::ostream &out)
{
    Table table;
    table.add({"ratelimitd", result.version + ", up " + duration_text(result.uptime_s)});
    table.add({"config", result.config});
    table.add({"mode", std::string(name_of(kModeNames, result.mode))});
    for (const auto &interface : result.interfaces)
        table.add({"interface", interface.name + ": XDP " + interface.xdp_mode + ", program " +
                                    std::to_string(interface.program_id)});
    const control::LastReload &reload = result.last_reload;
    table.add({"last reload",
               reload.time + " " + (reload.ok ? "ok" : "REFUSED") + ": " + reload.message});
    table.add({"rules", std::to_string(result.rules.config) + " config, " +
                            std::to_string(result.rules.runtime) + " runtime"});
    add_traffic_rows(table, result.totals);
    const std::uint64_t tracked = result.tracked_sources, capacity = result.max_sources;
    table.add({"tracked sources",
               std::to_string(tracked) + " of " + std::to_string(capacity) + " (" +
                   fixed(capacity ? 100.0 * double(tracked) / double(capacity) : 0, 1) + "% full)" +
                   (result.tracked_sources_age_ms >= 1000
                        ? ", counted " +
                              duration_text(
                                  static_cast<std::int64_t>(result.tracked_sources_age_ms / 1000)) +
                              " ago"
                        : std::string())});
    table.add(
        {"event loop",
         "held at most " + fixed(result.loop_longest_stall_ms, 1) + " ms" +
             (result.loop_longest_stall_in.empty() ? std::string()
                                                   : " (by " + result.loop_longest_stall_in + ")") +
             ", " + fixed(result.loop_longest_on_cpu_ms, 1) + " ms on the CPU"});
    const control::TableStatus &admission = result.table;
    table.add({"source table", std::to_string(admission.admitted) + " admitted, " +
                                   std::to_string(admission.evictions) + " evicted (estimate), " +
                                   std::to_string(admission.refused) +
                                   " packets judged without an entry"});
    table.add({"admission", "filter " + fixed(100 * admission.filter_fill, 1) + "% full, sketch " +
                                fixed(100 * admission.sketch_fill, 1) + "% in debt"});
    table.add({"pins", result.pins.dir +
                           (result.pins.warning ? "; WARNING: " + *result.pins.warning : "")});
    for (const auto &file : result.state_files)
        table.add({"state file", state_file_text(file)});
    table.print(out);
}

void render(const control::ListResult &result, std::ostream &out)
{
    out << "default: "
        << (result.default_limits ? limits_text(*result.default_limits)
                                  : "none (sources no rule matches are not limited)")
        << "\n\nconfig rules:\n";
    Table config({"NAME", "MATCH", "ACTION", "LIMITS", "MODE", "NOTE", "COMMENT"});
    for (const auto &[rule, overridden] : result.config)
        config.add({name_text(rule), control::match_text(rule), action_text(rule),
                    limits_text(rule), mode_text(rule),
                    overridden ? "overridden by a runtime rule" : "", rule.comment});
    config.print(out);
    out << "\nruntime rules:\n";
    Table runtime({"NAME", "MATCH", "ACTION", "LIMITS", "MODE", "EXPIRES", "COMMENT"});
    for (const auto &active : result.runtime)
        runtime.add({name_text(active.rule), control::match_text(active.rule),
                     action_text(active.rule), limits_text(active.rule), mode_text(active.rule),
                     expiry_text(active), active.rule.comment});
    runtime.print(out);
}

void render(const control::RuleChangeResult &result, std::ostream &out)
{
    out << "runtime rule " << (result.replaced ? "replaced" : "added") << ": "
        << rule_text(result.rule.rule) << expiry_clause(result.rule) << "\n";
    if (result.overrides_config)
        out << "it overrides the config rule for " << control::match_text(result.rule.rule)
            << " while it exists\n";
    not_saved_warning(result.state_file, out);
}

void render(const control::UnsetResult &result, std::ostream &out)
{
    out << "runtime rule removed: " << rule_text(result.removed.rule) << "\n";
    if (result.config_rule)
        out << "the config rule applies again: " << rule_text(*result.config_rule) << "\n";
    not_saved_warning(result.state_file, out);
}

// "192.0.2.0/24", "192.0.2.0/24, all traffic", "a rule since removed".
std::string ban_rule_text(const control::BanInfo &ban)
{
    std::string rule = ban.rule ? ban.rule->to_string() : "a rule since removed";
    if (ban.scope == BanScope::All)
        rule += ", all traffic";
    return rule;
}

// "until 2026-11-29T08:10:00Z (600 s left), offence 2".
std::string ban_text(const control::BanInfo &ban)
{
    return "by " + ban_rule_text(ban) + " until " + ban.until + " (" +
           std::to_string(ban.remaining_s) + " s left), offence " + std::to_string(ban.offences);
}

void render(const control::ShowResult &result, std::ostream &out)
{
    Table fields;
    fields.add({"address", result.address.to_string()});
    fields.add({"rule", result.rule ? applied_text(*result.rule) : "none"});
    fields.add({"why", result.why});
    fields.add({"tracked", result.tracked ? "yes" : "no"});
    if (result.ban)
        fields.add({"banned", ban_text(*result.ban)});
    add_traffic_rows(fields, result.traffic);
    fields.print(out);
    if (result.buckets.empty())
        return;
    out << "\n";
    Table table({"LIMIT", "PER", "BUCKET", "TOKENS NOW"});
    for (const auto &bucket : result.buckets)
        table.add({std::to_string(bucket.limit), bucket.per, bucket.key,
                   std::to_string(bucket.tokens) + " of " + std::to_string(bucket.burst) + " " +
                       std::string(name_of(kUnitNames, bucket.unit))});
    table.print(out);
}

void render(const control::StatsResult &result, std::ostream &out)
{
    if (result.rules) {
        Table table({"RULE", "REASON", "VERDICT", "PACKETS", "BYTES"});
        bool counted = false;
        for (const auto &rule : *result.rules)
            for (const auto &counter : rule.counters) {
                counted = true;
                table.add({rule.rule.empty() ? "(unnamed)" : rule.rule,
                           std::string(name_of(kReasonNames, counter.reason)),
                           std::string(name_of(kVerdictNames, counter.verdict)),
                           std::to_string(counter.count.packets),
                           std::to_string(counter.count.bytes)});
            }
        if (counted) // a name is never "(unnamed)": names have no parentheses
            table.print(out);
        else
            out << "no packets counted by any rule yet\n";
        return;
    }
    Table table({"INTERFACE", "REASON", "VERDICT", "PACKETS", "BYTES"});
    bool counted = false;
    for (const auto &interface : result.interfaces) {
        for (const auto &counter : interface.counters) {
            if (counter.count.packets == 0)
                continue;
            counted = true;
            table.add({interface.name, std::string(name_of(kReasonNames, counter.reason)),
                       std::string(name_of(kVerdictNames, counter.verdict)),
                       std::to_string(counter.count.packets), std::to_string(counter.count.bytes)});
        }
    }
    if (counted)
        table.print(out);
    else
        out << "no packets counted yet\n";
}

void render(const control::FlushResult &result, std::ostream &out)
{
    out << "forgot the buckets of " << result.sources << " sources and " << result.blocks
        << " /N blocks";
    if (!result.match)
        out << ", and refilled " << result.rule_buckets << " per-rule buckets\n";
    else
        out << " in " << result.match->to_string() << "\n";
}

void render(const control::ReloadCommandResult &result, std::ostream &out)
{
    out << "reloaded at " << result.time << ": " << result.message << "\n";
}

void render(const control::ApplyResult &result, std::ostream &out)
{
    if (!result.committed) {
        out << result.changes << " changes received, not applied yet\n";
        return;
    }
    const control::AppliedChanges &applied = *result.committed;
    out << "applied " << result.changes << (result.changes == 1 ? " change" : " changes")
        << ": runtime rules " << applied.added << " added, " << applied.replaced << " replaced, "
        << applied.removed << " removed; " << applied.runtime_rules << " in force\n";
    not_saved_warning(applied.state_file, out);
}

void render(const control::BansResult &result, std::ostream &out)
{
    if (result.bans.empty()) {
        out << "no source is banned\n";
        return;
    }
    Table table({"ADDRESS", "RULE", "SINCE", "UNTIL", "LEFT", "OFFENCES"});
    for (const auto &ban : result.bans)
        table.add({ban.address.to_string(), ban_rule_text(ban), ban.since, ban.until,
                   std::to_string(ban.remaining_s) + "s", std::to_string(ban.offences)});
    table.print(out);
    out << result.bans.size() << " banned (room for " << result.capacity << ")\n";
}

void render(const control::UnbanResult &result, std::ostream &out)
{
    out << "ban lifted: " << result.lifted.address.to_string() << " (was "
        << ban_text(result.lifted) << ")\n";
}

void render(Command command, const json &result, std::ostream &out)
{
    switch (command) {
    case Command::Status:
        return render(control::decode_status_result(result), out);
    case Command::List:
        return render(control::decode_list_result(result), out);
    case Command::Set:
    case Command::Allow:
    case Command::Deny:
        return render(control::decode_rule_change_result(result), out);
    case Command::Unset:
        return render(control::decode_unset_result(result), out);
    case Command::Show:
        return render(control::decode_show_result(result), out);
    case Command::Top:
        throw std::invalid_argument("top is shown with its rates (top_with_rates)");
    case Command::Stats:
        return render(control::decode_stats_result(result), out);
    case Command::Flush:
        return render(control::decode_flush_result(result), out);
    case Command::Reload:
        return render(control::decode_reload_result(result), out);
    case Command::Apply:
        return render(control::decode_apply_result(result), out);
    case Command::Bans:
        return render(control::decode_bans_result(result), out);
    case Command::Unban:
        return render(control::decode_unban_result(result), out);
    }
}

TopRates top_with_rates(const control::TopResult &earlier, const control::TopResult &later,
                        std::size_t count)
{
    const double seconds = static_cast<double>(later.sampled_at_ms - earlier.sampled_at_ms) / 1000;
    std::map<std::string, SourceTotals> before;
    for (const auto &source : earlier.sources)
        before.emplace(source.address.to_string(), totals_of(source.traffic));
    // A sample that lists every source with traffic shows that one it does not list had none.
    const bool listed_all = earlier.scanned == before.size();
    TopRates shown{later.by, later.scanned, seconds, {}};
    for (const auto &source : later.sources) {
        if (shown.sources.size() == count)
            break;
        auto found = before.find(source.address.to_string());
        std::optional<SourceRates> per_second;
        if (found != before.end())
            per_second = rates(found->second, totals_of(source.traffic), seconds);
        else if (listed_all)
            per_second = rates({}, totals_of(source.traffic), seconds);
        shown.sources.push_back({source, per_second});
    }
    return shown;
}

json encode_top_rates(const TopRates &rates)
{
    json sources = json::array();
    for (const auto &[source, per_second] : rates.sources) {
        json row = control::encode_source(source);
        row["per_second"] = per_second ? json{{"packets", per_second->packets},
                                              {"dropped", per_second->dropped},
                                              {"would_drop", per_second->would_drop},
                                              {"bytes", per_second->bytes}}
                                       : json();
        sources.push_back(std::move(row));
    }
    return {{"by", control::top_order_name(rates.by)},
            {"scanned", rates.scanned},
            {"interval_s", rates.interval_s},
            {"sources", std::move(sources)}};
}

void render(const TopRates &rates, std::ostream &out)
{
    std::string rate_header = std::string(control::top_order_name(rates.by)) + "/s";
    std::ranges::transform(rate_header, rate_header.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    // A RULE column only when some source listed falls under a named rule.
    const bool named = std::ranges::any_of(
        rates.sources, [](const RatedSource &rated) { return !rated.source.rule.empty(); });
    std::vector<std::string> header = {"ADDRESS",    "PACKETS", "DROPPED",
                                       "WOULD DROP", "BYTES",   rate_header};
    if (named)
        header.insert(header.begin() + 1, "RULE");
    Table table(std::move(header));
    for (const auto &[source, per_second] : rates.sources) {
        const SourceTotals totals = totals_of(source.traffic);
        std::vector<std::string> row = {
            source.address.to_string(),
            std::to_string(totals.packets),
            std::to_string(totals.dropped),
            std::to_string(totals.would_drop),
            std::to_string(totals.bytes),
            per_second ? fixed(rate_by(rates.by, *per_second), 1) : "-"};
        if (named)
            row.insert(row.begin() + 1, source.rule.empty() ? "-" : source.rule);
        table.add(std::move(row));
    }
    table.print(out);
    out << "\n"
        << rates.scanned << " sources with traffic; rates over the last "
        << fixed(rates.interval_s, 1) << " s\n";
}

} // namespace ratelimit::ctl
