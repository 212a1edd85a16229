// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "command_table.hpp"

#include <algorithm>
#include <stdexcept>

#include "policy/names.hpp"
#include "policy/units.hpp"

namespace ratelimit::ctl
{

namespace
{

using control::Command;
using nlohmann::json;

// An option's long name is the field of the request it sets, with dashes: --byte-burst sets
// "byte_burst".
std::string field_of(const CLI::Option &option)
{
    std::string field = option.get_lnames().front();
    std::ranges::replace(field, '-', '_');
    return field;
}

// The arguments as the user typed them, for error messages: PREFIX and --rate, not the request's
// args.match and args.rate.
std::string typed_name(const CLI::App &sub, std::string_view path)
{
    static const std::map<std::string_view, std::string_view> kPositional = {
        {"match", "PREFIX"}, {"address", "ADDRESS"}};
    if (path.empty())
        return "the arguments";
    if (auto found = kPositional.find(path); found != kPositional.end())
        return std::string(found->second);
    std::string flat(path); // "ban.after" is set by --ban-after
    std::ranges::replace(flat, '.', '_');
    for (const CLI::Option *option : sub.get_options())
        if (!option->get_lnames().empty() && field_of(*option) == flat)
            return "--" + option->get_lnames().front();
    return std::string(path);
}

// The rule object as the config file states it: PREFIX as its "match", and each option given as
// the field it names; a flag is true.
json rule_fields(const CLI::App &sub, const std::string &prefix)
{
    json rule = {{"match", prefix}};
    for (const CLI::Option *option : sub.get_options()) {
        if (option->get_lnames().empty() || option->count() == 0 || option == sub.get_help_ptr())
            continue;
        if (option->get_expected_min() == 0) {
            if (option->as<bool>())
                rule[field_of(*option)] = true;
        } else if (const std::string &value = option->results().front(); !value.empty())
            rule[field_of(*option)] = value;
    }
    return rule;
}

template <typename T, std::size_t N>
std::vector<std::string_view> names_of(const Spellings<T, N> &table)
{
    std::vector<std::string_view> names;
    for (const auto &entry : table)
        names.push_back(entry.name);
    return names;
}

// ----- set, allow, deny, unset: the runtime rules ----------------------

// An option of a rule, read back by rule_fields.
void add_rule_option(CLI::App *sub, Inputs &in, const std::string &name, const std::string &help)
{
    sub->add_option(name, in.rule_options[name], help);
}

void add_prefix(CLI::App *sub, Inputs &in)
{
    sub->add_option("PREFIX", in.prefix, "an IPv4 or IPv6 prefix, or one address")->required();
}

void add_ttl(CLI::App *sub, Inputs &in)
{
    add_rule_option(sub, in, "--ttl", "remove the rule after this long: 30s, 15m, 2h, 1h30m, 7d");
    add_rule_option(sub, in, "--comment",
                    "a note shown by list (at most " + std::to_string(config::kMaxCommentBytes) +
                        " bytes, one line)");
    add_rule_option(sub, in, "--name",
                    "the rule's name, unique among all rules: 1 to " +
                        std::to_string(kMaxNameBytes) +
                        " of a-z, 0-9, _ . - (unset and the metrics' rule label take it)");
}

void add_mode(CLI::App *sub, Inputs &in)
{
    add_rule_option(sub, in, "--mode",
                    choices(names_of(kModeNames), ", or ") +
                        ": count what it would drop, drop nothing");
}

// --ban-after, --ban-for and --ban-scope as the rule's "ban" object.
void nest_ban(json &rule)
{
    for (const char *field : {"after", "for", "scope"}) {
        const std::string option = std::string("ban_") + field;
        if (rule.contains(option)) {
            rule["ban"][field] = rule[option];
            rule.erase(option);
        }
    }
}

// A rule object from the options given, and its TTL, as `command` sends it.

Subcommand runtime_rule_command(Command command, CLI::App *sub, const Inputs &in)
{
    auto decoded = [command, sub, &in] {
        json rule = rule_fields(*sub, in.prefix);
        nest_ban(rule);
        if (command == Command::Set && !rule.contains("rate") && !rule.contains("bytes"))
            throw control::RequestError(control::ErrorCode::InvalidRule,
                                        "give --rate (packets per second), --bytes or both");
        return control::decode_runtime_rule_args(command, rule, typed_names(sub));
    };
    return {command, sub, [decoded] { return control::encode_args(decoded()); },
            [decoded] {
                return control::ApplyChange{0, decoded()};
            }};
}

} // namespace

control::ArgNamer typed_names(const CLI::App *sub)
{
    return [sub](std::string_view path) { return typed_name(*sub, path); };
}

// "drops (default), packets or bytes": the choices, the first of them the default.
std::string choices(const std::vector<std::string_view> &names, std::string_view last)
{
    std::string text = std::string(names.front()) + " (default)";
    for (std::size_t i = 1; i < names.size(); i++)
        text += std::string(i + 1 == names.size() ? last : ", ") + std::string(names[i]);
    return text;
}

CLI::App *add(CLI::App &app, Command command, const std::string &description,
              const std::string &example)
{
    CLI::App *sub = app.add_subcommand(std::string(control::command_name(command)), description);
    sub->footer("Example:\n  " + example);
    return sub;
}

// status, list, stats and reload: no arguments.
Subcommand without_args(CLI::App &app, Command command, const std::string &description,
                        const std::string &example)
{
    return {command, add(app, command, description, example), [] { return json::object(); }};
}

Subcommand set_command(CLI::App &app, Inputs &in)
{
    CLI::App *set = add(app, Command::Set,
                        "add or change a runtime limit for a prefix (it wins over a config rule "
                        "for the same prefix while it exists)",
                        "ratelimitctl set 203.0.113.0/24 --rate 100pps --burst 200 --ttl 1h");
    add_prefix(set, in);
    add_rule_option(set, in, "--rate", "packets per second: 100, 100pps, 1.5kpps");
    add_rule_option(set, in, "--burst", "packets a full bucket admits (default: one second's)");
    add_rule_option(set, in, "--bytes", "byte rate: 10Mbit, 125kB/s");
    add_rule_option(set, in, "--byte-burst", "bytes a full bucket admits: 256KiB");
    std::vector<std::string_view> per = names_of(kPerNames);
    per.push_back("/N"); // the form with a number (policy/names.hpp)
    add_rule_option(set, in, "--per", "who shares a bucket: " + choices(per, ", or "));
    add_mode(set, in);
    add_rule_option(set, in, "--ban-after",
                    "ban a source that keeps exceeding the rule for this long (with --ban-for)");
    add_rule_option(set, in, "--ban-for", "how long such a ban lasts (doubled for a repeat)");
    add_rule_option(set, in, "--ban-scope",
                    choices(names_of(ratelimit::kBanScopeNames), " or ") +
                        ": whether a ban drops the rule's traffic or all of it");
    add_ttl(set, in);
    return runtime_rule_command(Command::Set, set, in);
}

// allow and deny: a prefix, and for deny the mode and --force.
Subcommand allow_or_deny_command(CLI::App &app, Command command, const std::string &verb,
                                 Inputs &in)
{
    const std::string name(control::command_name(command));
    CLI::App *sub = add(app, command, verb + " a prefix, as a runtime rule",
                        "ratelimitctl " + name + " 198.51.100.7 --ttl 30m");
    add_prefix(sub, in);
    add_ttl(sub, in);
    if (command == Command::Deny) {
        add_mode(sub, in);
        sub->add_flag("--force", in.force,
                      "take a deny of every source of a family (0.0.0.0/0, ::/0), which cuts "
                      "this host off");
    }
    return runtime_rule_command(command, sub, in);
}

Subcommand unset_command(CLI::App &app, Inputs &in)
{
    CLI::App *unset = add(app, Command::Unset,
                          "remove the runtime rule for a prefix or of a name, or every runtime "
                          "rule (--all)",
                          "ratelimitctl unset 203.0.113.0/24");
    CLI::Option *prefix = unset->add_option(
        "PREFIX", in.prefix,
        "the prefix the runtime rule is for, or its name (a word that reads as a prefix is one)");
    CLI::Option *all = unset
                           ->add_flag("--all", in.all,
                                      "remove every runtime rule at once (on a terminal, asks "
                                      "first)")
                           ->excludes(prefix);
    unset->add_flag("--yes", in.yes, "with --all: do not ask");
    // Read from the options' counts, not the variables: the lines of a file are parsed one after
    // another into the same ones.
    auto prefix_args = [unset, prefix, &in] {
        if (!prefix->count())
            throw control::RequestError(control::ErrorCode::BadRequest, "give a PREFIX or --all");
        auto rule = read_rule_ref(in.prefix);
        if (!rule.value)
            throw control::RequestError(control::ErrorCode::BadRequest, "PREFIX: " + rule.error);
        const bool by_name = std::holds_alternative<std::string>(*rule.value);
        return control::decode_unset_args({{by_name ? "name" : "match", in.prefix}},
                                          typed_names(unset));
    };
    return {Command::Unset, unset,
            [prefix_args, all] {
                if (all->count())
                    throw std::logic_error("unset --all is sent as an apply");
                return control::encode_args(prefix_args());
            },
            [prefix_args, all] {
                if (all->count())
                    return control::ApplyChange{0, control::UnsetAllArgs{}};
                return control::ApplyChange{0, prefix_args()};
            }};
}

} // namespace ratelimit::ctl
