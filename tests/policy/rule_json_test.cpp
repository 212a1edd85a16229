// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The rule object's codec: every rule of the shipped configs survives print -> parse -> print,
// and each invalid rule is refused with the path of the field and why.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/rule_json.hpp"
#include "rules.hpp"

namespace ratelimit
{
namespace
{

namespace fs = std::filesystem;
using nlohmann::json;
using test::packet_limit;

Prefix prefix(const char *text)
{
    return parse_prefix(text).value();
}

std::string errors_of(const JsonErrors &errors)
{
    return join_errors(errors, "\n");
}

// ----- round trip over configs/ --------------------------------------------------------------

struct ShippedRule {
    std::string where; // "ratelimitd.json rules[3]"
    json rule;
};

std::vector<ShippedRule> shipped_rules()
{
    std::vector<ShippedRule> rules;
    for (const auto &entry : fs::directory_iterator(fs::path(RL_SOURCE_DIR) / "configs")) {
        if (entry.path().extension() != ".json")
            continue;
        std::ifstream file(entry.path());
        std::stringstream text;
        text << file.rdbuf();
        const json config = json::parse(text.str());
        if (!config.contains("rules"))
            continue;
        for (std::size_t i = 0; i < config["rules"].size(); i++)
            rules.push_back({entry.path().filename().string() + " rules[" + std::to_string(i) + "]",
                             config["rules"][i]});
    }
    return rules;
}

TEST(RuleJson, EveryShippedRuleSurvivesARoundTrip)
{
    const auto rules = shipped_rules();
    ASSERT_GE(rules.size(), 5u) << "configs/ratelimitd.json shows every kind of rule";
    for (const auto &[where, written] : rules) {
        auto parsed = parse_rule(written, where);
        ASSERT_TRUE(parsed.value) << where << ": " << errors_of(parsed.errors);
        const json printed = rule_to_json(*parsed.value);
        auto again = parse_rule(printed, where);
        ASSERT_TRUE(again.value) << where << " printed as " << printed.dump() << ": "
                                 << errors_of(again.errors);
        EXPECT_EQ(*again.value, *parsed.value) << where << " printed as " << printed.dump();
        EXPECT_EQ(rule_to_json(*again.value), printed) << where;
    }
}

TEST(RuleJson, PerIsWrittenInTheBitsOfTheRulesFamily)
{
    for (const auto &[match, per] : {std::pair{"10.0.0.0/8", "/24"},
                                     {"2001:db8::/32", "/64"},
                                     {"10.0.0.0/8", "source"},
                                     {"10.0.0.0/8", "rule"}}) {
        auto parsed = parse_rule({{"match", match}, {"rate", 5}, {"per", per}}, "rule");
        ASSERT_TRUE(parsed.value) << errors_of(parsed.errors);
        EXPECT_EQ(rule_to_json(*parsed.value)["limits"][0]["per"], per) << match;
        EXPECT_EQ(per_name(parsed.value->limits[0], parsed.value->match.front().is_v4()), per);
    }
    auto v4 = parse_rule({{"match", "10.0.0.0/8"}, {"rate", 5}, {"per", "/24"}}, "rule");
    ASSERT_TRUE(v4.value);
    EXPECT_EQ(v4.value->limits[0].per_prefixlen, 24u + RL_IPV4_MAPPED_PREFIXLEN);
}

TEST(RuleJson, DistinctPrefixesNamesTheFirstRuleForAPrefix)
{
    DistinctPrefixes distinct;
    JsonErrors errors;
    auto rule = [](const char *match) {
        return *parse_rule({{"match", match}, {"action", "deny"}}, "rule").value;
    };
    EXPECT_TRUE(distinct.add(rule("10.0.0.0/8"), "rules", 0, errors));
    EXPECT_TRUE(distinct.add(rule("10.1.0.0/16"), "rules", 1, errors));
    EXPECT_FALSE(distinct.add(rule("::ffff:10.0.0.0/104"), "rules", 2, errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(),
              "rules[2].match: \"::ffff:10.0.0.0/104\" is the same prefix as rules[0]");
}

// ----- errors: the field's path and why --------------------------------------------------------

struct Invalid {
    const char *name;
    std::string rule;   // a rule object, read at "rules[0]"
    std::string path;   // of the error that must be among those reported
    std::string reason; // a distinctive part of its message
};

void PrintTo(const Invalid &invalid, std::ostream *out)
{
    *out << invalid.name;
}

// The rule cases of the config's table (tests/config/config_test.cpp), on the codec alone.
const Invalid kInvalid[] = {
    {"Typo", R"({"match": "10.0.0.0/8", "rtae": "1kpps"})", "rules[0].rtae",
     "unknown field; did you mean \"rate\"?"},
    {"LimitTypo", R"({"match": "10.0.0.0/8", "limits": [{"rate": 1, "brust": 2}]})",
     "rules[0].limits[0].brust", "did you mean \"burst\"?"},
    {"ModeUnknown", R"({"match": "10.0.0.0/8", "rate": 1, "mode": "on"})", "rules[0].mode",
     "\"on\" is not one of enforce or monitor"},
    {"PrefixInvalid", R"({"match": "10.0.0.300/8", "rate": 1})", "rules[0].match",
     "\"10.0.0.300/8\" is not an IPv4 or IPv6 prefix"},
    {"PrefixHostBits", R"({"match": "10.0.0.1/8", "rate": 1})", "rules[0].match",
     "\"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?"},
    {"PrefixHostBitsIpv6", R"({"match": "2001:db8::1/32", "rate": 1})", "rules[0].match",
     "did you mean 2001:db8::/32?"},
    {"PrefixTooLong", R"({"match": "10.0.0.0/33", "rate": 1})", "rules[0].match",
     "the length must be 0 .. 32"},
    {"MatchMissing", R"({"rate": "1kpps"})", "rules[0].match", "missing"},
    {"MatchNotAString", R"({"match": 42, "rate": 1})", "rules[0].match",
     "must be a string, not 42"},
    {"ActionUnknown", R"({"match": "10.0.0.0/8", "action": "drop"})", "rules[0].action",
     "\"drop\" is not one of limit, allow or deny"},
    {"RateZero", R"({"match": "10.0.0.0/8", "rate": "0pps"})", "rules[0].rate",
     "below the minimum of 1pps"},
    {"RateWrongType", R"({"match": "10.0.0.0/8", "rate": true})", "rules[0].rate",
     "must be a string with a unit or a number, not true"},
    {"BurstWithoutRate", R"({"match": "10.0.0.0/8", "bytes": "10Mbit", "burst": 10})",
     "rules[0].burst", "set without \"rate\""},
    {"DenyAllIpv4", R"({"match": "0.0.0.0/0", "action": "deny"})", "rules[0].match",
     "\"0.0.0.0/0\" with \"action\": \"deny\" drops every IPv4 source, cutting this host off"},
    {"DenyEverything", R"({"match": "::/0", "action": "deny"})", "rules[0].match",
     "drops every source, cutting this host off; if that is meant, force it"},
    {"ForceNotABool", R"({"match": "0.0.0.0/0", "action": "deny", "force": "yes"})",
     "rules[0].force", "must be true or false"},
    {"CommentTooLong",
     R"({"match": "10.0.0.0/8", "action": "deny", "comment": ")" + std::string(201, 'x') + R"("})",
     "rules[0].comment", "is 201 bytes long; at most 200"},
    {"ByteBurstBelowAFrame", R"({"match": "10.0.0.0/8", "bytes": "1Mbit", "byte_burst": "1000B"})",
     "rules[0].byte_burst", "\"1000B\" is smaller than one full-size frame (1518B)"},
    {"PerWiderThanRule", R"({"match": "203.0.113.0/24", "rate": 1, "per": "/16"})", "rules[0].per",
     "\"/16\" is wider than the rule's prefix 203.0.113.0/24"},
    {"PerBeyondIpv4", R"({"match": "10.0.0.0/8", "rate": 1, "per": "/33"})", "rules[0].per",
     "longer than an IPv4 address (32 bits)"},
    {"PerUnknown", R"({"match": "10.0.0.0/8", "rate": 1, "per": "subnet"})", "rules[0].per",
     "\"subnet\" is not \"source\", \"rule\" or a prefix length"},
    {"AllowWithRate", R"({"match": "10.0.0.0/8", "action": "allow", "rate": 1})", "rules[0].rate",
     "\"allow\" rules take no limits"},
    {"LimitWithoutRate", R"({"match": "10.0.0.0/8", "per": "rule"})", "rules[0]",
     "needs \"rate\" (packets per second), \"bytes\" (a byte rate) or both"},
    {"ShorthandAndLimits", R"({"match": "10.0.0.0/8", "rate": 1, "limits": [{"rate": 2}]})",
     "rules[0].rate", "cannot be combined with \"limits\""},
    {"LimitsEmpty", R"({"match": "10.0.0.0/8", "limits": []})", "rules[0].limits",
     "must be a non-empty list of limits"},
    {"FiveLimits", R"({"match": "10.0.0.0/8", "limits": [{"rate": 1}, {"rate": 2},
                       {"rate": 3}, {"rate": 4}, {"rate": 5}]})",
     "rules[0].limits", "5 limits; at most 4 can be stacked"},
    {"BanNotAnObject", R"({"match": "10.0.0.0/8", "rate": 1, "ban": "5s"})", "rules[0].ban",
     "must be an object"},
    {"BanAfterMissing", R"({"match": "10.0.0.0/8", "rate": 1, "ban": {"for": "10m"}})",
     "rules[0].ban.after", "missing (required)"},
    {"BanForMissing", R"({"match": "10.0.0.0/8", "rate": 1, "ban": {"after": "5s"}})",
     "rules[0].ban.for", "missing (required)"},
    {"BanAfterNotADuration",
     R"({"match": "10.0.0.0/8", "rate": 1, "ban": {"after": "5 fortnights", "for": "10m"}})",
     "rules[0].ban.after", "fortnights"},
    {"BanForANumber", R"({"match": "10.0.0.0/8", "rate": 1, "ban": {"after": "5s", "for": 600}})",
     "rules[0].ban.for", "must be a duration like \"5s\" or \"10m\", not 600"},
    {"BanScopeUnknown",
     R"({"match": "10.0.0.0/8", "rate": 1, "ban": {"after": "5s", "for": "10m", "scope": "any"}})",
     "rules[0].ban.scope", "\"any\" is not one of rule or all"},
    {"BanTypo", R"({"match": "10.0.0.0/8", "rate": 1, "ban": {"after": "5s", "fro": "10m"}})",
     "rules[0].ban.fro", "did you mean \"for\"?"},
    {"BanOnADeny", R"({"match": "10.0.0.0/8", "action": "deny", "ban": {"after": "5s",
                       "for": "10m"}})",
     "rules[0].ban", "\"deny\" rules take no ban"},
    {"PortWithoutProto", R"({"match": "10.0.0.0/8", "rate": 1, "port": 53})", "rules[0].port",
     "53 needs \"proto\": \"tcp\" or \"udp\""},
    {"PortOnIcmp", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "icmp", "port": "80,443"})",
     "rules[0].port", "\"80,443\" needs \"proto\": \"tcp\" or \"udp\""},
    {"PortZero", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "udp", "port": 0})",
     "rules[0].port", "\"0\" is not a port (1 .. 65535)"},
    {"PortTooHigh", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "udp", "port": "65536"})",
     "rules[0].port", "\"65536\" is not a port (1 .. 65535)"},
    {"PortRangeReversed",
     R"({"match": "10.0.0.0/8", "rate": 1, "proto": "udp", "port": "27030-27015"})",
     "rules[0].port", "\"27030-27015\" is a reversed range; did you mean \"27015-27030\"?"},
    {"PortNotANumber", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "tcp", "port": "http"})",
     "rules[0].port", "\"http\" is not a port"},
    {"PortListItemBad", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "tcp", "port": [80, true]})",
     "rules[0].port", "not true"},
    {"PortListEmpty", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "tcp", "port": []})",
     "rules[0].port", "non-empty list"},
    {"ProtoUnknown", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "sctp"})", "rules[0].proto",
     "\"sctp\" is not one of tcp, udp, icmp, icmpv6 or a protocol number 0 .. 255"},
    {"ProtoNumberTooHigh", R"({"match": "10.0.0.0/8", "rate": 1, "proto": 256})", "rules[0].proto",
     "256 is not a protocol number (0 .. 255)"},
    {"ProtoNegative", R"({"match": "10.0.0.0/8", "rate": 1, "proto": -1})", "rules[0].proto",
     "-1 is not a protocol number"},
    {"TcpFlagsWithoutTcp", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "udp",
                              "tcp_flags": "syn"})",
     "rules[0].tcp_flags", "\"syn\" needs \"proto\": \"tcp\""},
    {"TcpFlagsWithoutProto", R"({"match": "10.0.0.0/8", "rate": 1, "tcp_flags": "syn"})",
     "rules[0].tcp_flags", "needs \"proto\": \"tcp\""},
    {"TcpFlagUnknown", R"({"match": "10.0.0.0/8", "rate": 1, "proto": "tcp", "tcp_flags": "fin"})",
     "rules[0].tcp_flags", "\"fin\" is not one of syn"},
    {"NameUppercase", R"({"match": "10.0.0.0/8", "action": "deny", "name": "DNS"})",
     "rules[0].name", "\"DNS\" has \"D\" at 1: a name is 1 to 64 of a-z, 0-9, '_', '.' and '-'"},
    {"NameSpace", R"({"match": "10.0.0.0/8", "action": "deny", "name": "my rule"})",
     "rules[0].name", "\"my rule\" has \" \" at 3"},
    {"NameSlash", R"({"match": "10.0.0.0/8", "action": "deny", "name": "10.0.0.0/8"})",
     "rules[0].name", "has \"/\" at 9"},
    {"NameColon", R"({"match": "10.0.0.0/8", "action": "deny", "name": "::1"})", "rules[0].name",
     "has \":\" at 1"},
    {"NameEmpty", R"({"match": "10.0.0.0/8", "action": "deny", "name": ""})", "rules[0].name",
     "\"\" is empty"},
    {"Name65Characters",
     R"({"match": "10.0.0.0/8", "action": "deny", "name": ")" + std::string(65, 'a') + R"("})",
     "rules[0].name", "is 65 characters long"},
    {"NameReadsAsAnAddress", R"({"match": "10.0.0.0/8", "action": "deny", "name": "10.0.0.1"})",
     "rules[0].name", "\"10.0.0.1\" is only digits and dots, as an address is"},
    {"NameOnlyDigits", R"({"match": "10.0.0.0/8", "action": "deny", "name": "53"})",
     "rules[0].name", "only digits and dots"},
    {"NameNotAString", R"({"match": "10.0.0.0/8", "action": "deny", "name": 53})", "rules[0].name",
     "must be a string"},
};

