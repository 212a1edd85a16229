// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The config file: valid files become the expected structs; each invalid one is refused with an
// error naming the field's path and why.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "rules.hpp"
#include "scratch_dir.hpp"

namespace ratelimit::config
{
namespace
{

namespace fs = std::filesystem;

bool eth0_and_eth1_exist(const std::string &name)
{
    return name == "eth0" || name == "eth1";
}

bool any_interface_exists(const std::string &)
{
    return true;
}

// A config attached to eth0 with `fields` added at the top level.
std::string on_eth0(const std::string &fields)
{
    return R"({"interfaces": [{"name": "eth0"}], )" + fields + "}";
}

std::string with_rules(const std::string &rules)
{
    return on_eth0(R"("rules": [)" + rules + "]");
}

Config parse_valid(const std::string &text)
{
    ParseResult result = parse_config(text, eth0_and_eth1_exist);
    std::string errors;
    for (const auto &error : result.errors)
        errors += error.to_string() + "\n";
    EXPECT_TRUE(result.value) << text << "\n" << errors;
    EXPECT_TRUE(result.errors.empty()) << errors;
    return result.value.value_or(Config{});
}

Prefix prefix(const char *text)
{
    return parse_prefix(text).value();
}

using test::byte_limit;
using test::packet_limit;

// ----- valid configs ---------------------------------------------------------------------------

TEST(Config, OnlyInterfacesIsValidWithEveryDefault)
{
    Config expected;
    expected.interfaces = {{"eth0", XdpMode::Auto}};
    EXPECT_EQ(parse_valid(R"({"interfaces": [{"name": "eth0"}]})"), expected);
    EXPECT_EQ(expected.mode, Mode::Enforce);
    EXPECT_TRUE(expected.default_limits.empty());
    EXPECT_EQ(expected.max_sources, 1000000u);
    EXPECT_EQ(expected.metrics.listen, "127.0.0.1:9469");
}

TEST(Config, ProductExample)
{
    Config config = parse_valid(R"({
      "interfaces": [{"name": "eth0", "xdp_mode": "auto"}],
      "mode": "enforce",
      "default": {"rate": "1000pps", "burst": 2000},
      "rules": [
        {"match": "203.0.113.0/24", "rate": "100pps", "burst": 200},
        {"match": "2001:db8::/32", "bytes": "10Mbit", "byte_burst": "256KiB", "per": "/64"},
        {"match": "0.0.0.0/0", "limits": [
          {"rate": "500pps", "burst": 1000, "per": "source"},
          {"rate": "5kpps", "per": "/24"},
          {"rate": "2Mpps", "per": "rule"}]},
        {"match": "198.51.100.7", "action": "deny"},
        {"match": "192.0.2.0/24", "action": "allow"}
      ],
      "max_sources": 1000000,
      "control": {"socket": "/run/ratelimitd/ratelimitd.sock", "group": "ratelimit"},
      "metrics": {"listen": "127.0.0.1:9469"}
    })");
    EXPECT_EQ(config.default_limits, std::vector{packet_limit(1000, 2000)});
    ASSERT_EQ(config.rules.size(), 5u);
    EXPECT_EQ(config.rules[0], (Rule{{prefix("203.0.113.0/24")},
                                     RL_ACTION_LIMIT,
                                     {packet_limit(100, 200)},
                                     false,
                                     "203.0.113.0/24"}));
    EXPECT_EQ(config.rules[1].limits, std::vector{byte_limit(1250000, 262144, RL_PER_PREFIX, 64)});
    EXPECT_EQ(config.rules[2].limits,
              (std::vector{packet_limit(500, 1000), packet_limit(5000, 5000, RL_PER_PREFIX, 120),
                           packet_limit(2000000, 2000000, RL_PER_RULE)}));
    EXPECT_EQ(config.rules[3],
              (Rule{{prefix("198.51.100.7/32")}, RL_ACTION_DENY, {}, false, "198.51.100.7"}));
    EXPECT_EQ(config.rules[4].action, RL_ACTION_ALLOW);
    EXPECT_EQ(config.control.group, "ratelimit");
}

TEST(Config, ShorthandEqualsOneLimitInALimitsList)
{
    Config shorthand = parse_valid(with_rules(R"({"match": "203.0.113.0/24", "rate": "100pps",
        "burst": 200, "bytes": "10Mbit", "byte_burst": "64KiB", "per": "/28"})"));
    Config listed = parse_valid(with_rules(R"({"match": "203.0.113.0/24", "limits": [
        {"rate": "100pps", "burst": 200, "bytes": "10Mbit", "byte_burst": "64KiB", "per": "/28"}
        ]})"));
    EXPECT_EQ(shorthand, listed);
    EXPECT_EQ(shorthand.rules[0].limits,
              (std::vector{packet_limit(100, 200, RL_PER_PREFIX, 124),
                           byte_limit(1250000, 65536, RL_PER_PREFIX, 124)}));
}

