// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The results of the control commands: every result survives encode -> decode; the JSON the
// daemon has always sent decodes and encodes back to the same JSON (scripts read it); and a
// result that lacks a field, or holds one of the wrong type, is refused naming the field.

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "control/results.hpp"
#include "result_samples.hpp"

namespace ratelimit::control
{
namespace
{

using nlohmann::json;
using namespace samples;

Prefix prefix(std::string_view text)
{
    return parse_prefix(text).value();
}

Address address(std::string_view text)
{
    return parse_address(text).value();
}

ActiveRuntimeRule lasting_limit()
{
    return {{rule(R"({"match": "2001:db8::/32", "action": "limit", "mode": "monitor",
                      "limits": [{"rate": 100, "burst": 200, "per": "/48"},
                                 {"bytes": 125000, "byte_burst": 262144, "per": "rule"}]})"),
             std::nullopt},
            std::nullopt};
}

StatusResult status()
{
    return {.version = "1.2.3",
            .uptime_s = 3725,
            .config = "/etc/ratelimitd/config.json",
            .mode = Mode::Monitor,
            .interfaces = {{"eth0", "native", 42}, {"eth1", "generic", 43}},
            .last_reload = {"2026-11-29T07:00:00Z", false, "rules[0].rate: must be >= 1"},
            .rules = {3, 1},
            .totals = kTraffic,
            .tracked_sources = 250,
            .tracked_sources_age_ms = 1500,
            .max_sources = 1000,
            .loop_longest_stall_ms = 2.5,
            .loop_longest_stall_in = "the control socket",
            .loop_longest_on_cpu_ms = 1.5,
            .table = {400, 12000, 150, 0.25, 0.125},
            .pins = {"/sys/fs/bpf/ratelimitd", "/sys/fs/bpf", true, std::nullopt},
            .state_files = {kSaved, kNotSaved}};
}

ListResult list()
{
    return {DefaultLimits{{{RL_UNIT_PACKETS, 1000, 2000, RL_PER_SOURCE, 0}}},
            {{rule(R"({"match": "10.0.0.0/8", "action": "limit", "limits": [{"rate": 10,
                       "burst": 20, "per": "/24"}]})"),
              true},
             {rule(R"({"match": "192.0.2.0/24", "action": "allow"})"), false}},
            {expiring_deny(), lasting_limit()}};
}

RuleChangeResult rule_change()
{
    return {expiring_deny(), true, false, kNotSaved};
}

UnsetResult unset()
{
    return {{rule(R"({"match": "10.0.0.0/8", "action": "deny"})"), "2026-11-29T08:00:00.25Z"},
            rule(R"({"match": "10.0.0.0/8", "action": "allow"})"),
            kSaved};
}

ShowResult show_of(std::optional<AppliedRule> applied)
{
    return {address("10.1.2.3"),
            std::move(applied),
            "10.0.0.0/8 is the longest prefix that matches, a config rule",
            true,
            {{0, RL_UNIT_PACKETS, "/24", "10.1.2.0/24", 7, 20},
             {1, RL_UNIT_BYTES, "rule", "rule", 1000, 262144}},
            kTraffic,
            std::nullopt};
}

