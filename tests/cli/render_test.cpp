// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitctl's human output of every command's result, from results built here: no daemon, no
// root.

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "../control/result_samples.hpp"
#include "render.hpp"

namespace ratelimit::ctl
{
namespace
{

using nlohmann::json;
using namespace control;
using namespace control::samples;

template <typename Result>
std::string rendered(const Result &result)
{
    std::ostringstream out;
    render(result, out);
    return out.str();
}

TEST(RenderTest, Status)
{
    const StatusResult status{
        .version = "1.2.3",
        .uptime_s = 3725,
        .config = "/etc/ratelimitd/config.json",
        .mode = Mode::Monitor,
        .interfaces = {{"eth0", "native", 42}},
        .last_reload = {"2026-11-29T07:00:00Z", false, "rules[0].rate: must be >= 1"},
        .rules = {3, 1},
        .totals = kTraffic,
        .tracked_sources = 250,
        .tracked_sources_age_ms = 2400,
        .max_sources = 1000,
        .loop_longest_stall_ms = 3.25,
        .loop_longest_stall_in = "the control socket",
        .loop_longest_on_cpu_ms = 1.5,
        .table = {400, 12000, 150, 0.25, 0.125},
        .pins = {"/sys/fs/bpf/ratelimitd", std::nullopt, true, "pins outlive the daemon"},
        .state_files = {kSaved, kNotSaved}};
    EXPECT_EQ(rendered(status),
              "ratelimitd       1.2.3, up 1h 2m\n"
              "config           /etc/ratelimitd/config.json\n"
              "mode             monitor\n"
              "interface        eth0: XDP native, program 42\n"
              "last reload      2026-11-29T07:00:00Z REFUSED: rules[0].rate: must be >= 1\n"
              "rules            3 config, 1 runtime\n"
              "passed           15 packets, 1500 bytes\n"
              "dropped          3 packets, 300 bytes\n"
              "would drop       5 packets, 500 bytes (passed: monitor mode)\n"
              "tracked sources  250 of 1000 (25.0% full), counted 2s ago\n"
              "event loop       held at most 3.2 ms (by the control socket), 1.5 ms on the CPU\n"
              "source table     400 admitted, 150 evicted (estimate), 12000 packets judged "
              "without an entry\n"
              "admission        filter 25.0% full, sketch 12.5% in debt\n"
              "pins             /sys/fs/bpf/ratelimitd; WARNING: pins outlive the daemon\n"
              "state file       /var/lib/ratelimitd/runtime-rules.json: saved\n"
              "state file       /var/lib/ratelimitd/runtime-rules.json: NOT SAVED (failed "
              "writes: 2; retrying): write: No space left on device\n");
}

TEST(RenderTest, StatusWithoutWouldDropsOrSources)
{
    StatusResult status;
    status.version = "1.2.3";
    status.uptime_s = 12;
    status.last_reload.ok = true;
    status.last_reload.message = "started";
    const std::string text = rendered(status);
    EXPECT_NE(text.find("1.2.3, up 12s\n"), std::string::npos) << text;
    EXPECT_NE(text.find("mode             enforce\n"), std::string::npos) << text;
    EXPECT_NE(text.find(" ok: started\n"), std::string::npos) << text;
    EXPECT_NE(text.find("0 of 0 (0.0% full)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("event loop       held at most 0.0 ms, 0.0 ms on the CPU\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("would drop"), std::string::npos) << text;
}

TEST(RenderTest, List)
{
    const ListResult list{
        DefaultLimits{{{RL_UNIT_PACKETS, 1000, 2000, RL_PER_SOURCE, 0}}},
        {{rule(R"({"match": "10.0.0.0/8", "action": "limit", "comment": "lab", "name": "lab-net",
                   "limits": [{"rate": 10, "burst": 20, "per": "/24"},
                              {"bytes": 1250000, "byte_burst": 262144, "per": "rule"}]})"),
          true},
         {rule(R"({"match": "192.0.2.0/24", "action": "allow"})"), false}},
        {expiring_deny(),
         {{rule(R"({"match": "2001:db8::/32", "action": "deny", "mode": "monitor",
                    "name": "v6-drill"})"),
           std::nullopt},
          std::nullopt}}};
    EXPECT_EQ(
        rendered(list),
        "default: 1kpps burst 2000 per source\n"
        "\n"
        "config rules:\n"
        "NAME     MATCH         ACTION  LIMITS                                                "
        "MODE     NOTE                          COMMENT\n"
        "lab-net  10.0.0.0/8    limit   10pps burst 20 per /24, 10Mbit burst 256KiB per rule  "
        "enforce  overridden by a runtime rule  lab\n"
        "-        192.0.2.0/24  allow   -                                                     "
        "enforce                                \n"
        "\n"
        "runtime rules:\n"
        "NAME      MATCH          ACTION  LIMITS  MODE     EXPIRES                           "
        "COMMENT\n"
        "-         198.51.100.7   deny    -       enforce  in 1m 30s (2026-11-29T08:00:00Z)  "
        "scanner\n"
        "v6-drill  2001:db8::/32  deny    -       monitor  never                             \n");
    EXPECT_EQ(rendered(ListResult{}).substr(0, 57),
              "default: none (sources no rule matches are not limited)\n\n");
}

TEST(RenderTest, SetAllowDeny)
{
    EXPECT_EQ(rendered(RuleChangeResult{expiring_deny(), true, true, kSaved}),
              "runtime rule replaced: 198.51.100.7 deny, expires in 1m 30s "
              "(2026-11-29T08:00:00Z)\n"
              "it overrides the config rule for 198.51.100.7 while it exists\n");
    const ActiveRuntimeRule limit{
        {rule(R"({"match": "203.0.113.0/24", "action": "limit", "mode": "monitor",
                  "limits": [{"rate": 100, "burst": 200, "per": "source"}]})"),
         std::nullopt},
        std::nullopt};
    EXPECT_EQ(rendered(RuleChangeResult{limit, false, false, kNotSaved}),
              "runtime rule added: 203.0.113.0/24 limit 100pps burst 200 per source (monitor)\n"
              "warning: in force, but not in the state file yet: a restart before the daemon can "
              "write it undoes this change. /var/lib/ratelimitd/runtime-rules.json: NOT SAVED "
              "(failed writes: 2; retrying): write: No space left on device\n");
}

