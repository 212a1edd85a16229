// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "policy/rule_json.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

#include <nlohmann/json.hpp>

#include "policy/names.hpp"
#include "policy/prefix_list.hpp"
#include "policy/units.hpp"

namespace ratelimit
{

namespace
{

using nlohmann::json;

// ----- "per" ---------------------------------------------------------

// "/N" counts bits of the rule's family; per_prefixlen counts IPv6 (or mapped) bits.
std::uint32_t mapped_bits(std::uint32_t family_bits, bool v4)
{
    return v4 ? family_bits + RL_IPV4_MAPPED_PREFIXLEN : family_bits;
}

std::uint32_t family_bits(std::uint32_t mapped, bool v4)
{
    return v4 ? mapped - RL_IPV4_MAPPED_PREFIXLEN : mapped;
}

struct Per {
    rl_per per = RL_PER_SOURCE;
    std::uint32_t prefixlen = 0; // RL_PER_PREFIX, in IPv6 (or mapped) bits
};

std::string not_a_per(const std::string &text)
{
    std::string words;
    for (const auto &entry : kPerNames)
        words += quote(entry.name) + ", ";
    words.resize(words.size() - 2);
    return quote(text) + " is not " + words + " or a prefix length like \"/24\"";
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
    if (scope.listed_file && bits <= 128)
        return Per{RL_PER_PREFIX, bits}; // as written: shown again against no prefix (Prefix{})
    if (!scope.match)
        return std::nullopt; // the match itself is reported
    const std::span<const Prefix> match = *scope.match;
    const bool v4 = match.front().is_v4();
    if (std::ranges::any_of(match, [&](const Prefix &p) { return p.is_v4() != v4; })) {
        limit.fail("per", quote(text) + " cannot apply to a rule of both IPv4 and IPv6 prefixes: " +
                              "write one rule per address family");
        return std::nullopt;
    }
    const std::uint32_t address_bits = v4 ? 32 : 128;
    if (bits > address_bits) {
        limit.fail("per", quote(text) + " is longer than an " + (v4 ? "IPv4" : "IPv6") +
                              " address (" + std::to_string(address_bits) + " bits)");
        return std::nullopt;
    }
    const Prefix &longest =
        *std::ranges::max_element(match, {}, [](const Prefix &p) { return p.family_length(); });
    if (bits < longest.family_length()) {
        limit.fail("per", quote(text) + " is wider than the rule's prefix " + longest.to_string() +
                              ": a bucket would span sources outside the rule");
        return std::nullopt;
    }
    return Per{RL_PER_PREFIX, mapped_bits(bits, v4)};
}

std::optional<Per> read_per(const Fields &limit, const PerScope &scope)
{
    auto text = limit.string("per");
    if (!text)
        return std::nullopt;
    if (auto per = value_of(kPerNames, *text))
        return Per{*per};
    if (text->starts_with('/'))
        return read_prefix_per(limit, *text, scope);
    limit.fail("per", not_a_per(*text));
    return std::nullopt;
}

// ----- limits --------------------------------------------------------

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
    "rate", "burst", RL_UNIT_PACKETS, config::parse_packet_rate, config::parse_packet_count, "pps",
    "",     1};
constexpr RateFields kByteFields{
    "bytes", "byte_burst", RL_UNIT_BYTES, config::parse_byte_rate, config::parse_size,
    "B/s",   "B",          kMinByteBurst};

const RateFields &fields_of(rl_unit unit)
{
    return unit == RL_UNIT_PACKETS ? kPacketFields : kByteFields;
}

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
        limit.fail(fields.burst, describe(*limit.get(fields.burst)) +
                                     " is smaller than one full-size frame (" +
                                     config::format_size(fields.min_burst) +
                                     "): the bucket could never pass one");
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

// One limit per object, so that the limits parse back one LimitSpec each and in their order.
// Numbers in the base units (packets or bytes, per second for rates), as the config reads bare
// numbers: scripts compare them without parsing units; ratelimitctl's tables add the units.
json limit_to_json(const LimitSpec &limit, const Prefix &match)
{
    const RateFields &fields = fields_of(limit.unit);
    return {{"per", per_name(limit, match.is_v4())},
            {fields.rate, limit.rate},
            {fields.burst, limit.burst}};
}

// ----- rules ---------------------------------------------------------

// One prefix of "match": the value, or an element of the list (`item`: "item 2: ", else empty).
std::optional<Prefix> read_match_prefix(const Fields &rule, const json &value,
                                        const std::string &item)
{
    if (!value.is_string()) {
        rule.fail("match", item + "must be a prefix like \"192.0.2.0/24\", not " + describe(value));
        return std::nullopt;
    }
    auto prefix = read_prefix(value.get_ref<const std::string &>());
    if (!prefix.value)
        rule.fail("match", item + prefix.error);
    return prefix.value;
}

// "match": one prefix or a non-empty list of them.
std::optional<std::vector<Prefix>> read_match_list(const Fields &rule)
{
    const json &value = *rule.get("match");
    if (!value.is_array()) {
        if (!rule.string("match"))
            return std::nullopt; // reported
        auto prefix = read_match_prefix(rule, value, "");
        return prefix ? std::optional(std::vector<Prefix>{*prefix}) : std::nullopt;
    }
    if (value.empty()) {
        rule.fail("match", "must be a prefix or a non-empty list of prefixes, not []");
        return std::nullopt;
    }
    std::vector<Prefix> prefixes;
    bool ok = true;
    for (std::size_t i = 0; i < value.size(); i++) {
        auto prefix = read_match_prefix(rule, value[i], "item " + std::to_string(i) + ": ");
        ok = ok && prefix;
        if (prefix)
            prefixes.push_back(*prefix);
    }
    if (!ok)
        return std::nullopt;
    make_distinct(prefixes);
    return prefixes;
}

// "match_file": the prefixes of the file it names, read as `files` says.
std::optional<std::vector<Prefix>> read_match_file(const Fields &rule, const MatchFiles &files,
                                                   std::string &path)
{
    if (files.use == MatchFiles::Use::Refuse) {
        rule.fail("match_file", "only a config file's rule names a file of prefixes: the daemon "
                                "opens no file a client names; send the prefixes in \"match\"");
        return std::nullopt;
    }
    const std::size_t errors_before = rule.errors().size();
    rule.read_absolute_path("match_file", path);
    if (rule.errors().size() != errors_before)
        return std::nullopt;
    if (files.use == MatchFiles::Use::Name)
        return std::vector<Prefix>{};
    std::string text;
    try {
        text = files.read(path);
    } catch (const std::exception &e) {
        rule.fail("match_file", e.what());
        return std::nullopt;
    }
    PrefixList list = parse_prefix_list(text, path);
    for (auto &error : list.errors)
        rule.fail("match_file", std::move(error));
    if (!list.errors.empty())
        return std::nullopt;
    return std::move(list.prefixes);
}

// The rule's prefixes: "match" or "match_file", exactly one of them.
std::optional<std::vector<Prefix>> read_match(const Fields &rule, const MatchFiles &files,
                                              std::string &file)
{
    const bool inline_match = rule.get("match") != nullptr;
    if (!inline_match && !rule.get("match_file")) {
        rule.require("match"); // "match" (or "match_file") is missing
        return std::nullopt;
    }
    if (inline_match && rule.get("match_file")) {
        rule.fail("match_file", "cannot be combined with \"match\": give one of them");
        return std::nullopt;
    }
    return inline_match ? read_match_list(rule) : read_match_file(rule, files, file);
}

// Why `comment` cannot be shown as it is, if it cannot: it is printed in tables and logs.
std::optional<std::string> explain_bad_comment(std::string_view comment)
{
    if (comment.size() > kMaxCommentBytes)
        return "is " + std::to_string(comment.size()) + " bytes long; at most " +
               std::to_string(kMaxCommentBytes) + " are kept";
    return std::nullopt; // control characters are refused in every string Fields reads
}

// Only digits and dots: the shape of an IPv4 address, valid or not.
bool reads_as_address(std::string_view text)
{
    return std::ranges::all_of(text, [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

bool name_character(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

std::optional<std::chrono::milliseconds> read_duration(const Fields &owner, std::string_view key)
{
    if (!owner.require(key))
        return std::nullopt;
    const json &value = *owner.get(key);
    if (!value.is_string()) {
        owner.fail(key, "must be a duration like \"5s\" or \"10m\", not " + describe(value));
        return std::nullopt;
    }
    auto text = owner.string(key);
    if (!text)
        return std::nullopt;
    auto parsed = config::parse_duration(*text);
    if (!parsed.value)
        owner.fail(key, parsed.error);
    return parsed.value;
}

// A limit rule's "ban": {"after", "for", "scope"}.
std::optional<BanSpec> read_ban(const Fields &rule)
{
    Fields ban = rule.object("ban", kBanFields);
    if (!ban.is_object())
        return std::nullopt;
    const std::size_t errors_before = ban.errors().size();
    auto after = read_duration(ban, "after");
    auto duration = read_duration(ban, "for");
    BanSpec spec;
    if (ban.get("scope"))
        ban.read_choice("scope", spec.scope, kBanScopeNames);
    if (ban.errors().size() != errors_before)
        return std::nullopt;
    spec.after = *after;
    spec.duration = *duration;
    return spec;
}

// ----- selector ------------------------------------------------------

std::string proto_choices()
{
    return list_names(kProtoNames) + " or a protocol number 0 .. 255";
}

std::optional<std::uint8_t> read_proto(const Fields &rule)
{
    const json &value = *rule.get("proto");
    if (value.is_number_unsigned() && value.get<std::uint64_t>() <= 255)
        return static_cast<std::uint8_t>(value.get<std::uint64_t>());
    if (value.is_number()) {
        rule.fail("proto", describe(value) + " is not a protocol number (0 .. 255)");
        return std::nullopt;
    }
    if (!value.is_string()) {
        rule.fail("proto", "must be " + proto_choices() + ", not " + describe(value));
        return std::nullopt;
    }
    auto text = rule.string("proto");
    if (!text)
        return std::nullopt;
    if (auto proto = value_of(kProtoNames, *text))
        return proto;
    rule.fail("proto", quote(*text) + " is not one of " + proto_choices());
    return std::nullopt;
}

// One port, 1 .. 65535, as written in a port set.
std::optional<std::uint16_t> read_port(const Fields &rule, std::string_view text)
{
    std::uint32_t port = 0;
    const char *first = text.data(), *last = text.data() + text.size();
    auto [end, error] = std::from_chars(first, last, port);
    if (first == last || end != last || error != std::errc() || port == 0 || port > 65535) {
        rule.fail("port", quote(text) + " is not a port (1 .. 65535)");
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
}

std::string_view trimmed(std::string_view text)
{
    while (!text.empty() && text.front() == ' ')
        text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ')
        text.remove_suffix(1);
    return text;
}

// "53", "80,443", "27015-27030" and lists of these: the ranges go to `ranges`; false on an error.
bool read_port_text(const Fields &rule, std::string_view text, std::vector<PortRange> &ranges)
{
    bool ok = true;
    while (true) {
        const std::size_t comma = text.find(',');
        const std::string_view item = trimmed(text.substr(0, comma));
        const std::size_t dash = item.find('-');
        auto first = read_port(rule, trimmed(item.substr(0, dash)));
        auto last = dash == std::string_view::npos
                        ? first
                        : read_port(rule, trimmed(item.substr(dash + 1)));
        if (first && last && *first > *last) {
            rule.fail("port", quote(item) + " is a reversed range; did you mean \"" +
                                  std::to_string(*last) + "-" + std::to_string(*first) + "\"?");
            ok = false;
        } else if (first && last) {
            ranges.push_back({*first, *last});
        } else {
            ok = false;
        }
        if (comma == std::string_view::npos)
            return ok;
        text.remove_prefix(comma + 1);
    }
}

bool read_port_value(const Fields &rule, const json &value, std::vector<PortRange> &ranges)
{
    if (value.is_number_integer())
        return read_port_text(rule, value.dump(), ranges);
    if (value.is_string()) {
        auto problem = control_character_problem(value.get_ref<const std::string &>());
        if (problem) {
            rule.fail("port", "contains a control character");
            return false;
        }
        return read_port_text(rule, value.get_ref<const std::string &>(), ranges);
    }
    rule.fail("port", "must be a port, a list like \"80,443\", a range like \"27015-27030\" or a " +
                          std::string("list of these, not ") + describe(value));
    return false;
}

// Sorted, with overlapping and adjacent ranges merged: one spelling per set.
std::vector<PortRange> merged(std::vector<PortRange> ranges)
{
    std::sort(ranges.begin(), ranges.end());
    std::vector<PortRange> out;
    for (const auto &r : ranges) {
        if (!out.empty() && r.first <= static_cast<std::uint32_t>(out.back().last) + 1)
            out.back().last = std::max(out.back().last, r.last);
        else
            out.push_back(r);
    }
    return out;
}

std::optional<std::vector<PortRange>> read_ports(const Fields &rule)
{
    const json &value = *rule.get("port");
    std::vector<PortRange> ranges;
    bool ok = true;
    if (value.is_array()) {
        if (value.empty()) {
            rule.fail("port", "must be a non-empty list of ports");
            return std::nullopt;
        }
        for (const auto &item : value)
            ok &= read_port_value(rule, item, ranges);
    } else {
        ok = read_port_value(rule, value, ranges);
    }
    if (!ok)
        return std::nullopt;
    return merged(std::move(ranges));
}

// "proto", "port" and "tcp_flags": the rule's selector, or none after an error.
std::optional<Selector> read_selector(const Fields &rule)
{
    const std::size_t errors_before = rule.errors().size();
    Selector selector;
    if (rule.get("proto"))
        selector.proto = read_proto(rule);
    const bool l4_ports = selector.proto == kProtoTcp || selector.proto == kProtoUdp;
    if (rule.get("port")) {
        auto ports = read_ports(rule);
        if (ports && !l4_ports && rule.errors().size() == errors_before)
            rule.fail("port", describe(*rule.get("port")) +
                                  " needs \"proto\": \"tcp\" or \"udp\": only they have ports");
        if (ports)
            selector.ports = std::move(*ports);
    }
    if (rule.get("tcp_flags")) {
        auto flags = rule.choose("tcp_flags", kTcpFlagNames);
        if (flags && selector.proto != kProtoTcp && rule.errors().size() == errors_before)
            rule.fail("tcp_flags", quote(*rule.string("tcp_flags")) + " needs \"proto\": \"tcp\"");
        if (flags)
            selector.tcp_flags = *flags;
    }
    if (rule.errors().size() != errors_before)
        return std::nullopt;
    return selector;
}

// A deny for a whole address family (0.0.0.0/0, ::/0) cuts the host off from everyone, its
// operator included: it takes "force", unless the rule only monitors.
void check_deny_everything(const Fields &fields, const Rule &rule)
{
    if (rule.action != RL_ACTION_DENY || rule.monitor || rule.force)
        return;
    auto everything = std::ranges::find(rule.match, 0u, &Prefix::family_length);
    if (everything == rule.match.end())
        return;
    const std::string everyone = everything->is_v4() ? "every IPv4 source" : "every source";
    fields.fail(rule.match_file.empty() ? "match" : "match_file",
                quote(everything->to_string()) + " with \"action\": \"deny\" drops " + everyone +
                    ", cutting this host off; if that is meant, force it (\"force\": " +
                    "true on the rule, ratelimitctl deny --force)");
}

} // namespace

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

std::optional<Rule> read_rule(const Fields &fields, const MatchFiles &files)
{
    if (!fields.is_object())
        return std::nullopt;
    const std::size_t errors_before = fields.errors().size();
    Rule rule;
    auto match = read_match(fields, files, rule.match_file);
    std::optional<rl_action> action = RL_ACTION_LIMIT;
    if (fields.get("action"))
        action = fields.choose("action", kActionNames);
    if (auto mode = fields.choose("mode", kModeNames))
        rule.monitor = *mode == Mode::Monitor;
    if (action == RL_ACTION_LIMIT) {
        PerScope scope;
        if (match && !match->empty())
            scope.match = *match;
        scope.listed_file = match && match->empty();
        rule.limits = read_limits(fields, scope);
        if (fields.get("ban"))
            rule.ban = read_ban(fields);
    } else if (action) {
        for (std::string_view key : kLimitingFields)
            if (fields.get(key))
                fields.fail(key, quote(*fields.string("action")) + " rules take no limits");
        if (fields.get("ban"))
            fields.fail("ban", quote(*fields.string("action")) +
                                   " rules take no ban: only a limit rule's excess can be banned");
    }
    fields.read("force", rule.force);
    fields.read("comment", rule.comment, explain_bad_comment);
    auto selector = read_selector(fields);
    if (fields.get("name"))
        fields.read("name", rule.name, explain_bad_name);
    if (fields.errors().size() == errors_before) {
        rule.selector = *selector;
        rule.match = std::move(*match);
        rule.action = *action;
        const json *written = fields.get("match");
        rule.text = !rule.match_file.empty() ? rule.match_file
                    : written->is_string()   ? written->get<std::string>()
                                             : describe(*written);
        check_deny_everything(fields, rule);
    }
    if (fields.errors().size() != errors_before)
        return std::nullopt;
    return rule;
}

Validated<Rule> parse_rule(const json &rule, const std::string &path, const MatchFiles &files)
{
    JsonErrors errors;
    Fields fields(&rule, path, kRuleFields, errors);
    auto parsed = read_rule(fields, files);
    return Validated<Rule>::checked(std::move(parsed), std::move(errors));
}

std::optional<std::string> runtime_rule_problem(const Rule &rule)
{
    if (rule.match.size() == 1)
        return std::nullopt;
    return "a runtime rule is named by its one prefix; " + std::to_string(rule.match.size()) +
           " prefixes in one rule are for the config file";
}

bool DistinctPrefixes::add(const Rule &rule, const std::string &list_path, std::size_t index,
                           JsonErrors &errors)
{
    const std::string field = rule.match_file.empty() ? "match" : "match_file";
    const std::string where = rule.match_file.empty() ? "" : quote(rule.match_file) + " holds ";
    bool distinct = true;
    auto &first_of_prefix = first_index_[rule.selector];
    for (const Prefix &prefix : rule.match) {
        auto [first, inserted] = first_of_prefix.emplace(prefix, index);
        if (!inserted && first->second != index) {
            const std::string shown = rule.match.size() == 1 && rule.match_file.empty()
                                          ? rule.text // as written: "::ffff:10.0.0.0/104"
                                          : prefix.to_string();
            errors.push_back({json_field_path(json_element_path(list_path, index), field),
                              where + quote(shown) + " is the same prefix as " +
                                  json_element_path(list_path, first->second) +
                                  (rule.selector.catch_all() ? "" : ", with the same selector")});
            distinct = false;
        }
        if (!distinct && errors.size() > kMaxPrefixFileErrors)
            break;
    }
    return distinct;
}

bool DistinctNames::add(const Rule &rule, const std::string &list_path, std::size_t index,
                        JsonErrors &errors)
{
    if (rule.name.empty())
        return true;
    auto [first, inserted] = first_index_.emplace(rule.name, index);
    if (!inserted)
        errors.push_back({json_field_path(json_element_path(list_path, index), "name"),
                          quote(rule.name) + " is the name of " +
                              json_element_path(list_path, first->second) +
                              " too: names are unique"});
    return inserted;
}

std::optional<std::string> explain_bad_name(std::string_view name)
{
    const std::string rule =
        "a name is 1 to " + std::to_string(kMaxNameBytes) + " of a-z, 0-9, '_', '.' and '-'";
    if (name.empty())
        return quote(name) + " is empty: " + rule;
    if (name.size() > kMaxNameBytes)
        return quote(name) + " is " + std::to_string(name.size()) + " characters long: " + rule;
    if (auto bad = std::ranges::find_if_not(name, name_character); bad != name.end())
        return quote(name) + " has " + quote(std::string_view(&*bad, 1)) + " at " +
               std::to_string(bad - name.begin() + 1) + ": " + rule;
    if (reads_as_address(name))
        return quote(name) + " is only digits and dots, as an address is: a name needs a letter, " +
               "'_' or '-', so that no name reads as an address";
    return std::nullopt;
}

Parsed<RuleRef> read_rule_ref(std::string_view text)
{
    if (text.find_first_of(":/") != std::string_view::npos || reads_as_address(text)) {
        auto prefix = read_prefix(text);
        if (!prefix.value)
            return {std::nullopt, prefix.error};
        return {RuleRef(*prefix.value), {}};
    }
    if (auto problem = explain_bad_name(text))
        return {std::nullopt, "is neither a prefix nor a rule name: " + *problem};
    return {RuleRef(std::string(text)), {}};
}

std::string to_string(const RuleRef &ref)
{
    if (const auto *prefix = std::get_if<Prefix>(&ref))
        return prefix->to_string();
    return std::get<std::string>(ref);
}

std::string per_name(const LimitSpec &limit, bool v4)
{
    if (limit.per == RL_PER_PREFIX)
        return "/" + std::to_string(family_bits(limit.per_prefixlen, v4));
    return std::string(name_of(kPerNames, limit.per));
}

json ban_to_json(const BanSpec &ban)
{
    return {{"after", config::format_duration(ban.after)},
            {"for", config::format_duration(ban.duration)},
            {"scope", name_of(kBanScopeNames, ban.scope)}};
}

json limits_to_json(const std::vector<LimitSpec> &limits, const Prefix &match)
{
    json list = json::array();
    for (const auto &limit : limits)
        list.push_back(limit_to_json(limit, match));
    return list;
}

std::string ports_text(const std::vector<PortRange> &ports)
{
    std::string text;
    for (const auto &r : ports) {
        text += (text.empty() ? "" : ",") + std::to_string(r.first);
        if (r.last != r.first)
            text += "-" + std::to_string(r.last);
    }
    return text;
}

std::string proto_text(std::uint8_t proto)
{
    const std::string_view name = name_of(kProtoNames, proto);
    return name == "unknown" ? std::to_string(proto) : std::string(name);
}

std::string selector_text(const Selector &selector)
{
    if (selector.catch_all())
        return "all";
    std::string text = proto_text(*selector.proto);
    if (!selector.ports.empty())
        text += "/" + ports_text(selector.ports);
    if (selector.tcp_flags != TcpFlags::Any)
        text += " " + std::string(name_of(kTcpFlagNames, selector.tcp_flags));
    return text;
}

void selector_to_json(const Selector &selector, json &object)
{
    if (selector.catch_all())
        return;
    if (auto name = name_of(kProtoNames, *selector.proto); name != "unknown")
        object["proto"] = name;
    else
        object["proto"] = *selector.proto;
    if (selector.ports.size() == 1 && selector.ports[0].first == selector.ports[0].last)
        object["port"] = selector.ports[0].first;
    else if (!selector.ports.empty())
        object["port"] = ports_text(selector.ports);
    if (selector.tcp_flags != TcpFlags::Any)
        object["tcp_flags"] = name_of(kTcpFlagNames, selector.tcp_flags);
}

namespace
{

// A prefix as rule_to_json writes it: a single address bare.
std::string match_text(const Prefix &prefix)
{
    const bool one_address = prefix.family_length() == (prefix.is_v4() ? 32u : 128u);
    return one_address ? prefix.address.to_string() : prefix.to_string();
}

json match_to_json(const std::vector<Prefix> &match)
{
    if (match.size() == 1)
        return match_text(match.front());
    json list = json::array();
    for (const Prefix &prefix : match)
        list.push_back(match_text(prefix));
    return list;
}

} // namespace

json rule_to_json(const Rule &rule)
{
    json object = json::object();
    if (rule.match_file.empty())
        object["match"] = match_to_json(rule.match);
    else
        object["match_file"] = rule.match_file;
    object["action"] = name_of(kActionNames, rule.action);
    if (!rule.name.empty())
        object["name"] = rule.name;
    if (rule.monitor)
        object["mode"] = name_of(kModeNames, Mode::Monitor);
    if (rule.force)
        object["force"] = true;
    if (!rule.comment.empty())
        object["comment"] = rule.comment;
    if (rule.action == RL_ACTION_LIMIT)
        object["limits"] =
            limits_to_json(rule.limits, rule.match.empty() ? Prefix{} : rule.match.front());
    if (rule.ban)
        object["ban"] = ban_to_json(*rule.ban);
    selector_to_json(rule.selector, object);
    return object;
}

} // namespace ratelimit
