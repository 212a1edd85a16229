// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "control/protocol.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

#include "json/reader.hpp"
#include "json/text.hpp"
#include "policy/names.hpp"
#include "policy/rule_json.hpp"
#include "policy/units.hpp"

namespace ratelimit::control
{

namespace
{

using nlohmann::json;

template <typename T>
struct Named {
    T value;
    std::string_view name;
};

constexpr Named<ErrorCode> kErrorCodes[] = {
    {ErrorCode::BadRequest, "bad_request"},
    {ErrorCode::UnknownCommand, "unknown_command"},
    {ErrorCode::InvalidRule, "invalid_rule"},
    {ErrorCode::NotFound, "not_found"},
    {ErrorCode::PermissionDenied, "permission_denied"},
    {ErrorCode::TooLarge, "too_large"},
    {ErrorCode::RulesFull, "rules_full"},
    {ErrorCode::ReloadFailed, "reload_failed"},
    {ErrorCode::Busy, "busy"},
    {ErrorCode::Internal, "internal"},
};

constexpr Named<Command> kCommands[] = {
    {Command::Status, "status"}, {Command::List, "list"},     {Command::Set, "set"},
    {Command::Allow, "allow"},   {Command::Deny, "deny"},     {Command::Unset, "unset"},
    {Command::Show, "show"},     {Command::Top, "top"},       {Command::Stats, "stats"},
    {Command::Flush, "flush"},   {Command::Reload, "reload"}, {Command::Apply, "apply"},
    {Command::Flush, "flush"},   {Command::Reload, "reload"}, {Command::Bans, "bans"},
    {Command::Unban, "unban"},
};

constexpr Named<TopOrder> kTopOrders[] = {
    {TopOrder::Drops, kTopOrderNames[0]},
    {TopOrder::Packets, kTopOrderNames[1]},
    {TopOrder::Bytes, kTopOrderNames[2]},
};

template <typename T, std::size_t N>
std::string_view name_of(const Named<T> (&table)[N], T value)
{
    auto found = std::ranges::find(table, value, &Named<T>::value);
    if (found == std::end(table))
        throw std::invalid_argument("no name for value " + std::to_string(int(value)));
    return found->name;
}

template <typename T, std::size_t N>
std::optional<T> value_of(const Named<T> (&table)[N], std::string_view name)
{
    auto found = std::ranges::find(table, name, &Named<T>::name);
    if (found == std::end(table))
        return std::nullopt;
    return found->value;
}

template <typename T, std::size_t N>
std::string list_names(const Named<T> (&table)[N])
{
    std::string names;
    for (const auto &entry : table)
        names += (names.empty() ? "" : ", ") + std::string(entry.name);
    return names;
}

// Compact JSON; invalid UTF-8 (from a client's bytes echoed in a message) is replaced, not thrown.
std::string dump_line(const json &message)
{
    return json_text(message) + "\n";
}

// One JSON message of at most `max_bytes`; throws std::runtime_error saying where and why it is
// not one (malformed, nested too deep, a key given twice), without quoting it.
json parse_message(std::string_view line, std::size_t max_bytes)
{
    JsonDocument document = read_json(line, {.max_bytes = max_bytes});
    if (!document.value)
        throw std::runtime_error(join_errors(document.errors));
    return std::move(*document.value);
}

RequestError bad_request(const std::string &message)
{
    return RequestError(ErrorCode::BadRequest, message);
}

// The fields of a command's "args": only `known` ones, each checked as it is read.
class Args
{
  public:
    Args(const json &args, std::initializer_list<std::string_view> known, const ArgNamer &name)
        : args_(args), name_(name)
    {
        if (!args.is_object())
            throw bad_request(name("") + " must be an object, not " + json_text(args));
        if (auto unknown = unknown_fields(args, {known.begin(), known.end()}); !unknown.empty())
            throw bad_request(name(unknown[0].key) + ": unknown argument" + unknown[0].suggestion);
    }

    bool has(std::string_view key) const { return args_.contains(key); }

    std::string text(std::string_view key) const
    {
        const json *value = require(key);
        if (!value->is_string())
            throw bad_request(path(key) + ": must be a string, not " + json_text(*value));
        const auto &text = value->get_ref<const std::string &>();
        if (auto problem = control_character_problem(text))
            throw bad_request(path(key) + ": " + json_text(*value) + " " + *problem);
        return text;
    }

