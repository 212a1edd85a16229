// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/runtime_store.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "json/reader.hpp"
#include "json/text.hpp"
#include "policy/rule_json.hpp"
#include "state/state_file.hpp"

namespace ratelimit
{

namespace
{

namespace chrono = std::chrono;
using nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr std::string_view kFileFields[] = {"version", "rules"};
constexpr std::string_view kExampleTime = "2026-11-29T08:00:00Z";

// ----- RFC 3339 UTC times --------------------------------------------

bool take(std::string_view &rest, char expected)
{
    if (!rest.starts_with(expected))
        return false;
    rest.remove_prefix(1);
    return true;
}

// Exactly `count` decimal digits, no sign.
bool take_digits(std::string_view &rest, std::size_t count, unsigned &value)
{
    if (rest.size() < count)
        return false;
    const char *last = rest.data() + count;
    auto [end, error] = std::from_chars(rest.data(), last, value);
    if (error != std::errc() || end != last)
        return false;
    rest.remove_prefix(count);
    return true;
}

// ".5" to ".123456789" after the seconds.
bool take_fraction(std::string_view &rest, chrono::nanoseconds &fraction)
{
    constexpr std::size_t kMaxDigits = 9;
    const std::size_t count = std::min(rest.find_first_not_of("0123456789"), rest.size());
    unsigned value = 0;
    if (count == 0 || count > kMaxDigits || !take_digits(rest, count, value))
        return false;
    for (std::size_t digit = count; digit < kMaxDigits; digit++)
        value *= 10;
    fraction = chrono::nanoseconds(value);
    return true;
}

struct CivilTime {
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    chrono::nanoseconds fraction{0};
};

std::optional<CivilTime> split_utc(std::string_view text)
{
    CivilTime time;
    std::string_view rest = text;
    const bool fields =
        take_digits(rest, 4, time.year) && take(rest, '-') && take_digits(rest, 2, time.month) &&
        take(rest, '-') && take_digits(rest, 2, time.day) && take(rest, 'T') &&
        take_digits(rest, 2, time.hour) && take(rest, ':') && take_digits(rest, 2, time.minute) &&
        take(rest, ':') && take_digits(rest, 2, time.second);
    if (!fields || (take(rest, '.') && !take_fraction(rest, time.fraction)))
        return std::nullopt;
    if (!take(rest, 'Z') || !rest.empty())
        return std::nullopt;
    return time;
}

} // namespace

std::optional<WallClock::time_point> parse_utc(std::string_view text)
{
    auto time = split_utc(text);
    if (!time)
        return std::nullopt;
    const chrono::year_month_day date{chrono::year(static_cast<int>(time->year)),
                                      chrono::month(time->month), chrono::day(time->day)};
    if (!date.ok() || time->hour > 23 || time->minute > 59 || time->second > 59)
        return std::nullopt;
    const chrono::sys_seconds whole = chrono::sys_days(date) + chrono::hours(time->hour) +
                                      chrono::minutes(time->minute) + chrono::seconds(time->second);
    // Whole seconds strictly inside the clock's range leave room for the fraction.
    if (whole < chrono::ceil<chrono::seconds>(WallClock::time_point::min()) ||
        whole >= chrono::floor<chrono::seconds>(WallClock::time_point::max()))
        return std::nullopt;
    return chrono::time_point_cast<WallClock::duration>(whole) +
           chrono::duration_cast<WallClock::duration>(time->fraction);
}

namespace
{

// ----- reading the file ----------------------------------------------

std::optional<WallClock::time_point> read_expiry(const json &expires, const std::string &path,
                                                 JsonErrors &errors)
{
    const std::string like = "an RFC 3339 UTC time like \"" + std::string(kExampleTime) + "\"";
    if (!expires.is_string()) {
        errors.push_back({path, "must be " + like + ", not " + json_text(expires)});
        return std::nullopt;
    }
    auto time = parse_utc(expires.get<std::string>());
    if (!time)
        errors.push_back({path, json_text(expires) + " is not " + like +
                                    " (a real date and time, 1678 .. 2261)"});
    return time;
}

// One element of "rules": a rule object as parse_rule takes it, plus "expires".
std::optional<RuntimeRule> read_runtime_rule(json element, const std::string &path,
                                             JsonErrors &errors)
{
    if (!element.is_object()) {
        errors.push_back({path, "must be a rule object, not " + json_text(element)});
        return std::nullopt;
    }
    const std::size_t errors_before = errors.size();
    RuntimeRule runtime;
    if (auto expires = element.find("expires"); expires != element.end()) {
        runtime.expires = read_expiry(*expires, path + ".expires", errors);
        element.erase(expires);
    }
    auto parsed = parse_rule(element, path);
    std::ranges::move(parsed.errors, std::back_inserter(errors));
    if (parsed.value)
        if (auto problem = runtime_rule_problem(*parsed.value))
            errors.push_back({path + ".match", *problem});
    if (errors.size() != errors_before)
        return std::nullopt;
    runtime.rule = std::move(*parsed.value);
    return runtime;
}

std::vector<RuntimeRule> read_rule_list(const json &list, JsonErrors &errors)
{
    std::vector<RuntimeRule> rules;
    DistinctPrefixes distinct;
    DistinctNames names;
    for (std::size_t i = 0; i < list.size(); i++) {
        auto rule = read_runtime_rule(list[i], json_element_path("rules", i), errors);
        if (rule && distinct.add(rule->rule, "rules", i, errors) &&
            names.add(rule->rule, "rules", i, errors))
            rules.push_back(std::move(*rule));
    }
    return rules;
}

// The top level: {"version": 1, "rules": [...]}.
std::vector<RuntimeRule> read_file_object(const json &root, JsonErrors &errors)
{
    if (!root.is_object()) {
        errors.push_back({"", "the file must be an object {\"version\": 1, \"rules\": [...]}, "
                              "not " +
                                  json_text(root)});
        return {};
    }
    for (const auto &unknown : unknown_fields(root, kFileFields))
        errors.push_back({unknown.key, "unknown field" + unknown.suggestion});
    auto version = root.find("version");
    if (version == root.end()) {
        errors.push_back({"version", "missing (required)"});
        return {};
    }
    if (*version != kFormatVersion) {
        errors.push_back({"version", json_text(*version) + " is not a version this ratelimitd " +
                                         "reads (" + std::to_string(kFormatVersion) + ")"});
        return {}; // the rules of another version are not this version's to judge
    }
    auto list = root.find("rules");
    if (list == root.end())
        errors.push_back({"rules", "missing (required)"});
    else if (!list->is_array())
        errors.push_back({"rules", "must be a list of rules, not " + json_text(*list)});
    else
        return read_rule_list(*list, errors);
    return {};
}

// The rules of a file's text, or every problem in it.
Validated<std::vector<RuntimeRule>> read_rule_file(std::string_view text)
{
    JsonDocument document = read_json(text, {.max_bytes = config::kMaxConfigBytes});
    if (!document.value)
        return {std::nullopt, std::move(document.errors)};
    JsonErrors errors;
    auto rules = read_file_object(*document.value, errors);
    return Validated<std::vector<RuntimeRule>>::checked(std::move(rules), std::move(errors));
}

// ----- writing the file ----------------------------------------------

std::string file_text(const std::vector<RuntimeRule> &rules)
{
    json list = json::array();
    for (const auto &runtime : rules)
        list.push_back(runtime_rule_to_json(runtime));
    const json file = {{"version", kFormatVersion}, {"rules", std::move(list)}};
    return file.dump(2) + "\n";
}

} // namespace

json runtime_rule_to_json(const RuntimeRule &runtime)
{
    json object = rule_to_json(runtime.rule);
    if (runtime.expires)
        object["expires"] = format_utc(*runtime.expires);
    return object;
}

std::string format_utc(WallClock::time_point time)
{
    const auto day = chrono::floor<chrono::days>(time);
    const chrono::year_month_day date{day};
    const chrono::hh_mm_ss clock{chrono::duration_cast<chrono::nanoseconds>(time - day)};
    char text[80];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d", int(date.year()),
                  unsigned(date.month()), unsigned(date.day()), int(clock.hours().count()),
                  int(clock.minutes().count()), int(clock.seconds().count()));
    std::string written = text;
    if (const long long nanoseconds = clock.subseconds().count(); nanoseconds != 0) {
        std::snprintf(text, sizeof text, ".%09lld", nanoseconds);
        std::string fraction = text;
        fraction.erase(fraction.find_last_not_of('0') + 1); // ".250000000" as ".25"
        written += fraction;
    }
    return written + "Z";
}

