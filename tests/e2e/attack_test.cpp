// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Exact under attack, on the wire (see daemon_fixture.hpp): a botnet wider than the source table
// gets no more than each source's limit, the table's pressure shows in /metrics and status, and a
// spoofed random-source flood evicts no tracked legitimate source. Every count is taken by the
// far side's UDP socket, per source. The table is small (max_sources 1024) so that a botnet four
// and five times as wide fits the wire of a 2-CPU machine.

#include <algorithm>
#include <future>
#include <map>
#include <sstream>

#include "metrics_fixture.hpp"

namespace ratelimit::test
{
namespace
{

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::uint32_t kMaxSources = 1024;
// How far above burst + rate * t a source may be admitted: the product's accuracy promise.
constexpr double kAccuracy = 0.05;

double seconds(std::chrono::nanoseconds elapsed)
{
    return std::chrono::duration<double>(elapsed).count();
}

Address address(const std::string &text)
{
    return *parse_address(text);
}

// `count` consecutive IPv4 addresses from `first` on.
std::vector<Address> consecutive_sources(const std::string &first, std::uint32_t count)
{
    const Address start = address(first);
    std::uint32_t base = 0;
    for (int byte = 12; byte < 16; byte++)
        base = (base << 8) | start.bytes[byte];
    std::vector<Address> out(count, start);
    for (std::uint32_t i = 0; i < count; i++)
        for (int byte = 15, value = static_cast<int>(base + i); byte >= 12; byte--, value >>= 8)
            out[i].bytes[byte] = static_cast<std::uint8_t>(value);
    return out;
}

std::string max_sources_field()
{
    return R"(, "max_sources": )" + std::to_string(kMaxSources);
}

// What the far side received from each source of a botnet that exceeded its per-source limit
// throughout, against burst + rate * t.
struct BotnetAdmissions {
    std::size_t sources = 0; // that got anything through
    std::size_t over = 0;    // admitted more than the bound allows
    std::uint64_t admitted = 0, most = 0;
    double bound = 0; // per source, with the accuracy promise

    // `admissible`: burst + rate * t of one source.
    std::string summary(double admissible) const
    {
        std::ostringstream out;
        out << sources << " sources admitted " << admitted << " in all, "
            << admitted / (admissible * sources) << "x burst + rate * t; " << over
            << " over the bound of " << bound << " each, the most " << most;
        return out.str();
    }
};

class AttackTest : public MetricsDaemonTest
{
  protected:
    AttackTest() { netns_tag_ = "attack"; }

    void TearDown() override
    {
        // A socket that overflowed would hide admissions beyond the bounds.
        if (counter_) {
            EXPECT_EQ(counter_->socket_drops(), 0u) << "the receiving socket dropped datagrams";
        }
        MetricsDaemonTest::TearDown();
    }

    BotnetAdmissions admissions_within(const std::string &prefix, double rate, double burst,
                                       double t) const
    {
        Prefix range = *parse_prefix(prefix);
        BotnetAdmissions a;
        a.bound = (burst + rate * t) * (1 + kAccuracy);
        for (const auto &[source, count] : counter_->by_source()) {
            if (!range.contains(source))
                continue;
            a.sources++;
            a.admitted += count;
            a.most = std::max(a.most, count);
            a.over += count > a.bound;
        }
        return a;
    }

    // Sends `plan` (a botnet of `bots` sources, each far over kBotRules' limit) and checks what
    // the far side received from `prefix`: no source more than burst + rate * t (+5 %), and at
    // least `got_in` sources something (none locked out).
    void expect_botnet_held(SendPlan plan, const std::string &prefix, std::size_t bots,
                            std::size_t got_in) const;

    // The sum of every series of `metric` in a scrape; absent: not exposed at all.
    static std::optional<double> metric(const Samples &samples, const std::string &name)
    {
        std::optional<double> sum;
        for (const auto &[series, value] : samples)
            if (series.substr(0, series.find('{')) == name)
                sum = sum.value_or(0) + value;
        return sum;
    }

    // A plan for frames from sources drawn at random from the IPv4 `prefix`, one per frame.
    SendPlan plan_from_range(const std::string &prefix) const
    {
        Prefix range = *parse_prefix(prefix);
        SendPlan plan = plan_from({range.address});
        plan.sources.clear();
        plan.source_range = range;
        return plan;
    }

