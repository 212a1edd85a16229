// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The runtime rule store: rules survive a round trip through JSON and through the file, the file
// is replaced whole, a file that cannot be read back is refused with the file and the field named,
// and the list edits behind ratelimitctl set/allow/deny and TTLs.

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules.hpp"
#include "scratch_dir.hpp"
#include "state/runtime_store.hpp"

namespace ratelimit
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

using test::parsed_rule;

Prefix pfx(const char *text)
{
    return *parse_prefix(text);
}

// 2026-11-29T08:00:00Z
const WallClock::time_point kMorning = std::chrono::sys_days{2026y / 11 / 29} + 8h;

// One of each kind of rule the config file can state, each for its own prefix.
const char *const kRules[] = {
    R"({"match": "203.0.113.0/24", "rate": "100pps", "burst": 200})",
    R"({"match": "203.0.112.0/24", "rate": "1.5kpps"})",
    R"({"match": "2001:db8::/32", "bytes": "10Mbit", "byte_burst": "256KiB", "per": "/64"})",
    R"({"match": "10.0.0.0/8", "rate": 1000, "burst": 50, "bytes": "1250001B/s",
        "byte_burst": 1518, "per": "/24"})",
    R"({"match": "172.16.0.0/12", "bytes": "12bit"})",
    R"({"match": "100.64.0.0/10", "limits": [
        {"rate": "500pps", "burst": 1000, "per": "source"}, {"rate": "5kpps", "per": "/24"},
        {"bytes": "1Gbit", "per": "/16"}, {"rate": "2Mpps", "per": "rule"}]})",
    R"({"match": "::/0", "limits": [{"rate": 10, "bytes": "1MiB/s", "per": "/64"},
                                   {"rate": 100, "bytes": "1Gbit", "per": "rule"}]})",
    R"({"match": "0.0.0.0/0", "rate": 10, "per": "/0"})",
    R"({"match": "198.51.100.7/32", "rate": 5, "per": "/32"})",
    R"({"match": "2001:db8:1::/48", "rate": 100, "per": "/128"})",
    R"({"match": "::ffff:10.1.0.0/112", "rate": 5, "per": "/24"})",
    R"({"match": "192.0.2.0/24", "rate": 100, "per": "rule", "mode": "monitor"})",
    R"({"match": "198.51.100.8", "action": "deny"})",
    R"({"match": "2001:db8::1", "action": "allow"})",
    R"({"match": "192.0.2.128/25", "action": "deny", "mode": "monitor"})",
    R"({"match": "2000::/3", "action": "deny", "force": true, "comment": "drill: all off"})",
    R"({"match": "10.128.0.0/09", "bytes": 1250000, "byte_burst": 2000, "comment": "typed oddly"})",
    R"({"match": "10.200.0.0/16", "rate": 100, "name": "edge-1.dns_v4"})",
};

// ----- rule_to_json --------------------------------------------------

class RoundTrip : public ::testing::TestWithParam<const char *>
{
};

TEST_P(RoundTrip, RuleToJsonParsesBackToAnEqualRule)
{
    const Rule rule = parsed_rule(GetParam());
    const json written = rule_to_json(rule);
    auto back = parse_rule(written, "rule");
    ASSERT_TRUE(back.value) << written.dump() << ": " << back.errors.front().to_string();
    EXPECT_EQ(*back.value, rule) << written.dump();
    EXPECT_EQ(rule_to_json(*back.value), written);
}

INSTANTIATE_TEST_SUITE_P(EveryKind, RoundTrip, ::testing::ValuesIn(kRules));

TEST(RuleToJson, WritesRatesAndBurstsAsNumbersInBaseUnits)
{
    const json written = rule_to_json(parsed_rule(R"({"match": "203.0.113.0/24",
        "rate": "1.5kpps", "burst": 200, "bytes": "10Mbit", "byte_burst": "256KiB",
        "per": "/28"})"));
    EXPECT_EQ(written, json::parse(R"({"match": "203.0.113.0/24", "action": "limit", "limits": [
        {"rate": 1500, "burst": 200, "per": "/28"},
        {"bytes": 1250000, "byte_burst": 262144, "per": "/28"}]})"));
}

