// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Automatic bans in the real XDP program (the trigger, the growth: struct rl_ban in abi.h): a
// source that keeps exceeding a rule with a ban is banned exactly when the offence window says
// so, dropped (by the drop memo too) until the ban ends, lifted when its entry is deleted, and
// banned longer when it offends again.

#include <linux/bpf.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include "datapath_fixture.hpp"
#include "rules.hpp"
#include "policy/names.hpp"

namespace ratelimit::test
{
namespace
{

using namespace std::chrono_literals;

// Rates are 100 pps so that a flood consults its bucket (past the drop memo) every 10 ms: the
// trigger is judged there.
class BansTest : public DatapathTest
{
  protected:
    // A rule over 10.0.0.0/8 of 100 packets a second (bursts of `burst`) that bans for `ban_for`
    // a source exceeding it for more than `after`.
    std::uint32_t add_banning_rule(std::chrono::milliseconds after,
                                   std::chrono::milliseconds ban_for,
                                   BanScope scope = BanScope::Rule, std::uint64_t burst = 1)
    {
        const LimitSpec limit = packet_limit(100, burst);
        return add_rule({"10.0.0.0/8"}, compile_rule(RL_ACTION_LIMIT, {&limit, 1}, false,
                                                     BanSpec{after, ban_for, scope}));
    }

    // Sends `per_round` copies of `frame` every 12 ms (about one token a round) for `how_long`,
    // and for as many rounds as fit in it however late the sleeps wake (a loaded machine).
    void offend(const Frame &frame, std::chrono::milliseconds how_long, std::uint32_t per_round)
    {
        const auto end = std::chrono::steady_clock::now() + how_long;
        for (long round = 0; round <= how_long / 12ms || std::chrono::steady_clock::now() < end;
             round++) {
            passed_of(frame, per_round);
            std::this_thread::sleep_for(12ms);
        }
    }

    std::optional<rl_ban> ban_of(std::string_view source) const
    {
        return dp_->bans().lookup(addr(source).key());
    }