class InvalidRule : public testing::TestWithParam<Invalid>
{
};

TEST_P(InvalidRule, IsRefusedNamingTheFieldAndWhy)
{
    const Invalid &invalid = GetParam();
    auto result = parse_rule(json::parse(invalid.rule), "rules[0]");
    EXPECT_FALSE(result.value);
    bool found = false;
    for (const auto &error : result.errors)
        found |=
            error.path == invalid.path && error.message.find(invalid.reason) != std::string::npos;
    EXPECT_TRUE(found) << "expected " << invalid.path << ": ..." << invalid.reason << "...\ngot:\n"
                       << errors_of(result.errors);
}

INSTANTIATE_TEST_SUITE_P(RuleJson, InvalidRule, testing::ValuesIn(kInvalid),
                         [](const auto &info) { return std::string(info.param.name); });

// ----- one rule on its own, as the control socket adds them --------------------------------------

TEST(RuleJson, ParsesLikeAConfigRule)
{
    auto rule = json::parse(R"({"match": "2001:db8::/48", "rate": "1kpps",
                                          "per": "/64", "mode": "monitor"})");
    Validated<Rule> result = parse_rule(rule, "runtime");
    ASSERT_TRUE(result.value);
    EXPECT_TRUE(result.errors.empty());
    EXPECT_EQ(*result.value, (Rule{{prefix("2001:db8::/48")},
                                   RL_ACTION_LIMIT,
                                   {packet_limit(1000, 1000, RL_PER_PREFIX, 64)},
                                   true,
                                   "2001:db8::/48"}));
}