TEST(RuleToJson, WritesTheMatchCanonically)
{
    for (const auto &[typed, canonical] :
         std::vector<std::pair<std::string, std::string>>{{"10.0.0.0/08", "10.0.0.0/8"},
                                                          {"::ffff:10.6.0.0/112", "10.6.0.0/16"},
                                                          {"2001:DB8:0::/32", "2001:db8::/32"},
                                                          {"198.51.100.7/32", "198.51.100.7"},
                                                          {"::ffff:198.51.100.7", "198.51.100.7"},
                                                          {"2001:db8::1/128", "2001:db8::1"}}) {
        const json written =
            rule_to_json(parsed_rule(R"({"match": ")" + typed + R"(", "action": "allow"})"));
        EXPECT_EQ(written["match"], canonical) << typed;
    }
}

TEST(RuleToJson, WritesForceAndCommentOnlyWhenSet)
{
    EXPECT_EQ(rule_to_json(parsed_rule(R"({"match": "0.0.0.0/0", "action": "deny",
                                           "force": true, "comment": "maintenance"})")),
              json::parse(R"({"match": "0.0.0.0/0", "action": "deny", "force": true,
                              "comment": "maintenance"})"));
    EXPECT_FALSE(rule_to_json(parsed_rule(R"({"match": "10.0.0.0/8", "action": "deny",
                                             "force": false, "comment": ""})"))
                     .contains("comment"));
}

TEST(RuleToJson, WritesNoLimitsForAllowAndDeny)
{
    EXPECT_EQ(rule_to_json(parsed_rule(R"({"match": "198.51.100.7", "action": "deny"})")),
              json::parse(R"({"match": "198.51.100.7", "action": "deny"})"));
}

TEST(RuleToJson, WritesTheEnforcedPrefixWhenTheTextNamesAnother)
{
    Rule rule = parsed_rule(R"({"match": "10.0.0.0/8", "action": "allow"})");
    rule.text = "";
    EXPECT_EQ(rule_to_json(rule)["match"], "10.0.0.0/8");
    rule.text = "192.0.2.0/24";
    EXPECT_EQ(rule_to_json(rule)["match"], "10.0.0.0/8");
}

// ----- the file ------------------------------------------------------

class RuntimeStoreFile : public ::testing::Test
{
  protected:
    std::string path(const std::string &name = "runtime-rules.json") const
    {
        return (directory_ / name).string();
    }

    void write(const std::string &text) const { std::ofstream(path()) << text; }

    std::string read(const std::string &file) const
    {
        std::stringstream text;
        text << std::ifstream(file).rdbuf();
        return text.str();
    }

    // load()'s message for a file holding `text`.
    std::string load_error(const std::string &text) const
    {
        write(text);
        try {
            RuntimeStore(path()).load();
        } catch (const std::runtime_error &error) {
            return error.what();
        }
        return "(loaded)";
    }

    test::ScratchDir scratch_;
    const fs::path &directory_ = scratch_.path();
};

std::vector<RuntimeRule> every_kind_of_rule()
{
    std::vector<RuntimeRule> rules;
    int n = 0;
    for (const char *text : kRules) {
        std::optional<WallClock::time_point> expires;
        if (n % 3 == 1)
            expires = kMorning + std::chrono::minutes(n);
        if (n % 3 == 2) // a clock reading, with whatever fraction of a second it has
            expires = WallClock::now() + std::chrono::hours(n);
        upsert(rules, {parsed_rule(text), expires});
        n++;
    }
    return rules;
}

TEST_F(RuntimeStoreFile, MissingFileHoldsNoRules)
{
    EXPECT_TRUE(RuntimeStore(path()).load().empty());
    EXPECT_TRUE(RuntimeStore(path("missing/runtime-rules.json")).load().empty());
}

TEST_F(RuntimeStoreFile, SaveThenLoadGivesTheSameRules)
{
    const auto rules = every_kind_of_rule();
    ASSERT_EQ(rules.size(), std::size(kRules));
    RuntimeStore store(path());
    store.save(rules);
    EXPECT_EQ(store.load(), rules);
    store.save({});
    EXPECT_TRUE(store.load().empty());
}

TEST_F(RuntimeStoreFile, ExpiryIsAnRfc3339UtcTime)
{
    RuntimeStore store(path());
    const Rule deny = parsed_rule(R"({"match": "198.51.100.7", "action": "deny"})");
    store.save({{deny, kMorning}});
    EXPECT_EQ(json::parse(read(path())), json::parse(R"({"version": 1, "rules": [
        {"match": "198.51.100.7", "action": "deny", "expires": "2026-11-29T08:00:00Z"}]})"));
    store.save({{deny, kMorning + 250ms}});
    EXPECT_EQ(json::parse(read(path()))["rules"][0]["expires"], "2026-11-29T08:00:00.25Z");
    store.save({{deny, kMorning + 1ns}});
    EXPECT_EQ(store.load().front().expires, kMorning + 1ns);
}

