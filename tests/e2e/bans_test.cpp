// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Automatic bans end to end (see daemon_fixture.hpp): traffic over a rule with a "ban" bans its
// source, `ratelimitctl bans` lists it and `unban` lifts it, a ban ends on its own, survives a
// restart that adopts the maps and a cold start (through the state directory's bans file), and
// its drops are counted reason "banned".

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_fixture.hpp"
#include "temp_fs.hpp"

namespace ratelimit::test
{
namespace
{

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char *kOffender = "10.3.0.1";

class BansTest : public DaemonTest
{
  protected:
    void SetUp() override
    {
        DaemonTest::SetUp();
        // 20 pps a source; more than 10x that for over 1 s is banned for 4 s.
        write_config(R"([{"match": "10.3.0.0/16", "rate": 20, "burst": 20,
                          "ban": {"after": "1s", "for": "4s"}}])");
    }

    json ctl(const std::vector<std::string> &args) const
    {
        std::vector<std::string> argv = {RATELIMITCTL_PATH, "--socket",
                                         dir_.path() / "run/ratelimitd.sock", "--json"};
        argv.insert(argv.end(), args.begin(), args.end());
        return json::parse(run_command(argv));
    }

    json bans() const { return ctl({"bans"}).at("bans"); }

    // 2000 pps from the offender for `how_long`: 100x its limit.
    void flood(std::chrono::milliseconds how_long) const
    {
        SendPlan plan = plan_from({*parse_address(kOffender)});
        plan.rate_pps = 2000;
        plan.duration = how_long;
        send(plan);
    }
};

TEST_F(BansTest, AFloodIsBannedListedLiftedAndTheBanEndsOnItsOwn)
{
    Process daemon = start_daemon();
    flood(1500ms);
    json listed = bans();
    ASSERT_EQ(listed.size(), 1u) << listed.dump();
    EXPECT_EQ(listed[0].at("address"), kOffender);
    EXPECT_EQ(listed[0].at("rule"), "10.3.0.0/16");
    EXPECT_EQ(listed[0].at("offences"), 1);
    EXPECT_LE(listed[0].at("remaining_s").get<int>(), 4);
    EXPECT_GT(counted(RL_REASON_BANNED, RL_VERDICT_DROP), 0u);
    EXPECT_EQ(delivered(kOffender, 10), 0u) << "a banned source got through";
    EXPECT_EQ(delivered("10.3.0.2", 10), 10u) << "another source is not banned";
    EXPECT_FALSE(ctl({"show", kOffender}).at("ban").is_null());

    EXPECT_EQ(ctl({"unban", kOffender}).at("lifted").at("address"), kOffender);
    EXPECT_TRUE(bans().empty());
    EXPECT_GT(delivered(kOffender, 10), 0u) << "still dropped after unban";

    flood(1500ms);
    ASSERT_EQ(bans().size(), 1u);
    std::this_thread::sleep_for(4500ms);
    EXPECT_TRUE(bans().empty()) << "the ban did not end on its own";
    EXPECT_GT(delivered(kOffender, 10), 0u);
}

TEST_F(BansTest, ABanSurvivesARestartAndAColdStart)
{
    write_config(R"([{"match": "10.3.0.0/16", "rate": 20, "burst": 20,
                      "ban": {"after": "1s", "for": "1h", "scope": "all"}}])");
    {
        Process daemon = start_daemon();
        flood(1500ms);
        ASSERT_EQ(bans().size(), 1u);
        std::this_thread::sleep_for(1500ms); // a sweep pass writes the bans file
        // The daemon stops without keep_attached_on_exit: the maps go, the file stays.
        EXPECT_EQ(daemon.stop(), 0);
    }
    Process cold = start_daemon();
    json listed = bans();
    ASSERT_EQ(listed.size(), 1u) << "lost in a cold start";
    EXPECT_EQ(listed[0].at("scope"), "all");
    EXPECT_EQ(delivered(kOffender, 10), 0u);
}

// A state disk that takes no writes delays the bans file, never the ban: it is in force at once,
// the file is written once there is room, and a cold start then restores it.
TEST_F(BansTest, ABanMadeOnAFullStateDiskIsEnforcedAndSavedOnceThereIsRoom)
{
    Tmpfs disk(1 << 20);
    use_state_dir(disk.path()); // before the config, which names it
    write_config(R"([{"match": "10.3.0.0/16", "rate": 20, "burst": 20,
                      "ban": {"after": "1s", "for": "1h"}}])");
    const std::filesystem::path ban_file = disk.path() / "bans.json";
    auto ban_file_text = [&ban_file] {
        std::stringstream text;
        text << std::ifstream(ban_file).rdbuf();
        return text.str();
    };
    {
        Process daemon = start_daemon();
        const std::filesystem::path filler = disk.fill();
        flood(1500ms);
        ASSERT_EQ(bans().size(), 1u) << "a full disk kept the ban from being made";
        EXPECT_EQ(delivered(kOffender, 10), 0u);
        wait_for_log(daemon, "bans.json not saved");
        EXPECT_EQ(ban_file_text().find(kOffender), std::string::npos);

        std::filesystem::remove(filler);
        wait_for_log(daemon, "bans.json saved again");
        EXPECT_NE(ban_file_text().find(kOffender), std::string::npos) << ban_file_text();
        EXPECT_EQ(daemon.stop(), 0);
    }
    Process cold = start_daemon();
    ASSERT_EQ(bans().size(), 1u) << "lost in a cold start";
    EXPECT_EQ(delivered(kOffender, 10), 0u);
}

} // namespace
} // namespace ratelimit::test