TEST(RuleJson, ForceTakesADenyOfEveryoneAndMonitorNeedsNoForce)
{
    for (const char *text : {R"({"match": "0.0.0.0/0", "action": "deny", "force": true})",
                             R"({"match": "::/0", "action": "deny", "force": true})",
                             R"({"match": "0.0.0.0/0", "action": "deny", "mode": "monitor"})",
                             R"({"match": "0.0.0.0/1", "action": "deny"})"}) {
        Validated<Rule> result = parse_rule(json::parse(text), "runtime");
        EXPECT_TRUE(result.value) << text << ": " << result.errors.front().to_string();
    }
    Validated<Rule> forced =
        parse_rule(json::parse(R"({"match": "::/0", "action": "deny", "force": true})"), "runtime");
    ASSERT_TRUE(forced.value);
    EXPECT_TRUE(forced.value->force);
}

TEST(RuleJson, ReadsAndWritesABan)
{
    Validated<Rule> result = parse_rule(json::parse(R"({"match": "0.0.0.0/0", "rate": "20pps",
        "burst": 40, "ban": {"after": "5s", "for": "10m"}})"),
                                        "rules[2]");
    ASSERT_TRUE(result.value) << errors_of(result.errors);
    ASSERT_TRUE(result.value->ban);
    EXPECT_EQ(*result.value->ban,
              (BanSpec{std::chrono::seconds(5), std::chrono::minutes(10), BanScope::Rule}));
    const json written = rule_to_json(*result.value);
    EXPECT_EQ(written["ban"], json::parse(R"({"after": "5s", "for": "10m", "scope": "rule"})"));
    EXPECT_EQ(parse_rule(written, "again").value, result.value);

    Validated<Rule> all = parse_rule(json::parse(R"({"match": "10.0.0.0/8", "rate": 1,
        "ban": {"after": "1m30s", "for": "1h", "scope": "all"}})"),
                                     "runtime");
    ASSERT_TRUE(all.value) << errors_of(all.errors);
    EXPECT_EQ(all.value->ban->scope, BanScope::All);
    EXPECT_EQ(all.value->ban->after, std::chrono::seconds(90));
}