TEST_F(RuntimeStoreFile, SaveLeavesNoTemporaryFileAndSetsModes)
{
    const std::string nested = path("state/ratelimitd/runtime-rules.json");
    RuntimeStore(nested).save(every_kind_of_rule());
    EXPECT_FALSE(fs::exists(nested + ".tmp"));
    struct stat status {
    };
    ASSERT_EQ(stat(nested.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0640u);
    for (const char *directory : {"state", "state/ratelimitd"}) {
        ASSERT_EQ(stat(path(directory).c_str(), &status), 0);
        EXPECT_EQ(status.st_mode & 07777, 0750u) << directory;
    }
}

TEST_F(RuntimeStoreFile, SaveReplacesTheWholeFile)
{
    write(std::string(100'000, ' ') + R"({"version": 1, "rules": []})");
    std::ofstream(path() + ".tmp") << "left over from a crash";
    const std::vector<RuntimeRule> rules = {
        {parsed_rule(R"({"match": "198.51.100.7", "action": "deny"})"), std::nullopt}};
    RuntimeStore store(path());
    store.save(rules);
    EXPECT_EQ(store.load(), rules);
    EXPECT_EQ(read(path()), json::parse(read(path())).dump(2) + "\n"); // nothing of the old file
    EXPECT_FALSE(fs::exists(path() + ".tmp"));
}

TEST_F(RuntimeStoreFile, SaveThatCannotWriteNamesTheFile)
{
    write("not a directory");
    const std::string below_a_file = path() + "/runtime-rules.json";
    try {
        RuntimeStore(below_a_file).save({});
        FAIL() << "saved below a regular file";
    } catch (const std::system_error &error) {
        EXPECT_NE(std::string(error.what()).find(below_a_file), std::string::npos) << error.what();
    }
}

TEST_F(RuntimeStoreFile, UnreadableFileNamesTheFile)
{
    fs::create_directory(path());
    try {
        RuntimeStore(path()).load();
        FAIL() << "read a directory as the rule file";
    } catch (const std::runtime_error &error) {
        EXPECT_EQ(std::string(error.what()).find("cannot read " + path()), 0u) << error.what();
    }
}

struct BadFile {
    std::string text;
    std::string error; // follows "FILE: "
};

void PrintTo(const BadFile &file, std::ostream *out)
{
    *out << file.text;
}

class RuntimeStoreBadFile : public RuntimeStoreFile, public ::testing::WithParamInterface<BadFile>
{
};

TEST_P(RuntimeStoreBadFile, IsRefusedNamingTheFileAndTheField)
{
    const std::string message = load_error(GetParam().text);
    EXPECT_EQ(message.find(path() + ": " + GetParam().error), 0u) << message;
}

std::string deny(const std::string &match)
{
    return R"({"match": ")" + match + R"(", "action": "deny"})";
}

std::string file_of(const std::string &rules)
{
    return R"({"version": 1, "rules": [)" + rules + "]}";
}

// A file with one deny rule expiring at `time` (JSON).
std::string expiring(const std::string &time)
{
    return file_of(R"({"match": "10.0.0.0/8", "action": "deny", "expires": )" + time + "}");
}

BadFile bad_expiry(const std::string &time)
{
    return {expiring(R"(")" + time + R"(")"),
            R"(rules[0].expires: ")" + time + R"(" is not an RFC 3339 UTC time)"};
}

INSTANTIATE_TEST_SUITE_P(
    Structure, RuntimeStoreBadFile,
    ::testing::Values(BadFile{"", "malformed JSON at line 1, column 1: "},
                      BadFile{R"({"version": 1, "rules": [)",
                              "malformed JSON at line 1, column 26: "},
                      BadFile{"[]", "the file must be an object"},
                      BadFile{R"({"rules": []})", "version: missing (required)"},
                      BadFile{R"({"version": 2, "rules": []})", "version: 2 is not a version"},
                      BadFile{R"({"version": 1})", "rules: missing (required)"},
                      BadFile{R"({"version": 1, "rules": {}})", "rules: must be a list of rules"},
                      BadFile{R"({"version": 1, "rules": [], "ttl": 5})", "ttl: unknown field"},
                      BadFile{file_of("5"), "rules[0]: must be a rule object, not 5"}));

INSTANTIATE_TEST_SUITE_P(
    Rules, RuntimeStoreBadFile,
    ::testing::Values(
        BadFile{file_of(deny("10.0.0.0/8") + ", " + deny("10.0.0.300/8")),
                R"(rules[1].match: "10.0.0.300/8" is not an IPv4 or IPv6 prefix)"},
        BadFile{file_of(R"({"match": "10.0.0.0/8", "action": "deny", "ttl": "5m"})"),
                "rules[0].ttl: unknown field"},
        BadFile{file_of(R"({"match": "10.0.0.0/8", "rate": 0})"), "rules[0].rate: "},
        BadFile{file_of(deny("10.0.0.0/8") + ", " + deny("::ffff:10.0.0.0/104")),
                R"(rules[1].match: "::ffff:10.0.0.0/104" is the same prefix as rules[0])"},
        BadFile{file_of(R"({"match": "10.0.0.0/8", "action": "deny", "name": "x"},
                           {"match": "11.0.0.0/8", "action": "deny", "name": "x"})"),
                R"(rules[1].name: "x" is the name of rules[0] too: names are unique)"},
        BadFile{file_of(R"({"match": "10.0.0.0/8", "action": "deny", "name": "x y"})"),
                R"(rules[0].name: "x y" has " " at 2)"}));

INSTANTIATE_TEST_SUITE_P(
    Expiry, RuntimeStoreBadFile,
    ::testing::Values(BadFile{expiring("5"), "rules[0].expires: must be an RFC 3339 UTC time"},
                      bad_expiry("2026-11-29 08:00:00Z"), bad_expiry("2026-11-29T08:00:00z"),
                      bad_expiry("2026-11-29T08:00:00+01:00"), bad_expiry("2026-11-29T08:00:00"),
                      bad_expiry("2026-02-29T08:00:00Z"), bad_expiry("2026-11-29T24:00:00Z"),
                      bad_expiry("2026-11-29T08:60:00Z"), bad_expiry("2026-11-29T08:00:60Z"),
                      bad_expiry("2026-11-29T08:00:00.Z"),
                      bad_expiry("2026-11-29T08:00:00.1234567891Z"),
                      bad_expiry("+026-11-29T08:00:00Z"), bad_expiry("2026-1-29T08:00:00Z"),
                      bad_expiry("9999-11-29T08:00:00Z")));

// A key given twice used to be resolved silently (the last one won): refused, with its path.
INSTANTIATE_TEST_SUITE_P(
    DuplicateKeys, RuntimeStoreBadFile,
    ::testing::Values(
        BadFile{R"({"version": 1, "rules": [], "version": 1})",
                "version: is given twice (line 1, column 37)"},
        BadFile{file_of(R"({"match": "10.0.0.0/8", "action": "allow", "action": "deny"})"),
                "rules[0].action: is given twice (line 1, column 76)"},
        BadFile{file_of(R"({"match": "10.0.0.0/8", "limits": [{"rate": 1, "rate": 9}]})"),
                "rules[0].limits[0].rate: is given twice (line 1, column 78)"}));

// Nesting only a few levels deep is refused as soon as it is too deep: a 60,000-deep file used to
// crash the daemon at start (the stack overflowed while the error message was being written).
TEST_F(RuntimeStoreFile, DeepNestingIsRefusedAtTheFirstLevelTooDeep)
{
    constexpr std::size_t kDepth = 60'000;
    for (const std::string &text : {std::string(kDepth, '[') + std::string(kDepth, ']'),
                                    R"({"version": 1, "rules": )" + std::string(kDepth, '[') +
                                        std::string(kDepth, ']') + "}"}) {
        const std::string message = load_error(text);
        EXPECT_EQ(message.find(path() + ": "), 0u) << message.substr(0, 200);
        EXPECT_NE(message.find(": nested deeper than 64 levels (line 1, column "),
                  std::string::npos)
            << message.substr(0, 200);
        EXPECT_LT(message.size(), 600u) << "the message stays short: " << message.substr(0, 200);
    }
}

// The state file may turn out to be another file (a symlink to a secret): its content is never
// quoted, only where and why it is not a rule file.
TEST_F(RuntimeStoreFile, ErrorsNeverQuoteTheFile)
{
    for (const char *text : {"hunter2-token\n", "\"hunter2-token\n", "root:hunter2:0:0\n",
                             "{\"version\": 1, \"rules\": [hunter2]}", "[1e999hunter2]"}) {
        const std::string message = load_error(text);
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
        EXPECT_NE(message.find(": malformed JSON at line 1, column "), std::string::npos)
            << message;
    }
}

// Runtime rules are validated like config rules: a NUL no longer cuts a prefix short.
INSTANTIATE_TEST_SUITE_P(
    ControlCharacters, RuntimeStoreBadFile,
    ::testing::Values(BadFile{
        file_of(R"({"match": "10.4.0.9\u0000 <- harmless", "action": "deny"})"),
        R"(rules[0].match: "10.4.0.9\u0000 <- harmless" contains a control )"
        R"(character (U+0000 at byte 8))"}));

TEST_F(RuntimeStoreFile, ReportsEveryInvalidRule)
{
    const std::string message =
        load_error(R"({"version": 1, "rules": [{"match": "10.0.0.300/8", "action": "deny"},
            {"match": "10.0.0.0/8", "action": "deny"}, {"match": "::/0", "rate": "fast"}]})");
    EXPECT_NE(message.find(path() + ": rules[0].match: "), std::string::npos) << message;
    EXPECT_NE(message.find(path() + ": rules[2].rate: "), std::string::npos) << message;
    EXPECT_EQ(message.find("rules[1]"), std::string::npos) << message;
}

TEST_F(RuntimeStoreFile, ReadsATimeWithAFraction)
{
    write(expiring(R"("2026-11-29T08:00:00.123456789Z")"));
    EXPECT_EQ(RuntimeStore(path()).load().front().expires, kMorning + 123456789ns);
    write(expiring(R"("2028-02-29T08:00:00.5Z")"));
    EXPECT_EQ(RuntimeStore(path()).load().front().expires,
              std::chrono::sys_days{2028y / 2 / 29} + 8h + 500ms);
}

// ----- list edits ----------------------------------------------------

RuntimeRule runtime(const char *match, std::optional<WallClock::time_point> expires = {})
{
    return {parsed_rule(R"({"match": ")" + std::string(match) + R"(", "action": "deny"})"),
            expires};
}

TEST(RuntimeRules, UpsertReplacesTheRuleForTheSamePrefixInPlace)
{
    std::vector<RuntimeRule> rules;
    upsert(rules, runtime("10.0.0.0/8"));
    upsert(rules, runtime("2001:db8::/32"));
    upsert(rules, runtime("::ffff:10.0.0.0/104", kMorning)); // 10.0.0.0/8, written otherwise
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[0], runtime("::ffff:10.0.0.0/104", kMorning));
    EXPECT_EQ(rules[1], runtime("2001:db8::/32"));
}