TEST(Config, PerPrefixIsStoredInIpv6Bits)
{
    Config config = parse_valid(with_rules(R"(
        {"match": "10.0.0.0/8", "rate": "1kpps", "per": "/24"},
        {"match": "2001:db8::/32", "rate": "1kpps", "per": "/64"},
        {"match": "::ffff:192.168.0.0/112", "rate": "1kpps", "per": "/24"})"));
    EXPECT_EQ(config.rules[0].limits[0].per, RL_PER_PREFIX);
    EXPECT_EQ(config.rules[0].limits[0].per_prefixlen, 120u);
    EXPECT_EQ(config.rules[1].limits[0].per_prefixlen, 64u);
    EXPECT_EQ(config.rules[2].limits[0].per_prefixlen, 120u); // mapped: counted as IPv4
}

TEST(Config, OmittedBurstsAreOneSecondsWorth)
{
    Config config = parse_valid(with_rules(R"(
        {"match": "10.0.0.0/8", "rate": "5kpps", "bytes": "10Mbit"},
        {"match": "10.1.0.0/16", "bytes": "8kbit"},
        {"match": "10.2.0.0/16", "rate": 1})"));
    EXPECT_EQ(config.rules[0].limits,
              (std::vector{packet_limit(5000, 5000), byte_limit(1250000, 1250000)}));
    EXPECT_EQ(config.rules[1].limits, std::vector{byte_limit(1000, 1518)}); // at least one frame
    EXPECT_EQ(config.rules[2].limits, std::vector{packet_limit(1, 1)});
}

TEST(Config, RulesAndSettings)
{
    Config config = parse_valid(on_eth0(R"(
        "mode": "monitor",
        "default": {"limits": [{"rate": "1kpps", "per": "rule"}, {"bytes": "1Gbit"}]},
        "rules": [
          {"match": "0.0.0.0/0", "rate": "10kpps"},
          {"match": "::/0", "rate": "10kpps"},
          {"match": "2001:db8::1", "action": "deny", "mode": "monitor"},
          {"match": "100.64.0.0/10", "rate": "1kpps", "mode": "monitor"}],
        "max_sources": 1024, "max_rules": 16, "drop_malformed": true,
        "control": {"socket": "/run/rl.sock"},
        "metrics": {"enabled": false, "listen": "[::1]:9100"},
        "state_dir": "/srv/rl", "pin_dir": "/sys/fs/bpf/rl", "keep_attached_on_exit": true,
        "log_level": "debug")"));
    EXPECT_EQ(config.mode, Mode::Monitor);
    EXPECT_EQ(config.default_limits, (std::vector{packet_limit(1000, 1000, RL_PER_RULE),
                                                  byte_limit(125000000, 125000000)}));
    EXPECT_EQ(config.rules[1].match.front(), prefix("::/0")); // not a duplicate of 0.0.0.0/0
    EXPECT_EQ(config.rules[2].match.front(), prefix("2001:db8::1/128"));
    EXPECT_TRUE(config.rules[2].monitor);
    EXPECT_TRUE(config.rules[3].monitor);
    EXPECT_FALSE(config.rules[0].monitor);
    EXPECT_EQ(config.max_sources, 1024u);
    EXPECT_EQ(config.max_rules, 16u);
    EXPECT_TRUE(config.drop_malformed);
    EXPECT_EQ(config.control.socket, "/run/rl.sock");
    EXPECT_EQ(config.control.group, "");
    EXPECT_EQ(config.metrics, (Config::Metrics{false, "[::1]:9100"}));
    EXPECT_EQ(config.state_dir, "/srv/rl");
    EXPECT_EQ(config.pin_dir, "/sys/fs/bpf/rl");
    EXPECT_TRUE(config.keep_attached_on_exit);
    EXPECT_EQ(config.log_level, "debug");
}

TEST(Config, InterfacesInOrderWithTheirModes)
{
    Config config = parse_valid(R"({"interfaces": [{"name": "eth1", "xdp_mode": "generic"},
                                                   {"name": "eth0", "xdp_mode": "native"}],
                                   "metrics": {"listen": "localhost:9469"}})");
    EXPECT_EQ(config.interfaces,
              (std::vector<Interface>{{"eth1", XdpMode::Generic}, {"eth0", XdpMode::Native}}));
    EXPECT_EQ(config.metrics.listen, "localhost:9469");
}

TEST(Config, ShippedConfigsValidate)
{
    for (const char *file : {"ratelimitd.json", "minimal.json"}) {
        std::string path = RL_SOURCE_DIR "/configs/" + std::string(file);
        ParseResult result = load_config_file(path, any_interface_exists);
        for (const auto &error : result.errors)
            ADD_FAILURE() << path << ": " << error.to_string();
        EXPECT_TRUE(result.value) << path;
    }
}

// ----- invalid configs -------------------------------------------------------------------------

struct Invalid {
    std::string name; // for the test's name
    std::string json;
    std::string path;   // of the error expected
    std::string reason; // a distinctive part of its message
};

std::string many_rules(int count)
{
    std::string rules;
    for (int i = 0; i < count; i++)
        rules += (i ? ", " : "") + std::string(R"({"match": "10.0.0.)") + std::to_string(i) +
                 R"(", "action": "deny"})";
    return rules;
}