    // `ratelimitctl show --json` of a source.
    json shown(const Address &source) const { return ctl_json({"show", source.to_string()}); }
};

// 10x a limit of 2 pps, burst 2, for 10 s: 20 pps per source.
constexpr double kBotRate = 2, kBotBurst = 2, kBotSendRate = 10 * kBotRate;
constexpr auto kBotDuration = 10s;
constexpr char kBotRules[] = R"([{"match": "10.64.0.0/10", "rate": "2pps", "burst": 2}])";

void AttackTest::expect_botnet_held(SendPlan plan, const std::string &prefix, std::size_t bots,
                                    std::size_t got_in) const
{
    plan.rate_pps = static_cast<double>(bots) * kBotSendRate;
    plan.duration = kBotDuration;
    SendReport sent = send(plan);
    settle();

    const double t = seconds(sent.elapsed), admissible = kBotBurst + kBotRate * t;
    BotnetAdmissions a = admissions_within(prefix, kBotRate, kBotBurst, t);
    EXPECT_GE(sent.packets, 3 * bots * admissible)
        << "the premise: each bot sent several times what it may be admitted";
    EXPECT_GE(a.sources, got_in) << "bots that got something in (none locked out)";
    EXPECT_EQ(a.over, 0u) << a.summary(admissible) << "; sent " << sent.packets << " in " << t
                          << " s";
}

TEST_F(AttackTest, ABotnetFourTimesTheTableInRandomOrderGetsNoMoreThanEachSourcesLimit)
{
    write_config(kBotRules, max_sources_field());
    Process daemon = start_daemon();

    // 4096 sources (a /20), every frame from one of them at random: each sends 20 pps.
    constexpr std::size_t kBots = 4 * kMaxSources;
    SendPlan plan = plan_from_range("10.64.0.0/20");
    plan.seed = 13; // a failure can be replayed
    expect_botnet_held(plan, "10.64.0.0/20", kBots, kBots * 99 / 100);
    EXPECT_EQ(errors_logged(daemon), std::vector<std::string>{});
}

TEST_F(AttackTest, FiveThousandSourcesRoundRobinGetNoMoreThanTheirLimitsAndThePressureShows)
{
    write_config(kBotRules, max_sources_field());
    Process daemon = start_daemon();

    // 5000 sources in turn at 100 kpps: each source's next frame comes after 4999 others, so an
    // LRU of 1024 has always just forgotten it.
    constexpr std::size_t kBots = 5000;
    SendPlan plan = plan_from(consecutive_sources("10.65.0.1", kBots));
    expect_botnet_held(plan, "10.65.0.0/16", kBots, kBots);

    // The table is too small for this traffic, and an operator can see it: sources were evicted
    // or refused an entry, and the admission filter has taken sources in.
    const Samples samples = samples_of(scrape());
    for (const char *name :
         {"ratelimitd_source_admissions_total", "ratelimitd_source_admissions_refused_total",
          "ratelimitd_source_evictions_total", "ratelimitd_admission_filter_fill",
          "ratelimitd_tat_sketch_fill"})
        EXPECT_TRUE(metric(samples, name)) << name << " is not exposed";
    const double evicted = metric(samples, "ratelimitd_source_evictions_total").value_or(0),
                 refused =
                     metric(samples, "ratelimitd_source_admissions_refused_total").value_or(0);
    EXPECT_GT(evicted + refused, 0) << "evictions " << evicted << ", refused " << refused;
    EXPECT_GT(metric(samples, "ratelimitd_admission_filter_fill").value_or(0), 0);

    const json status = ctl_json({"status"});
    ASSERT_TRUE(status.contains("table")) << "status has no table: " << status.dump();
    const json &table = status["table"];
    for (const char *field : {"admitted", "refused", "evictions", "filter_fill", "sketch_fill"})
        EXPECT_TRUE(table.contains(field)) << "status.table has no " << field << ": " << table;
    EXPECT_GT(table.value("evictions", 0.0) + table.value("refused", 0.0), 0) << table;
    EXPECT_GT(table.value("filter_fill", 0.0), 0) << table;
    EXPECT_EQ(errors_logged(daemon), std::vector<std::string>{});
}

TEST_F(AttackTest, ASpoofedFloodOfRandomSourcesEvictsNoLegitimateSource)
{
    // 100 legitimate sources at half their limit; a flood of spoofed sources each under its own
    // limit, held by its rule's aggregate.
    constexpr double kFloodRate = 2000, kFloodBurst = 200;
    write_config(R"([{"match": "10.1.0.0/16", "rate": "100pps", "burst": 100},
                     {"match": "10.128.0.0/9", "limits": [
                         {"rate": "100pps", "burst": 10},
                         {"rate": "2000pps", "burst": 200, "per": "rule"}]}])",
                 max_sources_field());
    Process daemon = start_daemon();