TEST(RuntimeRules, RemoveSaysWhetherThePrefixHadARule)
{
    std::vector<RuntimeRule> rules = {runtime("10.0.0.0/8"), runtime("2001:db8::/32")};
    EXPECT_FALSE(remove(rules, pfx("10.0.0.0/9")));
    EXPECT_TRUE(remove(rules, pfx("10.0.0.0/8")));
    EXPECT_FALSE(remove(rules, pfx("10.0.0.0/8")));
    EXPECT_EQ(rules, std::vector<RuntimeRule>{runtime("2001:db8::/32")});
}

TEST(RuntimeRules, ARuleIsRemovedByItsName)
{
    RuntimeRule named = runtime("10.1.0.0/16");
    named.rule.name = "scanner";
    std::vector<RuntimeRule> rules = {runtime("10.0.0.0/8"), named};
    RuntimeRule renamed = runtime("10.1.0.0/16");
    renamed.rule.name = "probe";
    const EditCounts counts = apply_edits(
        rules, {std::string("probe"), renamed, std::string("scanner"), std::string("probe")});
    EXPECT_EQ(counts.replaced, 1u);
    EXPECT_EQ(counts.removed, 1u) << "the name of a rule replaced is its new one";
    EXPECT_EQ(counts.not_found, (std::vector<std::size_t>{0, 2}));
    EXPECT_EQ(rules, std::vector<RuntimeRule>{runtime("10.0.0.0/8")});
}