std::string repeated(const std::string &text, std::size_t times)
{
    std::string all;
    for (std::size_t i = 0; i < times; i++)
        all += text;
    return all;
}

// Lists in lists, `depth` deep.
std::string nested(std::size_t depth)
{
    return repeated("[", depth) + repeated("]", depth);
}

const Invalid kInvalid[] = {
    {"MalformedJson", R"({"interfaces": [})", "",
     "malformed JSON at line 1, column 17: syntax error while parsing value"},
    {"NotAnObject", "[]", "", "the configuration must be an object, not a list"},
    {"InterfacesMissing", "{}", "interfaces", "missing"},
    {"InterfacesEmpty", R"({"interfaces": []})", "interfaces", "must list at least one interface"},
    {"InterfaceUnknown", R"({"interfaces": [{"name": "eth9"}]})", "interfaces[0].name",
     "no interface named \"eth9\""},
    {"InterfaceTwice", R"({"interfaces": [{"name": "eth0"}, {"name": "eth0"}]})",
     "interfaces[1].name", "listed twice (also interfaces[0])"},
    {"InterfaceWithoutName", R"({"interfaces": [{"xdp_mode": "auto"}]})", "interfaces[0].name",
     "missing"},
    {"InterfaceAsString", R"({"interfaces": ["eth0"]})", "interfaces[0]",
     "must be an object, not \"eth0\""},
    {"XdpModeUnknown", R"({"interfaces": [{"name": "eth0", "xdp_mode": "fast"}]})",
     "interfaces[0].xdp_mode", "\"fast\" is not one of auto, native or generic"},
    {"TopLevelTypo", on_eth0(R"("rulez": [])"), "rulez", "unknown field; did you mean \"rules\"?"},
    {"RuleTypo", with_rules(R"({"match": "10.0.0.0/8", "rtae": "1kpps"})"), "rules[0].rtae",
     "unknown field; did you mean \"rate\"?"},
    {"LimitTypo", with_rules(R"({"match": "10.0.0.0/8", "limits": [{"rate": 1, "brust": 2}]})"),
     "rules[0].limits[0].brust", "did you mean \"burst\"?"},
    {"ModeUnknown", on_eth0(R"("mode": "dryrun")"), "mode", "not one of enforce or monitor"},
    {"RuleModeUnknown", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "mode": "on"})"),
     "rules[0].mode", "\"on\" is not one of enforce or monitor"},
    {"PrefixInvalid",
     with_rules(R"({"match": "::/0", "rate": 1}, {"match": "10.0.0.0/8", "rate": 1},
                   {"match": "::1", "action": "deny"}, {"match": "10.0.0.300/8", "rate": 1})"),
     "rules[3].match", "\"10.0.0.300/8\" is not an IPv4 or IPv6 prefix"},
    {"PrefixHostBits", with_rules(R"({"match": "10.0.0.1/8", "rate": 1})"), "rules[0].match",
     "\"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?"},
    {"PrefixHostBitsIpv6", with_rules(R"({"match": "2001:db8::1/32", "rate": 1})"),
     "rules[0].match", "did you mean 2001:db8::/32?"},
    {"PrefixTooLong", with_rules(R"({"match": "10.0.0.0/33", "rate": 1})"), "rules[0].match",
     "the length must be 0 .. 32"},
    {"PrefixTwice",
     with_rules(
         R"({"match": "10.0.0.0/8", "rate": 1}, {"match": "::ffff:10.0.0.0/104", "rate": 2})"),
     "rules[1].match", "\"::ffff:10.0.0.0/104\" is the same prefix as rules[0]"},
    {"NameTwice", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "name": "dns"},
                   {"match": "::/0", "rate": 1}, {"match": "10.1.0.0/16", "rate": 2, "name": "dns"})"),
     "rules[2].name", "\"dns\" is the name of rules[0] too: names are unique"},
    {"NameInvalid", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "name": "Dns"})"),
     "rules[0].name", "\"Dns\" has \"D\" at 1"},
    {"MatchMissing", with_rules(R"({"rate": "1kpps"})"), "rules[0].match", "missing"},
    {"MatchNotAString", with_rules(R"({"match": 42, "rate": 1})"), "rules[0].match",
     "must be a string, not 42"},
    {"RulesNotAList", on_eth0(R"("rules": {"match": "10.0.0.0/8"})"), "rules",
     "must be a list of rules, not an object"},
    {"ActionUnknown", with_rules(R"({"match": "10.0.0.0/8", "action": "drop"})"), "rules[0].action",
     "\"drop\" is not one of limit, allow or deny"},
    {"RateZero", with_rules(R"({"match": "10.0.0.0/8", "rate": "0pps"})"), "rules[0].rate",
     "below the minimum of 1pps"},
    {"RateZeroAsNumber", with_rules(R"({"match": "10.0.0.0/8", "rate": 0})"), "rules[0].rate",
     "below the minimum of 1pps"},
    {"RateTooHigh", with_rules(R"({"match": "10.0.0.0/8", "rate": "200Mpps"})"), "rules[0].rate",
     "above the maximum of 100Mpps"},
    {"RateFractional", with_rules(R"({"match": "10.0.0.0/8", "rate": 2.5})"), "rules[0].rate",
     "not a whole number of packets per second"},
    {"RateUnknownUnit", with_rules(R"({"match": "10.0.0.0/8", "rate": "100ppm"})"), "rules[0].rate",
     "unknown unit \"ppm\""},
    {"RateWrongType", with_rules(R"({"match": "10.0.0.0/8", "rate": true})"), "rules[0].rate",
     "must be a string with a unit or a number, not true"},
    {"BurstZero", with_rules(R"({"match": "10.0.0.0/8", "rate": 10, "burst": 0})"),
     "rules[0].burst", "below the minimum of 1"},
    {"BurstTooLarge", with_rules(R"({"match": "10.0.0.0/8", "rate": 10, "burst": 2000000000})"),
     "rules[0].burst", "above the maximum of 1000000000"},
    {"BurstWithoutRate", with_rules(R"({"match": "10.0.0.0/8", "bytes": "10Mbit", "burst": 10})"),
     "rules[0].burst", "set without \"rate\""},
    {"ByteRateWithoutUnit", with_rules(R"({"match": "10.0.0.0/8", "bytes": "1250000"})"),
     "rules[0].bytes", "needs a unit"},
    {"ByteRateNumberBelowAByte", with_rules(R"({"match": "10.0.0.0/8", "bytes": 0})"),
     "rules[0].bytes", "below the minimum"},
    {"DenyAllIpv4", with_rules(R"({"match": "0.0.0.0/0", "action": "deny"})"), "rules[0].match",
     "\"0.0.0.0/0\" with \"action\": \"deny\" drops every IPv4 source, cutting this host off"},
    {"DenyAllIpv4Mapped", with_rules(R"({"match": "::ffff:0.0.0.0/96", "action": "deny"})"),
     "rules[0].match", "drops every IPv4 source"},
    {"DenyEverything", with_rules(R"({"match": "::/0", "action": "deny"})"), "rules[0].match",
     "drops every source, cutting this host off; if that is meant, force it"},
    {"ForceNotABool", with_rules(R"({"match": "0.0.0.0/0", "action": "deny", "force": "yes"})"),
     "rules[0].force", "must be true or false"},
    {"CommentTooLong",
     with_rules(R"({"match": "10.0.0.0/8", "action": "deny", "comment": ")" +
                std::string(201, 'x') + R"("})"),
     "rules[0].comment", "is 201 bytes long; at most 200"},
    {"CommentWithANewline",
     with_rules(R"({"match": "10.0.0.0/8", "action": "deny", "comment": "a\nb"})"),
     "rules[0].comment", "contains a control character (U+000A at byte 1)"},
    {"CommentNotAString", with_rules(R"({"match": "10.0.0.0/8", "action": "deny", "comment": 1})"),
     "rules[0].comment", "must be a string"},
    {"ByteRateTooHigh", with_rules(R"({"match": "10.0.0.0/8", "bytes": "1Tbit"})"),
     "rules[0].bytes", "unknown unit \"Tbit\""},
    {"ByteBurstBelowAFrame",
     with_rules(R"({"match": "10.0.0.0/8", "bytes": "1Mbit", "byte_burst": "1000B"})"),
     "rules[0].byte_burst", "\"1000B\" is smaller than one full-size frame (1518B)"},
    {"ByteBurstTooLarge",
     with_rules(R"({"match": "10.0.0.0/8", "bytes": "1Mbit", "byte_burst": "2GiB"})"),
     "rules[0].byte_burst", "above the maximum of 1GB"},
    {"PerWiderThanRule", with_rules(R"({"match": "203.0.113.0/24", "rate": 1, "per": "/16"})"),
     "rules[0].per", "\"/16\" is wider than the rule's prefix 203.0.113.0/24"},
    {"PerBeyondIpv4", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "per": "/33"})"),
     "rules[0].per", "longer than an IPv4 address (32 bits)"},
    {"PerBeyondIpv6", with_rules(R"({"match": "2001:db8::/32", "rate": 1, "per": "/129"})"),
     "rules[0].per", "longer than an IPv6 address (128 bits)"},
    {"PerUnknown", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "per": "subnet"})"),
     "rules[0].per", "\"subnet\" is not \"source\", \"rule\" or a prefix length"},
    {"PerNotANumber", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "per": "/x"})"),
     "rules[0].per", "\"/x\" is not \"source\", \"rule\" or a prefix length"},
    {"PerPrefixInDefault", on_eth0(R"("default": {"rate": 1, "per": "/24"})"), "default.per",
     "write rules for 0.0.0.0/0 and ::/0 instead"},
    {"DefaultNotAnObject", on_eth0(R"("default": "1000pps")"), "default",
     "must be an object, not \"1000pps\""},
    {"DefaultWithoutRate", on_eth0(R"("default": {"burst": 10})"), "default", "needs \"rate\""},
    {"AllowWithRate", with_rules(R"({"match": "10.0.0.0/8", "action": "allow", "rate": 1})"),
     "rules[0].rate", "\"allow\" rules take no limits"},
    {"DenyWithLimits",
     with_rules(R"({"match": "10.0.0.0/8", "action": "deny", "limits": [{"rate": 1}]})"),
     "rules[0].limits", "\"deny\" rules take no limits"},
    {"LimitWithoutRate", with_rules(R"({"match": "10.0.0.0/8", "per": "rule"})"), "rules[0]",
     "needs \"rate\" (packets per second), \"bytes\" (a byte rate) or both"},
    {"ShorthandAndLimits",
     with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "limits": [{"rate": 2}]})"), "rules[0].rate",
     "cannot be combined with \"limits\""},
    {"LimitsEmpty", with_rules(R"({"match": "10.0.0.0/8", "limits": []})"), "rules[0].limits",
     "must be a non-empty list of limits"},
    {"FiveLimits", with_rules(R"({"match": "10.0.0.0/8", "limits": [{"rate": 1}, {"rate": 2},
                                   {"rate": 3}, {"rate": 4}, {"rate": 5}]})"),
     "rules[0].limits", "5 limits; at most 4 can be stacked"},
    {"ThreeLimitsOfBothUnits",
     with_rules(R"({"match": "10.0.0.0/8", "limits": [{"rate": 1, "bytes": "1Mbit"},
                   {"rate": 2, "bytes": "2Mbit"}, {"rate": 3, "bytes": "3Mbit"}]})"),
     "rules[0].limits", "6 limits; at most 4"},
    {"DuplicateKey", with_rules(R"({"match": "10.0.0.0/8", "rate": 1, "rate": 2})"),
     "rules[0].rate", "is given twice"},
    {"DuplicateKeyPlaced", with_rules("{\"match\": \"10.0.0.0/8\",\n \"rate\": 1, \"rate\": 2}"),
     "rules[0].rate", "is given twice (line 2, column 18)"},
    {"NestedTooDeep", on_eth0(R"("default": )" + nested(70)), "default" + repeated("[0]", 63),
     "nested deeper than 64 levels (line 1, column 110)"},
    // A NUL used to cut the text short: "10.4.0.9\u0000 <- harmless" was read as 10.4.0.9.
    {"MatchWithNul", with_rules(R"({"match": "10.4.0.9\u0000 <- harmless", "action": "deny"})"),
     "rules[0].match",
     R"("10.4.0.9\u0000 <- harmless" contains a control character (U+0000 at byte 8))"},
    {"InterfaceWithNul", R"({"interfaces": [{"name": "eth0\u0000x"}]})", "interfaces[0].name",
     "contains a control character (U+0000 at byte 4)"},
    {"StateDirWithNul", on_eth0(R"("state_dir": "/var/lib/x\u0000y")"), "state_dir",
     "contains a control character (U+0000 at byte 10)"},
    {"PinDirWithNewline", on_eth0(R"("pin_dir": "/sys/fs/bpf/x\ny")"), "pin_dir",
     "contains a control character (U+000A at byte 13)"},
    {"SocketWithEscape", on_eth0(R"("control": {"socket": "/run/\u001b[31m"})"), "control.socket",
     "contains a control character (U+001B at byte 5)"},
    {"GroupWithDel", on_eth0(R"("control": {"group": "ops\u007f"})"), "control.group",
     "contains a control character (U+007F at byte 3)"},
    {"ListenWithNul", on_eth0(R"("metrics": {"listen": "127.0.0.1:9469\u0000"})"), "metrics.listen",
     "contains a control character (U+0000 at byte 14)"},
    {"RateWithNul", with_rules(R"({"match": "10.0.0.0/8", "rate": "100pps\u0000x"})"),
     "rules[0].rate", "contains a control character (U+0000 at byte 6)"},
    {"ModeWithTab", on_eth0(R"("mode": "enforce\t")"), "mode",
     "contains a control character (U+0009 at byte 7)"},
    {"DuplicateKeyNested",
     with_rules(R"({"match": "10.0.0.0/8", "rate": 1}, {"match": "10.1.0.0/16", "limits": [
                   {"rate": 1}, {"rate": 2, "per": "rule", "per": "source"}]})"),
     "rules[1].limits[1].per", "is given twice"},
    {"MaxSourcesTooSmall", on_eth0(R"("max_sources": 100)"), "max_sources",
     "100 is out of range (1024 .. 134217728)"},
    {"MaxSourcesTooLarge", on_eth0(R"("max_sources": 268435456)"), "max_sources",
     "268435456 is out of range"},
    {"MaxSourcesNegative", on_eth0(R"("max_sources": -1)"), "max_sources", "-1 is out of range"},
    {"MaxSourcesAsString", on_eth0(R"("max_sources": "1M")"), "max_sources",
     "must be a whole number (1024 .. 134217728), not \"1M\""},
    {"MaxRulesTooSmall", on_eth0(R"("max_rules": 8)"), "max_rules",
     "8 is out of range (16 .. 1048576)"},
    {"MaxRulesFewerThanRules", on_eth0(R"("max_rules": 16, "rules": [)" + many_rules(17) + "]"),
     "max_rules", "16 is fewer than the 17 rules"},
    {"DropMalformedNotBool", on_eth0(R"("drop_malformed": "yes")"), "drop_malformed",
     "must be true or false, not \"yes\""},
    {"SocketRelative", on_eth0(R"("control": {"socket": "ratelimitd.sock"})"), "control.socket",
     "\"ratelimitd.sock\" is not an absolute path"},
    {"ControlTypo", on_eth0(R"("control": {"grup": "wheel"})"), "control.grup",
     "did you mean \"group\"?"},
    {"StateDirRelative", on_eth0(R"("state_dir": "var/lib/ratelimitd")"), "state_dir",
     "is not an absolute path"},
    {"PinDirRelative", on_eth0(R"("pin_dir": "")"), "pin_dir", "\"\" is not an absolute path"},
    {"ListenWithoutPort", on_eth0(R"("metrics": {"listen": "127.0.0.1"})"), "metrics.listen",
     "\"127.0.0.1\" is not HOST:PORT"},
    {"ListenPortZero", on_eth0(R"("metrics": {"listen": "127.0.0.1:0"})"), "metrics.listen",
     "has no port 1 .. 65535"},
    {"ListenPortTooHigh", on_eth0(R"("metrics": {"listen": "0.0.0.0:65536"})"), "metrics.listen",
     "has no port 1 .. 65535"},
    {"ListenIpv6WithoutBrackets", on_eth0(R"("metrics": {"listen": "::1:9469"})"), "metrics.listen",
     "needs brackets around an IPv6 address"},
    {"ListenBadHost", on_eth0(R"("metrics": {"listen": "10.0.0.300:9469"})"), "metrics.listen",
     "has no valid host"},
    {"MetricsEnabledNotBool", on_eth0(R"("metrics": {"enabled": 0})"), "metrics.enabled",
     "must be true or false, not 0"},
    {"LogLevelUnknown", on_eth0(R"("log_level": "verbose")"), "log_level",
     "\"verbose\" is not one of trace, debug, info, warn, error, critical or off"},
    {"LogLevelUppercase", on_eth0(R"("log_level": "WARN")"), "log_level",
     "\"WARN\" is not one of trace, debug, info, warn, error, critical or off; did you mean "
     "\"warn\"?"},
};