TEST(RuleJson, KeepsItsComment)
{
    Validated<Rule> result = parse_rule(json::parse(R"({"match": "10.0.0.0/8",
        "action": "deny", "comment": "ticket 4711: scanner, ask Sam"})"),
                                        "runtime");
    ASSERT_TRUE(result.value);
    EXPECT_EQ(result.value->comment, "ticket 4711: scanner, ask Sam");
}

TEST(RuleJson, KeepsItsNameAndWritesIt)
{
    for (const std::string &name :
         std::vector<std::string>{"dns", "a", "edge-1.eu_west", "0.dns", std::string(64, 'z')}) {
        auto result =
            parse_rule({{"match", "10.0.0.0/8"}, {"action", "deny"}, {"name", name}}, "rules[0]");
        ASSERT_TRUE(result.value) << name << ": " << errors_of(result.errors);
        EXPECT_EQ(result.value->name, name);
        EXPECT_EQ(rule_to_json(*result.value)["name"], name);
        EXPECT_EQ(*parse_rule(rule_to_json(*result.value), "again").value, *result.value);
    }
    auto unnamed = parse_rule({{"match", "10.0.0.0/8"}, {"action", "deny"}}, "rules[0]");
    ASSERT_TRUE(unnamed.value);
    EXPECT_FALSE(rule_to_json(*unnamed.value).contains("name"));
    Rule renamed = *unnamed.value;
    renamed.name = "x";
    EXPECT_NE(renamed, *unnamed.value) << "a name is part of the rule";
}