    std::uint64_t whole_number(std::string_view key, std::uint64_t min, std::uint64_t max) const
    {
        const json *value = require(key);
        if (!value->is_number_unsigned() || value->get<std::uint64_t>() < min ||
            value->get<std::uint64_t>() > max)
            throw bad_request(path(key) + ": must be a whole number " + std::to_string(min) +
                              " .. " + std::to_string(max) + ", not " + json_text(*value));
        return value->get<std::uint64_t>();
    }

    bool flag(std::string_view key) const
    {
        const json *value = require(key);
        if (!value->is_boolean())
            throw bad_request(path(key) + ": must be true or false, not " + json_text(*value));
        return value->get<bool>();
    }

    Prefix prefix(std::string_view key) const
    {
        const std::string written = text(key);
        auto prefix = parse_prefix(written);
        if (!prefix)
            throw bad_request(path(key) + ": " + json_text(written) +
                              " is not an IPv4 or IPv6 prefix (or address) with the host bits "
                              "zero");
        return *prefix;
    }

  private:
    std::string path(std::string_view key) const { return name_(key); }

    const json *require(std::string_view key) const
    {
        auto found = args_.find(key);
        if (found == args_.end())
            throw bad_request(path(key) + ": missing (required)");
        return &*found;
    }

    const json &args_;
    ArgNamer name_; // a copy: callers pass temporaries (a function converted on the spot)
};

// The action of the rules `command` adds.
rl_action action_of(Command command)
{
    switch (command) {
    case Command::Set:
        return RL_ACTION_LIMIT;
    case Command::Allow:
        return RL_ACTION_ALLOW;
    case Command::Deny:
        return RL_ACTION_DENY;
    default:
        throw std::invalid_argument(std::string(command_name(command)) + " adds no rule");
    }
}

std::optional<std::uint64_t> read_id(const json &message)
{
    auto id = message.find("id");
    if (id == message.end() || !id->is_number_unsigned())
        return std::nullopt;
    return id->get<std::uint64_t>();
}

std::variant<Request, Rejection> read_request(const json &message)
{
    constexpr std::string_view kFields[] = {"id", "cmd", "args"};
    auto reject = [](std::optional<std::uint64_t> id, std::string message) {
        return Rejection{id, {ErrorCode::BadRequest, std::move(message)}};
    };
    if (!message.is_object())
        return reject(std::nullopt, "a request is an object {\"id\", \"cmd\", \"args\"}, not " +
                                        json_text(message));
    const std::optional<std::uint64_t> id = read_id(message);
    if (!id)
        return reject(std::nullopt, "\"id\" must be a whole number, not " +
                                        json_text(message.value("id", json())));
    if (auto unknown = unknown_fields(message, kFields); !unknown.empty())
        return reject(id, unknown[0].key + ": unknown field of a request" + unknown[0].suggestion);
    auto cmd = message.find("cmd");
    if (cmd == message.end() || !cmd->is_string())
        return reject(id, "\"cmd\" must be a command name, not " +
                              json_text(message.value("cmd", json())));
    auto command = value_of(kCommands, cmd->get<std::string>());
    if (!command)
        return Rejection{
            id,
            {ErrorCode::UnknownCommand,
             "unknown command " + json_text(*cmd) + "; the commands are " + list_names(kCommands)}};
    json args = message.value("args", json::object());
    if (!args.is_object())
        return reject(id, "\"args\" must be an object, not " + json_text(args));
    return Request{*id, *command, std::move(args)};
}

// The "error" object of a failed response.
Error read_error(const json &error)
{
    if (!error.is_object() || !error.contains("code") || !error["code"].is_string() ||
        !error.contains("message") || !error["message"].is_string())
        throw std::runtime_error("\"error\" is not {\"code\", \"message\"}: " + json_text(error));
    auto code = error_code_from_name(error["code"].get<std::string>());
    if (!code)
        throw std::runtime_error("unknown error code " + json_text(error["code"]));
    return {*code, error["message"].get<std::string>()};
}

} // namespace

std::string_view error_code_name(ErrorCode code)
{
    return name_of(kErrorCodes, code);
}

std::optional<ErrorCode> error_code_from_name(std::string_view name)
{
    return value_of(kErrorCodes, name);
}

std::string_view command_name(Command command)
{
    return name_of(kCommands, command);
}

std::string encode(const Request &request)
{
    return dump_line(
        {{"id", request.id}, {"cmd", command_name(request.command)}, {"args", request.args}});
}

std::string encode(const Response &response)
{
    json message = {{"id", response.id ? json(*response.id) : json()}, {"ok", response.ok()}};
    if (const auto *result = std::get_if<json>(&response.outcome))
        message["result"] = *result;
    else {
        const Error &error = std::get<Error>(response.outcome);
        message["error"] = {{"code", error_code_name(error.code)}, {"message", error.message}};
    }
    return dump_line(message);
}

std::variant<Request, Rejection> decode_request(std::string_view line)
{
    json message;
    try {
        message = parse_message(line, kMaxRequestBytes);
    } catch (const std::runtime_error &error) {
        return Rejection{std::nullopt, {ErrorCode::BadRequest, error.what()}};
    }
    return read_request(message);
}

Response decode_response(std::string_view line)
{
    const json message = parse_message(line, kMaxResponseBytes);
    if (!message.is_object() || !message.contains("ok") || !message["ok"].is_boolean())
        throw std::runtime_error("not a response {\"id\", \"ok\", ...}: " + json_text(message));
    Response response;
    response.id = read_id(message);
    if (!response.id && !message.value("id", json()).is_null())
        throw std::runtime_error("\"id\" is neither a whole number nor null");
    if (message["ok"].get<bool>()) {
        if (!message.contains("result"))
            throw std::runtime_error("a successful response without \"result\"");
        response.outcome = message["result"];
    } else {
        response.outcome = read_error(message.value("error", json()));
    }
    return response;
}

std::string wire_name(std::string_view path)
{
    return path.empty() ? "args" : "args." + std::string(path);
}

void decode_no_args(const json &args)
{
    Args checked(args, {}, wire_name);
}

json encode_args(const RuntimeRuleArgs &args)
{
    json encoded = rule_to_json(args.rule);
    if (args.ttl)
        encoded["ttl"] = config::format_duration(*args.ttl);
    return encoded;
}

RuntimeRuleArgs decode_runtime_rule_args(Command command, const json &args, const ArgNamer &name)
{
    if (!args.is_object())
        throw bad_request(name("") + " must be a rule object, not " + json_text(args));
    auto invalid = [](const std::string &message) {
        return RequestError(ErrorCode::InvalidRule, message);
    };
    RuntimeRuleArgs decoded;
    json rule = args;
    if (auto ttl = rule.find("ttl"); ttl != rule.end()) {
        if (!ttl->is_string())
            throw invalid(name("ttl") + ": must be a duration like \"30s\" or \"1h30m\", not " +
                          json_text(*ttl));
        auto parsed = config::parse_duration(ttl->get<std::string>());
        if (!parsed.value)
            throw invalid(name("ttl") + ": " + parsed.error);
        decoded.ttl = parsed.value;
        rule.erase(ttl);
    }
    const std::string_view action = name_of(kActionNames, action_of(command));
    if (auto given = rule.find("action"); given != rule.end() && *given != json(action))
        throw invalid(name("action") + ": " + json_text(*given) + " does not go with " +
                      std::string(command_name(command)) + ", which adds \"" + std::string(action) +
                      "\" rules");
    rule["action"] = action;
    constexpr std::string_view kRoot = "args";
    auto parsed = parse_rule(rule, std::string(kRoot));
    if (!parsed.value) {
        std::string message;
        for (const auto &error : parsed.errors) {
            // The error's path below the rule: "args.rate" -> "rate".
            std::string_view below = std::string_view(error.path).substr(kRoot.size());
            if (below.starts_with('.'))
                below.remove_prefix(1);
            message += (message.empty() ? "" : "; ") + name(below) + ": " + error.message;
        }
        throw invalid(message);
    }
    if (auto problem = runtime_rule_problem(*parsed.value))
        throw invalid(name("match") + ": " + *problem);
    decoded.rule = std::move(*parsed.value);
    return decoded;
}

json encode_args(const UnsetArgs &args)
{
    if (const auto *prefix = std::get_if<Prefix>(&args.rule))
        return {{"match", prefix->to_string()}};
    return {{"name", std::get<std::string>(args.rule)}};
}

UnsetArgs decode_unset_args(const json &args, const ArgNamer &name)
{
    Args checked(args, {"match", "name"}, name);
    if (checked.has("match") && checked.has("name"))
        throw bad_request(name("") + ": give either \"match\" (a prefix) or \"name\", not both");
    if (!checked.has("name"))
        return {checked.prefix("match")};
    std::string rule_name = checked.text("name");
    if (auto problem = explain_bad_name(rule_name))
        throw bad_request(name("name") + ": " + *problem);
    return {std::move(rule_name)};
}

json encode_args(const ShowArgs &args)
{
    return {{"address", args.address.to_string()}};
}

ShowArgs decode_show_args(const json &args, const ArgNamer &name)
{
    const std::string written = Args(args, {"address"}, name).text("address");
    auto address = parse_address(written);
    if (!address)
        throw bad_request(name("address") + ": " + json_text(written) +
                          " is not an IPv4 or IPv6 address");
    return {*address};
}

std::string_view top_order_name(TopOrder order)
{
    return name_of(kTopOrders, order);
}

std::optional<TopOrder> top_order_from_name(std::string_view name)
{
    return value_of(kTopOrders, name);
}

json encode_args(const TopArgs &args)
{
    return {{"count", args.count}, {"by", top_order_name(args.by)}};
}

TopArgs decode_top_args(const json &args, const ArgNamer &name)
{
    Args checked(args, {"count", "by"}, name);
    TopArgs decoded;
    if (checked.has("count"))
        decoded.count = static_cast<std::uint32_t>(checked.whole_number("count", 1, kMaxTopCount));
    if (checked.has("by")) {
        const std::string by = checked.text("by");
        auto order = top_order_from_name(by);
        if (!order)
            throw bad_request(name("by") + ": " + json_text(by) + " is not one of " +
                              list_names(kTopOrders));
        decoded.by = *order;
    }
    return decoded;
}

json encode_args(const StatsArgs &args)
{
    return args.rules ? json{{"rules", true}} : json::object();
}

StatsArgs decode_stats_args(const json &args, const ArgNamer &name)
{
    Args checked(args, {"rules"}, name);
    return {checked.has("rules") && checked.flag("rules")};
}

json encode_args(const FlushArgs &args)
{
    if (args.match)
        return {{"match", args.match->to_string()}};
    return {{"all", true}};
}

FlushArgs decode_flush_args(const json &args, const ArgNamer &name)
{
    Args checked(args, {"match", "all"}, name);
    if (checked.has("match") == checked.has("all"))
        throw bad_request(name("") + ": give either \"match\" (a prefix) or \"all\": true");
    if (checked.has("match"))
        return {checked.prefix("match")};
    if (args["all"] != true)
        throw bad_request(name("all") + ": must be true, not " + json_text(args["all"]));
    return {std::nullopt};
}

Command ApplyChange::command() const
{
    if (const auto *rule = std::get_if<RuntimeRuleArgs>(&edit)) {
        switch (rule->rule.action) {
        case RL_ACTION_LIMIT:
            return Command::Set;
        case RL_ACTION_ALLOW:
            return Command::Allow;
        case RL_ACTION_DENY:
            return Command::Deny;
        }
        throw std::invalid_argument("a rule with no command's action");
    }
    return Command::Unset;
}

std::string change_name(const ApplyChange &change, std::size_t index)
{
    if (change.line != 0)
        return "line " + std::to_string(change.line);
    return "args.changes[" + std::to_string(index) + "]";
}

json encode_change(const ApplyChange &change)
{
    json encoded = std::visit(
        [](const auto &edit) {
            if constexpr (std::is_same_v<std::decay_t<decltype(edit)>, UnsetAllArgs>)
                return json{{"all", true}};
            else
                return encode_args(edit);
        },
        change.edit);
    encoded["op"] = command_name(change.command());
    if (change.line != 0)
        encoded["line"] = change.line;
    return encoded;
}

ApplyChange decode_change(const json &change, const ArgNamer &name)
{
    if (!change.is_object())
        throw bad_request(name("") + " must be a change {\"op\", ...}, not " + json_text(change));
    ApplyChange decoded;
    json args = change;
    if (auto line = args.find("line"); line != args.end()) {
        if (!line->is_number_unsigned() || line->get<std::uint64_t>() == 0)
            throw bad_request(name("line") + ": must be a whole number from 1, not " +
                              json_text(*line));
        decoded.line = line->get<std::uint64_t>();
        args.erase(line);
    }
    const json op = args.value("op", json());
    args.erase("op");
    const std::optional<Command> command =
        op.is_string() ? value_of(kCommands, op.get<std::string>()) : std::nullopt;
    switch (command.value_or(Command::Status)) {
    case Command::Set:
    case Command::Allow:
    case Command::Deny:
        decoded.edit = decode_runtime_rule_args(*command, args, name);
        return decoded;
    case Command::Unset:
        if (!args.contains("all")) {
            decoded.edit = decode_unset_args(args, name);
        } else if (!Args(args, {"all"}, name).flag("all")) {
            throw bad_request(name("all") + ": must be true, or left out");
        } else {
            decoded.edit = UnsetAllArgs{};
        }
        return decoded;
    default:
        throw bad_request(name("op") + ": must be set, allow, deny or unset, not " + json_text(op));
    }
}

json encode_args(const ApplyArgs &args)
{
    json changes = json::array();
    for (const auto &change : args.changes)
        changes.push_back(encode_change(change));
    return {{"changes", std::move(changes)}, {"part", args.part}, {"more", args.more}};
}

ApplyArgs decode_apply_args(const json &args)
{
    Args checked(args, {"changes", "part", "more"}, wire_name);
    ApplyArgs decoded;
    if (checked.has("part"))
        decoded.part = checked.whole_number("part", 0, std::numeric_limits<std::uint32_t>::max());
    if (checked.has("more"))
        decoded.more = checked.flag("more");
    const json changes = args.value("changes", json());
    if (!changes.is_array() || changes.empty())
        throw bad_request("args.changes: must be a list of at least one change, not " +
                          json_text(changes));
    std::string errors;
    std::optional<ErrorCode> first;
    for (std::size_t i = 0; i < changes.size(); i++) {
        ApplyChange numbered;
        if (const json &line = changes[i].is_object() ? changes[i].value("line", json()) : json();
            line.is_number_unsigned())
            numbered.line = line.get<std::uint64_t>();
        const std::string change = change_name(numbered, i);
        try {
            decoded.changes.push_back(decode_change(changes[i], [&change](std::string_view path) {
                return path.empty() ? change : change + ": " + std::string(path);
            }));
        } catch (const RequestError &e) {
            errors += (errors.empty() ? "" : "\n") + std::string(e.what());
            first = first.value_or(e.code());
        }
    }
    if (first)
        throw RequestError(*first, errors);
    return decoded;
}

std::vector<ApplyArgs> split_into_parts(std::vector<ApplyChange> changes)
{
    // The longest request around no change: the largest id and part, "more": false.
    constexpr auto kMost = std::numeric_limits<std::uint64_t>::max();
    const std::size_t around =
        encode(
            Request{kMost, Command::Apply,
                    encode_args(ApplyArgs{{}, std::numeric_limits<std::uint32_t>::max(), false})})
            .size();
    std::vector<ApplyArgs> parts;
    std::size_t size = 0;
    for (auto &change : changes) {
        const std::size_t bytes = json_text(encode_change(change)).size();
        if (around + bytes > kMaxRequestBytes)
            throw std::length_error(change_name(change, 0) + " alone is longer than a request");
        if (parts.empty() || size + 1 + bytes > kMaxRequestBytes) {
            if (!parts.empty())
                parts.back().more = true;
            parts.push_back({{}, parts.size(), false});
            size = around;
        } else {
            size += 1; // the comma
        }
        size += bytes;
        parts.back().changes.push_back(std::move(change));
    }
    return parts;
}

} // namespace ratelimit::control