void PrintTo(const Invalid &invalid, std::ostream *out)
{
    *out << invalid.name;
}

class InvalidConfig : public testing::TestWithParam<Invalid>
{
};

TEST_P(InvalidConfig, IsRefusedNamingTheFieldAndWhy)
{
    const Invalid &invalid = GetParam();
    ParseResult result = parse_config(invalid.json, eth0_and_eth1_exist);
    EXPECT_FALSE(result.value);
    std::string errors;
    bool found = false;
    for (const auto &error : result.errors) {
        errors += "\n  " + error.to_string();
        found |=
            error.path == invalid.path && error.message.find(invalid.reason) != std::string::npos;
    }
    EXPECT_TRUE(found) << "expected " << invalid.path << ": ..." << invalid.reason
                       << "...\ngot:" << errors;
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidConfig, testing::ValuesIn(kInvalid),
                         [](const auto &info) { return info.param.name; });

TEST(Config, ReportsEveryErrorNotJustTheFirst)
{
    ParseResult result = parse_config(on_eth0(R"("mode": "loud", "max_rules": 1, "rules": [
        {"match": "10.0.0.0/8"}, {"match": "bad", "action": "deny"}])"),
                                      eth0_and_eth1_exist);
    EXPECT_FALSE(result.value);
    std::vector<std::string> paths;
    for (const auto &error : result.errors)
        paths.push_back(error.path);
    EXPECT_EQ(paths, (std::vector<std::string>{"mode", "rules[0]", "rules[1].match", "max_rules"}));
}

