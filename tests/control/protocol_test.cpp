// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The control protocol shared by ratelimitd and ratelimitctl: every message and every command's
// arguments survive encode -> decode, and what is not a valid request is refused with the right
// stable error code, the request's id when it could be read, and a message naming the problem.

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <type_traits>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "rules.hpp"

namespace ratelimit::control
{
namespace
{

using nlohmann::json;
using namespace std::chrono_literals;

// The line without its newline, as the reader hands it on.
std::string_view body(const std::string &line)
{
    EXPECT_TRUE(line.ends_with('\n')) << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one message, one line: " << line;
    return std::string_view(line).substr(0, line.size() - 1);
}

Rejection rejected(std::string_view line)
{
    auto decoded = decode_request(line);
    if (!std::holds_alternative<Rejection>(decoded)) {
        ADD_FAILURE() << "accepted: " << line;
        return {};
    }
    return std::get<Rejection>(decoded);
}

using test::parsed_rule;

// The error a decoder throws for `args`, or a failure if it accepts them.
template <typename Decode>
Error refusal(Decode decode, const json &args)
{
    try {
        // A decoder named by its function loses its default ArgNamer.
        if constexpr (std::is_invocable_v<Decode, const json &>)
            decode(args);
        else
            decode(args, wire_name);
    } catch (const RequestError &e) {
        return e.error();
    }
    ADD_FAILURE() << "accepted: " << args.dump();
    return {};
}

TEST(ProtocolTest, RequestsSurviveARoundTrip)
{
    const Request requests[] = {
        {0, Command::Status, json::object()},
        {7, Command::Top, encode_args(TopArgs{5, TopOrder::Bytes})},
        {18446744073709551615u, Command::Flush, encode_args(FlushArgs{})},
        {3, Command::Set, {{"match", "10.0.0.0/8"}, {"rate", "line\nbreak"}}},
    };
    for (const auto &request : requests) {
        auto decoded = decode_request(body(encode(request)));
        ASSERT_TRUE(std::holds_alternative<Request>(decoded)) << encode(request);
        EXPECT_EQ(std::get<Request>(decoded), request) << encode(request);
    }
}

TEST(ProtocolTest, ArgsMayBeLeftOut)
{
    auto decoded = decode_request(R"({"id": 1, "cmd": "stats"})");
    ASSERT_TRUE(std::holds_alternative<Request>(decoded));
    EXPECT_EQ(std::get<Request>(decoded), (Request{1, Command::Stats, json::object()}));
}

TEST(ProtocolTest, ResponsesSurviveARoundTrip)
{
    const Response responses[] = {
        {4, json{{"sources", 3}, {"match", nullptr}}},
        {std::nullopt, Error{ErrorCode::TooLarge, "a request is at most 65536 bytes"}},
        {9, Error{ErrorCode::InvalidRule, "args.rate: \"5x\" has an unknown unit"}},
    };
    for (const auto &response : responses) {
        const std::string line = encode(response);
        EXPECT_EQ(decode_response(body(line)), response) << line;
    }
}

TEST(ProtocolTest, ResponsesHaveTheDocumentedShape)
{
    EXPECT_EQ(json::parse(encode(Response{4, json{{"n", 1}}})),
              json::parse(R"({"id": 4, "ok": true, "result": {"n": 1}})"));
    EXPECT_EQ(json::parse(encode(Response{std::nullopt, Error{ErrorCode::Busy, "later"}})),
              json::parse(R"({"id": null, "ok": false,
                              "error": {"code": "busy", "message": "later"}})"));
}

TEST(ProtocolTest, ErrorCodesKeepTheirNames)
{
    const std::pair<ErrorCode, std::string_view> names[] = {
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
    for (const auto &[code, name] : names) {
        EXPECT_EQ(error_code_name(code), name);
        EXPECT_EQ(error_code_from_name(name), code);
    }
    EXPECT_EQ(error_code_from_name("nope"), std::nullopt);
}

TEST(ProtocolTest, EveryProblemWithARequestIsRefused)
{
    struct Case {
        std::string_view line;
        std::optional<std::uint64_t> id;
        ErrorCode code;
        std::string_view says;
    };
    const Case cases[] = {
        {R"({"id": 1, "cmd": )", std::nullopt, ErrorCode::BadRequest, "malformed JSON"},
        {"", std::nullopt, ErrorCode::BadRequest, "malformed JSON"},
        {"\"\xff\"", std::nullopt, ErrorCode::BadRequest, "malformed JSON"},
        {"[1, 2]", std::nullopt, ErrorCode::BadRequest, "a request is an object"},
        {R"({"cmd": "status"})", std::nullopt, ErrorCode::BadRequest, "\"id\" must be"},
        {R"({"id": -1, "cmd": "status"})", std::nullopt, ErrorCode::BadRequest, "-1"},
        {R"({"id": "7", "cmd": "status"})", std::nullopt, ErrorCode::BadRequest, "\"7\""},
        {R"({"id": 2, "cmd": "status", "x": 1})", 2, ErrorCode::BadRequest, "x: unknown field"},
        {R"({"id": 3})", 3, ErrorCode::BadRequest, "\"cmd\" must be"},
        {R"({"id": 4, "cmd": 5})", 4, ErrorCode::BadRequest, "\"cmd\" must be"},
        {R"({"id": 5, "cmd": "stauts"})", 5, ErrorCode::UnknownCommand,
         "unknown command \"stauts\"; the commands are status, list, set"},
        {R"({"id": 6, "cmd": "list", "args": []})", 6, ErrorCode::BadRequest,
         "\"args\" must be an object"},
    };
    for (const auto &c : cases) {
        const Rejection rejection = rejected(c.line);
        EXPECT_EQ(rejection.id, c.id) << c.line;
        EXPECT_EQ(rejection.error.code, c.code) << c.line;
        EXPECT_NE(rejection.error.message.find(c.says), std::string::npos)
            << c.line << ": " << rejection.error.message;
    }
}

TEST(ProtocolTest, ARefusalEchoingInvalidUtf8IsStillOneValidLine)
{
    const Response response{1, Error{ErrorCode::BadRequest, "bad \xff\xfe bytes"}};
    const std::string line = encode(response);
    EXPECT_EQ(decode_response(body(line)).outcome.index(), 1u);
}

TEST(ProtocolTest, AResponseThatIsNotOneIsRefused)
{
    for (std::string_view line :
         {"nope", "[]", R"({"id": 1})", R"({"id": 1, "ok": "yes"})", R"({"id": 1, "ok": true})",
          R"({"id": "x", "ok": true, "result": 1})", R"({"id": 1, "ok": false})",
          R"({"id": 1, "ok": false, "error": {"code": "bad_request"}})",
          R"({"id": 1, "ok": false, "error": {"code": "weird", "message": "m"}})"})
        EXPECT_THROW(decode_response(line), std::runtime_error) << line;
}

TEST(ProtocolTest, RuntimeRuleArgumentsSurviveARoundTrip)
{
    const std::pair<Command, RuntimeRuleArgs> cases[] = {
        {Command::Set,
         {parsed_rule(R"({"match": "203.0.113.0/24", "rate": "100pps", "burst": 200})"), 1h}},
        {Command::Set,
         {parsed_rule(R"({"match": "2001:db8::/32", "mode": "monitor", "limits": [
                           {"bytes": "10Mbit", "byte_burst": "256KiB", "per": "/64"},
                           {"rate": 5000, "per": "rule"}]})"),
          std::nullopt}},
        {Command::Allow, {parsed_rule(R"({"match": "192.0.2.0/24", "action": "allow"})"), 90s}},
        {Command::Deny, {parsed_rule(R"({"match": "198.51.100.7", "action": "deny"})"), 1500ms}},
        {Command::Set,
         {parsed_rule(R"({"match": "10.6.0.0/16", "rate": 20, "mode": "monitor",
                          "comment": "dry run before the cut-over"})"),
          90min}},
        {Command::Deny,
         {parsed_rule(R"({"match": "::/0", "action": "deny", "force": true,
                          "comment": "maintenance window"})"),
          std::nullopt}},
    };
    for (const auto &[command, args] : cases) {
        const json encoded = encode_args(args);
        EXPECT_EQ(decode_runtime_rule_args(command, encoded), args) << encoded.dump();
    }
}

