// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "config/config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <span>

#include <nlohmann/json.hpp>

#include "config/suggest.hpp"
#include "config/units.hpp"
#include "sys/trusted_file.hpp"
#include "json/reader.hpp"
#include "json/text.hpp"
#include "net/endpoint.hpp"

namespace ratelimit::config
{

namespace
{

using nlohmann::json;
using Errors = std::vector<ConfigError>;
using Fieldnames = std::span<const std::string_view>;

template <typename T>
struct Choice {
    std::string_view name;
    T value;
};

constexpr Choice<XdpMode> kXdpModes[] = {
    {"auto", XdpMode::Auto}, {"native", XdpMode::Native}, {"generic", XdpMode::Generic}};
constexpr Choice<Mode> kModes[] = {{"enforce", Mode::Enforce}, {"monitor", Mode::Monitor}};
constexpr Choice<rl_action> kActions[] = {
    {"limit", RL_ACTION_LIMIT}, {"allow", RL_ACTION_ALLOW}, {"deny", RL_ACTION_DENY}};
constexpr Choice<std::string_view> kLogLevels[] = {
    {"trace", "trace"}, {"debug", "debug"},       {"info", "info"}, {"warn", "warn"},
    {"error", "error"}, {"critical", "critical"}, {"off", "off"}};

constexpr std::string_view kTopFields[] = {
    "interfaces",     "mode",    "default", "rules",     "max_sources", "max_rules",
    "drop_malformed", "control", "metrics", "state_dir", "pin_dir",     "keep_attached_on_exit",
    "log_level"};
constexpr std::string_view kInterfaceFields[] = {"name", "xdp_mode"};
constexpr std::string_view kLimitFields[] = {"rate", "burst", "bytes", "byte_burst", "per"};
// The fields that set limits: all that "default" has.
constexpr std::string_view kLimitingFields[] = {"limits", "rate",       "burst",
                                                "bytes",  "byte_burst", "per"};
constexpr std::string_view kRuleFields[] = {"match", "action", "mode",   "limits",
                                            "rate",  "burst",  "bytes",  "byte_burst",
                                            "per",   "force",  "comment"};
constexpr std::string_view kControlFields[] = {"socket", "group"};
constexpr std::string_view kMetricsFields[] = {"enabled", "listen"};

// ----- paths and messages --------------------------------------------

// JSON text of a value: escapes what a terminal should not see raw, replaces invalid UTF-8.
std::string to_json(const json &value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A JSON value as an error message shows it: scalars as written, containers by kind.
std::string describe(const json &value)
{
    if (value.is_object())
        return "an object";
    if (value.is_array())
        return "a list";
    return to_json(value);
}

template <typename T, std::size_t N>
std::string list_names(const Choice<T> (&choices)[N])
{
    std::string names;
    for (std::size_t i = 0; i < N; i++)
        names += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(choices[i].name);
    return names;
}

// "; did you mean "rate"?" when a known field is one or two typos away.
std::string suggestion(std::string_view unknown, Fieldnames known)
{
    auto nearest = nearest_name(unknown, known);
    return nearest ? "; did you mean " + quote(*nearest) + "?" : "";
}

// ----- one JSON object -----------------------------------------------

// Typed access to the fields of one JSON object. Every problem becomes an error naming the
// field's path, and a field that cannot be read leaves its target at the default.
class Fields
{
  public:
    // `value` null: an optional object that is absent; every field reads as absent.
    Fields(const json *value, std::string path, Fieldnames known, Errors &errors)
        : path_(std::move(path)), errors_(errors)
    {
        if (!value)
            return;
        if (!value->is_object()) {
            fail_here("must be an object, not " + describe(*value));
            return;
        }
        object_ = value;
        for (const auto &[key, unused] : value->items())
            if (std::find(known.begin(), known.end(), key) == known.end())
                fail(key, "unknown field" + suggestion(key, known));
    }

    bool is_object() const { return object_ != nullptr; }
    const std::string &path() const { return path_; }
    std::string path(std::string_view key) const { return json_field_path(path_, key); }

    void fail_here(std::string message) const
    {
        errors_.push_back({path_, (path_.empty() ? "the configuration " : "") + message});
    }
    void fail(std::string_view key, std::string message) const
    {
        errors_.push_back({path(key), std::move(message)});
    }
    Errors &errors() const { return errors_; }

    const json *get(std::string_view key) const
    {
        if (!object_)
            return nullptr;
        auto found = object_->find(key);
        return found == object_->end() ? nullptr : &*found;
    }

    const json *require(std::string_view key) const
    {
        const json *value = get(key);
        if (!value && object_)
            fail(key, "missing (required)");
        return value;
    }

    Fields object(std::string_view key, Fieldnames known) const
    {
        return Fields(get(key), path(key), known, errors_);
    }

    std::optional<std::string> string(std::string_view key) const
    {
        const json *value = get(key);
        if (value && !value->is_string())
            fail(key, "must be a string, not " + describe(*value));
        if (!value || !value->is_string())
            return std::nullopt;
        const auto &text = value->get_ref<const std::string &>();
        // Every string here is a name, prefix, path, unit or choice: none has a control character.
        if (auto problem = control_character_problem(text)) {
            fail(key, quote(text) + " " + *problem);
            return std::nullopt;
        }
        return text;
    }

    // A rate, size or count: a string with a unit, or a bare JSON number in the base unit
    // (spelled `base_unit`).
    std::optional<std::uint64_t> quantity(std::string_view key,
                                          Parsed<std::uint64_t> (*parse)(std::string_view),
                                          std::string_view base_unit) const
    {
        const json *value = get(key);
        if (!value)
            return std::nullopt;
        if (!value->is_string() && !value->is_number()) {
            fail(key, "must be a string with a unit or a number, not " + describe(*value));
            return std::nullopt;
        }
        auto text = value->is_string() ? string(key) : value->dump() + std::string(base_unit);
        if (!text)
            return std::nullopt;
        auto parsed = parse(*text);
        if (!parsed.value)
            fail(key, parsed.error);
        return parsed.value;
    }

    void read(std::string_view key, bool &target) const
    {
        const json *value = get(key);
        if (value && !value->is_boolean())
            fail(key, "must be true or false, not " + describe(*value));
        else if (value)
            target = value->get<bool>();
    }

    void read(std::string_view key, std::string &target) const
    {
        if (auto text = string(key))
            target = *text;
    }

    void read(std::string_view key, std::uint32_t &target, std::uint32_t min,
              std::uint32_t max) const
    {
        const json *value = get(key);
        if (!value)
            return;
        const std::string range = " (" + std::to_string(min) + " .. " + std::to_string(max) + ")";
        if (!value->is_number_integer())
            fail(key, "must be a whole number" + range + ", not " + describe(*value));
        else if (value->is_number_unsigned() && value->get<std::uint64_t>() >= min &&
                 value->get<std::uint64_t>() <= max)
            target = value->get<std::uint32_t>();
        else
            fail(key, to_json(*value) + " is out of range" + range);
    }

    void read_absolute_path(std::string_view key, std::string &target) const
    {
        auto text = string(key);
        if (text && !text->starts_with('/'))
            fail(key, quote(*text) + " is not an absolute path");
        else if (text)
            target = *text;
    }

    template <typename Target, typename T, std::size_t N>
    void read_choice(std::string_view key, Target &target, const Choice<T> (&choices)[N]) const
    {
        if (auto choice = choose(key, choices))
            target = Target(*choice);
    }

    template <typename T, std::size_t N>
    std::optional<T> choose(std::string_view key, const Choice<T> (&choices)[N]) const
    {
        auto text = string(key);
        if (!text)
            return std::nullopt;
        for (const auto &choice : choices)
            if (choice.name == *text)
                return choice.value;
        fail(key, quote(*text) + " is not one of " + list_names(choices));
        return std::nullopt;
    }

  private:
    const json *object_ = nullptr;
    std::string path_;
    Errors &errors_;
};

// ----- limits --------------------------------------------------------

// What a limit's "per": "/N" is counted against.
struct PerScope {
    bool in_default = false;     // "default" covers both families: "/N" means nothing there
    std::optional<Prefix> match; // the rule's prefix; empty when it is itself invalid
};

struct Per {
    rl_per per = RL_PER_SOURCE;
    std::uint32_t prefixlen = 0; // RL_PER_PREFIX, in IPv6 (or mapped) bits
};

std::string not_a_per(const std::string &text)
{
    return quote(text) + " is not \"source\", \"rule\" or a prefix length like \"/24\"";
}

// "/N": sources sharing the first N bits of their address share a bucket.
std::optional<Per> read_prefix_per(const Fields &limit, const std::string &text,
                                   const PerScope &scope)
{
    std::uint32_t bits = 0;
    const char *first = text.data() + 1, *last = text.data() + text.size();
    auto [end, error] = std::from_chars(first, last, bits);
    if (error != std::errc() || end != last || first == last) {
        limit.fail("per", not_a_per(text));
        return std::nullopt;
    }
    if (scope.in_default) {
        limit.fail("per", quote(text) + " cannot apply to the default, which covers IPv4 and " +
                              "IPv6; write rules for 0.0.0.0/0 and ::/0 instead");
        return std::nullopt;
    }
    if (!scope.match)
        return std::nullopt; // the match itself is reported
    const bool v4 = scope.match->is_v4();
    const std::uint32_t family_bits = v4 ? 32 : 128;
    if (bits > family_bits) {
        limit.fail("per", quote(text) + " is longer than an " + (v4 ? "IPv4" : "IPv6") +
                              " address (" + std::to_string(family_bits) + " bits)");
        return std::nullopt;
    }
    if (bits < scope.match->family_length()) {
        limit.fail("per", quote(text) + " is wider than the rule's prefix " +
                              scope.match->to_string() +
                              ": a bucket would span sources outside the rule");
        return std::nullopt;
    }
    return Per{RL_PER_PREFIX, v4 ? bits + RL_IPV4_MAPPED_PREFIXLEN : bits};
}

std::optional<Per> read_per(const Fields &limit, const PerScope &scope)
{
    auto text = limit.string("per");
    if (!text)
        return std::nullopt;
    if (*text == "source")
        return Per{RL_PER_SOURCE};
    if (*text == "rule")
        return Per{RL_PER_RULE};
    if (text->starts_with('/'))
        return read_prefix_per(limit, *text, scope);
    limit.fail("per", not_a_per(*text));
    return std::nullopt;
}

// The fields of one unit within a limit object.
struct RateFields {
    std::string_view rate;
    std::string_view burst;
    rl_unit unit;
    Parsed<std::uint64_t> (*parse_rate)(std::string_view);
    Parsed<std::uint64_t> (*parse_burst)(std::string_view);
    std::string_view rate_base, burst_base; // what a bare JSON number counts
    std::uint64_t min_burst;                // also the least default burst
};

constexpr RateFields kPacketFields{
    "rate", "burst", RL_UNIT_PACKETS, parse_packet_rate, parse_packet_count, "pps", "", 1};
constexpr RateFields kByteFields{"bytes",    "byte_burst", RL_UNIT_BYTES, parse_byte_rate,
                                 parse_size, "B/s",        "B",           kMinByteBurst};

std::optional<LimitSpec> read_rate(const Fields &limit, const RateFields &fields)
{
    if (!limit.get(fields.rate)) {
        if (limit.get(fields.burst))
            limit.fail(fields.burst, "is set without \"" + std::string(fields.rate) + "\"");
        return std::nullopt;
    }
    auto rate = limit.quantity(fields.rate, fields.parse_rate, fields.rate_base);
    auto burst = limit.quantity(fields.burst, fields.parse_burst, fields.burst_base);
    if (burst && *burst < fields.min_burst) {
        limit.fail(fields.burst,
                   describe(*limit.get(fields.burst)) + " is smaller than one full-size frame (" +
                       format_size(fields.min_burst) + "): the bucket could never pass one");
        return std::nullopt;
    }
    if (!rate || (limit.get(fields.burst) && !burst))
        return std::nullopt;
    // Omitted, the burst is one second's worth.
    return LimitSpec{fields.unit, *rate, burst.value_or(std::max(*rate, fields.min_burst))};
}

// One limit object: a packet rate and/or a byte rate, each one LimitSpec, sharing one "per".
std::vector<LimitSpec> read_limit(const Fields &limit, const PerScope &scope)
{
    if (!limit.get("rate") && !limit.get("bytes")) {
        limit.fail_here("needs \"rate\" (packets per second), \"bytes\" (a byte rate) or both");
        return {};
    }
    const Per per = read_per(limit, scope).value_or(Per{});
    std::vector<LimitSpec> specs;
    for (const RateFields &fields : {kPacketFields, kByteFields}) {
        if (auto spec = read_rate(limit, fields)) {
            spec->per = per.per;
            spec->per_prefixlen = per.prefixlen;
            specs.push_back(*spec);
        }
    }
    return specs;
}

// The limits of a rule or of "default": one limit written on the owner itself, or "limits".
std::vector<LimitSpec> read_limits(const Fields &owner, const PerScope &scope)
{
    const json *list = owner.get("limits");
    if (!list)
        return read_limit(owner, scope);
    for (std::string_view key : kLimitFields)
        if (owner.get(key))
            owner.fail(key, "cannot be combined with \"limits\"; move it into one of them");
    if (!list->is_array() || list->empty()) {
        owner.fail("limits", "must be a non-empty list of limits, not " + describe(*list));
        return {};
    }
    std::vector<LimitSpec> specs;
    for (std::size_t i = 0; i < list->size(); i++) {
        Fields limit(&(*list)[i], json_element_path(owner.path("limits"), i), kLimitFields,
                     owner.errors());
        if (limit.is_object())
            std::ranges::copy(read_limit(limit, scope), std::back_inserter(specs));
    }
    if (specs.size() > RL_MAX_LIMITS)
        owner.fail("limits", std::to_string(specs.size()) + " limits; at most " +
                                 std::to_string(RL_MAX_LIMITS) + " can be stacked (a limit " +
                                 "with both \"rate\" and \"bytes\" counts as two)");
    return specs;
}

// ----- rules ---------------------------------------------------------

// Why parse_prefix refused `text`, with the likely intent when only host bits are set.
std::string explain_bad_prefix(std::string_view text)
{
    const std::string not_a_prefix = quote(text) + " is not an IPv4 or IPv6 prefix";
    auto slash = text.find('/');
    auto address = parse_address(text.substr(0, slash));
    if (!address || slash == std::string_view::npos)
        return not_a_prefix;
    const bool v4_syntax = text.substr(0, slash).find(':') == std::string_view::npos;
    const std::uint32_t max_length = v4_syntax ? 32 : 128;
    auto digits = text.substr(slash + 1);
    std::uint32_t length = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (error != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        length > max_length)
        return not_a_prefix + " (the length must be 0 .. " + std::to_string(max_length) + ")";
    const std::uint32_t mapped_length = v4_syntax ? length + RL_IPV4_MAPPED_PREFIXLEN : length;
    Prefix intended{mask(*address, mapped_length), mapped_length};
    return quote(text) + " has host bits set; did you mean " + intended.to_string() + "?";
}

std::optional<Prefix> read_match(const Fields &rule)
{
    if (!rule.require("match"))
        return std::nullopt;
    auto text = rule.string("match");
    if (!text)
        return std::nullopt;
    auto prefix = parse_prefix(*text);
    if (!prefix)
        rule.fail("match", explain_bad_prefix(*text));
    return prefix;
}

// Why `comment` cannot be shown as it is, if it cannot: it is printed in tables and logs.
std::optional<std::string> explain_bad_comment(std::string_view comment)
{
    if (comment.size() > kMaxCommentBytes)
        return "is " + std::to_string(comment.size()) + " bytes long; at most " +
               std::to_string(kMaxCommentBytes) + " are kept";
    return std::nullopt; // control characters are refused in every string the config reads
}

// A deny for a whole address family (0.0.0.0/0, ::/0) cuts the host off from everyone, its
// operator included: it takes "force", unless the rule only monitors.
void check_deny_everything(const Fields &fields, const Rule &rule)
{
    if (rule.action != RL_ACTION_DENY || rule.monitor || rule.force ||
        rule.match.family_length() != 0)
        return;
    const std::string everyone = rule.match.is_v4() ? "every IPv4 source" : "every source";
    fields.fail("match", quote(rule.text) + " with \"action\": \"deny\" drops " + everyone +
                             ", cutting this host off; if that is meant, force it (\"force\": " +
                             "true on the rule, ratelimitctl deny --force)");
}

std::optional<Rule> read_rule(const Fields &fields)
{
    if (!fields.is_object())
        return std::nullopt;
    const std::size_t errors_before = fields.errors().size();
    Rule rule;
    auto match = read_match(fields);
    std::optional<rl_action> action = RL_ACTION_LIMIT;
    if (fields.get("action"))
        action = fields.choose("action", kActions);
    if (auto mode = fields.choose("mode", kModes))
        rule.monitor = *mode == Mode::Monitor;
    if (action == RL_ACTION_LIMIT) {
        rule.limits = read_limits(fields, PerScope{false, match});
    } else if (action) {
        for (std::string_view key : kLimitingFields)
            if (fields.get(key))
                fields.fail(key, quote(*fields.string("action")) + " rules take no limits");
    }
    fields.read("force", rule.force);
    if (auto comment = fields.string("comment")) {
        if (auto problem = explain_bad_comment(*comment))
            fields.fail("comment", *problem);
        else
            rule.comment = *comment;
    }
    if (fields.errors().size() == errors_before) {
        rule.match = *match;
        rule.action = *action;
        rule.text = *fields.string("match");
        check_deny_everything(fields, rule);
    }
    if (fields.errors().size() != errors_before)
        return std::nullopt;
    return rule;
}

std::vector<Rule> read_rules(const Fields &top)
{
    const json *list = top.get("rules");
    if (!list)
        return {};
    if (!list->is_array()) {
        top.fail("rules", "must be a list of rules, not " + describe(*list));
        return {};
    }
    std::vector<Rule> rules;
    std::map<Prefix, std::size_t> first_with_prefix;
    for (std::size_t i = 0; i < list->size(); i++) {
        Fields fields(&(*list)[i], json_element_path(top.path("rules"), i), kRuleFields,
                      top.errors());
        auto rule = read_rule(fields);
        if (!rule)
            continue;
        // Compared parsed, so that 10.0.0.0/8 and ::ffff:10.0.0.0/104 are one prefix.
        auto [first, inserted] = first_with_prefix.emplace(rule->match, i);
        if (inserted)
            rules.push_back(*rule);
        else
            fields.fail("match", quote(rule->text) + " is the same prefix as rules[" +
                                     std::to_string(first->second) + "]");
    }
    return rules;
}

// ----- the rest of the file ------------------------------------------

std::vector<Interface> read_interfaces(const Fields &top, const InterfaceExists &interface_exists)
{
    const json *list = top.require("interfaces");
    if (!list)
        return {};
    if (list->is_array() && list->empty()) {
        top.fail("interfaces", "must list at least one interface, like [{\"name\": \"eth0\"}]");
        return {};
    }
    if (!list->is_array() || list->size() > RL_MAX_INTERFACES) {
        top.fail("interfaces", "must be a list of 1 .. " + std::to_string(RL_MAX_INTERFACES) +
                                   " interfaces like {\"name\": \"eth0\"}, not " + describe(*list));
        return {};
    }
    std::vector<Interface> interfaces;
    std::map<std::string, std::string> path_of_name;
    for (std::size_t i = 0; i < list->size(); i++) {
        Fields fields(&(*list)[i], json_element_path(top.path("interfaces"), i), kInterfaceFields,
                      top.errors());
        Interface interface;
        fields.read_choice("xdp_mode", interface.xdp_mode, kXdpModes);
        auto name = fields.require("name") ? fields.string("name") : std::nullopt;
        if (!name)
            continue;
        interface.name = *name;
        auto [first, inserted] = path_of_name.emplace(interface.name, fields.path());
        if (!inserted)
            fields.fail("name",
                        quote(interface.name) + " is listed twice (also " + first->second + ")");
        else if (!interface_exists(interface.name))
            fields.fail("name", "no interface named " + quote(interface.name) + " on this system");
        interfaces.push_back(interface);
    }
    return interfaces;
}

void read_control(const Fields &top, Config::Control &control)
{
    Fields fields = top.object("control", kControlFields);
    fields.read_absolute_path("socket", control.socket);
    fields.read("group", control.group);
}

void read_metrics(const Fields &top, Config::Metrics &metrics)
{
    Fields fields = top.object("metrics", kMetricsFields);
    fields.read("enabled", metrics.enabled);
    auto listen = fields.string("listen");
    if (!listen)
        return;
    if (auto parsed = parse_endpoint(*listen); !parsed.endpoint)
        fields.fail("listen", quote(*listen) + " " + parsed.problem);
    else
        metrics.listen = *listen;
}

Config read_config(const Fields &top, const InterfaceExists &interface_exists)
{
    Config config;
    config.interfaces = read_interfaces(top, interface_exists);
    top.read_choice("mode", config.mode, kModes);
    Fields default_limit = top.object("default", kLimitingFields);
    if (default_limit.is_object())
        config.default_limits = read_limits(default_limit, PerScope{true, std::nullopt});
    config.rules = read_rules(top);
    top.read("max_sources", config.max_sources, kMinSources, kMaxSources);
    top.read("max_rules", config.max_rules, kMinRules, kMaxRules);
    if (const json *rules = top.get("rules");
        rules && rules->is_array() && rules->size() > config.max_rules)
        top.fail("max_rules", std::to_string(config.max_rules) + " is fewer than the " +
                                  std::to_string(rules->size()) + " rules in \"rules\"");
    top.read("drop_malformed", config.drop_malformed);
    read_control(top, config.control);
    read_metrics(top, config.metrics);
    top.read_absolute_path("state_dir", config.state_dir);
    top.read_absolute_path("pin_dir", config.pin_dir);
    top.read("keep_attached_on_exit", config.keep_attached_on_exit);
    if (auto level = top.string("log_level")) {
        if (auto problem = explain_bad_log_level(*level))
            top.fail("log_level", *problem);
        else
            config.log_level = *level;
    }
    return config;
}

// ----- JSON text -----------------------------------------------------

std::optional<json> parse_json(std::string_view text, Errors &errors)
{
    JsonDocument document = read_json(text, {.max_bytes = kMaxConfigBytes});
    std::ranges::move(document.errors, std::back_inserter(errors));
    return std::move(document.value);
}

} // namespace

std::string quote(std::string_view text)
{
    return to_json(text);
}

std::optional<std::string> explain_bad_log_level(std::string_view level)
{
    if (std::ranges::any_of(kLogLevels, [&](const auto &choice) { return choice.name == level; }))
        return std::nullopt;
    std::string lowercase(level);
    std::ranges::transform(lowercase, lowercase.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // Like every other choice in the config, levels are lowercase: "WARN" is refused, with a hint.
    bool only_case = std::ranges::any_of(
        kLogLevels, [&](const auto &choice) { return choice.name == lowercase; });
    return quote(level) + " is not one of " + list_names(kLogLevels) +
           (only_case ? "; did you mean " + quote(lowercase) + "?" : "");
}

ParseResult parse_config(std::string_view json_text, const InterfaceExists &interface_exists)
{
    Errors errors;
    auto root = parse_json(json_text, errors);
    if (!root)
        return {std::nullopt, std::move(errors)};
    Fields top(&*root, "", kTopFields, errors);
    Config config = read_config(top, interface_exists);
    if (!errors.empty())
        return {std::nullopt, std::move(errors)};
    return {std::move(config), {}};
}

ParseResult load_config_file(const std::string &file, const InterfaceExists &interface_exists)
{
    auto cannot_read = [](std::string message) {
        return ParseResult{std::nullopt, {{"", std::move(message)}}};
    };
    std::optional<std::string> text;
    try {
        // Followed if a link: configs are often deployed as one (into a checkout, a release).
        text = read_trusted_file(file, Symlinks::Follow, kMaxConfigBytes);
    } catch (const std::exception &e) {
        return cannot_read(e.what());
    }
    if (!text)
        return cannot_read("cannot read " + file + ": " + std::strerror(ENOENT));
    return parse_config(*text, interface_exists);
}

RuleResult parse_rule(const nlohmann::json &rule, const std::string &path)
{
    Errors errors;
    Fields fields(&rule, path, kRuleFields, errors);
    auto parsed = read_rule(fields);
    if (!errors.empty())
        return {std::nullopt, std::move(errors)};
    return {std::move(parsed), {}};
}

} // namespace ratelimit::config