// CPU seconds this thread has used: on a shared machine, wall time mostly measures the others.
double cpu_seconds()
{
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Peak resident memory of this process so far, in bytes.
std::size_t peak_rss()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::size_t>(usage.ru_maxrss) * 1024;
}

// 40,000 nested lists (80 KB) used to take 25 s and 3 GB: the reader built a path per value. Now
// the file is refused at the first level too deep, having read 100 bytes of it.
TEST(Config, DeepNestingCostsNeitherTimeNorMemory)
{
    const std::size_t rss_before = peak_rss();
    const double start = cpu_seconds();
    for (const std::string &text : {on_eth0(R"("rules": )" + nested(40'000)),
                                    repeated("[", 1 << 20), repeated("{\"a\":", 1 << 18)}) {
        ParseResult result = parse_config(text, eth0_and_eth1_exist);
        ASSERT_EQ(result.errors.size(), 1u);
        EXPECT_NE(result.errors[0].message.find("nested deeper than 64 levels"), std::string::npos)
            << result.errors[0].message;
    }
    // Loose bounds, for a loaded machine: each refusal takes microseconds.
    EXPECT_LT(cpu_seconds() - start, 0.5);
    EXPECT_LT(peak_rss() - rss_before, std::size_t{64} << 20);
}

// CPU seconds parse_config takes for a config of `count` rate-limit rules: the best of two runs.
double parse_seconds(int count)
{
    std::string rules;
    for (int i = 0; i < count; i++)
        rules += (i ? ",\n" : "") + std::string(R"({"match": "10.)") + std::to_string(i >> 16) +
                 "." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255) +
                 R"(", "rate": "100pps", "burst": 200})";
    const std::string text = on_eth0(R"("max_rules": 131072, "rules": [)" + rules + "]");
    double best = 1e9;
    for (int run = 0; run < 2; run++) {
        const double start = cpu_seconds();
        ParseResult result = parse_config(text, eth0_and_eth1_exist);
        best = std::min(best, cpu_seconds() - start);
        EXPECT_EQ(result.value ? result.value->rules.size() : 0u, std::size_t(count));
    }
    return best;
}

