// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitd on the wire (see daemon_fixture.hpp): real frames from the traffic generator cross a
// veth pair into the daemon's namespace, and every verdict is judged by what the far side's UDP
// socket received. Accuracy over time on one and two CPUs, a spoofed flood, the sharing modes,
// actions and monitor mode, and a reload under traffic.

#include <signal.h>

#include <algorithm>
#include <future>
#include <random>
#include <set>

#include "bpf_test.hpp"
#include "daemon_fixture.hpp"

namespace ratelimit::test
{
namespace
{

using namespace std::chrono_literals;

// How far delivered / (burst + rate * t) may be from 1: the product's accuracy promise.
constexpr double kAccuracy = 0.05;

double seconds(std::chrono::nanoseconds elapsed)
{
    return std::chrono::duration<double>(elapsed).count();
}

// What a bucket of `rate` per second and `burst` admits from a source that exceeds it for `t`.
double admissible(double rate, double burst, double t)
{
    return burst + rate * t;
}

Address address(const std::string &text)
{
    return *parse_address(text);
}

class WireTest : public DaemonTest
{
  protected:
    // Frames the far side received from the sources in `prefix`.
    std::uint64_t received_within(const std::string &prefix) const
    {
        Prefix range = *parse_prefix(prefix);
        std::uint64_t total = 0;
        for (const auto &[source, count] : counter_->by_source())
            if (range.contains(source))
                total += count;
        return total;
    }

    using DaemonTest::received_from;
    std::uint64_t received_from(const char *source) const
    {
        return DaemonTest::received_from(address(source));
    }

    // Sends `count` frames from each source, one source after the other and fast (the 1 pps
    // limits of the tests that use it earn nothing meanwhile), and waits for them to land.
    void send_from_each(std::initializer_list<const char *> sources, std::uint64_t count)
    {
        for (const char *source : sources) {
            SendPlan plan = plan_from({address(source)});
            plan.count = count;
            plan.rate_pps = 20000;
            send(plan);
        }
        settle();
    }