TEST(RenderTest, Unset)
{
    EXPECT_EQ(rendered(UnsetResult{
                  {rule(R"({"match": "10.0.0.0/8", "action": "deny"})"), "2026-11-29T08:00:00Z"},
                  rule(R"({"match": "10.0.0.0/8", "action": "allow"})"),
                  kSaved}),
              "runtime rule removed: 10.0.0.0/8 deny\n"
              "the config rule applies again: 10.0.0.0/8 allow\n");
    EXPECT_EQ(
        rendered(UnsetResult{{rule(R"({"match": "10.0.0.0/8", "action": "deny"})"), std::nullopt},
                             std::nullopt,
                             kSaved}),
        "runtime rule removed: 10.0.0.0/8 deny\n");
    EXPECT_EQ(
        rendered(UnsetResult{
            {rule(R"({"match": "10.0.0.0/8", "action": "deny", "name": "scanner"})"), std::nullopt},
            std::nullopt,
            kSaved}),
        "runtime rule removed: 10.0.0.0/8 (scanner) deny\n");
}

ShowResult show_of(std::optional<AppliedRule> applied, std::vector<BucketStatus> buckets = {})
{
    return {parse_address("10.1.2.3").value(),
            std::move(applied),
            "because",
            true,
            std::move(buckets),
            kTraffic,
            std::nullopt};
}

TEST(RenderTest, Show)
{
    const Prefix block = parse_prefix("10.0.0.0/8").value();
    EXPECT_EQ(rendered(show_of(AppliedRule{block, rule(R"({"match": "10.0.0.0/8", "action": "limit",
                      "limits": [{"rate": 10, "burst": 20, "per": "/24"}]})")},
                               {{0, RL_UNIT_PACKETS, "/24", "10.1.2.0/24", 7, 20},
                                {1, RL_UNIT_BYTES, "rule", "rule", 1000, 262144}})),
              "address     10.1.2.3\n"
              "rule        config rule 10.0.0.0/8 limit 10pps burst 20 per /24\n"
              "why         because\n"
              "tracked     yes\n"
              "passed      15 packets, 1500 bytes\n"
              "dropped     3 packets, 300 bytes\n"
              "would drop  5 packets, 500 bytes (passed: monitor mode)\n"
              "\n"
              "LIMIT  PER   BUCKET       TOKENS NOW\n"
              "0      /24   10.1.2.0/24  7 of 20 packets\n"
              "1      rule  rule         1000 of 262144 bytes\n");
    const std::string none = rendered(show_of(std::nullopt));
    EXPECT_NE(none.find("rule        none\n"), std::string::npos) << none;
    EXPECT_EQ(none.find("LIMIT"), std::string::npos) << none;
    const std::string by_default = rendered(
        show_of(AppliedRule{parse_prefix("0.0.0.0/0").value(),
                            DefaultLimits{{{RL_UNIT_PACKETS, 1000, 2000, RL_PER_SOURCE, 0}}}}));
    EXPECT_NE(by_default.find("rule        default for 0.0.0.0/0: 1kpps burst 2000 per source\n"),
              std::string::npos)
        << by_default;
    const std::string runtime =
        rendered(show_of(AppliedRule{parse_prefix("198.51.100.7/32").value(), expiring_deny()}));
    EXPECT_NE(runtime.find("rule        runtime rule 198.51.100.7 deny, expires in 1m 30s "
                           "(2026-11-29T08:00:00Z)\n"),
              std::string::npos)
        << runtime;
}