TEST(RuntimeRules, EditsApplyInOrderAndCountWhatTheyDid)
{
    std::vector<RuntimeRule> rules = {runtime("10.0.0.0/8"), runtime("10.1.0.0/16"),
                                      runtime("2001:db8::/32")};
    const EditCounts counts = apply_edits(
        rules, {runtime("192.0.2.0/24"), pfx("10.1.0.0/16"),
                runtime("::ffff:10.0.0.0/104", kMorning), pfx("198.51.100.0/24"),
                runtime("10.1.0.0/16", kMorning), pfx("192.0.2.0/24"), pfx("192.0.2.0/24")});
    EXPECT_EQ(counts.added, 2u);    // 192.0.2.0/24, 10.1.0.0/16 again
    EXPECT_EQ(counts.replaced, 1u); // 10.0.0.0/8, in its place
    EXPECT_EQ(counts.removed, 2u);
    EXPECT_EQ(counts.not_found, (std::vector<std::size_t>{3, 6}));
    EXPECT_EQ(rules, (std::vector<RuntimeRule>{runtime("::ffff:10.0.0.0/104", kMorning),
                                               runtime("2001:db8::/32"),
                                               runtime("10.1.0.0/16", kMorning)}));
}

TEST(RuntimeRules, RemovingAllTakesOutEveryRuleBeforeIt)
{
    std::vector<RuntimeRule> rules = {runtime("10.0.0.0/8"), runtime("2001:db8::/32")};
    const EditCounts counts =
        apply_edits(rules, {runtime("192.0.2.0/24"), RemoveAllRules{}, runtime("10.2.0.0/16")});
    EXPECT_EQ(counts.added, 2u);
    EXPECT_EQ(counts.removed, 3u);
    EXPECT_EQ(rules, std::vector<RuntimeRule>{runtime("10.2.0.0/16")});
}