    void TearDown() override
    {
        DaemonTest::TearDown();
        // A socket that overflowed would pass its own drops off as the limiter's.
        if (counter_) {
            EXPECT_EQ(counter_->socket_drops(), 0u) << "the receiving socket dropped datagrams";
        }
    }
};

constexpr char kOneSourceRule[] = R"([{"match": "10.1.0.0/16", "rate": "1000pps", "burst": 200}])";
constexpr double kRate = 1000, kBurst = 200;

TEST_F(WireTest, OneSourceOverItsLimitIsAdmittedBurstPlusRateTimesTime)
{
    write_config(kOneSourceRule);
    Process daemon = start_daemon();

    SendPlan plan = plan_from({address("10.1.0.1")});
    plan.rate_pps = 4 * kRate;
    plan.duration = 3s;
    SendReport sent = send(plan);
    settle();

    double expected = admissible(kRate, kBurst, seconds(sent.elapsed));
    double ratio = received_from("10.1.0.1") / expected;
    EXPECT_NEAR(ratio, 1.0, kAccuracy) << "sent " << sent.packets << " in " << seconds(sent.elapsed)
                                       << " s, admissible " << expected;
}

TEST_F(WireTest, OneSourceOverItsLimitFromTwoCpusIsAdmittedBurstPlusRateTimesTime)
{
    if (online_cpus() < 2)
        GTEST_SKIP() << "needs two CPUs";
    write_config(kOneSourceRule);
    Process daemon = start_daemon();

    // veth runs the receiver's XDP program in the sender's context: two senders pinned to two
    // CPUs make the program charge the one bucket from both at once.
    struct Span {
        Clock::time_point start, end;
        std::uint64_t packets;
    };
    auto send_from_cpu = [&](int cpu) {
        SendPlan plan = plan_from({address("10.1.0.1")});
        plan.rate_pps = 2 * kRate;
        plan.duration = 3s;
        plan.cpu = cpu;
        return std::async(std::launch::async, [this, plan] {
            auto start = Clock::now();
            std::uint64_t packets = send(plan).packets;
            return Span{start, Clock::now(), packets};
        });
    };
    auto on_cpu0 = send_from_cpu(0), on_cpu1 = send_from_cpu(1);
    Span sent0 = on_cpu0.get(), sent1 = on_cpu1.get();
    settle();

    // From the first sender's start to the last one's end: a sender whose thread started late
    // (a busy CPU) makes the traffic last longer than either sender's own time.
    double t = seconds(std::max(sent0.end, sent1.end) - std::min(sent0.start, sent1.start));
    double expected = admissible(kRate, kBurst, t);
    double ratio = received_from("10.1.0.1") / expected;
    EXPECT_NEAR(ratio, 1.0, kAccuracy)
        << "sent " << sent0.packets + sent1.packets << " in " << t << " s, admissible " << expected;

    // The premise: the program really ran on both CPUs. Not an even split: the veth's one NAPI
    // instance runs where it was last scheduled, so one CPU's poll often takes the other's
    // frames too.
    auto dropped = counted_per_cpu(RL_REASON_OVER_LIMIT, RL_VERDICT_DROP);
    ASSERT_GE(dropped.size(), 2u);
    std::uint64_t total = dropped[0] + dropped[1];
    EXPECT_GT(dropped[0], total / 10) << "CPU 1 charged almost everything";
    EXPECT_GT(dropped[1], total / 10) << "CPU 0 charged almost everything";
}

// `count` distinct addresses drawn at random from the IPv4 `prefix`, in random order.
std::vector<Address> random_sources(const std::string &prefix, std::size_t count)
{
    Prefix range = *parse_prefix(prefix);
    std::uint32_t host_bits = 128 - range.length;
    std::mt19937 random(20240501); // fixed: a failure can be replayed
    std::set<Address> drawn;
    while (drawn.size() < count) {
        Address source = range.address;
        std::uint32_t host = random() & ((1u << host_bits) - 1);
        for (int byte = 15; byte >= 12; byte--, host >>= 8)
            source.bytes[byte] |= static_cast<std::uint8_t>(host);
        drawn.insert(source);
    }
    std::vector<Address> out(drawn.begin(), drawn.end());
    std::shuffle(out.begin(), out.end(), random);
    return out;
}

TEST_F(WireTest, SpoofedFloodIsHeldByTheAggregateAndSparesALegitimateSource)
{
    // Few tracked sources, so that a flood twice as wide as the tables is quick to send.
    constexpr std::uint32_t kMaxSources = 1024;
    constexpr double kFloodRate = 2000, kFloodBurst = 200;
    write_config(R"([{"match": "10.1.0.0/16", "rate": "1000pps", "burst": 100},
                     {"match": "10.128.0.0/9", "limits": [
                         {"rate": "100pps", "burst": 10},
                         {"rate": "2000pps", "burst": 200, "per": "rule"}]}])",
                 R"(, "max_sources": )" + std::to_string(kMaxSources));
    Process daemon = start_daemon();

    // Each spoofed source sends about 10 packets per second: under its own limit, so only the
    // rule's aggregate can hold the flood. Every packet is a source the tables just evicted.
    SendPlan flood = plan_from(random_sources("10.128.0.0/9", 2 * kMaxSources));
    flood.rate_pps = 10 * kFloodRate;
    flood.duration = 2s;
    SendPlan legitimate = plan_from({address("10.1.0.1")});
    legitimate.rate_pps = 500;
    legitimate.duration = 2s;
    auto flooding = std::async(std::launch::async, [&] { return send(flood); });
    SendReport legitimate_sent = send(legitimate);
    SendReport flood_sent = flooding.get();
    settle();

    EXPECT_GE(received_from("10.1.0.1"), 0.95 * legitimate_sent.packets);
    double expected = admissible(kFloodRate, kFloodBurst, seconds(flood_sent.elapsed));
    EXPECT_NEAR(received_within("10.128.0.0/9") / expected, 1.0, kAccuracy)
        << "flood of " << flood_sent.packets << " in " << seconds(flood_sent.elapsed)
        << " s, admissible " << expected;
    EXPECT_LE(tracked_sources(), kMaxSources);
    EXPECT_GT(counted(RL_REASON_OVER_LIMIT, RL_VERDICT_DROP), 0u);
    EXPECT_EQ(errors_logged(daemon), std::vector<std::string>{});
}