TopResult sample(std::int64_t at_ms, std::uint64_t scanned, std::vector<SourceTraffic> sources)
{
    return {TopOrder::Drops, scanned, at_ms, std::move(sources)};
}

SourceTraffic source(std::string_view address, std::uint64_t passed, std::uint64_t dropped,
                     std::uint64_t would_drop)
{
    return {parse_address(address).value(),
            {{passed, passed * 100}, {dropped, dropped * 100}, {would_drop, would_drop * 100}},
            ""};
}

TEST(RenderTest, TopRatesAreBetweenTheTwoSamples)
{
    const TopResult earlier =
        sample(1000, 2, {source("10.0.0.1", 10, 0, 0), source("10.0.0.2", 50, 40, 0)});
    const TopResult later = sample(
        3000, 3,
        {source("10.0.0.2", 70, 80, 0), source("10.0.0.3", 4, 2, 2), source("10.0.0.1", 5, 0, 0)});
    const TopRates rates = top_with_rates(earlier, later, 3);
    EXPECT_DOUBLE_EQ(rates.interval_s, 2.0);
    ASSERT_EQ(rates.sources.size(), 3u);
    // 10.0.0.2: 90 -> 150 packets, 40 -> 80 dropped over 2 s.
    EXPECT_EQ(rates.sources[0].per_second, (SourceRates{30, 20, 0, 3000}));
    // 10.0.0.3 was not in a sample that listed every source: it had no traffic then.
    EXPECT_EQ(rates.sources[1].per_second, (SourceRates{3, 1, 1, 300}));
    // 10.0.0.1's counters went back: it was forgotten meanwhile.
    EXPECT_EQ(rates.sources[2].per_second, std::nullopt);

    EXPECT_EQ(rendered(rates), "ADDRESS   PACKETS  DROPPED  WOULD DROP  BYTES  DROPS/S\n"
                               "10.0.0.2  150      80       0           15000  20.0\n"
                               "10.0.0.3  6        2        2           600    2.0\n"
                               "10.0.0.1  5        0        0           500    -\n"
                               "\n"
                               "3 sources with traffic; rates over the last 2.0 s\n");

    // A sample that did not list every source says nothing of one it did not list.
    const TopRates partial = top_with_rates(sample(1000, 5, {}), later, 1);
    ASSERT_EQ(partial.sources.size(), 1u);
    EXPECT_EQ(partial.sources[0].per_second, std::nullopt);
}

TEST(RenderTest, TopNamesTheRuleOfASourceWhenItIsNamed)
{
    SourceTraffic dns = source("10.0.0.1", 3, 1, 0);
    dns.rule = "dns";
    const TopRates rates{TopOrder::Drops,
                         2,
                         1.0,
                         {{dns, SourceRates{2, 1, 0, 200}}, {source("10.0.0.2", 1, 0, 0), {}}}};
    EXPECT_EQ(rendered(rates), "ADDRESS   RULE  PACKETS  DROPPED  WOULD DROP  BYTES  DROPS/S\n"
                               "10.0.0.1  dns   4        1        0           400    1.0\n"
                               "10.0.0.2  -     1        0        0           100    -\n"
                               "\n"
                               "2 sources with traffic; rates over the last 1.0 s\n");
    EXPECT_EQ(encode_top_rates(rates)["sources"][0]["rule"], "dns");
    EXPECT_FALSE(encode_top_rates(rates)["sources"][1].contains("rule")) << "unnamed: no field";
}

TEST(RenderTest, TopRatesAsJson)
{
    const TopRates rates{TopOrder::Bytes,
                         4,
                         1.5,
                         {{source("10.0.0.1", 3, 1, 0), SourceRates{2, 0.5, 0, 200}},
                          {source("10.0.0.2", 1, 0, 0), std::nullopt}}};
    EXPECT_EQ(encode_top_rates(rates), json::parse(R"({"by": "bytes", "scanned": 4,
        "interval_s": 1.5, "sources": [
          {"address": "10.0.0.1", "passed": {"packets": 3, "bytes": 300},
           "dropped": {"packets": 1, "bytes": 100}, "would_drop": {"packets": 0, "bytes": 0},
           "per_second": {"packets": 2.0, "dropped": 0.5, "would_drop": 0.0, "bytes": 200.0}},
          {"address": "10.0.0.2", "passed": {"packets": 1, "bytes": 100},
           "dropped": {"packets": 0, "bytes": 0}, "would_drop": {"packets": 0, "bytes": 0},
           "per_second": null}]})"));
    EXPECT_NE(rendered(rates).find("BYTES/S\n"), std::string::npos) << rendered(rates);
}

