// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The Prometheus exposition: the text format (HELP and TYPE before the samples, escaping, values,
// families and samples in the order given, names the format refuses), the ratelimitd_* families
// made of the daemon's and the kernel's figures, and the reload counts kept in the state
// directory.

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "metrics/exposition.hpp"
#include "metrics/figures.hpp"
#include "metrics/reload_counts.hpp"

namespace ratelimit::metrics
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ----- the text format ------------------------------------------------

TEST(Exposition, WritesHelpThenTypeThenTheSamplesOfEachFamily)
{
    const std::vector<Family> families = {
        {"app_requests_total",
         MetricType::Counter,
         "Requests served.",
         {{{{"code", "200"}, {"method", "get"}}, std::uint64_t{1027}},
          {{{"code", "500"}, {"method", "get"}}, std::uint64_t{3}}}},
        {"app_temperature_celsius", MetricType::Gauge, "Core temperature.", {{{}, 21.5}}},
    };
    EXPECT_EQ(render(families), "# HELP app_requests_total Requests served.\n"
                                "# TYPE app_requests_total counter\n"
                                "app_requests_total{code=\"200\",method=\"get\"} 1027\n"
                                "app_requests_total{code=\"500\",method=\"get\"} 3\n"
                                "# HELP app_temperature_celsius Core temperature.\n"
                                "# TYPE app_temperature_celsius gauge\n"
                                "app_temperature_celsius 21.5\n");
}

TEST(Exposition, KeepsTheOrderOfFamiliesSamplesAndLabelsAsGiven)
{
    const std::vector<Family> families = {
        {"zeta",
         MetricType::Gauge,
         "z",
         {{{{"b", "2"}, {"a", "1"}}, std::uint64_t{2}},
          {{{"b", "1"}, {"a", "1"}}, std::uint64_t{1}}}},
        {"alpha", MetricType::Gauge, "a", {{{}, std::uint64_t{0}}}},
    };
    const std::string text = render(families);
    EXPECT_LT(text.find("# HELP zeta"), text.find("# HELP alpha"));
    EXPECT_LT(text.find("zeta{b=\"2\",a=\"1\"} 2"), text.find("zeta{b=\"1\",a=\"1\"} 1"));
}