// Linear time: 100,000 rules used to take 2 s, 16 times as long as 25,000 (a path string built per
// value). Loose bounds for a loaded machine; the benchmark has the figures.
TEST(Config, ParsingTimeIsLinearInTheNumberOfRules)
{
    const double quarter = parse_seconds(25'000), whole = parse_seconds(100'000);
    EXPECT_LT(whole, 10 * quarter) << "linear: 4 times as long; quadratic: 16 times";
    EXPECT_LT(whole, 3.0);
}

// A config may be another file by mistake: a malformed one is placed (line, column) and never
// quoted.
TEST(Config, MalformedJsonIsNeverQuoted)
{
    for (const char *text : {"hunter2-token\n", "{\"interfaces\": hunter2}", "[1e999hunter2]",
                             "{\"interfaces\": [],\n\"hunter2"}) {
        ParseResult result = parse_config(text, eth0_and_eth1_exist);
        ASSERT_EQ(result.errors.size(), 1u);
        EXPECT_EQ(result.errors[0].message.find("hunter2"), std::string::npos)
            << result.errors[0].message;
        EXPECT_EQ(result.errors[0].message.find("malformed JSON at line "), 0u)
            << result.errors[0].message;
    }
}

TEST(Config, AFileLargerThanAnyConfigIsRefusedUnread)
{
    // In a directory of its own: /tmp, writable by all, is one whose files the daemon refuses.
    const test::ScratchDir scratch;
    const std::string name = (scratch.path() / "config.json").string();
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kMaxConfigBytes) + 1), 0); // sparse: costs no disk
    close(fd);
    const std::size_t rss_before = peak_rss();
    ParseResult result = load_config_file(name, any_interface_exists);
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].message, name + " is larger than " +
                                            std::to_string(kMaxConfigBytes) +
                                            " bytes, more than ratelimitd reads from such a file");
    EXPECT_LT(peak_rss() - rss_before, std::size_t{16} << 20);
}