    constexpr std::uint32_t kLegitimate = 100;
    const std::vector<Address> legitimate = consecutive_sources("10.1.0.1", kLegitimate);
    auto legitimate_traffic = [&](std::chrono::nanoseconds duration) {
        SendPlan plan = plan_from(legitimate);
        plan.rate_pps = kLegitimate * 50;
        plan.duration = duration;
        return send(plan);
    };
    // Each source's entry as ratelimitctl shows it, and what the far side received from it.
    struct Look {
        json shown;
        std::uint64_t received = 0;
    };
    auto look = [&] {
        std::map<Address, Look> looks;
        for (const Address &source : legitimate)
            looks[source] = {shown(source), received_from(source)};
        return looks;
    };
    auto passed = [](const Look &l) {
        return l.shown["traffic"]["passed"]["packets"].get<std::uint64_t>();
    };

    legitimate_traffic(1s); // the legitimate sources are known and tracked
    settle();
    const auto before = look();
    for (const auto &[source, l] : before)
        ASSERT_TRUE(l.shown["tracked"].get<bool>()) << source.to_string() << " before the flood";

    // Every frame of the flood is a source drawn at random from 2^23: far more than 10 x the
    // table's sources, nearly each one new.
    SendPlan flood = plan_from_range("10.128.0.0/9");
    flood.rate_pps = 60000;
    flood.duration = 4s;
    auto flooding = std::async(std::launch::async, [&] { return send(flood); });
    auto legitimate_sending =
        std::async(std::launch::async, [&] { return legitimate_traffic(4s); });
    std::this_thread::sleep_for(2s);
    const auto during = look();
    SendReport flood_sent = flooding.get(), legitimate_sent = legitimate_sending.get();
    settle();
    const auto after = look();

    ASSERT_GE(flood_sent.packets, 10u * kMaxSources) << "the premise: a flood 10 x the table";
    const double per_source_sent = static_cast<double>(legitimate_sent.packets) / kLegitimate;
    std::size_t reset = 0, short_delivered = 0, untracked = 0;
    std::ostringstream detail;
    for (const auto &[source, then] : before) {
        const Look &mid = during.at(source), &now = after.at(source);
        // Never reset: tracked at every look, and its counters moved forward by exactly what
        // the far side received (an evicted entry would come back with fresh counters).
        bool tracked = mid.shown["tracked"].get<bool>() && now.shown["tracked"].get<bool>();
        bool forward = passed(mid) >= passed(then) && passed(now) >= passed(mid) &&
                       passed(now) - passed(then) == now.received - then.received;
        double delivered = (now.received - then.received) / per_source_sent;
        untracked += !tracked;
        reset += !forward;
        short_delivered += delivered < 0.99;
        if ((!tracked || !forward || delivered < 0.99) && detail.tellp() < 2000)
            detail << "\n  " << source.to_string() << ": passed " << passed(then) << " -> "
                   << passed(mid) << " -> " << passed(now) << ", received " << then.received
                   << " -> " << now.received << ", delivered " << delivered * 100 << " %, tracked "
                   << mid.shown["tracked"] << "/" << now.shown["tracked"];
    }
    EXPECT_EQ(untracked, 0u) << "legitimate sources not tracked during or after the flood"
                             << detail.str();
    EXPECT_EQ(reset, 0u) << "legitimate sources whose counters were reset" << detail.str();
    EXPECT_EQ(short_delivered, 0u) << "legitimate sources under 99 % delivered" << detail.str();

    // The flood itself was held by its rule's aggregate.
    Prefix flood_range = *flood.source_range;
    std::uint64_t flood_received = 0;
    for (const auto &[source, count] : counter_->by_source())
        if (flood_range.contains(source))
            flood_received += count;
    double flood_bound = (kFloodBurst + kFloodRate * seconds(flood_sent.elapsed)) * (1 + kAccuracy);
    EXPECT_LE(flood_received, flood_bound)
        << "flood of " << flood_sent.packets << " in " << seconds(flood_sent.elapsed) << " s";
    EXPECT_EQ(errors_logged(daemon), std::vector<std::string>{});
}

} // namespace
} // namespace ratelimit::test