TEST(ProtocolTest, TheCommandSetsTheRulesAction)
{
    const json args = {{"match", "10.0.0.0/8"}, {"ttl", "30s"}};
    EXPECT_EQ(decode_runtime_rule_args(Command::Deny, args).rule.action, RL_ACTION_DENY);
    EXPECT_EQ(decode_runtime_rule_args(Command::Allow, args).rule.action, RL_ACTION_ALLOW);
    EXPECT_EQ(decode_runtime_rule_args(Command::Deny, args).ttl, 30s);
    const json limit = {{"match", "10.0.0.0/8"}, {"rate", "5pps"}};
    EXPECT_EQ(decode_runtime_rule_args(Command::Set, limit).rule.action, RL_ACTION_LIMIT);
}

TEST(ProtocolTest, RuntimeRulesAreValidatedLikeConfigRules)
{
    struct Case {
        Command command;
        json args;
        ErrorCode code;
        std::string_view says;
    };
    const Case cases[] = {
        {Command::Set, json::array(), ErrorCode::BadRequest, "args must be a rule object"},
        {Command::Set,
         {{"match", "10.0.0.300/8"}, {"rate", 5}},
         ErrorCode::InvalidRule,
         "args.match: \"10.0.0.300/8\" is not an IPv4 or IPv6 prefix"},
        {Command::Set,
         {{"match", "10.0.0.1/8"}, {"rate", 5}},
         ErrorCode::InvalidRule,
         "did you mean 10.0.0.0/8?"},
        {Command::Set,
         {{"match", "10.0.0.0/8"}, {"rate", "5x"}},
         ErrorCode::InvalidRule,
         "args.rate"},
        {Command::Set, {{"match", "10.0.0.0/8"}}, ErrorCode::InvalidRule, "needs \"rate\""},
        {Command::Set,
         {{"match", "10.0.0.0/8"}, {"rate", 5}, {"per", "/4"}},
         ErrorCode::InvalidRule,
         "wider than the rule's prefix"},
        {Command::Set,
         {{"match", "10.0.0.0/8"}, {"rate", 5}, {"rat", 5}},
         ErrorCode::InvalidRule,
         "args.rat: unknown field; did you mean \"rate\"?"},
        {Command::Set,
         {{"match", "10.0.0.0/8"}, {"action", "deny"}},
         ErrorCode::InvalidRule,
         "args.action: \"deny\" does not go with set"},
        {Command::Allow,
         {{"match", "10.0.0.0/8"}, {"rate", 5}},
         ErrorCode::InvalidRule,
         "\"allow\" rules take no limits"},
        {Command::Deny,
         {{"match", "10.0.0.0/8"}, {"ttl", "30"}},
         ErrorCode::InvalidRule,
         "args.ttl: "},
        {Command::Deny,
         {{"match", "10.0.0.0/8"}, {"ttl", 30}},
         ErrorCode::InvalidRule,
         "args.ttl: must be a duration"},
        {Command::Deny, {{"ttl", "30s"}}, ErrorCode::InvalidRule, "args.match: missing"},
    };
    for (const auto &c : cases) {
        const Error error = refusal(
            [&](const json &args) { return decode_runtime_rule_args(c.command, args); }, c.args);
        EXPECT_EQ(error.code, c.code) << c.args.dump();
        EXPECT_NE(error.message.find(c.says), std::string::npos)
            << c.args.dump() << ": " << error.message;
    }
}

