// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The bans file: bans survive a round trip through it in wall-clock time, a file that cannot be
// read back is refused naming the file and the field (and nothing in it is taken), and the
// program's clock and the wall clock turn into each other.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "scratch_dir.hpp"
#include "state/bans.hpp"

namespace ratelimit
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// 2026-11-29T08:00:00Z
const WallClock::time_point kMorning = std::chrono::sys_days{2026y / 11 / 29} + 8h;

BanEntry ban(const char *address, const char *rule, BanScope scope, std::uint32_t offences)
{
    BanEntry entry;
    entry.address = *parse_address(address);
    if (rule)
        entry.rule = *parse_prefix(rule);
    entry.scope = scope;
    entry.since = kMorning;
    entry.until = kMorning + 10min * offences;
    entry.offences = offences;
    return entry;
}

class BanFileTest : public testing::Test
{
  protected:
    void write(const std::string &text) { std::ofstream(file_.path()) << text; }
    std::string load_error()
    {
        try {
            file_.load(16);
        } catch (const std::runtime_error &e) {
            return e.what();
        }
        return "loaded";
    }

    test::ScratchDir scratch_;
    BanFile file_{(scratch_.path() / "bans.json").string()};
};

TEST_F(BanFileTest, MissingHoldsNoBans)
{
    EXPECT_TRUE(file_.load(16).empty());
}

TEST_F(BanFileTest, BansSurviveARoundTrip)
{
    const std::vector<BanEntry> bans = {ban("192.0.2.7", "192.0.2.0/24", BanScope::Rule, 1),
                                        ban("2001:db8::1", "2001:db8::/32", BanScope::All, 3),
                                        ban("198.51.100.9", nullptr, BanScope::All, 2)};
    file_.save(bans);
    EXPECT_EQ(file_.load(16), bans);
}

TEST_F(BanFileTest, ABadFileIsRefusedNamingTheFieldAndNothingIsTaken)
{
    write(R"({"version": 1, "bans": [
        {"address": "192.0.2.7", "rule": "192.0.2.0/24", "scope": "rule",
         "since": "2026-11-29T08:00:00Z", "until": "2026-11-29T08:10:00Z", "offences": 1},
        {"address": "192.0.2.300", "rule": "192.0.2.0/24", "scope": "rule",
         "since": "2026-11-29T08:00:00Z", "until": "tomorrow", "offences": 0}]})");
    const std::string error = load_error();
    EXPECT_NE(error.find(file_.path() + ": bans[1].address"), std::string::npos) << error;
    EXPECT_NE(error.find("bans[1].until: \"tomorrow\" is not an RFC 3339 UTC time"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("bans[1].offences"), std::string::npos) << error;
    EXPECT_EQ(error.find("bans[0]"), std::string::npos) << error;

    write(R"({"version": 2, "bans": []})");
    EXPECT_NE(load_error().find("version: must be 1"), std::string::npos);
    write("{\"version\": 1, \"bans\": [");
    EXPECT_NE(load_error().find(file_.path()), std::string::npos);
}

TEST_F(BanFileTest, AFileLargerThanItsCapacityAllowsIsRefusedUnread)
{
    write(std::string(BanFile::max_bytes(16) + 1, ' '));
    EXPECT_NE(load_error().find("bytes"), std::string::npos) << load_error();
}

TEST(BanClock, TurnsTheProgramsClockIntoWallClockAndBack)
{
    const BanClock clock{5'000'000'000, kMorning};
    EXPECT_EQ(clock.wall_of(6'000'000'000), kMorning + 1s);
    EXPECT_EQ(clock.wall_of(4'000'000'000), kMorning - 1s);
    EXPECT_EQ(clock.monotonic_of(kMorning + 10min), 5'000'000'000 + 600'000'000'000);
    // A ban that ended before this boot began is at the clock's start, not in its future.
    EXPECT_EQ(clock.monotonic_of(kMorning - 1h), 1u);
}

} // namespace
} // namespace ratelimit
