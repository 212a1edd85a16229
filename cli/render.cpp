// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "render.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "config/units.hpp"

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

std::string number(const json &value)
{
    return std::to_string(value.get<std::uint64_t>());
}

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

std::string count_text(const json &count)
{
    return number(count.at("packets")) + " packets, " + number(count.at("bytes")) + " bytes";
}

// One limit object of a rule as the config states it: "100pps burst 200 per source".
std::string limit_text(const json &limit)
{
    std::string text;
    if (limit.contains("rate"))
        text = config::format_packet_rate(limit.at("rate").get<std::uint64_t>()) + " burst " +
               number(limit.at("burst"));
    else
        text = limit.at("bytes").get<std::string>() + " burst " +
               limit.at("byte_burst").get<std::string>();
    return text + " per " + limit.at("per").get<std::string>();
}

std::string limits_text(const json &owner)
{
    if (!owner.contains("limits"))
        return "-";
    std::string text;
    for (const auto &limit : owner.at("limits"))
        text += (text.empty() ? "" : ", ") + limit_text(limit);
    return text;
}

std::string mode_text(const json &rule)
{
    return rule.value("mode", "enforce");
}

// "203.0.113.0/24 limit 100pps burst 200 per source"
std::string rule_text(const json &rule)
{
    std::string text =
        rule.at("match").get<std::string>() + " " + rule.at("action").get<std::string>();
    if (rule.contains("limits"))
        text += " " + limits_text(rule);
    if (mode_text(rule) != "enforce")
        text += " (" + mode_text(rule) + ")";
    return text;
}

// A runtime rule's expiry: "never", or "in 1m 30s (2026-11-29T08:01:30Z)".
std::string expiry_text(const json &rule)
{
    const json &left = rule.at("expires_in_s");
    if (left.is_null())
        return "never";
    return "in " + duration_text(left.get<std::int64_t>()) + " (" +
           rule.at("expires").get<std::string>() + ")";
}

// ", expires in 1m 30s (...)" for a rule that expires, else nothing.
std::string expiry_clause(const json &rule)
{
    return rule.at("expires_in_s").is_null() ? "" : ", expires " + expiry_text(rule);
}

// "/var/lib/ratelimitd/runtime-rules.json: saved", or why not.
std::string state_file_text(const json &file)
{
    const std::string path = file.at("path").get<std::string>();
    if (file.at("saved").get<bool>())
        return path + ": saved";
    return path + ": NOT SAVED (failed writes: " + number(file.at("write_failures")) +
           "; retrying): " + file.at("error").get<std::string>();
}

void status(const json &result, std::ostream &out)
{
    Table table;
    table.add({"ratelimitd", result.at("version").get<std::string>() + ", up " +
                                 duration_text(result.at("uptime_s").get<std::int64_t>())});
    table.add({"config", result.at("config").get<std::string>()});
    table.add({"mode", result.at("mode").get<std::string>()});
    for (const auto &interface : result.at("interfaces"))
        table.add({"interface", interface.at("name").get<std::string>() + ": XDP " +
                                    interface.at("xdp_mode").get<std::string>() + ", program " +
                                    number(interface.at("program_id"))});
    const json &reload = result.at("last_reload");
    table.add({"last reload", reload.at("time").get<std::string>() + " " +
                                  (reload.at("ok").get<bool>() ? "ok" : "REFUSED") + ": " +
                                  reload.at("message").get<std::string>()});
    const json &rules = result.at("rules");
    table.add({"rules", number(rules.at("config")) + " config, " + number(rules.at("runtime")) +
                            " runtime"});
    table.add({"passed", count_text(result.at("totals").at("passed"))});
    table.add({"dropped", count_text(result.at("totals").at("dropped"))});
    const auto tracked = result.at("tracked_sources").get<std::uint64_t>();
    const auto capacity = result.at("max_sources").get<std::uint64_t>();
    table.add({"tracked sources",
               std::to_string(tracked) + " of " + std::to_string(capacity) + " (" +
                   fixed(capacity ? 100.0 * double(tracked) / double(capacity) : 0, 1) +
                   "% full)"});
    const json &pins = result.at("pins");
    table.add({"pins", pins.at("dir").get<std::string>() +
                           (pins.at("warning").is_null()
                                ? ""
                                : "; WARNING: " + pins.at("warning").get<std::string>())});
    for (const auto &file : result.at("state_files"))
        table.add({"state file", state_file_text(file)});
    table.print(out);
}

void list(const json &result, std::ostream &out)
{
    const json &fallback = result.at("default");
    out << "default: "
        << (fallback.is_null() ? "none (sources no rule matches are not limited)"
                               : limits_text(fallback))
        << "\n\nconfig rules:\n";
    Table config({"MATCH", "ACTION", "LIMITS", "MODE", "NOTE"});
    for (const auto &rule : result.at("config"))
        config.add({rule.at("match").get<std::string>(), rule.at("action").get<std::string>(),
                    limits_text(rule), mode_text(rule),
                    rule.at("overridden").get<bool>() ? "overridden by a runtime rule" : ""});
    config.print(out);
    out << "\nruntime rules:\n";
    Table runtime({"MATCH", "ACTION", "LIMITS", "MODE", "EXPIRES"});
    for (const auto &rule : result.at("runtime"))
        runtime.add({rule.at("match").get<std::string>(), rule.at("action").get<std::string>(),
                     limits_text(rule), mode_text(rule), expiry_text(rule)});
    runtime.print(out);
}

// After a change of the runtime rules that is in force but not in the state file.
void not_saved_warning(const json &file, std::ostream &out)
{
    if (!file.at("saved").get<bool>())
        out << "warning: in force, but not in the state file yet: a restart before the daemon "
               "can write it undoes this change. "
            << state_file_text(file) << "\n";
}