TEST_F(WireTest, SourcesShareABucketPerSlash24AndPerSlash64)
{
    write_config(R"([{"match": "10.3.0.0/16", "rate": "1pps", "burst": 50, "per": "/24"},
                     {"match": "fd00:3::/32", "rate": "1pps", "burst": 50, "per": "/64"}])");
    Process daemon = start_daemon();

    send_from_each({"10.3.1.1", "10.3.1.2", "10.3.2.1"}, 100);
    send_from_each({"fd00:3:0:1::1", "fd00:3:0:1::2", "fd00:3:0:2::1"}, 100);

    // The first source of a block empties the block's bucket, its neighbour finds it empty, and
    // a source of the next block has a bucket of its own.
    EXPECT_NEAR(received_from("10.3.1.1"), 50, 1);
    EXPECT_LE(received_from("10.3.1.2"), 1u);
    EXPECT_NEAR(received_from("10.3.2.1"), 50, 1);
    EXPECT_NEAR(received_from("fd00:3:0:1::1"), 50, 1);
    EXPECT_LE(received_from("fd00:3:0:1::2"), 1u);
    EXPECT_NEAR(received_from("fd00:3:0:2::1"), 50, 1);
}

TEST_F(WireTest, StackedLimitsEachHoldWhereTheyAreTightest)
{
    // Per source 30, per /24 50, for the whole rule 70.
    write_config(R"([{"match": "10.4.0.0/16", "limits": [
                         {"rate": "1pps", "burst": 30},
                         {"rate": "1pps", "burst": 50, "per": "/24"},
                         {"rate": "1pps", "burst": 70, "per": "rule"}]}])");
    Process daemon = start_daemon();

    send_from_each({"10.4.1.1", "10.4.1.2", "10.4.2.1", "10.4.3.1"}, 100);

    EXPECT_NEAR(received_from("10.4.1.1"), 30, 1); // its own limit
    EXPECT_NEAR(received_from("10.4.1.2"), 20, 1); // what its /24 had left
    EXPECT_NEAR(received_from("10.4.2.1"), 20, 1); // what the rule had left
    EXPECT_LE(received_from("10.4.3.1"), 1u);      // the rule is spent
}

TEST_F(WireTest, DenyAllowAndTheDefaultLimit)
{
    write_config(R"([{"match": "10.5.0.0/16", "action": "deny"},
                     {"match": "10.5.1.0/24", "action": "allow"}])",
                 R"(, "default": {"rate": "1pps", "burst": 10})");
    Process daemon = start_daemon();

    send_from_each({"10.5.0.1", "10.5.1.1", "10.6.0.1", "fd00:6::1"}, 100);

    EXPECT_EQ(received_from("10.5.0.1"), 0u);
    EXPECT_EQ(received_from("10.5.1.1"), 100u); // the longer prefix wins
    EXPECT_NEAR(received_from("10.6.0.1"), 10, 1);
    EXPECT_NEAR(received_from("fd00:6::1"), 10, 1);
}

TEST_F(WireTest, MonitorModeDropsNothingAndCountsWouldBeDrops)
{
    write_config(R"([{"match": "10.7.0.0/16", "rate": "1pps", "burst": 10},
                     {"match": "10.8.0.0/16", "action": "deny"}])",
                 R"(, "mode": "monitor")");
    Process daemon = start_daemon();

    send_from_each({"10.7.0.1", "10.8.0.1"}, 100);

    EXPECT_EQ(received_from("10.7.0.1"), 100u);
    EXPECT_EQ(received_from("10.8.0.1"), 100u);
    EXPECT_NEAR(counted(RL_REASON_OVER_LIMIT, RL_VERDICT_PASS), 90, 1);
    EXPECT_EQ(counted(RL_REASON_DENIED, RL_VERDICT_PASS), 100u);
    EXPECT_EQ(counted(RL_REASON_OVER_LIMIT, RL_VERDICT_DROP), 0u);
    EXPECT_EQ(counted(RL_REASON_DENIED, RL_VERDICT_DROP), 0u);
}

