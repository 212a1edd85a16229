// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "render.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

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

// One limit object of a rule, its numbers in base units, in human units: "100pps burst 200 per
// source", "10Mbit burst 256KiB per /24".
std::string limit_text(const json &limit)
{
    std::string text;
    if (limit.contains("rate"))
        text = config::format_packet_rate(limit.at("rate").get<std::uint64_t>()) + " burst " +
               number(limit.at("burst"));
    else
        text = config::format_bit_rate(limit.at("bytes").get<std::uint64_t>()) + " burst " +
               config::format_size(limit.at("byte_burst").get<std::uint64_t>());
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

// "passed", "dropped" and, when monitor mode passed some, "would drop".
void add_traffic_rows(Table &table, const json &traffic)
{
    table.add({"passed", count_text(traffic.at("passed"))});
    table.add({"dropped", count_text(traffic.at("dropped"))});
    if (const json &would = traffic.at("would_drop"); would.at("packets") != 0)
        table.add({"would drop", count_text(would) + " (passed: monitor mode)"});
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
    add_traffic_rows(table, result.at("totals"));
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
    Table config({"MATCH", "ACTION", "LIMITS", "MODE", "NOTE", "COMMENT"});
    for (const auto &rule : result.at("config"))
        config.add({rule.at("match").get<std::string>(), rule.at("action").get<std::string>(),
                    limits_text(rule), mode_text(rule),
                    rule.at("overridden").get<bool>() ? "overridden by a runtime rule" : "",
                    rule.value("comment", "")});
    config.print(out);
    out << "\nruntime rules:\n";
    Table runtime({"MATCH", "ACTION", "LIMITS", "MODE", "EXPIRES", "COMMENT"});
    for (const auto &rule : result.at("runtime"))
        runtime.add({rule.at("match").get<std::string>(), rule.at("action").get<std::string>(),
                     limits_text(rule), mode_text(rule), expiry_text(rule),
                     rule.value("comment", "")});
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
    add_traffic_rows(fields, result.at("traffic"));
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

// A source's totals in a top sample: all its packets, its drops, its would-drops, all its bytes.
struct SourceTotals {
    std::uint64_t packets = 0, dropped = 0, would_drop = 0, bytes = 0;
};

SourceTotals totals_of(const json &source)
{
    const json &passed = source.at("passed"), &dropped = source.at("dropped");
    auto sum = [&](const char *key) {
        return passed.at(key).get<std::uint64_t>() + dropped.at(key).get<std::uint64_t>();
    };
    return {sum("packets"), dropped.at("packets").get<std::uint64_t>(),
            source.at("would_drop").at("packets").get<std::uint64_t>(), sum("bytes")};
}

// Per second from `before` to `now`; null if a count went back (the source was forgotten and
// came back) or no time passed.
json rates(const SourceTotals &before, const SourceTotals &now, double seconds)
{
    if (seconds <= 0 || now.packets < before.packets || now.dropped < before.dropped ||
        now.would_drop < before.would_drop || now.bytes < before.bytes)
        return nullptr;
    auto per_second = [seconds](std::uint64_t later, std::uint64_t earlier) {
        return static_cast<double>(later - earlier) / seconds;
    };
    return {{"packets", per_second(now.packets, before.packets)},
            {"dropped", per_second(now.dropped, before.dropped)},
            {"would_drop", per_second(now.would_drop, before.would_drop)},
            {"bytes", per_second(now.bytes, before.bytes)}};
}

void top(const json &result, std::ostream &out)
{
    const std::string by = result.at("by").get<std::string>();
    std::string rate_header = by + "/s";
    std::ranges::transform(rate_header, rate_header.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    // The rate shown is of what the sources are ranked by; would-drops rank as drops.
    auto rate_of = [&by](const json &rates) {
        if (by == "drops")
            return rates.at("dropped").get<double>() + rates.at("would_drop").get<double>();
        return rates.at(by).get<double>();
    };
    Table table({"ADDRESS", "PACKETS", "DROPPED", "WOULD DROP", "BYTES", rate_header});
    for (const auto &source : result.at("sources")) {
        const SourceTotals totals = totals_of(source);
        const json &rates = source.at("per_second");
        table.add({source.at("address").get<std::string>(), std::to_string(totals.packets),
                   std::to_string(totals.dropped), std::to_string(totals.would_drop),
                   std::to_string(totals.bytes), rates.is_null() ? "-" : fixed(rate_of(rates), 1)});
    }
    table.print(out);
    out << "\n"
        << number(result.at("scanned")) << " sources with traffic; rates over the last "
        << fixed(result.at("interval_s").get<double>(), 1) << " s\n";
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

json top_with_rates(const json &earlier, const json &later, std::size_t count)
{
    const double seconds = static_cast<double>(later.at("sampled_at_ms").get<std::int64_t>() -
                                               earlier.at("sampled_at_ms").get<std::int64_t>()) /
                           1000;
    std::map<std::string, SourceTotals> before;
    for (const auto &source : earlier.at("sources"))
        before.emplace(source.at("address").get<std::string>(), totals_of(source));
    // A sample that lists every source with traffic shows that one it does not list had none.
    const bool listed_all = earlier.at("scanned").get<std::size_t>() == before.size();
    json sources = json::array();
    for (const auto &source : later.at("sources")) {
        if (sources.size() == count)
            break;
        json row = source;
        auto found = before.find(source.at("address").get<std::string>());
        if (found != before.end())
            row["per_second"] = rates(found->second, totals_of(source), seconds);
        else
            row["per_second"] = listed_all ? rates({}, totals_of(source), seconds) : json(nullptr);
        sources.push_back(std::move(row));
    }
    return {{"by", later.at("by")},
            {"scanned", later.at("scanned")},
            {"interval_s", seconds},
            {"sources", std::move(sources)}};
}

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
