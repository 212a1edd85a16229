// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Bans as the daemon keeps them: the program starts them in its bans map (the trigger and the
// growth: struct rl_ban in ratelimit/abi.h), in the program's clock (CLOCK_MONOTONIC); the daemon
// lists and lifts them, removes entries whose repeat window is over a slice at a time, and keeps
// them across a cold start (or reboot) in a file of the state directory, in wall-clock time:
//
//   {"version": 1, "bans": [{"address": "192.0.2.7", "rule": "192.0.2.0/24", "scope": "rule",
//     "since": "2026-11-29T08:00:00Z", "until": "2026-11-29T08:10:00Z", "offences": 1}]}
//
// "rule" names the rule by its prefix (the first of its prefixes, sorted): a cold start gives
// rules new indexes. A file that cannot be read is an error naming what is wrong; the bans it
// held are then not restored, and the file is left as it is until the daemon next writes it.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datapath/datapath.hpp"
#include "net/address.hpp"
#include "policy/rule.hpp"
#include "state/desired.hpp"

namespace ratelimit
{

// A ban in wall-clock time, as the file and ratelimitctl state it.
struct BanEntry {
    Address address;
    std::optional<Prefix> rule; // none: a rule no longer installed
    BanScope scope = BanScope::Rule;
    WallClock::time_point since{}, until{};
    std::uint32_t offences = 1;
    bool operator==(const BanEntry &) const = default;
};

// The program's clock and the wall clock, read together, to turn one into the other.
struct BanClock {
    std::uint64_t monotonic_ns = 0;
    WallClock::time_point wall{};
    static BanClock now();
    WallClock::time_point wall_of(std::uint64_t monotonic_ns) const;
    std::uint64_t monotonic_of(WallClock::time_point wall) const; // at least 1 (0 is "none")
};

// The prefix naming each installed rule, by index (see the file's "rule").
std::map<std::uint32_t, Prefix> rule_names(const Datapath &dp);

BanEntry ban_entry(const rl_source_key &source, const rl_ban &ban, const BanClock &clock,
                   const std::map<std::uint32_t, Prefix> &names);

// Every ban in force at `clock`, soonest to end first (the map is read in batches).
std::vector<BanEntry> bans_in_force(const Datapath &dp, const BanClock &clock);

// Puts entries of a bans file back into the program's map, their times turned into its clock:
// those whose repeat window is not over and whose rule is installed (or, scoped to all traffic,
// any rule). Returns how many were restored. The program's cached lookups are dropped after.
std::size_t restore_bans(Datapath &dp, const std::vector<BanEntry> &entries, const BanClock &clock);

// Removes the entries of the bans map whose repeat window is over, `budget` entries a step, so
// that no step holds the event loop for long whatever the map's size. After each full pass over
// the map, what it found there.
class BanSweeper
{
  public:
    using Found = std::vector<std::pair<rl_source_key, rl_ban>>;

    explicit BanSweeper(Datapath &dp) : dp_(dp) {}

    // The entries of the pass that this step completed (sorted by address), or nullopt if the
    // pass goes on at the next step.
    std::optional<Found> step(std::size_t budget, std::uint64_t monotonic_now);

  private:
    Datapath &dp_;
    std::optional<rl_source_key> cursor_; // where the pass goes on; none: at the start
    Found found_;
};

class BanFile
{
  public:
    explicit BanFile(std::string path); // e.g. STATE_DIR/bans.json

    const std::string &path() const { return path_; }

    // A missing file holds no bans. Throws std::runtime_error naming the file and every problem
    // in it. Files over max_bytes(capacity) are refused unread.
    std::vector<BanEntry> load(std::size_t capacity) const;
    // Replaces the file atomically and durably (state_file.hpp).
    void save(const std::vector<BanEntry> &bans) const;

    // The largest file of `capacity` bans (max_bans) that load reads.
    static std::size_t max_bytes(std::size_t capacity);

  private:
    std::string path_;
};

} // namespace ratelimit