TEST(ProtocolTest, OtherArgumentsSurviveARoundTrip)
{
    const UnsetArgs unset{*parse_prefix("2001:db8::/48")};
    EXPECT_EQ(decode_unset_args(encode_args(unset)), unset);
    const UnsetArgs by_name{std::string("dns")};
    EXPECT_EQ(encode_args(by_name), json({{"name", "dns"}}));
    EXPECT_EQ(decode_unset_args(encode_args(by_name)), by_name);
    const ShowArgs show{*parse_address("203.0.113.9")};
    EXPECT_EQ(decode_show_args(encode_args(show)), show);
    for (const TopArgs top :
         {TopArgs{}, TopArgs{1, TopOrder::Packets}, TopArgs{1000, TopOrder::Bytes}})
        EXPECT_EQ(decode_top_args(encode_args(top)), top);
    for (const FlushArgs flush : {FlushArgs{}, FlushArgs{*parse_prefix("10.1.0.0/16")}})
        EXPECT_EQ(decode_flush_args(encode_args(flush)), flush);
    for (const StatsArgs stats : {StatsArgs{}, StatsArgs{true}})
        EXPECT_EQ(decode_stats_args(encode_args(stats)), stats);
    EXPECT_EQ(decode_stats_args(json::object()), StatsArgs{}) << "a stats of old clients";
}