TEST(RuleJson, DistinctNamesNamesTheFirstRuleWithTheName)
{
    DistinctNames distinct;
    JsonErrors errors;
    auto rule = [](const char *match, const char *name) {
        Rule rule = *parse_rule({{"match", match}, {"action", "deny"}}, "rule").value;
        rule.name = name;
        return rule;
    };
    EXPECT_TRUE(distinct.add(rule("10.0.0.0/8", "dns"), "rules", 0, errors));
    EXPECT_TRUE(distinct.add(rule("10.1.0.0/16", ""), "rules", 1, errors));
    EXPECT_TRUE(distinct.add(rule("10.2.0.0/16", ""), "rules", 2, errors)) << "unnamed twice";
    EXPECT_FALSE(distinct.add(rule("10.3.0.0/16", "dns"), "rules", 3, errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(),
              "rules[3].name: \"dns\" is the name of rules[0] too: names are unique");
}

// A word naming a runtime rule is a prefix when it reads as one, else a name: never both.
TEST(RuleJson, RuleRefsArePrefixesOrNames)
{
    struct Case {
        const char *text;
        std::optional<std::string> ref; // as to_string writes it; none: refused
        const char *error = "";
    };
    for (const Case &c : std::initializer_list<Case>{
             {"10.0.0.1", "10.0.0.1/32"},
             {"10.0.0.0/8", "10.0.0.0/8"},
             {"2001:db8::/32", "2001:db8::/32"},
             {"::1", "::1/128"},
             {"dns", "dns"},
             {"0.dns", "0.dns"},
             {"10.0.0.300", std::nullopt, "is not an IPv4 or IPv6 prefix"},
             {"10.0.0.1/8", std::nullopt, "host bits set"},
             {"DNS", std::nullopt, "is neither a prefix nor a rule name: \"DNS\" has \"D\" at 1"},
             {"", std::nullopt, "is not an IPv4 or IPv6 prefix"},
         }) {
        auto ref = read_rule_ref(c.text);
        if (c.ref) {
            ASSERT_TRUE(ref.value) << c.text << ": " << ref.error;
            EXPECT_EQ(to_string(*ref.value), *c.ref) << c.text;
            EXPECT_EQ(std::holds_alternative<Prefix>(*ref.value),
                      explain_bad_name(c.text).has_value())
                << c.text << ": a valid name is never read as a prefix";
        } else {
            EXPECT_FALSE(ref.value) << c.text;
            EXPECT_NE(ref.error.find(c.error), std::string::npos) << c.text << ": " << ref.error;
        }
    }
}

TEST(RuleJson, BareNumbersAreInBaseUnits)
{
    Validated<Rule> result = parse_rule(json::parse(R"({"match": "10.0.0.0/8",
        "bytes": 1250000, "byte_burst": 2000, "rate": 10, "burst": 20})"),
                                        "runtime");
    ASSERT_TRUE(result.value) << result.errors.front().to_string();
    ASSERT_EQ(result.value->limits.size(), 2u);
    EXPECT_EQ(result.value->limits[0].rate, 10u);
    EXPECT_EQ(result.value->limits[0].burst, 20u);
    EXPECT_EQ(result.value->limits[1].rate, 1'250'000u) << "bytes per second";
    EXPECT_EQ(result.value->limits[1].burst, 2000u);
}