TEST(Config, ErrorTextNamesPathValueAndReason)
{
    ConfigError error{"rules[3].match", "\"10.0.0.300/8\" is not an IPv4 or IPv6 prefix"};
    EXPECT_EQ(error.to_string(), "rules[3].match: \"10.0.0.300/8\" is not an IPv4 or IPv6 prefix");
    EXPECT_EQ((ConfigError{"", "malformed JSON"}).to_string(), "malformed JSON");
}

TEST(Config, UnreadableFileIsOneErrorNamingIt)
{
    ParseResult result = load_config_file("/nonexistent/ratelimitd.json", any_interface_exists);
    EXPECT_FALSE(result.value);
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].path, "");
    EXPECT_EQ(result.errors[0].message,
              "cannot read /nonexistent/ratelimitd.json: No such file or directory");
}

// ----- files the daemon trusts -----------------------------------------------------------------

// A config file in a directory of its own, mode 0755 as /etc/ratelimitd is.
class ConfigFile : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        fs::permissions(top_, fs::perms(0755));
        std::ofstream(path()) << R"({"interfaces": [{"name": "eth0"}]})";
        fs::permissions(path(), fs::perms(0644));
    }
    std::string path() const { return (top_ / "ratelimitd.json").string(); }

    // The one error load_config_file reports for path(), or "" if it loaded it.
    std::string refusal(const std::string &file) const
    {
        ParseResult result = load_config_file(file, any_interface_exists);
        if (result.value)
            return "";
        EXPECT_EQ(result.errors.size(), 1u);
        return result.errors.at(0).to_string();
    }

    test::ScratchDir scratch_;
    const fs::path &top_ = scratch_.path();
};

TEST_F(ConfigFile, ARootOwnedFileOnlyItsOwnerCanWriteLoads)
{
    EXPECT_EQ(refusal(path()), "");
}

TEST_F(ConfigFile, AFileOthersCanWriteIsRefusedSayingHowToFixIt)
{
    fs::permissions(path(), fs::perms(0646));
    EXPECT_EQ(refusal(path()),
              "cannot read " + path() +
                  ": it is writable by others (mode 0646), and ratelimitd does not "
                  "take its rules from a file that others can write to; fix it "
                  "with `chmod go-w " +
                  path() + "`");
}

