// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "json/reader.hpp"
#include "json/text.hpp"
#include "net/endpoint.hpp"
#include "policy/fields.hpp"
#include "policy/names.hpp"
#include "policy/prefix_list.hpp"
#include "policy/rule_json.hpp"
#include "sys/trusted_file.hpp"

namespace ratelimit::config
{

namespace
{

using nlohmann::json;

// Why "listen" is not HOST:PORT, quoting it, if it is not.
std::optional<std::string> explain_bad_listen(std::string_view listen)
{
    auto parsed = parse_endpoint(listen);
    if (parsed.endpoint)
        return std::nullopt;
    return quote(listen) + " " + parsed.problem;
}

constexpr Spellings<std::string_view, 7> kLogLevels{{{"trace", "trace"},
                                                     {"debug", "debug"},
                                                     {"info", "info"},
                                                     {"warn", "warn"},
                                                     {"error", "error"},
                                                     {"critical", "critical"},
                                                     {"off", "off"}}};

constexpr std::string_view kTopFields[] = {"interfaces",     "mode",
                                           "default",        "rules",
                                           "max_sources",    "max_rules",
                                           "max_prefixes",   "max_bans",
                                           "drop_malformed", "control",
                                           "metrics",        "state_dir",
                                           "pin_dir",        "keep_attached_on_exit",
                                           "log_level"};
constexpr std::string_view kInterfaceFields[] = {"name", "xdp_mode"};
constexpr std::string_view kControlFields[] = {"socket", "group"};
constexpr std::string_view kMetricsFields[] = {"enabled", "listen"};

std::vector<Rule> read_rules(const Fields &top, const ReadMatchFile &read_file)
{
    const json *list = top.get("rules");
    if (!list)
        return {};
    if (!list->is_array()) {
        top.fail("rules", "must be a list of rules, not " + describe(*list));
        return {};
    }
    std::vector<Rule> rules;
    rules.reserve(list->size());
    DistinctPrefixes distinct;
    DistinctNames names;
    const std::string list_path = top.path("rules");
    for (std::size_t i = 0; i < list->size(); i++) {
        Fields fields(&(*list)[i], json_element_path(list_path, i), kRuleFields, top.errors());
        auto rule = read_rule(fields, {MatchFiles::Use::Read, read_file});
        if (rule && distinct.add(*rule, list_path, i, top.errors()) &&
            names.add(*rule, list_path, i, top.errors()))
            rules.push_back(std::move(*rule));
    }
    return rules;
}

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
        fields.read_choice("xdp_mode", interface.xdp_mode, kXdpModeNames);
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
    fields.read("listen", metrics.listen, explain_bad_listen);
}

// The rules' prefixes all fit the trie.
void check_prefix_count(const Fields &top, const Config &config)
{
    std::size_t prefixes = 0;
    for (const auto &rule : config.rules)
        prefixes += rule.match.size();
    if (prefixes > config.max_prefixes)
        top.fail("max_prefixes", std::to_string(config.max_prefixes) + " is fewer than the " +
                                     std::to_string(prefixes) + " prefixes the rules name");
}

Config read_config(const Fields &top, const InterfaceExists &interface_exists,
                   const ReadMatchFile &read_file)
{
    Config config;
    config.interfaces = read_interfaces(top, interface_exists);
    top.read_choice("mode", config.mode, kModeNames);
    Fields default_limit = top.object("default", kLimitingFields);
    if (default_limit.is_object())
        config.default_limits = read_limits(default_limit, PerScope{true, std::nullopt});
    config.rules = read_rules(top, read_file);
    top.read("max_sources", config.max_sources, kMinSources, kMaxSources);
    top.read("max_rules", config.max_rules, kMinRules, kMaxRules);
    top.read("max_prefixes", config.max_prefixes, kMinPrefixes, kMaxPrefixes);
    top.read("max_bans", config.max_bans, kMinBans, kMaxBans);
    check_prefix_count(top, config);
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
    top.read("log_level", config.log_level, explain_bad_log_level);
    return config;
}

} // namespace

std::optional<std::string> explain_bad_log_level(std::string_view level)
{
    if (value_of(kLogLevels, level))
        return std::nullopt;
    std::string lowercase(level);
    std::ranges::transform(lowercase, lowercase.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // Like every other choice in the config, levels are lowercase: "WARN" is refused, with a hint.
    bool only_case = value_of(kLogLevels, lowercase).has_value();
    return quote(level) + " is not one of " + list_names(kLogLevels, " or ") +
           (only_case ? "; did you mean " + quote(lowercase) + "?" : "");
}

std::string read_match_file(const std::string &path)
{
    auto text = read_trusted_file(path, Symlinks::Follow, kMaxPrefixFileBytes);
    if (!text)
        throw std::runtime_error("cannot read " + path + ": " + std::strerror(ENOENT));
    return std::move(*text);
}

ParseResult parse_config(std::string_view json_text, const InterfaceExists &interface_exists,
                         const ReadMatchFile &read_file)
{
    JsonDocument document = read_json(json_text, {.max_bytes = kMaxConfigBytes});
    if (!document.value)
        return {std::nullopt, std::move(document.errors)};
    JsonErrors errors;
    Fields top(&*document.value, "", kTopFields, errors);
    Config config = read_config(top, interface_exists, read_file);
    return ParseResult::checked(std::move(config), std::move(errors));
}

ParseResult load_config_file(const std::string &file, const InterfaceExists &interface_exists,
                             const ReadMatchFile &read_file)
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
    return parse_config(*text, interface_exists, read_file);
}

} // namespace ratelimit::config