ShowResult show()
{
    return show_of(AppliedRule{prefix("10.0.0.0/8"), rule(R"({"match": "10.0.0.0/8",
        "action": "limit", "limits": [{"rate": 10, "burst": 20, "per": "/24"}]})")});
}

TopResult top()
{
    return {TopOrder::Bytes,
            12,
            987654321,
            {{address("10.1.2.3"), kTraffic}, {address("2001:db8::1"), {}}}};
}

StatsResult stats()
{
    return {{{"eth0",
              0,
              {{RL_REASON_NON_IP, RL_VERDICT_PASS, {4, 400}},
               {RL_REASON_OVER_LIMIT, RL_VERDICT_DROP, {9, 900}}}},
             {"eth1", 1, {}}},
            std::nullopt};
}

StatsResult stats_by_rule()
{
    StatsResult result = stats();
    result.rules = {{"dns", {{RL_REASON_CONFORMING, RL_VERDICT_PASS, {50, 5000}}}},
                    {"", {{RL_REASON_DENIED, RL_VERDICT_DROP, {3, 300}}}}};
    return result;
}

FlushResult flush()
{
    return {prefix("10.0.0.0/8"), 4, 2, 0};
}

BanInfo ban()
{
    return {address("192.0.2.7"),
            prefix("192.0.2.0/24"),
            BanScope::All,
            "2026-11-29T07:00:00Z",
            "2026-11-29T07:10:00Z",
            420,
            2};
}

BansResult bans()
{
    BanInfo removed_rule = ban();
    removed_rule.address = address("2001:db8::9");
    removed_rule.rule = std::nullopt;
    removed_rule.scope = BanScope::Rule;
    return {{ban(), removed_rule}, 65536};
}

ReloadCommandResult reload()
{
    return {"2026-11-29T07:00:00Z", "3 config rules; 1 changed"};
}

template <typename Result>
void expect_round_trip(const Result &result, Result (*decode)(const json &))
{
    const json encoded = encode_result(result);
    EXPECT_EQ(decode(encoded), result) << encoded.dump();
    // Through the text of a response line, as the client reads it.
    EXPECT_EQ(decode(json::parse(encoded.dump())), result) << encoded.dump();
}

TEST(ResultsTest, EveryResultSurvivesEncodeDecode)
{
    expect_round_trip(status(), decode_status_result);
    StatusResult bare = status();
    bare.pins = {"/sys/fs/bpf/ratelimitd", std::nullopt, false, "pins outlive the daemon"};
    bare.interfaces.clear();
    bare.state_files.clear();
    expect_round_trip(bare, decode_status_result);

    expect_round_trip(list(), decode_list_result);
    expect_round_trip(ListResult{}, decode_list_result);
    expect_round_trip(rule_change(), decode_rule_change_result);
    expect_round_trip(unset(), decode_unset_result);
    expect_round_trip(UnsetResult{{rule(R"({"match": "::/0", "action": "allow"})"), std::nullopt},
                                  std::nullopt,
                                  kSaved},
                      decode_unset_result);

    expect_round_trip(show(), decode_show_result);
    expect_round_trip(show_of(std::nullopt), decode_show_result);
    expect_round_trip(
        show_of(AppliedRule{prefix("0.0.0.0/0"), DefaultLimits{list().default_limits->limits}}),
        decode_show_result);
    expect_round_trip(show_of(AppliedRule{prefix("198.51.100.7/32"), expiring_deny()}),
                      decode_show_result);

    expect_round_trip(top(), decode_top_result);
    expect_round_trip(stats(), decode_stats_result);
    expect_round_trip(stats_by_rule(), decode_stats_result);
    expect_round_trip(flush(), decode_flush_result);
    expect_round_trip(FlushResult{std::nullopt, 10, 3, 5}, decode_flush_result);
    expect_round_trip(reload(), decode_reload_result);
    expect_round_trip(ApplyResult{1200, std::nullopt}, decode_apply_result);
    expect_round_trip(ApplyResult{10'000, AppliedChanges{9000, 900, 100, 9500, kNotSaved}},
                      decode_apply_result);
    expect_round_trip(bans(), decode_bans_result);
    expect_round_trip(BansResult{{}, 16}, decode_bans_result);
    expect_round_trip(UnbanResult{ban()}, decode_unban_result);
    ShowResult banned = show();
    banned.ban = ban();
    expect_round_trip(banned, decode_show_result);
}

TEST(ResultsTest, AnAppliedRuleIsOfTheOriginItsRuleIs)
{
    EXPECT_EQ((AppliedRule{prefix("0.0.0.0/0"), DefaultLimits{}}).origin(), Origin::Default);
    EXPECT_EQ((AppliedRule{prefix("10.0.0.0/8"), Rule{}}).origin(), Origin::Config);
    EXPECT_EQ((AppliedRule{prefix("10.0.0.0/8"), ActiveRuntimeRule{}}).origin(), Origin::Runtime);
}

// `wire` decodes to `expected`, and encodes back to the same JSON: the daemon's answers keep
// their keys and value forms.
template <typename Result>
void expect_wire(std::string_view wire, Result (*decode)(const json &), const Result &expected)
{
    const json sent = json::parse(wire);
    const Result decoded = decode(sent);
    EXPECT_EQ(decoded, expected) << wire;
    EXPECT_EQ(encode_result(decoded), sent);
}

// As commands.cpp wrote each result before the results had types.
TEST(ResultsTest, TheDaemonsJsonReadsAndWritesBackTheSame)
{
    expect_wire(R"({"version": "1.2.3", "uptime_s": 3725, "config": "/etc/ratelimitd/config.json",
        "mode": "monitor",
        "interfaces": [{"name": "eth0", "xdp_mode": "native", "program_id": 42},
                       {"name": "eth1", "xdp_mode": "generic", "program_id": 43}],
        "last_reload": {"time": "2026-11-29T07:00:00Z", "ok": false,
                        "message": "rules[0].rate: must be >= 1"},
        "rules": {"config": 3, "runtime": 1},
        "totals": {"passed": {"packets": 15, "bytes": 1500}, "dropped": {"packets": 3, "bytes": 300},
                   "would_drop": {"packets": 5, "bytes": 500}},
        "tracked_sources": 250, "tracked_sources_age_ms": 1500, "max_sources": 1000,
        "loop_longest_stall_ms": 2.5, "loop_longest_stall_in": "the control socket",
        "loop_longest_on_cpu_ms": 1.5,
        "table": {"admitted": 400, "refused": 12000, "evictions": 150, "filter_fill": 0.25,
                  "sketch_fill": 0.125},
        "pins": {"dir": "/sys/fs/bpf/ratelimitd", "mounted_at": "/sys/fs/bpf",
                 "outlives_daemon": true, "warning": null},
        "state_files": [
          {"path": "/var/lib/ratelimitd/runtime-rules.json", "saved": true, "write_failures": 0,
           "error": null},
          {"path": "/var/lib/ratelimitd/runtime-rules.json", "saved": false, "write_failures": 2,
           "error": "write: No space left on device"}]})",
                decode_status_result, status());

    expect_wire(R"({"default": {"limits": [{"rate": 1000, "burst": 2000, "per": "source"}]},
        "config": [
          {"match": "10.0.0.0/8", "action": "limit",
           "limits": [{"rate": 10, "burst": 20, "per": "/24"}], "overridden": true},
          {"match": "192.0.2.0/24", "action": "allow", "overridden": false}],
        "runtime": [
          {"match": "198.51.100.7", "action": "deny", "comment": "scanner",
           "expires": "2026-11-29T08:00:00Z", "expires_in_s": 90},
          {"match": "2001:db8::/32", "action": "limit", "mode": "monitor",
           "limits": [{"rate": 100, "burst": 200, "per": "/48"},
                      {"bytes": 125000, "byte_burst": 262144, "per": "rule"}],
           "expires_in_s": null}]})",
                decode_list_result, list());
    expect_wire(R"({"default": null, "config": [], "runtime": []})", decode_list_result,
                ListResult{});

    expect_wire(R"({"rule": {"match": "198.51.100.7", "action": "deny", "comment": "scanner",
                             "expires": "2026-11-29T08:00:00Z", "expires_in_s": 90},
                    "replaced": true, "overrides_config": false,
                    "state_file": {"path": "/var/lib/ratelimitd/runtime-rules.json",
                                   "saved": false, "write_failures": 2,
                                   "error": "write: No space left on device"}})",
                decode_rule_change_result, rule_change());

    // "removed" is the rule as the runtime rule file holds it: no "expires_in_s".
    expect_wire(R"({"removed": {"match": "10.0.0.0/8", "action": "deny",
                                "expires": "2026-11-29T08:00:00.25Z"},
                    "config_rule": {"match": "10.0.0.0/8", "action": "allow"},
                    "state_file": {"path": "/var/lib/ratelimitd/runtime-rules.json",
                                   "saved": true, "write_failures": 0, "error": null}})",
                decode_unset_result, unset());

    expect_wire(R"({"address": "10.1.2.3",
        "rule": {"origin": "config", "prefix": "10.0.0.0/8",
                 "rule": {"match": "10.0.0.0/8", "action": "limit",
                          "limits": [{"rate": 10, "burst": 20, "per": "/24"}]}},
        "why": "10.0.0.0/8 is the longest prefix that matches, a config rule",
        "tracked": true,
        "buckets": [{"limit": 0, "unit": "packets", "per": "/24", "key": "10.1.2.0/24",
                     "tokens": 7, "burst": 20},
                    {"limit": 1, "unit": "bytes", "per": "rule", "key": "rule",
                     "tokens": 1000, "burst": 262144}],
        "traffic": {"passed": {"packets": 15, "bytes": 1500},
                    "dropped": {"packets": 3, "bytes": 300},
                    "would_drop": {"packets": 5, "bytes": 500}},
        "ban": null})",
                decode_show_result, show());
    const ShowResult by_default = decode_show_result(json::parse(R"({"address": "10.1.2.3",
        "rule": {"origin": "default", "prefix": "0.0.0.0/0",
                 "rule": {"limits": [{"rate": 1000, "burst": 2000, "per": "source"}]}},
        "why": "w", "tracked": false, "buckets": [],
        "traffic": {"passed": {"packets": 0, "bytes": 0}, "dropped": {"packets": 0, "bytes": 0},
                    "would_drop": {"packets": 0, "bytes": 0}}, "ban": null})"));
    ASSERT_TRUE(by_default.rule);
    EXPECT_EQ(by_default.rule->origin(), Origin::Default);
    EXPECT_EQ(std::get<DefaultLimits>(by_default.rule->rule), *list().default_limits);

    expect_wire(R"({"by": "bytes", "scanned": 12, "sampled_at_ms": 987654321,
        "sources": [{"address": "10.1.2.3", "passed": {"packets": 15, "bytes": 1500},
                     "dropped": {"packets": 3, "bytes": 300},
                     "would_drop": {"packets": 5, "bytes": 500}},
                    {"address": "2001:db8::1", "passed": {"packets": 0, "bytes": 0},
                     "dropped": {"packets": 0, "bytes": 0},
                     "would_drop": {"packets": 0, "bytes": 0}}]})",
                decode_top_result, top());

    expect_wire(R"({"interfaces": [
        {"name": "eth0", "slot": 0, "counters": [
          {"reason": "non_ip", "verdict": "pass", "packets": 4, "bytes": 400},
          {"reason": "over_limit", "verdict": "drop", "packets": 9, "bytes": 900}]},
        {"name": "eth1", "slot": 1, "counters": []}]})",
                decode_stats_result, stats());

    expect_wire(R"({"bans": [
        {"address": "192.0.2.7", "rule": "192.0.2.0/24", "scope": "all",
         "since": "2026-11-29T07:00:00Z", "until": "2026-11-29T07:10:00Z", "remaining_s": 420,
         "offences": 2},
        {"address": "2001:db8::9", "rule": null, "scope": "rule",
         "since": "2026-11-29T07:00:00Z", "until": "2026-11-29T07:10:00Z", "remaining_s": 420,
         "offences": 2}], "capacity": 65536})",
                decode_bans_result, bans());

    expect_wire(R"({"match": "10.0.0.0/8", "sources": 4, "blocks": 2, "rule_buckets": 0})",
                decode_flush_result, flush());
    expect_wire(R"({"match": null, "sources": 10, "blocks": 3, "rule_buckets": 5})",
                decode_flush_result, FlushResult{std::nullopt, 10, 3, 5});

    expect_wire(R"({"time": "2026-11-29T07:00:00Z", "message": "3 config rules; 1 changed"})",
                decode_reload_result, reload());
}

