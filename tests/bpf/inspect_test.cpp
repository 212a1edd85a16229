// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Reading the program's live state as `show` and `top` do: a source's traffic is the same to
// both, wherever the program keeps it (first packet in the source's entry, per-CPU counters, a
// drop memo's pending count).

#include <algorithm>
#include <cstring>

#include "datapath/inspect.hpp"
#include "datapath_fixture.hpp"

namespace ratelimit::test
{
namespace
{

using InspectTest = DatapathTest;

bool same_traffic(const rl_source_counters &a, const rl_source_counters &b)
{
    return std::memcmp(&a, &b, sizeof(a)) == 0;
}

TEST_F(InspectTest, ShowAndTopCountASourcesTrafficAlike)
{
    const LimitSpec two{RL_UNIT_PACKETS, 1, 2};
    add_limit("10.0.0.0/8", two);
    add_rule({"10.5.0.0/16"}, compile_rule(RL_ACTION_LIMIT, {&two, 1}, true)); // monitor
    add_rule({"10.9.0.0/16"}, compile_rule(RL_ACTION_DENY, {}, false));

    struct Sent {
        const char *source;
        std::uint32_t packets;
    };
    // In this order: each drop memo hands its count on to the source counters when the next
    // source's drops take it over; the last one's count is still pending in the memo.
    const Sent sent[] = {
        {"10.0.0.1", 2}, // its first packet kept in its entry (from the filter), the second not
        {"10.0.0.2", 6}, // 2 passed, 4 dropped
        {"10.5.0.1", 5}, // 2 passed, 3 would-drops
        {"10.9.0.1", 3}, // denied: pending in the memo
    };
    for (const Sent &s : sent)
        passed_of(udp_from(s.source), s.packets);

    const SourceRanking top = heaviest_sources(*dp_, 100, all_packets);
    EXPECT_EQ(top.scanned, std::size(sent));
    ASSERT_EQ(top.heaviest.size(), std::size(sent));
    for (const Sent &s : sent) {
        const rl_source_counters shown = inspect_source(*dp_, addr(s.source)).traffic;
        EXPECT_EQ(all_packets(shown), s.packets) << s.source;
        auto ranked = std::ranges::find(top.heaviest, addr(s.source), &SourceTraffic::address);
        ASSERT_NE(ranked, top.heaviest.end()) << s.source;
        EXPECT_TRUE(same_traffic(ranked->traffic, shown)) << s.source;
        EXPECT_TRUE(same_traffic(dp_->source_traffic(addr(s.source).key()), shown)) << s.source;
    }
    const rl_source_counters monitored = inspect_source(*dp_, addr("10.5.0.1")).traffic;
    EXPECT_EQ(monitored.packets[RL_OUTCOME_PASSED], 2u);
    EXPECT_EQ(monitored.packets[RL_OUTCOME_WOULD_DROP], 3u);
    EXPECT_EQ(dropped_packets(inspect_source(*dp_, addr("10.0.0.2")).traffic), 4u);
    EXPECT_EQ(all_packets(inspect_source(*dp_, addr("10.7.7.7")).traffic), 0u) << "never seen";
    passed_of(udp_from("10.0.0.3"), 1);
    EXPECT_EQ(all_packets(inspect_source(*dp_, addr("10.0.0.3")).traffic), 0u)
        << "seen once: counted only globally, never given an entry";
}

} // namespace
} // namespace ratelimit::test