TEST_F(WireTest, AMonitoredRuleDropsNothingWhileTheOthersEnforce)
{
    write_config(R"([{"match": "10.7.0.0/16", "rate": "1pps", "burst": 10, "mode": "monitor"},
                     {"match": "10.9.0.0/16", "rate": "1pps", "burst": 10}])");
    Process daemon = start_daemon();

    send_from_each({"10.7.0.1", "10.9.0.1"}, 100);

    EXPECT_EQ(received_from("10.7.0.1"), 100u);
    EXPECT_NEAR(received_from("10.9.0.1"), 10, 1);
    EXPECT_NEAR(counted(RL_REASON_OVER_LIMIT, RL_VERDICT_PASS), 90, 1);
    EXPECT_NEAR(counted(RL_REASON_OVER_LIMIT, RL_VERDICT_DROP), 90, 1);
}

TEST_F(WireTest, ReloadUnderTrafficSwitchesEveryVerdictOnceAndKeepsUnchangedBuckets)
{
    // Unchanged: 10.10/16. Flipped: 10.11/16 deny -> allow and 10.12/16 allow -> deny. Replaced:
    // the deny of 10.13/16 goes, a deny of 10.14/16 comes.
    constexpr double kUnchangedRate = 100;
    const std::string unchanged = R"({"match": "10.10.0.0/16", "rate": "100pps", "burst": 500})";
    write_config("[" + unchanged + R"(,
                  {"match": "10.11.0.0/16", "action": "deny"},
                  {"match": "10.12.0.0/16", "action": "allow"},
                  {"match": "10.13.0.0/16", "action": "deny"}])");
    Process daemon = start_daemon();

    // Empty the unchanged rule's bucket: from here on it earns 100 packets a second, and a
    // refill by the reload would show as 500 more.
    SendPlan drain = plan_from({address("10.10.0.1")});
    drain.count = 1000;
    drain.rate_pps = 100000;
    send(drain);
    auto emptied_at = Clock::now();
    settle();
    std::uint64_t drained = received_from("10.10.0.1");
    ASSERT_NEAR(drained, 500, 5);

    // Every round sends one frame from each source within microseconds: per round, a source
    // and the one whose verdict flips the other way see the same rules, but for the round the
    // reload lands in.
    constexpr std::uint64_t kRounds = 2000;
    SendPlan plan = plan_from({address("10.10.0.1"), address("10.11.0.1"), address("10.12.0.1"),
                               address("10.13.0.1"), address("10.14.0.1")});
    plan.count = 5 * kRounds;
    plan.rate_pps = 5 * 1000;
    auto traffic = std::async(std::launch::async, [&] { return send(plan); });
    std::this_thread::sleep_for(1s);
    write_config("[" + unchanged + R"(,
                  {"match": "10.11.0.0/16", "action": "allow"},
                  {"match": "10.12.0.0/16", "action": "deny"},
                  {"match": "10.14.0.0/16", "action": "deny"}])");
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "rules (reload)");
    ASSERT_EQ(traffic.get().packets, plan.count);
    auto traffic_ended_at = Clock::now();
    settle();

    // The reload landed within the traffic, and every round saw the old rules or the new ones:
    // one of each flipped pair got through, never both, never neither.
    std::uint64_t denied_then_allowed = received_from("10.11.0.1"),
                  allowed_then_denied = received_from("10.12.0.1");
    EXPECT_GT(denied_then_allowed, 0u);
    EXPECT_GT(allowed_then_denied, 0u);
    EXPECT_NEAR(denied_then_allowed + allowed_then_denied, kRounds, 1);
    std::uint64_t rule_removed = received_from("10.13.0.1"),
                  rule_added = received_from("10.14.0.1");
    EXPECT_GT(rule_removed, 0u);
    EXPECT_GT(rule_added, 0u);
    EXPECT_NEAR(rule_removed + rule_added, kRounds, 1);

    // The unchanged rule's source got what its bucket earned since it was emptied, nothing more.
    double earned = kUnchangedRate * seconds(traffic_ended_at - emptied_at);
    EXPECT_NEAR(received_from("10.10.0.1") - drained, earned, std::max(0.05 * earned, 5.0));
    EXPECT_EQ(errors_logged(daemon), std::vector<std::string>{});
}

} // namespace
} // namespace ratelimit::test