    std::uint64_t banned_drops() const { return packets(RL_REASON_BANNED, RL_VERDICT_DROP); }
};

std::uint64_t monotonic_ns()
{
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return std::uint64_t(now.tv_sec) * 1'000'000'000 + std::uint64_t(now.tv_nsec);
}

TEST_F(BansTest, BansASourceDroppedForLongerThanAfterAndNotBefore)
{
    RL_REQUIRE_BPF();
    add_banning_rule(300ms, 10min);
    const Frame frame = udp_from("10.0.0.1");
    const std::uint64_t first_drop = monotonic_ns();
    offend(frame, 200ms, 20); // about 1 packet in 20 passes
    EXPECT_FALSE(ban_of("10.0.0.1")) << "banned before `after` passed";
    EXPECT_EQ(banned_drops(), 0u);

    offend(frame, 200ms, 20);
    auto ban = ban_of("10.0.0.1");
    ASSERT_TRUE(ban);
    // At the first packet the bucket judged past `after`: within a round (12 ms, a refill) and a
    // coarse clock tick or two (the program's times lag by up to a tick), with room for a loaded
    // machine's late wake-ups.
    EXPECT_GT(ban->since - first_drop + 10'000'000, 300'000'000u);
    EXPECT_LT(ban->since - first_drop, 400'000'000u);
    EXPECT_EQ(ban->offences, 1u);
    EXPECT_EQ(ban->until - ban->since, std::uint64_t(600) * 1'000'000'000);
    EXPECT_EQ(passed_of(frame, 10), 0u);
    EXPECT_GT(banned_drops(), 10u);
    EXPECT_EQ(dp_->rule_counts_of(0).bans_started, 1u);
    EXPECT_EQ(passed_of(udp_from("10.0.0.2"), 1), 1u) << "another source is not banned";
}

TEST_F(BansTest, OneConformingPacketInTenOrMoreIsNoOffence)
{
    RL_REQUIRE_BPF();
    add_banning_rule(100ms, 10min);
    const Frame frame = udp_from("10.0.0.3");
    offend(frame, 300ms, 4); // about 1 pass and 3 drops a round: 1 packet in 4 passes
    EXPECT_FALSE(ban_of("10.0.0.3")) << "banned a source of which 1 packet in 4 passed";
    offend(frame, 300ms, 30); // 1 in 30
    EXPECT_TRUE(ban_of("10.0.0.3"));
}

TEST_F(BansTest, ABannedFloodIsDroppedByTheDropMemo)
{
    RL_REQUIRE_BPF();
    CpuPin pin(0);
    add_banning_rule(20ms, 10min);
    const Frame frame = udp_from("10.0.0.4");
    offend(frame, 60ms, 20);
    ASSERT_TRUE(ban_of("10.0.0.4"));
    const std::uint64_t banned = banned_drops();
    EXPECT_EQ(passed_of(frame, 100), 0u);
    auto memos = dp_->drop_memos().lookup(0);
    ASSERT_TRUE(memos);
    const rl_drop_memo &memo = (*memos)[0];
    EXPECT_EQ(memo.reason, RL_REASON_BANNED);
    EXPECT_GE(memo.pending.packets[RL_OUTCOME_DROPPED], 100u) << "the memo did not drop the flood";
    EXPECT_EQ(banned_drops(), banned + 100);
}

// The figure the README's claim rests on: a banned flood costs what a memo-dropped one does (a
// denied source's, say). Printed; asserted only loosely, for timing noise.
TEST_F(BansTest, ABannedFloodCostsWhatAMemoDropCosts)
{
    RL_REQUIRE_BPF();
    CpuPin pin(0);
    add_banning_rule(20ms, 10min);
    add_rule({"10.9.0.0/16"}, compile_rule(RL_ACTION_DENY, {}, false));
    const Frame banned = udp_from("10.0.0.9"), denied = udp_from("10.9.0.1");
    offend(banned, 60ms, 20);
    ASSERT_TRUE(ban_of("10.0.0.9"));
    constexpr std::uint32_t kRepeat = 200000;
    run_xdp(dp_->program_fd(), banned, 1000); // the memo turns to it
    const std::uint32_t banned_ns = run_xdp(dp_->program_fd(), banned, kRepeat).duration_ns;
    run_xdp(dp_->program_fd(), denied, 1000);
    const std::uint32_t denied_ns = run_xdp(dp_->program_fd(), denied, kRepeat).duration_ns;
    std::cout << "per frame: banned " << banned_ns << " ns, denied (memo) " << denied_ns << " ns\n";
    EXPECT_LE(banned_ns, denied_ns * 2 + 10);
}

TEST_F(BansTest, ABanEndsOnItsOwnAndWhenItsEntryIsDeleted)
{
    RL_REQUIRE_BPF();
    add_banning_rule(20ms, 100ms);
    const Frame frame = udp_from("10.0.0.5");
    offend(frame, 60ms, 20);
    ASSERT_TRUE(ban_of("10.0.0.5"));
    std::this_thread::sleep_for(150ms);
    const std::uint64_t banned = banned_drops();
    EXPECT_EQ(send(frame), XDP_PASS); // judged by its (refilled) bucket again
    EXPECT_EQ(banned_drops(), banned);

    offend(frame, 60ms, 20); // banned again, then unbanned as the daemon does it
    ASSERT_GT(banned_drops(), banned);
    ASSERT_TRUE(dp_->bans().erase(addr("10.0.0.5").key()));
    dp_->publish_rules();
    const std::uint64_t before_unban = banned_drops();
    passed_of(frame, 10);
    EXPECT_EQ(banned_drops(), before_unban) << "still banned after its entry was deleted";
}

TEST_F(BansTest, ARepeatOffenderIsBannedTwiceAsLongEachTime)
{
    RL_REQUIRE_BPF();
    add_banning_rule(20ms, 50ms);
    const Frame frame = udp_from("10.0.0.6");
    for (std::uint32_t offence = 1; offence <= 3; offence++) {
        offend(frame, 60ms, 20);
        auto ban = ban_of("10.0.0.6");
        ASSERT_TRUE(ban) << "offence " << offence;
        EXPECT_EQ(ban->offences, offence);
        EXPECT_EQ(ban->until - ban->since, (50ull << (offence - 1)) * 1'000'000);
        std::this_thread::sleep_for(std::chrono::milliseconds(50 << (offence - 1)) + 10ms);
    }
}

TEST_F(BansTest, ARuleScopedBanLeavesAnotherRulesTrafficAndScopeAllDoesNot)
{
    RL_REQUIRE_BPF();
    for (BanScope scope : {BanScope::Rule, BanScope::All}) {
        SetUp();
        add_banning_rule(20ms, 10min, scope);
        const std::uint32_t allow =
            add_rule({"10.0.0.7/32"}, compile_rule(RL_ACTION_ALLOW, {}, false));
        const Frame frame = udp_from("10.0.0.8");
        offend(frame, 60ms, 20);
        ASSERT_TRUE(ban_of("10.0.0.8"));
        // The source comes under the allow rule.
        dp_->prefixes().update(prefix_key(Prefix{addr("10.0.0.8"), 128}), rl_prefix_value{allow});
        dp_->publish_rules();
        EXPECT_EQ(send(frame), scope == BanScope::All ? XDP_DROP : XDP_PASS)
            << name_of(kBanScopeNames, scope);
    }
}

TEST_F(BansTest, ASourceWithoutAnEntryIsLookedUpInTheBansWhileBansMayApply)
{
    RL_REQUIRE_BPF();
    const std::uint32_t rule = add_banning_rule(20ms, 10min);
    // A ban the daemon restored (or the program made before the source was evicted): the
    // source has no entry, so its first packet is judged on the bans map alone.
    auto ban = [&](const char *source) {
        const std::uint64_t now = monotonic_ns();
        dp_->bans().update(addr(source).key(), rl_ban{.since = now,
                                                      .until = now + 600'000'000'000ull,
                                                      .rule = rule,
                                                      .offences = 1,
                                                      .flags = 0,
                                                      .pad = 0});
    };
    ban("10.0.0.9");
    dp_->set_settings_flags(RL_SETTINGS_BANS);
    EXPECT_EQ(send(udp_from("10.0.0.9")), XDP_DROP);
    EXPECT_EQ(banned_drops(), 1u);
    // Without the flag nothing is looked up, and a new source is judged by its buckets alone:
    // the daemon clears it only while no rule bans and rld_bans is empty.
    ban("10.0.0.11");
    dp_->set_settings_flags(0);
    EXPECT_EQ(send(udp_from("10.0.0.11")), XDP_PASS);
}

} // namespace
} // namespace ratelimit::test