TEST(RuleJson, ErrorsArePrefixedWithTheGivenPath)
{
    Validated<Rule> result = parse_rule(json::parse(R"({"match": "10.0.0.1/8", "rate": 0,
                                                             "ttl": "1h"})"),
                                        "runtime");
    EXPECT_FALSE(result.value);
    std::vector<std::string> paths;
    for (const auto &error : result.errors)
        paths.push_back(error.path);
    EXPECT_EQ(paths, (std::vector<std::string>{"runtime.ttl", "runtime.match", "runtime.rate"}));
}

// ----- selectors -----------------------------------------------------------------------------

Selector selector_of(const char *text)
{
    Validated<Rule> result = parse_rule(json::parse(text), "runtime");
    EXPECT_TRUE(result.value) << text << ": " << errors_of(result.errors);
    return result.value ? result.value->selector : Selector{};
}

TEST(RuleJson, ARuleWithoutSelectorIsTheCatchAll)
{
    const Selector none = selector_of(R"({"match": "10.0.0.0/8", "rate": 1})");
    EXPECT_TRUE(none.catch_all());
    EXPECT_EQ(none, Selector{});
    EXPECT_FALSE(
        rule_to_json(
            *parse_rule(json::parse(R"({"match": "10.0.0.0/8", "rate": 1})"), "runtime").value)
            .contains("proto"));
}

