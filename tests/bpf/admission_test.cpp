// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Admission to the source table in the real XDP program: a source earns an entry on its second
// packet (the seen filter), one without an entry is charged against the evicted-TAT sketch, and a
// spoofed flood held by a per-rule cap leaves the table as it was.
// Rates are 1 per second so that no token refills while a test runs: what passes is the burst.

#include <linux/bpf.h>

#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "datapath_fixture.hpp"
#include "rules.hpp"
#include "ratelimit/gcra.h"

namespace ratelimit::test
{
namespace
{

class AdmissionTest : public DatapathTest
{
  protected:
    void SetUp() override
    {
        options_.max_sources = 4096; // a flood of 20000 sources would evict every entry
        DatapathTest::SetUp();
    }
};

// Whether two reads of the filter hold the same cells.
bool same_cells(const std::vector<rl_seen> &a, const std::vector<rl_seen> &b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
}

// The address 10.200.x.y of the i-th spoofed source (i < 2^16).
std::string spoofed(std::uint32_t i)
{
    return "10.200." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff);
}

TEST_F(AdmissionTest, ANewcomersFirstPacketMakesNoEntryAndItsSecondDoes)
{
    add_limit("10.0.0.0/8", packet_limit(1, 3));
    const rl_source_key source = addr("10.0.0.1").key();

    EXPECT_EQ(send(udp_from("10.0.0.1")), XDP_PASS);
    EXPECT_FALSE(dp_->sources().lookup(source)) << "one packet: no entry";
    EXPECT_EQ(dp_->table_pressure().refused, 1u);
    EXPECT_EQ(dp_->table_pressure().admitted, 0u);

    EXPECT_EQ(send(udp_from("10.0.0.1")), XDP_PASS);
    auto entry = dp_->sources().lookup(source);
    ASSERT_TRUE(entry) << "seen again: admitted";
    EXPECT_EQ(dp_->table_pressure().admitted, 1u);
    // The first packet was charged to the sketch, and the entry started from it: one token left.
    auto rule = dp_->rules().lookup(0);
    ASSERT_TRUE(rule);
    EXPECT_EQ(rl_gcra_tokens(&rule->limits[0], entry->tat[0], bucket_now(*rule)), 1u);
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 5), 1u);
    // Both packets before the entry's are in its traffic: the filter kept the first.
    EXPECT_EQ(dp_->source_traffic(source).packets[RL_OUTCOME_PASSED], 3u);
}

TEST_F(AdmissionTest, AnEvictedSourceComesBackWithItsDebt)
{
    add_limit("10.0.0.0/8", packet_limit(1, 5));
    const rl_source_key source = addr("10.0.0.1").key();
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 8), 5u);

    // Evicted (as a full table's LRU would): its next packets are judged by the sketch, and
    // its second one readmits it, still with an empty bucket.
    ASSERT_TRUE(dp_->sources().erase(source));
    dp_->publish_rules(); // and this CPU's drop memo moved on (another source's drops took it)
    EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 10), 0u);
    EXPECT_TRUE(dp_->sources().lookup(source));
    EXPECT_EQ(packets(RL_REASON_CONFORMING, RL_VERDICT_PASS), 5u);
}

TEST_F(AdmissionTest, TwoSourcesSharingAFilterCellAndSendingInTurnAreBothAdmitted)
{
    // Two sources whose way-0 cells are the same, found by the filter's own hash and seed: with
    // one cell each, every packet of one would overwrite the other's fingerprint, and neither
    // would ever be admitted.
    add_limit("10.0.0.0/8", packet_limit(1, 100));
    const std::uint64_t seed = dp_->settings().lookup(0).value_or(rl_settings{}).seed;
    auto way0 = [&](const std::string &address) {
        const rl_source_key key = addr(address).key();
        return rl_seen_slot(RL_SOURCE_HASH(key.addr, seed), 0, dp_->cells_log2());
    };
    std::map<std::uint32_t, std::string> by_cell;
    std::string first, second;
    for (std::uint32_t i = 0; i < (1u << 16) && second.empty(); i++) {
        const std::string address = spoofed(i);
        auto [held, fresh] = by_cell.emplace(way0(address), address);
        if (!fresh) {
            first = held->second;
            second = address;
        }
    }
    ASSERT_FALSE(second.empty()) << "no two of 65536 addresses share a cell of "
                                 << (1u << dp_->cells_log2());
    for (int round = 0; round < 3; round++) {
        EXPECT_EQ(send(udp_from(first)), XDP_PASS);
        EXPECT_EQ(send(udp_from(second)), XDP_PASS);
    }
    EXPECT_TRUE(dp_->sources().lookup(addr(first).key())) << first;
    EXPECT_TRUE(dp_->sources().lookup(addr(second).key())) << second;
}

