// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "control/results.hpp"

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "policy/names.hpp"
#include "policy/rule_json.hpp"

namespace ratelimit::control
{

namespace
{

using nlohmann::json;

constexpr char kRoot[] = "result";

std::string describe(const json &value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::runtime_error malformed(const std::string &path, const std::string &problem)
{
    return std::runtime_error(path + ": " + problem);
}

template <typename T>
json nullable(const std::optional<T> &value)
{
    return value ? json(*value) : json(nullptr);
}

// The fields of one object of a result, each checked as it is read.
class Fields
{
  public:
    Fields(const json &object, std::string path) : object_(object), path_(std::move(path))
    {
        if (!object.is_object())
            throw malformed(path_, "must be an object, not " + describe(object));
    }

    const std::string &path() const { return path_; }
    std::string path(std::string_view key) const { return path_ + "." + std::string(key); }
    const json &object() const { return object_; }

    const json &at(std::string_view key) const
    {
        auto found = object_.find(key);
        if (found == object_.end())
            throw malformed(path(key), "missing");
        return *found;
    }
    bool is_null(std::string_view key) const { return at(key).is_null(); }

    Fields object(std::string_view key) const { return {at(key), path(key)}; }

    std::string text(std::string_view key) const
    {
        return typed<std::string>(key, &json::is_string, "a string");
    }
    std::optional<std::string> text_or_null(std::string_view key) const
    {
        return is_null(key) ? std::nullopt : std::optional(text(key));
    }
    bool flag(std::string_view key) const
    {
        return typed<bool>(key, &json::is_boolean, "true or false");
    }
    std::uint64_t whole(std::string_view key) const
    {
        const json &value = at(key);
        if (!value.is_number_unsigned() && !(value.is_number_integer() && value >= 0))
            throw malformed(path(key), "must be a whole number, not " + describe(value));
        return value.get<std::uint64_t>();
    }
    std::uint32_t whole32(std::string_view key) const
    {
        const std::uint64_t value = whole(key);
        if (value > UINT32_MAX)
            throw malformed(path(key), "must be at most " + std::to_string(UINT32_MAX));
        return static_cast<std::uint32_t>(value);
    }
    std::int64_t integer(std::string_view key) const
    {
        return typed<std::int64_t>(key, &json::is_number_integer, "an integer");
    }
    double number(std::string_view key) const
    {
        return typed<double>(key, &json::is_number, "a number");
    }

    Prefix prefix(std::string_view key) const
    {
        auto prefix = parse_prefix(text(key));
        if (!prefix)
            throw malformed(path(key), "not a prefix: " + describe(at(key)));
        return *prefix;
    }
    Address address(std::string_view key) const
    {
        auto address = parse_address(text(key));
        if (!address)
            throw malformed(path(key), "not an address: " + describe(at(key)));
        return *address;
    }
    template <typename T, std::size_t N>
    T word(std::string_view key, const Spellings<T, N> &names) const
    {
        auto value = value_of(names, text(key));
        if (!value)
            throw malformed(path(key), describe(at(key)) + " is not one of " + list_names(names));
        return *value;
    }

    // The elements of the list at `key`, each read by read(element, its path).
    template <typename Read>
    auto list(std::string_view key, Read read) const
    {
        const json &elements = at(key);
        if (!elements.is_array())
            throw malformed(path(key), "must be a list, not " + describe(elements));
        std::vector<decltype(read(elements, path_))> read_elements;
        for (std::size_t i = 0; i < elements.size(); i++)
            read_elements.push_back(read(elements[i], path(key) + "[" + std::to_string(i) + "]"));
        return read_elements;
    }

  private:
    template <typename T>
    T typed(std::string_view key, bool (json::*is)() const noexcept, const char *what) const
    {
        const json &value = at(key);
        if (!(value.*is)())
            throw malformed(path(key), std::string("must be ") + what + ", not " + describe(value));
        return value.get<T>();
    }

    const json &object_;
    std::string path_;
};

// ----- rules: the one pair this module reads and writes them with ----

json write_rule(const Rule &rule)
{
    return rule_to_json(rule);
}

// A rule object as the config file states it; `annotations` are the result's own fields on it
// ("overridden", "expires"), left for the caller to read.
Rule read_rule(const Fields &fields, const std::vector<std::string_view> &annotations)
{
    json rule = fields.object();
    for (std::string_view annotation : annotations)
        rule.erase(std::string(annotation));
    // A config rule of a "match_file" is listed by the file's name, not its prefixes.
    auto parsed = parse_rule(rule, fields.path(), {MatchFiles::Use::Name});
    if (!parsed.value)
        throw std::runtime_error(join_errors(parsed.errors));
    return std::move(*parsed.value);
}

Rule read_rule(const json &rule, const std::string &path)
{
    return read_rule(Fields(rule, path), {});
}

json write_default(const DefaultLimits &limits)
{
    // The default covers every source: its "/N" is spelled as for a rule on any prefix.
    return {{"limits", limits_to_json(limits.limits, Prefix{})}};
}

DefaultLimits read_default(const json &object, const std::string &path)
{
    const Fields fields(object, path);
    // The default's limits are a rule's, without the rule: read as those of a rule for every
    // source.
    const json rule = {{"match", "::/0"},
                       {"action", name_of(kActionNames, RL_ACTION_LIMIT)},
                       {"limits", fields.at("limits")}};
    return {read_rule(Fields(rule, path), {}).limits};
}

json write_runtime_rule(const RuntimeRuleEntry &entry)
{
    json object = write_rule(entry.rule);
    if (entry.expires)
        object["expires"] = *entry.expires;
    return object;
}

RuntimeRuleEntry read_runtime_rule(const Fields &fields, std::vector<std::string_view> annotations)
{
    annotations.push_back("expires");
    RuntimeRuleEntry entry;
    entry.rule = read_rule(fields, annotations);
    if (fields.object().contains("expires"))
        entry.expires = fields.text("expires");
    return entry;
}

RuntimeRuleEntry read_runtime_rule(const json &rule, const std::string &path)
{
    return read_runtime_rule(Fields(rule, path), {});
}

json write_active_rule(const ActiveRuntimeRule &rule)
{
    json object = write_runtime_rule(rule);
    object["expires_in_s"] = nullable(rule.expires_in_s);
    return object;
}

ActiveRuntimeRule read_active_rule(const json &rule, const std::string &path)
{
    const Fields fields(rule, path);
    ActiveRuntimeRule active{read_runtime_rule(fields, {"expires_in_s"}), std::nullopt};
    if (!fields.is_null("expires_in_s")) {
        active.expires_in_s = fields.integer("expires_in_s");
        if (!active.expires)
            throw malformed(fields.path("expires"), "missing (the rule expires)");
    }
    return active;
}

// ----- shared pieces -------------------------------------------------

json write_count(const Count &count)
{
    return {{"packets", count.packets}, {"bytes", count.bytes}};
}

Count read_count(const Fields &fields)
{
    return {fields.whole("packets"), fields.whole("bytes")};
}

// Traffic's fields, added to `object`: a source in top holds them beside its address.
void add_traffic(json &object, const Traffic &traffic)
{
    object["passed"] = write_count(traffic.passed);
    object["dropped"] = write_count(traffic.dropped);
    object["would_drop"] = write_count(traffic.would_drop);
}

json write_traffic(const Traffic &traffic)
{
    json object = json::object();
    add_traffic(object, traffic);
    return object;
}

Traffic read_traffic(const Fields &fields)
{
    return {read_count(fields.object("passed")), read_count(fields.object("dropped")),
            read_count(fields.object("would_drop"))};
}

json write_state_file(const StateFileStatus &file)
{
    return {{"path", file.path},
            {"saved", file.saved},
            {"write_failures", file.write_failures},
            {"error", nullable(file.error)}};
}

StateFileStatus read_state_file(const json &file, const std::string &path)
{
    const Fields fields(file, path);
    return {fields.text("path"), fields.flag("saved"), fields.whole("write_failures"),
            fields.text_or_null("error")};
}

// ----- status --------------------------------------------------------

json write_interface(const InterfaceStatus &interface)
{
    return {{"name", interface.name},
            {"xdp_mode", interface.xdp_mode},
            {"program_id", interface.program_id}};
}

InterfaceStatus read_interface(const json &interface, const std::string &path)
{
    const Fields fields(interface, path);
    return {fields.text("name"), fields.text("xdp_mode"), fields.whole32("program_id")};
}

// ----- show ----------------------------------------------------------

json write_bucket(const BucketStatus &bucket)
{
    return {{"limit", bucket.limit},   {"unit", name_of(kUnitNames, bucket.unit)},
            {"per", bucket.per},       {"key", bucket.key},
            {"tokens", bucket.tokens}, {"burst", bucket.burst}};
}

BucketStatus read_bucket(const json &bucket, const std::string &path)
{
    const Fields fields(bucket, path);
    return {fields.whole32("limit"), fields.word("unit", kUnitNames), fields.text("per"),
            fields.text("key"),      fields.whole("tokens"),          fields.whole("burst")};
}

json write_applied(const AppliedRule &applied)
{
    json rule = std::visit(
        [](const auto &stated) -> json {
            using Stated = std::decay_t<decltype(stated)>;
            if constexpr (std::is_same_v<Stated, DefaultLimits>)
                return write_default(stated);
            else if constexpr (std::is_same_v<Stated, Rule>)
                return write_rule(stated);
            else
                return write_active_rule(stated);
        },
        applied.rule);
    return {{"origin", name_of(kOriginNames, applied.origin())},
            {"prefix", applied.prefix.to_string()},
            {"rule", std::move(rule)}};
}

AppliedRule read_applied(const Fields &fields)
{
    AppliedRule applied{fields.prefix("prefix"), DefaultLimits{}};
    const json &rule = fields.at("rule");
    const std::string path = fields.path("rule");
    switch (fields.word("origin", kOriginNames)) {
    case Origin::Default:
        applied.rule = read_default(rule, path);
        break;
    case Origin::Config:
        applied.rule = read_rule(rule, path);
        break;
    case Origin::Runtime:
        applied.rule = read_active_rule(rule, path);
        break;
    }
    return applied;
}

// ----- top -----------------------------------------------------------

SourceTraffic read_source(const json &source, const std::string &path)
{
    const Fields fields(source, path);
    SourceTraffic read{fields.address("address"), read_traffic(fields), ""};
    if (source.is_object() && source.contains("rule"))
        read.rule = fields.text("rule");
    return read;
}

// ----- stats ---------------------------------------------------------

json write_counter(const ReasonCount &counter)
{
    json object = write_count(counter.count);
    object["reason"] = name_of(kReasonNames, counter.reason);
    object["verdict"] = name_of(kVerdictNames, counter.verdict);
    return object;
}

ReasonCount read_counter(const json &counter, const std::string &path)
{
    const Fields fields(counter, path);
    return {fields.word("reason", kReasonNames), fields.word("verdict", kVerdictNames),
            read_count(fields)};
}

json write_interface_counters(const InterfaceCounters &interface)
{
    json counters = json::array();
    for (const auto &counter : interface.counters)
        counters.push_back(write_counter(counter));
    return {{"name", interface.name}, {"slot", interface.slot}, {"counters", std::move(counters)}};
}

InterfaceCounters read_interface_counters(const json &interface, const std::string &path)
{
    const Fields fields(interface, path);
    return {fields.text("name"), fields.whole32("slot"), fields.list("counters", read_counter)};
}

json write_rule_stats(const RuleStats &rule)
{
    json counters = json::array();
    for (const auto &counter : rule.counters)
        counters.push_back(write_counter(counter));
    return {{"rule", rule.rule}, {"counters", std::move(counters)}};
}

RuleStats read_rule_stats(const json &rule, const std::string &path)
{
    const Fields fields(rule, path);
    return {fields.text("rule"), fields.list("counters", read_counter)};
}

// Each element of `elements` written by `write`, as a JSON list.
template <typename T, typename Write>
json write_list(const std::vector<T> &elements, Write write)
{
    json list = json::array();
    for (const auto &element : elements)
        list.push_back(write(element));
    return list;
}

} // namespace

Traffic traffic_of(const rl_source_counters &counters)
{
    const auto &packets = counters.packets, &bytes = counters.bytes;
    return {{packets[RL_OUTCOME_PASSED] + packets[RL_OUTCOME_WOULD_DROP],
             bytes[RL_OUTCOME_PASSED] + bytes[RL_OUTCOME_WOULD_DROP]},
            {packets[RL_OUTCOME_DROPPED], bytes[RL_OUTCOME_DROPPED]},
            {packets[RL_OUTCOME_WOULD_DROP], bytes[RL_OUTCOME_WOULD_DROP]}};
}

json encode_result(const StatusResult &result)
{
    return {
        {"version", result.version},
        {"uptime_s", result.uptime_s},
        {"config", result.config},
        {"mode", name_of(kModeNames, result.mode)},
        {"interfaces", write_list(result.interfaces, write_interface)},
        {"last_reload",
         {{"time", result.last_reload.time},
          {"ok", result.last_reload.ok},
          {"message", result.last_reload.message}}},
        {"rules", {{"config", result.rules.config}, {"runtime", result.rules.runtime}}},
        {"totals", write_traffic(result.totals)},
        {"tracked_sources", result.tracked_sources},
        {"tracked_sources_age_ms", result.tracked_sources_age_ms},
        {"max_sources", result.max_sources},
        {"table",
         {{"admitted", result.table.admitted},
          {"refused", result.table.refused},
          {"evictions", result.table.evictions},
          {"filter_fill", result.table.filter_fill},
          {"sketch_fill", result.table.sketch_fill}}},
        {"loop_longest_stall_ms", result.loop_longest_stall_ms},
        {"loop_longest_stall_in", result.loop_longest_stall_in},
        {"loop_longest_on_cpu_ms", result.loop_longest_on_cpu_ms},
        {"pins",
         {{"dir", result.pins.dir},
          {"mounted_at", nullable(result.pins.mounted_at)},
          {"outlives_daemon", result.pins.outlives_daemon},
          {"warning", nullable(result.pins.warning)}}},
        {"state_files", write_list(result.state_files, write_state_file)},
    };
}

StatusResult decode_status_result(const json &result)
{
    const Fields fields(result, kRoot);
    const Fields reload = fields.object("last_reload"), rules = fields.object("rules"),
                 table = fields.object("table"), pins = fields.object("pins");
    return {
        .version = fields.text("version"),
        .uptime_s = fields.integer("uptime_s"),
        .config = fields.text("config"),
        .mode = fields.word("mode", kModeNames),
        .interfaces = fields.list("interfaces", read_interface),
        .last_reload = {reload.text("time"), reload.flag("ok"), reload.text("message")},
        .rules = {rules.whole("config"), rules.whole("runtime")},
        .totals = read_traffic(fields.object("totals")),
        .tracked_sources = fields.whole("tracked_sources"),
        .tracked_sources_age_ms = fields.whole("tracked_sources_age_ms"),
        .max_sources = fields.whole("max_sources"),
        .loop_longest_stall_ms = fields.number("loop_longest_stall_ms"),
        .loop_longest_stall_in = fields.text("loop_longest_stall_in"),
        .loop_longest_on_cpu_ms = fields.number("loop_longest_on_cpu_ms"),
        .table = {table.whole("admitted"), table.whole("refused"), table.whole("evictions"),
                  table.number("filter_fill"), table.number("sketch_fill")},
        .pins = {pins.text("dir"), pins.text_or_null("mounted_at"), pins.flag("outlives_daemon"),
                 pins.text_or_null("warning")},
        .state_files = fields.list("state_files", read_state_file),
    };
}

json encode_result(const ListResult &result)
{
    auto write_config_rule = [](const ListedConfigRule &listed) {
        json object = write_rule(listed.rule);
        object["overridden"] = listed.overridden;
        return object;
    };
    return {{"default", result.default_limits ? write_default(*result.default_limits) : json()},
            {"config", write_list(result.config, write_config_rule)},
            {"runtime", write_list(result.runtime, write_active_rule)}};
}

ListResult decode_list_result(const json &result)
{
    const Fields fields(result, kRoot);
    auto read_config_rule = [](const json &rule, const std::string &path) {
        const Fields listed(rule, path);
        return ListedConfigRule{read_rule(listed, {"overridden"}), listed.flag("overridden")};
    };
    ListResult decoded{std::nullopt, fields.list("config", read_config_rule),
                       fields.list("runtime", read_active_rule)};
    if (!fields.is_null("default"))
        decoded.default_limits = read_default(fields.at("default"), fields.path("default"));
    return decoded;
}

json encode_result(const RuleChangeResult &result)
{
    return {{"rule", write_active_rule(result.rule)},
            {"replaced", result.replaced},
            {"overrides_config", result.overrides_config},
            {"state_file", write_state_file(result.state_file)}};
}

RuleChangeResult decode_rule_change_result(const json &result)
{
    const Fields fields(result, kRoot);
    return {read_active_rule(fields.at("rule"), fields.path("rule")), fields.flag("replaced"),
            fields.flag("overrides_config"),
            read_state_file(fields.at("state_file"), fields.path("state_file"))};
}

json encode_result(const UnsetResult &result)
{
    return {{"removed", write_runtime_rule(result.removed)},
            {"config_rule", result.config_rule ? write_rule(*result.config_rule) : json()},
            {"state_file", write_state_file(result.state_file)}};
}

UnsetResult decode_unset_result(const json &result)
{
    const Fields fields(result, kRoot);
    UnsetResult decoded{read_runtime_rule(fields.at("removed"), fields.path("removed")),
                        std::nullopt,
                        read_state_file(fields.at("state_file"), fields.path("state_file"))};
    if (!fields.is_null("config_rule"))
        decoded.config_rule = read_rule(fields.at("config_rule"), fields.path("config_rule"));
    return decoded;
}

json encode_result(const ApplyResult &result)
{
    json committed;
    if (const auto &applied = result.committed)
        committed = {{"added", applied->added},
                     {"replaced", applied->replaced},
                     {"removed", applied->removed},
                     {"runtime_rules", applied->runtime_rules},
                     {"state_file", write_state_file(applied->state_file)}};
    return {{"changes", result.changes}, {"committed", std::move(committed)}};
}

ApplyResult decode_apply_result(const json &result)
{
    const Fields fields(result, kRoot);
    ApplyResult decoded{fields.whole("changes"), std::nullopt};
    if (!fields.is_null("committed")) {
        const Fields applied(fields.at("committed"), fields.path("committed"));
        decoded.committed =
            AppliedChanges{applied.whole("added"), applied.whole("replaced"),
                           applied.whole("removed"), applied.whole("runtime_rules"),
                           read_state_file(applied.at("state_file"), applied.path("state_file"))};
    }
    return decoded;
}

Origin AppliedRule::origin() const
{
    constexpr Origin kOrigins[] = {Origin::Default, Origin::Config, Origin::Runtime};
    return kOrigins[rule.index()];
}

namespace
{

json write_ban(const BanInfo &ban)
{
    return {{"address", ban.address.to_string()},
            {"rule", ban.rule ? json(ban.rule->to_string()) : json()},
            {"scope", name_of(kBanScopeNames, ban.scope)},
            {"since", ban.since},
            {"until", ban.until},
            {"remaining_s", ban.remaining_s},
            {"offences", ban.offences}};
}

BanInfo read_ban(const json &ban, const std::string &path)
{
    const Fields fields(ban, path);
    BanInfo decoded{
        fields.address("address"), std::nullopt,         fields.word("scope", kBanScopeNames),
        fields.text("since"),      fields.text("until"), fields.integer("remaining_s"),
        fields.whole32("offences")};
    if (!fields.is_null("rule"))
        decoded.rule = fields.prefix("rule");
    return decoded;
}

} // namespace

json encode_result(const ShowResult &result)
{
    return {{"address", result.address.to_string()},
            {"rule", result.rule ? write_applied(*result.rule) : json()},
            {"why", result.why},
            {"tracked", result.tracked},
            {"buckets", write_list(result.buckets, write_bucket)},
            {"traffic", write_traffic(result.traffic)},
            {"ban", result.ban ? write_ban(*result.ban) : json()}};
}

ShowResult decode_show_result(const json &result)
{
    const Fields fields(result, kRoot);
    ShowResult decoded{fields.address("address"),
                       std::nullopt,
                       fields.text("why"),
                       fields.flag("tracked"),
                       fields.list("buckets", read_bucket),
                       read_traffic(fields.object("traffic")),
                       std::nullopt};
    if (!fields.is_null("rule"))
        decoded.rule = read_applied(fields.object("rule"));
    if (!fields.is_null("ban"))
        decoded.ban = read_ban(fields.at("ban"), fields.path("ban"));
    return decoded;
}

json encode_source(const SourceTraffic &source)
{
    json object = {{"address", source.address.to_string()}};
    if (!source.rule.empty())
        object["rule"] = source.rule;
    add_traffic(object, source.traffic);
    return object;
}

json encode_result(const TopResult &result)
{
    return {{"by", top_order_name(result.by)},
            {"scanned", result.scanned},
            {"sampled_at_ms", result.sampled_at_ms},
            {"sources", write_list(result.sources, encode_source)}};
}

TopResult decode_top_result(const json &result)
{
    const Fields fields(result, kRoot);
    auto by = top_order_from_name(fields.text("by"));
    if (!by)
        throw malformed(fields.path("by"), describe(fields.at("by")) + " is not a top order");
    return {*by, fields.whole("scanned"), fields.integer("sampled_at_ms"),
            fields.list("sources", read_source)};
}

json encode_result(const StatsResult &result)
{
    json encoded = {{"interfaces", write_list(result.interfaces, write_interface_counters)}};
    if (result.rules)
        encoded["rules"] = write_list(*result.rules, write_rule_stats);
    return encoded;
}

StatsResult decode_stats_result(const json &result)
{
    const Fields fields(result, kRoot);
    StatsResult decoded{fields.list("interfaces", read_interface_counters), std::nullopt};
    if (result.is_object() && result.contains("rules"))
        decoded.rules = fields.list("rules", read_rule_stats);
    return decoded;
}

json encode_result(const FlushResult &result)
{
    return {{"match", result.match ? json(result.match->to_string()) : json()},
            {"sources", result.sources},
            {"blocks", result.blocks},
            {"rule_buckets", result.rule_buckets}};
}

FlushResult decode_flush_result(const json &result)
{
    const Fields fields(result, kRoot);
    FlushResult decoded{std::nullopt, fields.whole("sources"), fields.whole("blocks"),
                        fields.whole("rule_buckets")};
    if (!fields.is_null("match"))
        decoded.match = fields.prefix("match");
    return decoded;
}

json encode_result(const ReloadCommandResult &result)
{
    return {{"time", result.time}, {"message", result.message}};
}

ReloadCommandResult decode_reload_result(const json &result)
{
    const Fields fields(result, kRoot);
    return {fields.text("time"), fields.text("message")};
}

json encode_result(const BansResult &result)
{
    return {{"bans", write_list(result.bans, write_ban)}, {"capacity", result.capacity}};
}

BansResult decode_bans_result(const json &result)
{
    const Fields fields(result, kRoot);
    return {fields.list("bans", read_ban), fields.whole("capacity")};
}

json encode_result(const UnbanResult &result)
{
    return {{"lifted", write_ban(result.lifted)}};
}

UnbanResult decode_unban_result(const json &result)
{
    const Fields fields(result, kRoot);
    return {read_ban(fields.at("lifted"), fields.path("lifted"))};
}

std::string match_text(const Rule &rule)
{
    if (!rule.match_file.empty())
        return "file " + rule.match_file;
    const json match = write_rule(rule).at("match");
    if (match.is_string())
        return match.get<std::string>();
    return match.front().get<std::string>() + " and " + std::to_string(match.size() - 1) + " more";
}

std::string per_text(const LimitSpec &limit, const Prefix &match)
{
    return per_name(limit, match.is_v4());
}

} // namespace ratelimit::control