TEST(RuleJson, ReadsEveryFormOfPortSet)
{
    const Selector one = selector_of(R"({"match": "0.0.0.0/0", "rate": 1, "proto": "udp",
                                         "port": 53})");
    EXPECT_EQ(one.proto, kProtoUdp);
    EXPECT_EQ(one.ports, (std::vector<PortRange>{{53, 53}}));
    EXPECT_EQ(
        selector_of(R"({"match": "0.0.0.0/0", "rate": 1, "proto": "tcp", "port": "80,443"})").ports,
        (std::vector<PortRange>{{80, 80}, {443, 443}}));
    EXPECT_EQ(selector_of(R"({"match": "0.0.0.0/0", "rate": 1, "proto": "udp",
                              "port": "27015-27030"})")
                  .ports,
              (std::vector<PortRange>{{27015, 27030}}));
    // Lists, unsorted, overlapping and adjacent: one canonical set.
    EXPECT_EQ(selector_of(R"({"match": "0.0.0.0/0", "rate": 1, "proto": "udp",
                              "port": ["27020-27030", 443, "80, 27015-27021", "444"]})")
                  .ports,
              (std::vector<PortRange>{{80, 80}, {443, 444}, {27015, 27030}}));
}

TEST(RuleJson, ReadsProtocolsByNameOrNumberAndTheSynFlag)
{
    EXPECT_EQ(selector_of(R"({"match": "::/0", "rate": 1, "proto": "icmpv6"})").proto, 58);
    EXPECT_EQ(selector_of(R"({"match": "::/0", "rate": 1, "proto": 47})").proto, 47);
    EXPECT_EQ(selector_of(R"({"match": "::/0", "rate": 1, "proto": 6})").proto, kProtoTcp);
    const Selector syn = selector_of(R"({"match": "0.0.0.0/0", "rate": 1, "proto": "tcp",
                                         "port": "80,443", "tcp_flags": "syn"})");
    EXPECT_EQ(syn.tcp_flags, TcpFlags::Syn);
    EXPECT_EQ(selector_text(syn), "tcp/80,443 syn");
    EXPECT_EQ(selector_text(Selector{}), "all");
    EXPECT_EQ(selector_text(Selector{47, {}}), "47");
}

TEST(RuleJson, WritesSelectorsCanonicallyAndReadsThemBack)
{
    for (const char *text :
         {R"({"match": "0.0.0.0/0", "rate": 1, "proto": "udp", "port": [53]})",
          R"({"match": "0.0.0.0/0", "rate": 1, "proto": 17, "port": "27015-27030,1"})",
          R"({"match": "0.0.0.0/0", "rate": 1, "proto": "tcp", "port": "443,80",
              "tcp_flags": "syn"})",
          R"({"match": "2001:db8::/32", "action": "deny", "proto": 132})"}) {
        Validated<Rule> parsed = parse_rule(json::parse(text), "runtime");
        ASSERT_TRUE(parsed.value) << text << ": " << errors_of(parsed.errors);
        const json written = rule_to_json(*parsed.value);
        EXPECT_EQ(parse_rule(written, "again").value, parsed.value) << written.dump();
        EXPECT_EQ(rule_to_json(*parse_rule(written, "again").value), written);
    }
    const json dns = rule_to_json(
        *parse_rule(json::parse(R"({"match": "0.0.0.0/0", "rate": 1, "proto": 17, "port": "53"})"),
                    "runtime")
             .value);
    EXPECT_EQ(dns["proto"], "udp");
    EXPECT_EQ(dns["port"], 53);
}

TEST(RuleJson, TheSamePrefixWithAnotherSelectorIsAnotherRule)
{
    auto rule = [](const char *text) { return *parse_rule(json::parse(text), "rules").value; };
    DistinctPrefixes distinct;
    JsonErrors errors;
    EXPECT_TRUE(distinct.add(rule(R"({"match": "0.0.0.0/0", "rate": 1})"), "rules", 0, errors));
    EXPECT_TRUE(distinct.add(rule(R"({"match": "0.0.0.0/0", "rate": 1, "proto": "udp",
                                      "port": 53})"),
                             "rules", 1, errors));
    EXPECT_FALSE(distinct.add(rule(R"({"match": "0.0.0.0/0", "rate": 2, "proto": "udp",
                                       "port": [53]})"),
                              "rules", 2, errors));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(), "rules[2].match: \"0.0.0.0/0\" is the same prefix as "
                                     "rules[1], with the same selector");
}

TEST(RuleJson, NotAnObject)
{
    Validated<Rule> result = parse_rule(json::array(), "runtime");
    EXPECT_FALSE(result.value);
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].to_string(), "runtime: must be an object, not a list");
}

} // namespace
} // namespace ratelimit