TEST(RenderTest, Stats)
{
    const StatsResult stats{{{"eth0",
                              0,
                              {{RL_REASON_NON_IP, RL_VERDICT_PASS, {4, 400}},
                               {RL_REASON_NO_RULE, RL_VERDICT_PASS, {0, 0}},
                               {RL_REASON_OVER_LIMIT, RL_VERDICT_DROP, {9, 900}}}}},
                            std::nullopt};
    EXPECT_EQ(rendered(stats), "INTERFACE  REASON      VERDICT  PACKETS  BYTES\n"
                               "eth0       non_ip      pass     4        400\n"
                               "eth0       over_limit  drop     9        900\n");
    EXPECT_EQ(rendered(StatsResult{{{"eth0", 0, {}}}, std::nullopt}), "no packets counted yet\n");
}

TEST(RenderTest, StatsByRule)
{
    StatsResult stats{{{"eth0", 0, {{RL_REASON_NON_IP, RL_VERDICT_PASS, {4, 400}}}}}, {}};
    stats.rules = {{"dns",
                    {{RL_REASON_CONFORMING, RL_VERDICT_PASS, {50, 5000}},
                     {RL_REASON_OVER_LIMIT, RL_VERDICT_DROP, {7, 700}}}},
                   {"", {{RL_REASON_DENIED, RL_VERDICT_DROP, {3, 300}}}}};
    EXPECT_EQ(rendered(stats), "RULE       REASON      VERDICT  PACKETS  BYTES\n"
                               "dns        conforming  pass     50       5000\n"
                               "dns        over_limit  drop     7        700\n"
                               "(unnamed)  denied      drop     3        300\n");
    stats.rules = std::vector<RuleStats>{{"", {}}};
    EXPECT_EQ(rendered(stats), "no packets counted by any rule yet\n");
}

TEST(RenderTest, Flush)
{
    EXPECT_EQ(rendered(FlushResult{parse_prefix("10.0.0.0/8").value(), 4, 2, 0}),
              "forgot the buckets of 4 sources and 2 /N blocks in 10.0.0.0/8\n");
    EXPECT_EQ(rendered(FlushResult{std::nullopt, 10, 3, 5}),
              "forgot the buckets of 10 sources and 3 /N blocks, and refilled 5 per-rule "
              "buckets\n");
}

TEST(RenderTest, BansAndUnban)
{
    const BanInfo ban{*parse_address("192.0.2.7"),
                      parse_prefix("192.0.2.0/24"),
                      BanScope::All,
                      "2026-11-29T07:00:00Z",
                      "2026-11-29T07:10:00Z",
                      420,
                      2};
    EXPECT_EQ(rendered(BansResult{{ban}, 65536}),
              "ADDRESS    RULE                       SINCE                 UNTIL                 "
              "LEFT  OFFENCES\n"
              "192.0.2.7  192.0.2.0/24, all traffic  2026-11-29T07:00:00Z  2026-11-29T07:10:00Z  "
              "420s  2\n"
              "1 banned (room for 65536)\n");
    EXPECT_EQ(rendered(BansResult{{}, 16}), "no source is banned\n");
    EXPECT_EQ(rendered(UnbanResult{ban}),
              "ban lifted: 192.0.2.7 (was by 192.0.2.0/24, all traffic until "
              "2026-11-29T07:10:00Z (420 s left), offence 2)\n");
}

TEST(RenderTest, Reload)
{
    EXPECT_EQ(rendered(ReloadCommandResult{"2026-11-29T07:00:00Z", "3 config rules"}),
              "reloaded at 2026-11-29T07:00:00Z: 3 config rules\n");
}

TEST(RenderTest, AResultFromTheDaemonIsDecodedForItsCommand)
{
    std::ostringstream out;
    render(Command::Reload, encode_result(ReloadCommandResult{"t", "m"}), out);
    EXPECT_EQ(out.str(), "reloaded at t: m\n");
    EXPECT_THROW(render(Command::Status, encode_result(ReloadCommandResult{"t", "m"}), out),
                 std::runtime_error);
}

} // namespace
} // namespace ratelimit::ctl