TEST(ResultsTest, TrafficCountsWhatMonitorModePassedAsPassed)
{
    rl_source_counters counters{};
    counters.packets[RL_OUTCOME_PASSED] = 10;
    counters.bytes[RL_OUTCOME_PASSED] = 1000;
    counters.packets[RL_OUTCOME_DROPPED] = 3;
    counters.bytes[RL_OUTCOME_DROPPED] = 300;
    counters.packets[RL_OUTCOME_WOULD_DROP] = 5;
    counters.bytes[RL_OUTCOME_WOULD_DROP] = 500;
    EXPECT_EQ(traffic_of(counters), kTraffic);
}

// The message decoding `result` fails with, or a failure if it decodes.
template <typename Result>
std::string refusal(Result (*decode)(const json &), const json &result)
{
    try {
        decode(result);
    } catch (const std::runtime_error &e) {
        return e.what();
    }
    ADD_FAILURE() << "decoded: " << result.dump();
    return {};
}

// Without any one of its fields, `result` is refused, naming that field.
template <typename Result>
void expect_every_field_required(const Result &result, Result (*decode)(const json &))
{
    const json encoded = encode_result(result);
    for (const auto &[key, unused] : encoded.items()) {
        json without = encoded;
        without.erase(key);
        EXPECT_EQ(refusal(decode, without).rfind("result." + key + ": missing", 0), 0u)
            << "without " << key << ": " << refusal(decode, without);
    }
}