TEST_F(ConfigFile, ADirectoryOthersCanWriteIsRefused)
{
    fs::permissions(top_, fs::perms(0775));
    EXPECT_EQ(refusal(path()),
              top_.string() +
                  " is writable by its group (mode 0775), and ratelimitd trusts no "
                  "file in a directory that others can write to; fix it with "
                  "`chmod go-w " +
                  top_.string() + "`");
}

TEST_F(ConfigFile, ALinkIsFollowedAndWhereItLeadsMustBeTrustedToo)
{
    const fs::path link = top_ / "linked.json";
    fs::create_symlink(path(), link);
    EXPECT_EQ(refusal(link), "");

    // A file in a directory anyone can write to, reached through a link in a trusted one.
    const fs::path open_dir = top_ / "open";
    fs::create_directory(open_dir);
    fs::permissions(open_dir, fs::perms(0777));
    fs::copy_file(path(), open_dir / "ratelimitd.json");
    fs::remove(link);
    fs::create_symlink(open_dir / "ratelimitd.json", link);
    EXPECT_NE(refusal(link).find(open_dir.string() + " is writable by its group and others"),
              std::string::npos)
        << refusal(link);
}

TEST_F(ConfigFile, ARefusedFileIsNotQuoted)
{
    std::ofstream(path()) << R"("hunter2-secret")";
    fs::permissions(path(), fs::perms(0666));
    EXPECT_EQ(refusal(path()).find("hunter2"), std::string::npos) << refusal(path());
}

} // namespace
} // namespace ratelimit::config

namespace ratelimit::config
{
namespace
{

// "match" as a list and "match_file" through an in-memory reader.
ParseResult parse_with_files(const std::string &rules, std::map<std::string, std::string> files)
{
    return parse_config(R"({"interfaces": [{"name": "eth0"}], "rules": )" + rules + "}",
                        [](const std::string &) { return true; },
                        [files](const std::string &path) {
                            auto it = files.find(path);
                            if (it == files.end())
                                throw std::runtime_error("cannot read " + path +
                                                         ": No such file or directory");
                            return it->second;
                        });
}

TEST(ConfigSets, AListAndAFileEachMakeOneRuleOfAllTheirPrefixes)
{
    auto parsed = parse_with_files(
        R"([{"match": ["192.0.2.0/24", "2001:db8:beef::/48"], "action": "allow"},
            {"match_file": "/etc/drop.netset", "action": "deny"}])",
        {{"/etc/drop.netset", "# drop\n198.51.100.0/24 ; SBL1\r\n203.0.113.7\n"}});
    ASSERT_TRUE(parsed.value) << parsed.errors.front().to_string();
    ASSERT_EQ(parsed.value->rules.size(), 2u);
    EXPECT_EQ(parsed.value->rules[0].match.size(), 2u);
    EXPECT_EQ(parsed.value->rules[1].match.size(), 2u);
    EXPECT_EQ(parsed.value->rules[1].match_file, "/etc/drop.netset");
}

TEST(ConfigSets, BadFilesAreRefusedNamingTheFieldTheFileAndTheLine)
{
    struct Case {
        std::string rules, error;
    };
    const std::map<std::string, std::string> files = {
        {"/etc/bad", "10.0.0.0/8\n1.2.3.4/33\n"}, {"/etc/empty", ""}, {"/etc/dup", "10.0.0.0/8\n"}};
    for (
        const Case &c : std::vector<Case>{
            {R"([{"match_file": "/etc/bad", "action": "deny"}])",
             "rules[0].match_file: \"/etc/bad\" line 2: \"1.2.3.4/33\" is not an IPv4 or IPv6 "
             "prefix (the length must be 0 .. 32)"},
            {R"([{"match_file": "/etc/missing", "action": "deny"}])",
             "rules[0].match_file: cannot read /etc/missing: No such file or directory"},
            {R"([{"match_file": "/etc/empty", "action": "deny"}])",
             "rules[0].match_file: \"/etc/empty\" holds no prefix"},
            {R"([{"match_file": "relative", "action": "deny"}])", "rules[0].match_file: "},
            {R"([{"match": "10.0.0.0/8", "match_file": "/etc/dup", "action": "deny"}])",
             "rules[0].match_file: cannot be combined with \"match\""},
            {R"([{"match": []}])", "rules[0].match: must be a prefix or a non-empty list"},
            {R"([{"match": ["10.0.0.0/8", 5], "rate": 1}])",
             "rules[0].match: item 1: must be a prefix"},
            {R"([{"match": "10.0.0.0/8", "rate": 1}, {"match_file": "/etc/dup", "action": "deny"}])",
             "rules[1].match_file: \"/etc/dup\" holds \"10.0.0.0/8\" is the same prefix as "
             "rules[0]"},
        }) {
        auto parsed = parse_with_files(c.rules, files);
        ASSERT_FALSE(parsed.value) << c.rules;
        EXPECT_EQ(parsed.errors.front().to_string().find(c.error), 0u)
            << parsed.errors.front().to_string();
    }
}

} // namespace
} // namespace ratelimit::config