TEST(ProtocolTest, OmittedTopArgumentsTakeTheirDefaults)
{
    EXPECT_EQ(decode_top_args(json::object()), (TopArgs{10, TopOrder::Drops}));
    EXPECT_EQ(top_order_from_name("packets"), TopOrder::Packets);
    EXPECT_EQ(top_order_from_name("Packets"), std::nullopt);
}

TEST(ProtocolTest, OtherArgumentsAreValidated)
{
    struct Case {
        Error (*refuse)(const json &);
        json args;
        std::string_view says;
    };
    auto unset = [](const json &args) {
        return refusal([](const json &a) { return decode_unset_args(a); }, args);
    };
    auto show = [](const json &args) {
        return refusal([](const json &a) { return decode_show_args(a); }, args);
    };
    auto top = [](const json &args) {
        return refusal([](const json &a) { return decode_top_args(a); }, args);
    };
    auto flush = [](const json &args) {
        return refusal([](const json &a) { return decode_flush_args(a); }, args);
    };
    auto stats = [](const json &args) {
        return refusal([](const json &a) { return decode_stats_args(a); }, args);
    };
    auto none = [](const json &args) { return refusal(decode_no_args, args); };
    const Case cases[] = {
        {unset, json::object(), "args.match: missing (required)"},
        {unset, {{"match", "10.0.0.1/8"}}, "is not an IPv4 or IPv6 prefix"},
        {unset, {{"match", 10}}, "args.match: must be a string"},
        {unset, {{"match", "10.0.0.0/8"}, {"ttl", "1s"}}, "args.ttl: unknown argument"},
        {unset,
         {{"match", "10.0.0.0/8"}, {"name", "dns"}},
         "either \"match\" (a prefix) or \"name\""},
        {unset, {{"name", "DNS"}}, "args.name: \"DNS\" has \"D\" at 1"},
        {unset, {{"name", "10.0.0.1"}}, "args.name: \"10.0.0.1\" is only digits and dots"},
        {show, {{"address", "10.0.0.0/8"}}, "is not an IPv4 or IPv6 address"},
        {show, {{"address", "fe80::1%eth0"}}, "is not an IPv4 or IPv6 address"},
        {top, {{"count", 0}}, "args.count: must be a whole number 1 .. 1000"},
        {top, {{"count", 1001}}, "1001"},
        {top, {{"count", -1}}, "-1"},
        {top, {{"count", "5"}}, "\"5\""},
        {top, {{"by", "drop"}}, "args.by: \"drop\" is not one of drops, packets, bytes"},
        {flush, json::object(), "either \"match\" (a prefix) or \"all\": true"},
        {flush, {{"match", "10.0.0.0/8"}, {"all", true}}, "either"},
        {flush, {{"all", false}}, "args.all: must be true"},
        {stats, {{"rules", "yes"}}, "args.rules: must be true or false"},
        {stats, {{"rule", true}}, "args.rule: unknown argument"},
        {none, {{"verbose", true}}, "args.verbose: unknown argument"},
        {none, json::array(), "args must be an object"},
    };
    for (const auto &c : cases) {
        const Error error = c.refuse(c.args);
        EXPECT_EQ(error.code, ErrorCode::BadRequest) << c.args.dump();
        EXPECT_NE(error.message.find(c.says), std::string::npos)
            << c.args.dump() << ": " << error.message;
    }
}