// How fast is the bulk-apply benchmark's to say (live_bench --only-bulk-apply: 10,000 denies
// through ratelimitctl apply); here, that a replacement is found as one, at that scale.
TEST(RuntimeRules, TenThousandEditsAppliedTwiceLeaveTenThousandRules)
{
    std::vector<RuntimeRule> rules;
    std::vector<RuntimeEdit> edits;
    for (std::uint32_t i = 0; i < 10'000; i++) {
        const std::string match = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        edits.push_back(runtime(match.c_str()));
    }
    EXPECT_EQ(apply_edits(rules, edits).added, 10'000u);
    EXPECT_EQ(apply_edits(rules, edits).replaced, 10'000u); // each one a replacement now
    ASSERT_EQ(rules.size(), 10'000u);
    for (std::uint32_t i = 0; i < 10'000; i++)
        EXPECT_EQ(rules[i].rule.match, std::get<RuntimeRule>(edits[i]).rule.match) << i;
}

TEST(RuntimeRules, DropExpiredTakesOutRulesExpiringAtOrBeforeNow)
{
    std::vector<RuntimeRule> rules = {runtime("10.0.0.0/8"), runtime("10.1.0.0/16", kMorning - 1s),
                                      runtime("10.2.0.0/16", kMorning + 1ns),
                                      runtime("10.3.0.0/16", kMorning)};
    const auto dropped = drop_expired(rules, kMorning);
    EXPECT_EQ(dropped, (std::vector<RuntimeRule>{runtime("10.1.0.0/16", kMorning - 1s),
                                                 runtime("10.3.0.0/16", kMorning)}));
    EXPECT_EQ(rules, (std::vector<RuntimeRule>{runtime("10.0.0.0/8"),
                                               runtime("10.2.0.0/16", kMorning + 1ns)}));
    EXPECT_TRUE(drop_expired(rules, kMorning).empty());
}

TEST(RuntimeRules, NextExpiryIsTheEarliest)
{
    std::vector<RuntimeRule> rules;
    EXPECT_EQ(next_expiry(rules), std::nullopt);
    rules = {runtime("10.0.0.0/8")};
    EXPECT_EQ(next_expiry(rules), std::nullopt);
    rules.push_back(runtime("10.1.0.0/16", kMorning + 1h));
    rules.push_back(runtime("10.2.0.0/16", kMorning));
    rules.push_back(runtime("10.3.0.0/16"));
    EXPECT_EQ(next_expiry(rules), kMorning);
}

} // namespace
} // namespace ratelimit
