// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The control protocol between ratelimitd and ratelimitctl: newline-delimited JSON over the
// daemon's Unix socket. Both sides build on this module, so a message, a command's arguments and
// their validation are written once.
//
//   request   {"id": 7, "cmd": "top", "args": {"count": 5, "by": "bytes"}}
//   response  {"id": 7, "ok": true, "result": {...}}
//             {"id": 7, "ok": false, "error": {"code": "invalid_rule", "message": "..."}}
//
// One message per line: compact JSON never holds a raw newline. A request line is at most
// kMaxRequestBytes, newline included. "id" is a whole number the client picks and the daemon
// echoes (null when a request is too broken to read it); requests on one connection are answered
// in order. "args" may be left out when a command takes none.
//
// Commands and their arguments (results.hpp has what "result" holds for each):
//   status, list, reload: none
//   stats    {"rules"?: true (also what each named rule judged)}
//   set      {rule object without "action" (or "limit"), "ttl"?: duration}
//   allow    {"match", "ttl"?, "comment"?}
//   deny     {"match", "ttl"?, "mode"?, "force"?, "comment"?}
//   unset    {"match"} or {"name"}: the runtime rule for a prefix, or of that name
//   show     {"address"}
//   top      {"count"?: 1 .. kMaxTopCount (10), "by"?: drops|packets|bytes (drops; would-drops
//                count as drops)}
//   flush    {"match"} or {"all": true}
//   apply    {"changes": [change...], "part"?: 0.., "more"?: bool}
//            Many runtime rule changes as one transaction, applied in order, all or nothing, with
//            one reconcile and one write of the state file. A change is the arguments of set,
//            allow, deny or unset plus "op" (that command's name) and "line"? (the number the
//            client names it by: its line in a file); {"op": "unset", "all": true} removes every
//            runtime rule. A transaction larger than one request comes in parts on one
//            connection: parts 0, 1, ... in order, each but the last with "more": true; the
//            daemon holds the parts it received (at most twice max_rules changes, across all
//            connections) until the last one commits them, and drops them when a part is
//            refused or the connection closes. Errors name every bad change by its line.
//   bans: none
//   unban    {"address"}

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "net/address.hpp"
#include "policy/rule.hpp"
#include "policy/rule_json.hpp"

namespace ratelimit::control
{

inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
// Answers come from the daemon, which the client trusts; a long rule list can exceed 64 KiB.
inline constexpr std::size_t kMaxResponseBytes = 64 * 1024 * 1024;
inline constexpr std::uint32_t kMaxTopCount = 1000;
inline constexpr const char *kDefaultSocket = config::kDefaultSocket;

// Stable: scripts match on these names (error_code_name).
enum class ErrorCode {
    BadRequest,       // not a request, or arguments the command does not take
    UnknownCommand,   // "cmd" names no command
    InvalidRule,      // set/allow/deny: not a rule the config file would accept
    NotFound,         // unset: no runtime rule for that prefix
    PermissionDenied, // the peer is neither root nor in the control group
    TooLarge,         // a request line over kMaxRequestBytes
    RulesFull,        // the rule table (max_rules) has no room for another rule
    ReloadFailed,     // reload: the config was refused; the running rules stay
    Busy,             // the daemon serves as many connections as it will
    Internal,         // the daemon failed; its log says why
};
std::string_view error_code_name(ErrorCode code);
std::optional<ErrorCode> error_code_from_name(std::string_view name);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
    bool operator==(const Error &) const = default;
};

// A request the daemon refuses: thrown by the argument decoders below and by the daemon's
// command handlers, answered as an error response.
class RequestError : public std::runtime_error
{
  public:
    RequestError(ErrorCode code, const std::string &message)
        : std::runtime_error(message), code_(code)
    {
    }
    ErrorCode code() const { return code_; }
    Error error() const { return {code_, what()}; }

  private:
    ErrorCode code_;
};

enum class Command {
    Status,
    List,
    Set,
    Allow,
    Deny,
    Unset,
    Show,
    Top,
    Stats,
    Flush,
    Reload,
    Apply,
    Bans,
    Unban
};
std::string_view command_name(Command command);

struct Request {
    std::uint64_t id = 0;
    Command command = Command::Status;
    nlohmann::json args = nlohmann::json::object();
    bool operator==(const Request &) const = default;
};

struct Response {
    std::optional<std::uint64_t> id; // empty: the request's id could not be read
    std::variant<nlohmann::json, Error> outcome;
    bool ok() const { return outcome.index() == 0; }
    bool operator==(const Response &) const = default;
};

// A request line the daemon answers with an error without running anything.
struct Rejection {
    std::optional<std::uint64_t> id;
    Error error;
    bool operator==(const Rejection &) const = default;
};

// One line each, the newline included.
std::string encode(const Request &request);
std::string encode(const Response &response);