TEST_F(AdmissionTest, ASourceSeenOnOneCpuIsAdmittedOnAnother)
{
    if (online_cpus() < 2)
        GTEST_SKIP() << "needs two online CPUs";
    add_limit("10.0.0.0/8", packet_limit(1, 3));
    const rl_source_key source = addr("10.0.0.1").key();
    {
        CpuPin pin(0);
        EXPECT_EQ(send(udp_from("10.0.0.1")), XDP_PASS);
    }
    EXPECT_FALSE(dp_->sources().lookup(source));
    {
        CpuPin pin(1);
        EXPECT_EQ(send(udp_from("10.0.0.1")), XDP_PASS);
        EXPECT_TRUE(dp_->sources().lookup(source));
        EXPECT_EQ(passed_of(udp_from("10.0.0.1"), 5), 1u) << "one token left of three";
    }
}

TEST_F(AdmissionTest, ASpoofedFloodHeldByAPerRuleCapLeavesTheTableAlone)
{
    // Each source <= 3, the whole rule <= 10.
    add_rule({"10.0.0.0/8"},
             compiled_limit_rule({packet_limit(1, 3), packet_limit(1, 10, RL_PER_RULE)}));
    const char *tracked[] = {"10.0.0.1", "10.0.0.2"};
    for (const char *source : tracked)
        EXPECT_EQ(passed_of(udp_from(source), 2), 2u);
    // The cap's remaining tokens go to a few more sources, each seen once.
    std::uint32_t next = 0;
    while (passed_of(udp_from(spoofed(next)), 1) == 1)
        next++;
    EXPECT_EQ(next, 6u);

    auto entries = [this] {
        std::map<std::string, std::uint64_t> tats;
        dp_->sources().for_each([&](const rl_source_key &key, const rl_source &entry) {
            tats[std::string(key.addr, key.addr + RL_ADDR_LEN)] = entry.tat[0];
        });
        return tats;
    };
    const auto tats_before = entries();
    ASSERT_EQ(tats_before.size(), std::size(tracked));
    const auto seen_before = dp_->seen_filter().lookup_run(0, RL_SEEN_ENTRIES(dp_->cells_log2()));
    const auto sketch_before =
        dp_->tat_sketch().lookup_run(0, RL_SKETCH_ENTRIES(dp_->cells_log2()));
    const TablePressure pressure_before = dp_->table_pressure();

    const std::uint32_t flood = 20000; // more sources than the table holds
    std::uint32_t passed = 0;
    for (std::uint32_t i = 0; i < flood; i++)
        passed += send(udp_from(spoofed(next + i))) == XDP_PASS;
    EXPECT_EQ(passed, 0u);

    EXPECT_EQ(entries(), tats_before) << "no entry made, none evicted, no TAT moved";
    EXPECT_TRUE(same_cells(dp_->seen_filter().lookup_run(0, RL_SEEN_ENTRIES(dp_->cells_log2())),
                           seen_before));
    EXPECT_TRUE(dp_->tat_sketch().lookup_run(0, RL_SKETCH_ENTRIES(dp_->cells_log2())) ==
                sketch_before);
    const TablePressure pressure = dp_->table_pressure();
    EXPECT_EQ(pressure.admitted, pressure_before.admitted);
    EXPECT_EQ(pressure.refused, pressure_before.refused + flood);
}

TEST_F(AdmissionTest, FalseSharingHitsAboutTheSquareOfTheSketchFill)
{
    // A botnet of 4 x max_sources sources, each emptying its bucket (1 pps, burst 1) with one
    // packet, then newcomers: one whose cells both hold a botnet source's debt starts empty.
    add_limit("10.0.0.0/8", packet_limit(1, 1));
    const std::uint32_t botnet = 4 * options_.max_sources, newcomers = 2000;
    for (std::uint32_t i = 0; i < botnet; i++)
        send(udp_from(spoofed(i)));
    std::uint32_t hit = 0;
    for (std::uint32_t i = 0; i < newcomers; i++)
        hit +=
            send(udp_from("10.201." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff))) ==
            XDP_DROP;
    const double fill = dp_->table_pressure().sketch_fill, share = double(hit) / newcomers;
    std::cout << botnet << " sources in debt, " << (1u << dp_->cells_log2())
              << " cells a row: sketch fill " << fill << ", newcomers over-limited " << share
              << " (fill squared " << fill * fill << ")\n";
    EXPECT_NEAR(share, fill * fill, 0.1);
}

} // namespace
} // namespace ratelimit::test
