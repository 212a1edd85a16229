// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Accuracy of the real program under BPF_PROG_TEST_RUN: a source sending far faster than its
// limit is admitted burst + rate x elapsed within 5 %, from one CPU or from two at once (the
// buckets are shared, not per-CPU: per-CPU buckets would admit twice as much here).

#include <linux/bpf.h>

#include <chrono>
#include <thread>
#include <vector>

#include "datapath_fixture.hpp"

namespace ratelimit::test
{
namespace
{

using Clock = std::chrono::steady_clock;

class AccuracyTest : public DatapathTest
{
  protected:
    // Sends `frame` flat out from one thread per CPU in `cpus` for `duration`, then returns
    // admitted / (burst + rate x elapsed). With `evict_every`, another thread deletes the source's
    // entry that often meanwhile, as a full table's LRU would evict it.
    double admitted_ratio(const LimitSpec &limit, const std::vector<int> &cpus,
                          std::chrono::milliseconds duration,
                          std::chrono::milliseconds evict_every = {})
    {
        add_limit("10.0.0.0/8", limit);
        const Frame frame = udp_from("10.1.2.3");
        const auto start = Clock::now();
        const auto deadline = start + duration;
        std::vector<std::thread> senders;
        std::vector<std::exception_ptr> errors(cpus.size());
        for (std::size_t i = 0; i < cpus.size(); i++) {
            senders.emplace_back([&, i] {
                try {
                    CpuPin pin(cpus[i]);
                    while (Clock::now() < deadline)
                        run_xdp(dp_->program_fd(), frame, 2000);
                } catch (...) {
                    errors[i] = std::current_exception();
                }
            });
        }
        std::size_t evictions = 0;
        if (evict_every.count() > 0)
            for (; Clock::now() + evict_every < deadline; evictions++) {
                std::this_thread::sleep_for(evict_every);
                dp_->sources().erase(addr("10.1.2.3").key());
            }
        for (auto &t : senders)
            t.join();
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        for (auto &e : errors)
            if (e)
                std::rethrow_exception(e);

        auto units = [&](rl_reason reason, rl_verdict verdict) {
            rl_counter c = dp_->counter(reason, verdict);
            return static_cast<double>(limit.unit == RL_UNIT_BYTES ? c.bytes : c.packets);
        };
        const double admitted = units(RL_REASON_CONFORMING, RL_VERDICT_PASS);
        const double offered = admitted + units(RL_REASON_OVER_LIMIT, RL_VERDICT_DROP);
        const double expected = limit.burst + limit.rate * elapsed;
        std::cout << "rate " << limit.rate << "/s burst " << limit.burst << " on " << cpus.size()
                  << " CPU(s) for " << elapsed << " s: offered " << offered << ", admitted "
                  << admitted << ", expected " << expected << ", entry evicted " << evictions
                  << " times\n";
        EXPECT_GT(offered, 5 * expected) << "the senders must outrun the limit";
        return admitted / expected;
    }

    std::vector<int> two_cpus()
    {
        if (online_cpus() < 2) {
            if (std::getenv("RATELIMITD_NO_SKIP"))
                ADD_FAILURE() << "needs two CPUs";
            return {};
        }
        return {0, 1};
    }
};

TEST_F(AccuracyTest, BurstThenRateFromOneCpu)
{
    EXPECT_NEAR(admitted_ratio({RL_UNIT_PACKETS, 20000, 1000}, {0}, std::chrono::milliseconds(500)),
                1.0, 0.05);
}

TEST_F(AccuracyTest, BurstThenRateFromTwoCpusAtOnce)
{
    auto cpus = two_cpus();
    if (cpus.empty())
        GTEST_SKIP() << "needs two online CPUs";
    EXPECT_NEAR(
        admitted_ratio({RL_UNIT_PACKETS, 20000, 1000}, cpus, std::chrono::milliseconds(500)), 1.0,
        0.05);
}

TEST_F(AccuracyTest, TwoSecondsFromTwoCpus)
{
    auto cpus = two_cpus();
    if (cpus.empty())
        GTEST_SKIP() << "needs two online CPUs";
    EXPECT_NEAR(admitted_ratio({RL_UNIT_PACKETS, 100000, 5000}, cpus, std::chrono::seconds(2)), 1.0,
                0.05);
}

TEST_F(AccuracyTest, EvictedEveryTenMillisecondsFromTwoCpus)
{
    // The source's entry goes every 10 ms: each time it comes back with the debt the sketch kept
    // for it, not with a full burst (which would admit 50 bursts more here).
    auto cpus = two_cpus();
    if (cpus.empty())
        GTEST_SKIP() << "needs two online CPUs";
    EXPECT_NEAR(admitted_ratio({RL_UNIT_PACKETS, 20000, 1000}, cpus, std::chrono::milliseconds(500),
                               std::chrono::milliseconds(10)),
                1.0, 0.05);
}

TEST_F(AccuracyTest, SmallBurstUsesThePreciseClock)
{
    // A burst spanning 1.5 ticks of the coarse clock (6 ms at HZ=250): the rule reads the
    // precise clock, and the rate still holds. (A sender paused for longer than the burst spans
    // loses that pause's tokens, as any real source would, so the burst is not made tinier.)
    const std::uint64_t rate = 10000, tick_ns = coarse_clock_resolution_ns();
    LimitSpec limit{RL_UNIT_PACKETS, rate, rate * tick_ns * 3 / 2 / 1000000000};
    ASSERT_TRUE(compile_rule(RL_ACTION_LIMIT, {&limit, 1}, false).flags & RL_RULE_PRECISE_CLOCK);
    EXPECT_NEAR(admitted_ratio(limit, {0}, std::chrono::seconds(1)), 1.0, 0.05);
}

TEST_F(AccuracyTest, ByteRateFromTwoCpus)
{
    auto cpus = two_cpus();
    if (cpus.empty())
        GTEST_SKIP() << "needs two online CPUs";
    // 64-byte frames against 8 Mbit/s with a 64 KiB burst.
    EXPECT_NEAR(admitted_ratio({RL_UNIT_BYTES, 1000000, 65536}, cpus, std::chrono::seconds(1)), 1.0,
                0.05);
}

} // namespace
} // namespace ratelimit::test
