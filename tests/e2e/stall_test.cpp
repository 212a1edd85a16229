// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Reads of large maps never hold the daemon's event loop: with a million tracked sources (written
// straight into the pinned maps), clients that ask for `top` again and again, as fast as they are
// answered, leave `status` answering quickly, and the loop's longest stall (which status reports)
// stays short.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "client.hpp"
#include "control/protocol.hpp"
#include "control/results.hpp"
#include "daemon_fixture.hpp"
#include "leftovers.hpp"
#include "many_sources.hpp"

namespace ratelimit::test
{
namespace
{

using namespace std::chrono_literals;

constexpr std::uint32_t kSources = 1'000'000;
// The goal is 10 ms, and it is what an event may take on the CPU. Its wall time also counts the
// loop's thread being preempted: on the 2 CPUs this suite shares with builds and other tests (and
// with the reads the loop no longer does, now on other threads), that adds tens of milliseconds
// to any event, so the wall-time bound allows that. On main one top holds the loop for a second
// and more, on the CPU.
constexpr double kMaxOnCpuMs = 10, kMaxStallMs = 250;
constexpr auto kHammering = 4s;

class StallTest : public DaemonTest
{
  protected:
    void SetUp() override
    {
        set_owned_name_tag("stall");
        DaemonTest::SetUp();
    }

    std::string socket() const { return (dir_.path() / "run/ratelimitd.sock").string(); }

    control::Response ask(control::Command command, nlohmann::json args = nlohmann::json::object())
    {
        return ctl::call(socket(), {++id_, command, std::move(args)}, 60s);
    }

    control::StatusResult status()
    {
        const control::Response answer = ask(control::Command::Status);
        if (!answer.ok())
            throw std::runtime_error("status refused: " +
                                     std::get<control::Error>(answer.outcome).message);
        return control::decode_status_result(std::get<nlohmann::json>(answer.outcome));
    }

    std::atomic<std::uint64_t> id_{0};
};

TEST_F(StallTest, TopHammeredWithAMillionSourcesLeavesStatusFastAndTheLoopFree)
{
    write_config(kStandardRules, R"(, "max_sources": 1000000)");
    Process daemon = start_daemon();
    const UniqueFd sources = pinned_map(RL_MAP_NAME(RL_MAP_SOURCES));
    const UniqueFd counters = pinned_map(RL_MAP_NAME(RL_MAP_SOURCE_COUNTERS));
    const std::uint32_t tracked = fill_sources(sources.get(), counters.get(), kSources);
    ASSERT_GT(tracked, kSources * 9 / 10);

    std::atomic<bool> done = false;
    std::atomic<int> tops = 0, busy = 0;
    std::vector<std::thread> hammers;
    for (int i = 0; i < 2; i++)
        hammers.emplace_back([&] {
            while (!done) {
                const control::Response answer =
                    ask(control::Command::Top, control::encode_args(control::TopArgs{20, {}}));
                if (answer.ok())
                    tops++;
                else if (std::get<control::Error>(answer.outcome).code == control::ErrorCode::Busy)
                    busy++;
                else
                    ADD_FAILURE() << std::get<control::Error>(answer.outcome).message;
            }
        });
    std::vector<double> latencies_ms;
    const auto until = std::chrono::steady_clock::now() + kHammering;
    while (std::chrono::steady_clock::now() < until) {
        const auto asked = std::chrono::steady_clock::now();
        status();
        latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - asked)
                .count());
        std::this_thread::sleep_for(10ms);
    }
    done = true;
    for (auto &hammer : hammers)
        hammer.join();

    const control::StatusResult last = status();
    std::ranges::sort(latencies_ms);
    const double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
    std::printf("%d tops (%d busy), %zu status: p50 %.1f ms, p99 %.1f ms, max %.1f ms; loop's "
                "longest stall %.2f ms (%s), on the CPU %.2f ms; %llu tracked\n",
                tops.load(), busy.load(), latencies_ms.size(),
                latencies_ms[latencies_ms.size() / 2], p99, latencies_ms.back(),
                last.loop_longest_stall_ms, last.loop_longest_stall_in.c_str(),
                last.loop_longest_on_cpu_ms, static_cast<unsigned long long>(last.tracked_sources));
    EXPECT_GT(tops, 0);
    EXPECT_LT(last.loop_longest_on_cpu_ms, kMaxOnCpuMs);
    EXPECT_LT(last.loop_longest_stall_ms, kMaxStallMs) << last.loop_longest_stall_in;
    EXPECT_LT(p99, kMaxStallMs);
    // Counted in the background meanwhile: every source the maps took.
    EXPECT_EQ(last.tracked_sources, tracked);
}

} // namespace
} // namespace ratelimit::test