void runtime_rule_added(const json &result, std::ostream &out)
{
    const json &rule = result.at("rule");
    out << "runtime rule " << (result.at("replaced").get<bool>() ? "replaced" : "added") << ": "
        << rule_text(rule) << expiry_clause(rule) << "\n";
    if (result.at("overrides_config").get<bool>())
        out << "it overrides the config rule for " << rule.at("match").get<std::string>()
            << " while it exists\n";
    not_saved_warning(result.at("state_file"), out);
}

void runtime_rule_removed(const json &result, std::ostream &out)
{
    out << "runtime rule removed: " << rule_text(result.at("removed")) << "\n";
    if (const json &configured = result.at("config_rule"); !configured.is_null())
        out << "the config rule applies again: " << rule_text(configured) << "\n";
    not_saved_warning(result.at("state_file"), out);
}

void show(const json &result, std::ostream &out)
{
    Table fields;
    fields.add({"address", result.at("address").get<std::string>()});
    const json &applies = result.at("rule");
    if (applies.is_null()) {
        fields.add({"rule", "none"});
    } else {
        const json &rule = applies.at("rule");
        const std::string origin = applies.at("origin").get<std::string>();
        std::string text = origin == "default"
                               ? "default for " + applies.at("prefix").get<std::string>() + ": " +
                                     limits_text(rule)
                               : origin + " rule " + rule_text(rule);
        if (origin == "runtime")
            text += expiry_clause(rule);
        fields.add({"rule", text});
    }
    fields.add({"why", result.at("why").get<std::string>()});
    fields.add({"tracked", result.at("tracked").get<bool>() ? "yes" : "no"});
    fields.add({"passed", count_text(result.at("traffic").at("passed"))});
    fields.add({"dropped", count_text(result.at("traffic").at("dropped"))});
    fields.print(out);
    const json &buckets = result.at("buckets");
    if (buckets.empty())
        return;
    out << "\n";
    Table table({"LIMIT", "PER", "BUCKET", "TOKENS NOW"});
    for (const auto &bucket : buckets)
        table.add({number(bucket.at("limit")), bucket.at("per").get<std::string>(),
                   bucket.at("key").get<std::string>(),
                   number(bucket.at("tokens")) + " of " + number(bucket.at("burst")) + " " +
                       bucket.at("unit").get<std::string>()});
    table.print(out);
}

void top(const json &result, std::ostream &out)
{
    const std::string by = result.at("by").get<std::string>();
    // The rate shown is of what the sources are ranked by.
    const std::string rate_key = by == "drops" ? "dropped" : by;
    std::string rate_header = by + "/s";
    std::ranges::transform(rate_header, rate_header.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    Table table({"ADDRESS", "PACKETS", "DROPPED", "BYTES", rate_header});
    for (const auto &source : result.at("sources")) {
        const json &passed = source.at("passed"), &dropped = source.at("dropped");
        const json &rates = source.at("per_second");
        table.add({source.at("address").get<std::string>(),
                   std::to_string(passed.at("packets").get<std::uint64_t>() +
                                  dropped.at("packets").get<std::uint64_t>()),
                   number(dropped.at("packets")),
                   std::to_string(passed.at("bytes").get<std::uint64_t>() +
                                  dropped.at("bytes").get<std::uint64_t>()),
                   rates.is_null() ? "-" : fixed(rates.at(rate_key).get<double>(), 1)});
    }
    table.print(out);
    const json &interval = result.at("interval_s");
    out << "\n"
        << number(result.at("scanned")) << " sources with traffic; "
        << (interval.is_null() ? "rates from the next sample on"
                               : "rates over the last " + fixed(interval.get<double>(), 1) +
                                     " s, for sources listed then too")
        << "\n";
}

void stats(const json &result, std::ostream &out)
{
    Table table({"INTERFACE", "REASON", "VERDICT", "PACKETS", "BYTES"});
    bool counted = false;
    for (const auto &interface : result.at("interfaces")) {
        for (const auto &counter : interface.at("counters")) {
            if (counter.at("packets").get<std::uint64_t>() == 0)
                continue;
            counted = true;
            table.add({interface.at("name").get<std::string>(),
                       counter.at("reason").get<std::string>(),
                       counter.at("verdict").get<std::string>(), number(counter.at("packets")),
                       number(counter.at("bytes"))});
        }
    }
    if (counted)
        table.print(out);
    else
        out << "no packets counted yet\n";
}

void flush(const json &result, std::ostream &out)
{
    const json &match = result.at("match");
    out << "forgot the buckets of " << number(result.at("sources")) << " sources and "
        << number(result.at("blocks")) << " /N blocks";
    if (match.is_null())
        out << ", and refilled " << number(result.at("rule_buckets")) << " per-rule buckets\n";
    else
        out << " in " << match.get<std::string>() << "\n";
}

void reload(const json &result, std::ostream &out)
{
    out << "reloaded at " << result.at("time").get<std::string>() << ": "
        << result.at("message").get<std::string>() << "\n";
}

} // namespace

void render(Command command, const json &result, std::ostream &out)
{
    switch (command) {
    case Command::Status:
        return status(result, out);
    case Command::List:
        return list(result, out);
    case Command::Set:
    case Command::Allow:
    case Command::Deny:
        return runtime_rule_added(result, out);
    case Command::Unset:
        return runtime_rule_removed(result, out);
    case Command::Show:
        return show(result, out);
    case Command::Top:
        return top(result, out);
    case Command::Stats:
        return stats(result, out);
    case Command::Flush:
        return flush(result, out);
    case Command::Reload:
        return reload(result, out);
    }
}

} // namespace ratelimit::ctl