TEST(ResultsTest, AResultWithoutAFieldIsRefusedNamingIt)
{
    expect_every_field_required(status(), decode_status_result);
    expect_every_field_required(list(), decode_list_result);
    expect_every_field_required(rule_change(), decode_rule_change_result);
    expect_every_field_required(unset(), decode_unset_result);
    expect_every_field_required(show(), decode_show_result);
    expect_every_field_required(top(), decode_top_result);
    expect_every_field_required(stats(), decode_stats_result);
    expect_every_field_required(flush(), decode_flush_result);
    expect_every_field_required(reload(), decode_reload_result);
    expect_every_field_required(bans(), decode_bans_result);
    expect_every_field_required(UnbanResult{ban()}, decode_unban_result);
}

TEST(ResultsTest, ANestedFieldMissingOrMistypedIsRefusedByItsPath)
{
    json status_json = encode_result(status());
    status_json["totals"]["passed"].erase("bytes");
    EXPECT_EQ(refusal(decode_status_result, status_json), "result.totals.passed.bytes: missing");

    status_json = encode_result(status());
    status_json["interfaces"][1]["program_id"] = "43";
    EXPECT_EQ(refusal(decode_status_result, status_json),
              "result.interfaces[1].program_id: must be a whole number, not \"43\"");

    status_json = encode_result(status());
    status_json["mode"] = "relaxed";
    EXPECT_EQ(refusal(decode_status_result, status_json),
              "result.mode: \"relaxed\" is not one of enforce, monitor");

    json list_json = encode_result(list());
    list_json["runtime"][0].erase("expires_in_s");
    EXPECT_EQ(refusal(decode_list_result, list_json), "result.runtime[0].expires_in_s: missing");
    list_json = encode_result(list());
    list_json["runtime"][0].erase("expires");
    EXPECT_EQ(refusal(decode_list_result, list_json),
              "result.runtime[0].expires: missing (the rule expires)");
    list_json = encode_result(list());
    list_json["config"][0]["limits"][0].erase("rate");
    EXPECT_NE(refusal(decode_list_result, list_json).find("result.config[0]"), std::string::npos)
        << refusal(decode_list_result, list_json);

    json show_json = encode_result(show());
    show_json["rule"]["origin"] = "elsewhere";
    EXPECT_EQ(refusal(decode_show_result, show_json),
              "result.rule.origin: \"elsewhere\" is not one of config, runtime, default");
    show_json = encode_result(show());
    show_json["buckets"][0]["unit"] = "frames";
    EXPECT_EQ(refusal(decode_show_result, show_json),
              "result.buckets[0].unit: \"frames\" is not one of packets, bytes");

    json stats_json = encode_result(stats());
    stats_json["interfaces"][0]["counters"][1]["reason"] = "mystery";
    EXPECT_NE(refusal(decode_stats_result, stats_json)
                  .find("result.interfaces[0].counters[1].reason: \"mystery\" is not one of"),
              std::string::npos);

    json top_json = encode_result(top());
    top_json["sources"][0]["address"] = "10.1.2.300";
    EXPECT_EQ(refusal(decode_top_result, top_json),
              "result.sources[0].address: not an address: \"10.1.2.300\"");
    top_json = encode_result(top());
    top_json["by"] = "weight";
    EXPECT_EQ(refusal(decode_top_result, top_json), "result.by: \"weight\" is not a top order");

    EXPECT_EQ(refusal(decode_reload_result, json::array()), "result: must be an object, not []");
    EXPECT_EQ(refusal(decode_flush_result,
                      json{{"match", 7}, {"sources", 1}, {"blocks", 1}, {"rule_buckets", 1}}),
              "result.match: must be a string, not 7");
}

TEST(ResultsTest, FieldsADaemonOfALaterVersionAddsAreLeftAlone)
{
    json later = encode_result(reload());
    later["duration_ms"] = 12;
    EXPECT_EQ(decode_reload_result(later), reload());
}

TEST(ResultsTest, ARulesWordsAreTheCodecs)
{
    EXPECT_EQ(match_text(rule(R"({"match": "192.0.2.1/32", "action": "deny"})")), "192.0.2.1");
    EXPECT_EQ(match_text(rule(R"({"match": "10.0.0.0/8", "action": "deny"})")), "10.0.0.0/8");
    const LimitSpec per_block{RL_UNIT_PACKETS, 10, 20, RL_PER_PREFIX, 96 + 24};
    EXPECT_EQ(per_text(per_block, prefix("10.0.0.0/8")), "/24");
    EXPECT_EQ(per_text({RL_UNIT_PACKETS, 10, 20, RL_PER_PREFIX, 48}, prefix("2001:db8::/32")),
              "/48");
    EXPECT_EQ(per_text({RL_UNIT_PACKETS, 10, 20, RL_PER_SOURCE, 0}, prefix("10.0.0.0/8")),
              "source");
}

} // namespace
} // namespace ratelimit::control