RuntimeStore::RuntimeStore(std::string path) : path_(std::move(path)) {}

std::vector<RuntimeRule> RuntimeStore::load() const
{
    auto text = read_state_file(path_, config::kMaxConfigBytes);
    if (!text)
        return {};
    auto rules = read_rule_file(*text);
    if (!rules.value)
        throw std::runtime_error(join_errors(rules.errors, "\n", path_ + ": "));
    return std::move(*rules.value);
}

void RuntimeStore::save(const std::vector<RuntimeRule> &rules) const
{
    replace_state_file(path_, file_text(rules));
}

EditCounts apply_edits(std::vector<RuntimeRule> &rules, std::vector<RuntimeEdit> edits)
{
    std::vector<std::optional<RuntimeRule>> slots(std::make_move_iterator(rules.begin()),
                                                  std::make_move_iterator(rules.end()));
    std::map<Prefix, std::size_t> slot_of; // the rules in force, by prefix
    for (std::size_t i = 0; i < slots.size(); i++)
        slot_of.emplace(slots[i]->rule.match.front(), i);
    EditCounts counts;
    for (std::size_t i = 0; i < edits.size(); i++) {
        if (auto *rule = std::get_if<RuntimeRule>(&edits[i])) {
            auto [found, added] = slot_of.try_emplace(rule->rule.match.front(), slots.size());
            if (added)
                slots.emplace_back(std::move(*rule));
            else
                slots[found->second] = std::move(*rule);
            (added ? counts.added : counts.replaced)++;
        } else if (!std::holds_alternative<RemoveAllRules>(edits[i])) {
            // By prefix, or by name: names are few and an unset by name is a person's command,
            // so a look at each rule.
            const auto *name = std::get_if<std::string>(&edits[i]);
            auto found =
                name ? std::ranges::find_if(slot_of,
                                            [&](const auto &entry) {
                                                return slots[entry.second]->rule.name == *name;
                                            })
                     : slot_of.find(std::get<Prefix>(edits[i]));
            if (found == slot_of.end()) {
                counts.not_found.push_back(i);
                continue;
            }
            slots[found->second].reset();
            slot_of.erase(found);
            counts.removed++;
        } else {
            counts.removed += slot_of.size();
            slot_of.clear();
            slots.clear();
        }
    }
    rules.clear();
    for (auto &slot : slots)
        if (slot)
            rules.push_back(std::move(*slot));
    return counts;
}

void upsert(std::vector<RuntimeRule> &rules, RuntimeRule rule)
{
    apply_edits(rules, {std::move(rule)});
}

bool remove(std::vector<RuntimeRule> &rules, const Prefix &prefix)
{
    return apply_edits(rules, {prefix}).not_found.empty();
}

std::vector<RuntimeRule> drop_expired(std::vector<RuntimeRule> &rules, WallClock::time_point now)
{
    // As desired_rules: a rule is in force while its expiry is after now.
    auto in_force = [now](const RuntimeRule &runtime) {
        return !runtime.expires || *runtime.expires > now;
    };
    auto expired = std::stable_partition(rules.begin(), rules.end(), in_force);
    std::vector<RuntimeRule> dropped(std::make_move_iterator(expired),
                                     std::make_move_iterator(rules.end()));
    rules.erase(expired, rules.end());
    return dropped;
}

std::optional<WallClock::time_point> next_expiry(const std::vector<RuntimeRule> &rules)
{
    std::optional<WallClock::time_point> earliest;
    for (const auto &runtime : rules)
        if (runtime.expires && (!earliest || *runtime.expires < *earliest))
            earliest = runtime.expires;
    return earliest;
}

} // namespace ratelimit