// A key given twice used to be resolved silently, the last one winning: a request that says
// "status" and then "reload" ran a reload.
TEST(ProtocolTest, ARequestWithAKeyGivenTwiceIsRefused)
{
    EXPECT_EQ(rejected(R"({"id": 1, "cmd": "status", "cmd": "reload"})"),
              (Rejection{std::nullopt,
                         {ErrorCode::BadRequest, "cmd: is given twice (line 1, column 32)"}}));
    EXPECT_EQ(
        rejected(R"({"id": 2, "cmd": "deny", "args": {"match": "10.0.0.1", "match": "::/0"}})")
            .error.message,
        "args.match: is given twice (line 1, column 62)");
    EXPECT_THROW(decode_response(R"({"id": 1, "ok": true, "ok": false, "result": 1})"),
                 std::runtime_error);
}

TEST(ProtocolTest, NestingDeeperThanAnyMessageIsRefused)
{
    const std::string deep = std::string(100, '[') + std::string(100, ']');
    const Rejection rejection =
        rejected(R"({"id": 1, "cmd": "unset", "args": {"match": )" + deep + "}}");
    EXPECT_EQ(rejection.error.code, ErrorCode::BadRequest);
    EXPECT_NE(rejection.error.message.find("nested deeper than 64 levels (line 1, column "),
              std::string::npos)
        << rejection.error.message;
    try {
        decode_response(R"({"id": 1, "ok": true, "result": )" + deep + "}");
        ADD_FAILURE() << "a response nested 100 deep was read";
    } catch (const std::runtime_error &error) {
        EXPECT_NE(std::string(error.what()).find("nested deeper than 64 levels"), std::string::npos)
            << error.what();
    }
}

// "10.4.0.9\u0000 <- harmless" used to be read as 10.4.0.9 (and listed with the rest).
TEST(ProtocolTest, ControlCharactersInPrefixesAndAddressesAreRefused)
{
    const std::string nul_prefix = std::string("10.4.0.9\0 <- harmless", 21);
    const std::string says = "contains a control character (U+0000 at byte 8)";
    for (Command command : {Command::Set, Command::Allow, Command::Deny}) {
        json args = {{"match", nul_prefix}};
        if (command == Command::Set)
            args["rate"] = 10;
        try {
            decode_runtime_rule_args(command, args);
            ADD_FAILURE() << "accepted " << args.dump();
        } catch (const RequestError &error) {
            EXPECT_EQ(error.code(), ErrorCode::InvalidRule);
            EXPECT_NE(std::string(error.what())
                          .find("args.match: \"10.4.0.9\\u0000 <- harmless\" " + says),
                      std::string::npos)
                << error.what();
        }
    }
    for (const Error &error : {refusal(decode_unset_args, {{"match", nul_prefix}}),
                               refusal(decode_flush_args, {{"match", nul_prefix}}),
                               refusal(decode_show_args, {{"address", nul_prefix}}),
                               refusal(decode_top_args, {{"by", std::string("bytes\0", 6)}})}) {
        EXPECT_EQ(error.code, ErrorCode::BadRequest);
        EXPECT_NE(error.message.find("contains a control character (U+0000 at byte "),
                  std::string::npos)
            << error.message;
    }
    try {
        decode_runtime_rule_args(Command::Deny,
                                 {{"match", "10.0.0.1"}, {"ttl", std::string("5m\0", 3)}});
        ADD_FAILURE() << "accepted a TTL with a NUL";
    } catch (const RequestError &error) {
        EXPECT_NE(std::string(error.what()).find("args.ttl: the text contains a control character"),
                  std::string::npos)
            << error.what();
    }
}