// A line without its newline. Decoding a request never throws: what cannot be read is a
// Rejection carrying the id if that much was readable. decode_response throws
// std::runtime_error saying what is wrong with the line.
std::variant<Request, Rejection> decode_request(std::string_view line);
Response decode_response(std::string_view line);

// ----- arguments -----------------------------------------------------
// Each command's arguments, encoded by the CLI and decoded (validated) by the daemon and, before
// sending, by the CLI. Decoders throw RequestError naming the argument and why: by its place in
// the request ("args.rate", "args.limits[0].rate"; "args" for the whole), or as an ArgNamer
// names it, given the path below "args" ("rate", "limits[0].rate"; "" for the whole).
using ArgNamer = std::function<std::string(std::string_view path)>;
std::string wire_name(std::string_view path);

// status, list, reload, bans.
void decode_no_args(const nlohmann::json &args);

struct StatsArgs {
    bool rules = false; // also the counters of each named rule, the unnamed ones together
    bool operator==(const StatsArgs &) const = default;
};
nlohmann::json encode_args(const StatsArgs &args);
StatsArgs decode_stats_args(const nlohmann::json &args, const ArgNamer &name = wire_name);

// set, allow, deny: a rule for one prefix, replacing any runtime rule for it.
struct RuntimeRuleArgs {
    Rule rule;
    std::optional<std::chrono::milliseconds> ttl; // empty: until unset
    bool operator==(const RuntimeRuleArgs &) const = default;
};
nlohmann::json encode_args(const RuntimeRuleArgs &args);
// The rule's action is the command's; an "action" argument may only repeat it.
RuntimeRuleArgs decode_runtime_rule_args(Command command, const nlohmann::json &args,
                                         const ArgNamer &name = wire_name);

struct UnsetArgs {
    RuleRef rule; // its prefix ("match") or its name ("name")
    bool operator==(const UnsetArgs &) const = default;
};
nlohmann::json encode_args(const UnsetArgs &args);
UnsetArgs decode_unset_args(const nlohmann::json &args, const ArgNamer &name = wire_name);

struct ShowArgs {
    Address address;
    bool operator==(const ShowArgs &) const = default;
};
nlohmann::json encode_args(const ShowArgs &args);
ShowArgs decode_show_args(const nlohmann::json &args, const ArgNamer &name = wire_name);
// unban names its source as show does (decode_show_args).
using UnbanArgs = ShowArgs;

enum class TopOrder { Drops, Packets, Bytes };
std::string_view top_order_name(TopOrder order);
std::optional<TopOrder> top_order_from_name(std::string_view name);
inline constexpr std::string_view kTopOrderNames[] = {"drops", "packets", "bytes"};

struct TopArgs {
    std::uint32_t count = 10;
    TopOrder by = TopOrder::Drops;
    bool operator==(const TopArgs &) const = default;
};
nlohmann::json encode_args(const TopArgs &args);
TopArgs decode_top_args(const nlohmann::json &args, const ArgNamer &name = wire_name);

struct FlushArgs {
    std::optional<Prefix> match; // empty: every bucket
    bool operator==(const FlushArgs &) const = default;
};
nlohmann::json encode_args(const FlushArgs &args);
FlushArgs decode_flush_args(const nlohmann::json &args, const ArgNamer &name = wire_name);

// apply: changes of the runtime rules, in order.
struct UnsetAllArgs {
    bool operator==(const UnsetAllArgs &) const = default;
};

struct ApplyChange {
    std::uint64_t line = 0; // the client's number for it (its line in a file); 0: none
    std::variant<RuntimeRuleArgs, UnsetArgs, UnsetAllArgs> edit;
    // set, allow, deny (by the rule's action) or unset.
    Command command() const;
    bool operator==(const ApplyChange &) const = default;
};
// The change's name in messages: "line 12", or "change 3" (`index`, from 0) without a line.
std::string change_name(const ApplyChange &change, std::size_t index);
nlohmann::json encode_change(const ApplyChange &change);
// Throws RequestError naming the argument as `name` does (the path below the change).
ApplyChange decode_change(const nlohmann::json &change, const ArgNamer &name);

struct ApplyArgs {
    std::vector<ApplyChange> changes;
    std::uint64_t part = 0; // its place in the transaction, from 0
    bool more = false;      // more parts follow on this connection; the last part commits
    bool operator==(const ApplyArgs &) const = default;
};
nlohmann::json encode_args(const ApplyArgs &args);
// Every bad change is named (by change_name), one a line, in the RequestError's message.
ApplyArgs decode_apply_args(const nlohmann::json &args);
// `changes` as the parts of one transaction, each request of which (id included) fits in
// kMaxRequestBytes. Throws std::length_error for a change that alone does not.
std::vector<ApplyArgs> split_into_parts(std::vector<ApplyChange> changes);

} // namespace ratelimit::control