TEST(Exposition, EscapesLabelValuesAndHelp)
{
    EXPECT_EQ(escape_label_value(R"(C:\new "dir")"
                                 "\nline"),
              R"(C:\\new \"dir\"\nline)");
    EXPECT_EQ(escape_label_value("plain eth0.100 é"), "plain eth0.100 é");
    // HELP keeps its quotes: only backslash and newline are escaped there.
    EXPECT_EQ(escape_help("say \"hi\" \\ then\nmore"), R"(say "hi" \\ then\nmore)");

    const std::vector<Family> families = {{"app_info",
                                           MetricType::Gauge,
                                           "One\nline",
                                           {{{{"path", "a\"b\\c\nd"}}, std::uint64_t{1}}}}};
    EXPECT_EQ(render(families), "# HELP app_info One\\nline\n"
                                "# TYPE app_info gauge\n"
                                "app_info{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Exposition, WritesCountsExactlyAndDoublesInTheirShortestForm)
{
    EXPECT_EQ(format_value(std::uint64_t{0}), "0");
    // Above 2^53 a double would have rounded it.
    EXPECT_EQ(format_value(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
    EXPECT_EQ(format_value(1.5), "1.5");
    EXPECT_EQ(format_value(1767225600.25), "1767225600.25");
    EXPECT_EQ(format_value(0.1), "0.1");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(Exposition, RefusesWhatTheFormatDoesNotAllow)
{
    auto refused = [](Family family) {
        EXPECT_THROW(render({family}), std::invalid_argument) << family.name;
    };
    refused({"app_requests", MetricType::Counter, "a counter must end in _total", {}});
    refused({"9lives", MetricType::Gauge, "starts with a digit", {}});
    refused({"app-requests", MetricType::Gauge, "a dash", {}});
    refused({"", MetricType::Gauge, "empty", {}});
    refused({"app_x", MetricType::Gauge, "label with a colon", {{{{"a:b", "1"}}, 1.0}}});
    refused({"app_x", MetricType::Gauge, "reserved label", {{{{"__name__", "y"}}, 1.0}}});
    refused({"app_x", MetricType::Gauge, "label twice", {{{{"a", "1"}, {"a", "2"}}, 1.0}}});
    refused({"app_x",
             MetricType::Gauge,
             "the same series twice",
             {{{{"a", "1"}}, 1.0}, {{{"a", "1"}}, 2.0}}});

    const Family ok{"app_x", MetricType::Gauge, "fine", {}};
    EXPECT_NO_THROW(render({ok}));
    EXPECT_THROW(render({ok, ok}), std::invalid_argument); // a family given twice
    // Colons are allowed in metric names (recording rules use them), not in label names.
    EXPECT_NO_THROW(render({{"app:x", MetricType::Gauge, "colon", {}}}));
}

// ----- the ratelimitd families ------------------------------------------

DaemonFigures some_daemon_figures()
{
    DaemonFigures daemon;
    daemon.source_capacity = 65536;
    daemon.ban_capacity = 4096;
    daemon.rules = {{Origin::Config, 3}, {Origin::Runtime, 1}, {Origin::Default, 0}};
    daemon.reloads = {7, 2};
    daemon.last_reload_success = WallClock::time_point(1767225600s + 500ms);
    daemon.interfaces = {{"eth0", 2}, {"eth\"1", 3}};
    SaveStatus rules("/var/lib/ratelimitd/runtime-rules.json");
    for (int failed = 0; failed < 2; failed++)
        rules.failed("cannot write /var/lib/ratelimitd/runtime-rules.json.tmp: No space left");
    daemon.state_files = {rules, SaveStatus("/var/lib/ratelimitd/metrics-state.json")};
    return daemon;
}

KernelFigures some_kernel_figures()
{
    KernelFigures kernel;
    kernel.counters = {{"eth0", "pass", "conforming", 100, 6400},
                       {"eth0", "drop", "over_limit", 25, 1600},
                       {"eth\"1", "pass", "untracked", 4, 256}};
    kernel.tracked_sources = 12;
    kernel.source_admissions = 40;
    kernel.source_admissions_refused = 900;
    kernel.source_evictions = 28;
    kernel.admission_filter_fill = 0.25;
    kernel.tat_sketch_fill = 0.5;
    kernel.active_bans = 2;
    kernel.bans = {{"203.0.113.0/24", 5, 1}};
    kernel.loop_longest_stall = std::chrono::microseconds(2500);
    kernel.xdp = {{"eth0", "native", true}, {"eth\"1", "none", false}};
    return kernel;
}

TEST(MetricFamilies, ReportEveryFigureUnderItsName)
{
    const std::string text =
        render(metric_families("1.2.3", some_daemon_figures(), some_kernel_figures()));
    const char *const expected[] = {
        "ratelimitd_build_info{version=\"1.2.3\"} 1\n",
        "ratelimitd_packets_total{interface=\"eth0\",verdict=\"pass\",reason=\"conforming\"} 100\n",
        "ratelimitd_packets_total{interface=\"eth0\",verdict=\"drop\",reason=\"over_limit\"} 25\n",
        "ratelimitd_packets_total{interface=\"eth\\\"1\",verdict=\"pass\",reason=\"untracked\"} "
        "4\n",
        "ratelimitd_bytes_total{interface=\"eth0\",verdict=\"pass\",reason=\"conforming\"} 6400\n",
        "ratelimitd_bytes_total{interface=\"eth0\",verdict=\"drop\",reason=\"over_limit\"} 1600\n",
        "ratelimitd_tracked_sources 12\n",
        "ratelimitd_source_admissions_total 40\n",
        "ratelimitd_source_admissions_refused_total 900\n",
        "ratelimitd_source_evictions_total 28\n",
        "ratelimitd_admission_filter_fill 0.25\n",
        "ratelimitd_tat_sketch_fill 0.5\n",
        "ratelimitd_event_loop_longest_stall_seconds 0.0025\n",
        "ratelimitd_source_capacity 65536\n",
        "ratelimitd_bans 2\n",
        "ratelimitd_ban_capacity 4096\n",
        "ratelimitd_bans_total{rule=\"203.0.113.0/24\"} 5\n",
        "ratelimitd_bans_refused_total{rule=\"203.0.113.0/24\"} 1\n",
        "ratelimitd_rules{origin=\"config\"} 3\n",
        "ratelimitd_rules{origin=\"runtime\"} 1\n",
        "ratelimitd_rules{origin=\"default\"} 0\n",
        "ratelimitd_config_reloads_total{result=\"success\"} 7\n",
        "ratelimitd_config_reloads_total{result=\"failure\"} 2\n",
        "ratelimitd_last_reload_success_timestamp_seconds 1767225600.5\n",
        "ratelimitd_state_saved{file=\"runtime-rules.json\"} 0\n",
        "ratelimitd_state_saved{file=\"metrics-state.json\"} 1\n",
        "ratelimitd_state_write_failures_total{file=\"runtime-rules.json\"} 2\n",
        "ratelimitd_state_write_failures_total{file=\"metrics-state.json\"} 0\n",
        "ratelimitd_xdp_attached{interface=\"eth0\",mode=\"native\"} 1\n",
        "ratelimitd_xdp_attached{interface=\"eth\\\"1\",mode=\"none\"} 0\n",
    };
    for (const char *line : expected)
        EXPECT_NE(text.find(line), std::string::npos) << "no " << line << "in\n" << text;
}

TEST(MetricFamilies, CountersAreCountersAndTheRestGauges)
{
    const auto families = metric_families("1", some_daemon_figures(), some_kernel_figures());
    std::vector<std::string> counters, gauges;
    for (const auto &family : families) {
        EXPECT_TRUE(family.name.starts_with("ratelimitd_")) << family.name;
        EXPECT_FALSE(family.help.empty()) << family.name;
        (family.type == MetricType::Counter ? counters : gauges).push_back(family.name);
    }
    EXPECT_EQ(counters,
              (std::vector<std::string>{
                  "ratelimitd_packets_total", "ratelimitd_bytes_total",
                  "ratelimitd_source_admissions_total",
                  "ratelimitd_source_admissions_refused_total", "ratelimitd_source_evictions_total",
                  "ratelimitd_bans_total", "ratelimitd_bans_refused_total",
                  "ratelimitd_rule_packets_total", "ratelimitd_rule_bytes_total",
                  "ratelimitd_config_reloads_total", "ratelimitd_state_write_failures_total"}));
    EXPECT_EQ(gauges.size(), 12u);
    const std::string text = render(families);
    EXPECT_NE(text.find("# TYPE ratelimitd_packets_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE ratelimitd_tracked_sources gauge\n"), std::string::npos);
    // Where failed inserts show, since the kernel does not count evictions.
    EXPECT_NE(text.find("does not count LRU evictions"), std::string::npos);
}

TEST(MetricFamilies, NoFamilyGrowsWithTheNumberOfSources)
{
    DaemonFigures daemon = some_daemon_figures();
    KernelFigures few = some_kernel_figures(), many = some_kernel_figures();
    many.tracked_sources = 1'000'000;
    auto sample_count = [&](const KernelFigures &kernel) {
        std::size_t samples = 0;
        for (const auto &family : metric_families("1", daemon, kernel))
            samples += family.samples.size();
        return samples;
    };
    EXPECT_EQ(sample_count(few), sample_count(many));
}

TEST(MetricFamilies, RulesAreCountedByOriginWithZeroes)
{
    std::vector<DesiredRule> desired(4);
    desired[0].origin = Origin::Config;
    desired[1].origin = Origin::Config;
    desired[2].origin = Origin::Runtime;
    desired[3].origin = Origin::Config;
    EXPECT_EQ(rules_by_origin(desired),
              (std::map<Origin, std::size_t>{
                  {Origin::Config, 3}, {Origin::Runtime, 1}, {Origin::Default, 0}}));
    EXPECT_EQ(rules_by_origin({}).size(), 3u);
}

// ----- reload counts in the state directory ---------------------------

class ReloadCountFileTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        dir_ = fs::temp_directory_path() /
               ("rl-metrics-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string path() const { return (dir_ / "state" / "metrics-state.json").string(); }

    fs::path dir_;
};

TEST_F(ReloadCountFileTest, AMissingFileHoldsZeroCounts)
{
    EXPECT_EQ(ReloadCountFile(path()).load(), ReloadCounts{});
}

TEST_F(ReloadCountFileTest, CountsSurviveARoundTripAndTheFileIsReplacedWhole)
{
    ReloadCountFile file(path());
    file.save({5, 1});
    file.save({6, 1});
    EXPECT_EQ(file.load(), (ReloadCounts{6, 1}));
    EXPECT_EQ(ReloadCountFile(path()).load(), (ReloadCounts{6, 1}));
    EXPECT_FALSE(fs::exists(path() + ".tmp"));
    EXPECT_EQ(fs::status(path()).permissions(),
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST_F(ReloadCountFileTest, AFileThatCannotBeReadBackIsAnErrorNamingIt)
{
    fs::create_directories(dir_ / "state");
    for (const char *text : {"{", "[]", R"({"version": 2, "config_reloads": {}})",
                             R"({"version": 1, "config_reloads": {"success": -1, "failure": 0}})",
                             R"({"version": 1, "config_reloads": {"success": 1}})"}) {
        std::ofstream(path()) << text;
        try {
            ReloadCountFile(path()).load();
            ADD_FAILURE() << "accepted " << text;
        } catch (const std::runtime_error &e) {
            EXPECT_NE(std::string(e.what()).find(path()), std::string::npos) << e.what();
        }
    }
}

// Read like every JSON file: a count given twice (the last one used to win), deep nesting and
// text that is not JSON are refused, and the file's content is never quoted.
TEST_F(ReloadCountFileTest, IsReadLikeEveryJsonFile)
{
    fs::create_directories(dir_ / "state");
    const std::string deep = std::string(100, '[') + std::string(100, ']');
    const std::pair<std::string, std::string> cases[] = {
        {R"({"version": 1, "config_reloads": {"success": 1, "failure": 0, "success": 9}})",
         "config_reloads.success: is given twice (line 1, column 71)"},
        {R"({"version": 1, "config_reloads": {"success": 1, "failure": 0}, "x": )" + deep + "}",
         "nested deeper than 64 levels"},
        {"hunter2-token", "malformed JSON at line 1, column 1"},
    };
    for (const auto &[text, says] : cases) {
        std::ofstream(path()) << text;
        try {
            ReloadCountFile(path()).load();
            ADD_FAILURE() << "accepted " << text;
        } catch (const std::runtime_error &e) {
            EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
        }
    }
}

} // namespace
} // namespace ratelimit::metrics