TEST(ProtocolTest, ARuleThatDeniesEveryoneNeedsForce)
{
    const Error error =
        refusal([](const json &args) { return decode_runtime_rule_args(Command::Deny, args); },
                {{"match", "0.0.0.0/0"}});
    EXPECT_EQ(error.code, ErrorCode::InvalidRule);
    EXPECT_NE(error.message.find("args.match: \"0.0.0.0/0\" with \"action\": \"deny\" drops every"),
              std::string::npos)
        << error.message;
    EXPECT_TRUE(decode_runtime_rule_args(Command::Deny, {{"match", "0.0.0.0/0"}, {"force", true}})
                    .rule.force);
}

TEST(ProtocolTest, ErrorsNameArgumentsAsTheNamerSays)
{
    const ArgNamer typed = [](std::string_view path) {
        return path == "match" ? std::string("PREFIX") : "--" + std::string(path);
    };
    auto message = [&](Command command, const json &args) {
        return refusal([&](const json &a) { return decode_runtime_rule_args(command, a, typed); },
                       args)
            .message;
    };
    EXPECT_EQ(message(Command::Set, {{"match", "10.0.0.0/8"}, {"rate", "5x"}}).find("--rate: "),
              0u);
    EXPECT_EQ(message(Command::Deny, {{"match", "10.0.0.300/8"}}).find("PREFIX: "), 0u);
    EXPECT_EQ(message(Command::Deny, {{"match", "10.0.0.0/8"}, {"ttl", "soon"}}).find("--ttl: "),
              0u);
    const Error show =
        refusal([&](const json &a) { return decode_show_args(a, typed); }, {{"address", "nope"}});
    EXPECT_EQ(show.message.find("--address: \"nope\""), 0u) << show.message;
}

// ----- apply ---------------------------------------------------------

ApplyChange deny_change(std::uint64_t line, const std::string &match)
{
    return {line, RuntimeRuleArgs{parsed_rule(R"({"match": ")" + match + R"(", "action": "deny"})"),
                                  std::nullopt}};
}

TEST(ProtocolTest, ApplyArgumentsSurviveARoundTrip)
{
    const ApplyArgs args{
        {deny_change(3, "198.51.100.7"),
         {4, RuntimeRuleArgs{parsed_rule(R"({"match": "203.0.113.0/24", "rate": "100pps"})"), 1h}},
         {5, RuntimeRuleArgs{parsed_rule(R"({"match": "192.0.2.0/24", "action": "allow"})"),
                             std::nullopt}},
         {7, UnsetArgs{parse_prefix("10.0.0.0/8").value()}},
         {0, UnsetAllArgs{}}},
        2,
        true};
    const json encoded = encode_args(args);
    EXPECT_EQ(decode_apply_args(encoded), args) << encoded.dump();
    EXPECT_EQ(encoded["changes"][0]["op"], "deny");
    EXPECT_EQ(encoded["changes"][0]["line"], 3);
    EXPECT_EQ(encoded["changes"][1]["op"], "set");
    EXPECT_EQ(encoded["changes"][3], json({{"op", "unset"}, {"match", "10.0.0.0/8"}, {"line", 7}}));
    EXPECT_EQ(encoded["changes"][4], json({{"op", "unset"}, {"all", true}}));
    const Request request{9, Command::Apply, encoded};
    EXPECT_EQ(std::get<Request>(decode_request(body(encode(request)))), request);
}

TEST(ProtocolTest, ApplyNamesEveryBadChangeByItsLine)
{
    // As a request's text has them: whole numbers from 1 are read as unsigned.
    const json args = json::parse(R"({"changes": [
        {"op": "deny", "match": "198.51.100.7", "line": 1},
        {"op": "deny", "match": "10.0.0.300", "line": 2},
        {"op": "allow", "match": "192.0.2.0/24", "line": 3},
        {"op": "set", "match": "10.1.0.0/16", "rate": "fast", "line": 40},
        {"op": "show", "address": "10.0.0.1", "line": 41},
        {"op": "deny", "match": "10.9.0.0/16", "ttl": 5}]})");
    const Error error = refusal(decode_apply_args, args);
    EXPECT_EQ(error.code, ErrorCode::InvalidRule);
    std::vector<std::string> lines;
    std::istringstream in(error.message);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    ASSERT_EQ(lines.size(), 4u) << error.message;
    EXPECT_EQ(lines[0].find("line 2: match: "), 0u) << lines[0];
    EXPECT_EQ(lines[1].find("line 40: rate: "), 0u) << lines[1];
    EXPECT_EQ(lines[2].find("line 41: op: must be set, allow, deny or unset"), 0u) << lines[2];
    EXPECT_EQ(lines[3].find("args.changes[5]: ttl: "), 0u) << lines[3];
}

TEST(ProtocolTest, ApplyArgumentsAreValidated)
{
    EXPECT_EQ(refusal(decode_apply_args, {{"changes", json::array()}}).code, ErrorCode::BadRequest);
    EXPECT_EQ(refusal(decode_apply_args, json::object()).code, ErrorCode::BadRequest);
    const json deny = {{"op", "deny"}, {"match", "10.0.0.1"}};
    EXPECT_EQ(refusal(decode_apply_args, {{"changes", {deny}}, {"more", "yes"}}).code,
              ErrorCode::BadRequest);
    EXPECT_EQ(refusal(decode_apply_args, {{"changes", {deny}}, {"part", -1}}).code,
              ErrorCode::BadRequest);
    // The name of a bad argument comes from a namer the decoder was given as a temporary (the
    // fuzzer found it read after its end, under AddressSanitizer).
    EXPECT_NE(
        refusal(decode_apply_args, {{"changes", {deny}}, {"part", 1e300}}).message.find("part"),
        std::string::npos);
    EXPECT_EQ(refusal(decode_apply_args, {{"changes", {deny}}, {"commit", true}}).code,
              ErrorCode::BadRequest);
    const json unset_not_all = {{"op", "unset"}, {"all", false}};
    EXPECT_EQ(refusal(decode_apply_args, {{"changes", {unset_not_all}}}).code,
              ErrorCode::BadRequest);
    const json line_zero = json::parse(R"({"op": "deny", "match": "10.0.0.1", "line": 0})");
    EXPECT_EQ(refusal(decode_apply_args, {{"changes", {line_zero}}}).code, ErrorCode::BadRequest);
}

TEST(ProtocolTest, ChangesSplitIntoPartsThatEachFitARequest)
{
    std::vector<ApplyChange> changes;
    for (std::uint64_t i = 0; i < 10'000; i++)
        changes.push_back(
            deny_change(i + 1, "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
    const std::vector<ApplyArgs> parts = split_into_parts(changes);
    ASSERT_GT(parts.size(), 1u);
    std::vector<ApplyChange> joined;
    for (std::size_t i = 0; i < parts.size(); i++) {
        EXPECT_EQ(parts[i].part, i);
        EXPECT_EQ(parts[i].more, i + 1 < parts.size());
        const std::string line =
            encode(Request{~std::uint64_t{0}, Command::Apply, encode_args(parts[i])});
        EXPECT_LE(line.size(), kMaxRequestBytes);
        if (i + 1 < parts.size()) {
            // Full: the next change, after a comma, would not have fit with the longest "part".
            const std::size_t next = encode_change(parts[i + 1].changes.front()).dump().size();
            EXPECT_GT(line.size() + 1 + next + 10, kMaxRequestBytes);
        }
        joined.insert(joined.end(), parts[i].changes.begin(), parts[i].changes.end());
    }
    EXPECT_EQ(joined, changes);
    EXPECT_EQ(split_into_parts({deny_change(1, "10.0.0.1")}).size(), 1u);
}

} // namespace
} // namespace ratelimit::control
