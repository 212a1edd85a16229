// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The runtime rules (ratelimitctl set/allow/deny, optionally with a TTL) kept in one JSON file
// under the state directory, so that they survive restarts and reloads:
//
//   {"version": 1, "rules": [
//     {"match": "203.0.113.0/24", "action": "limit",
//      "limits": [{"rate": 100, "burst": 200, "per": "source"}],
//      "expires": "2026-11-29T08:00:00Z"},
//     {"match": "198.51.100.7", "action": "deny"}]}
//
// Each rule is a rule object exactly as in the config file (policy/rule_json.hpp), written back
// by rule_to_json, plus an optional "expires": an RFC 3339 UTC time, with a fraction of a second
// only when the expiry has one. The file is replaced whole and atomically on every change; a file
// that cannot be read back is an error naming what is wrong, never a silently shorter rule list.

#include <optional>
#include <string>
#include <variant>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "net/address.hpp"
#include "policy/rule_json.hpp"
#include "state/desired.hpp"

namespace ratelimit
{

// A runtime rule as the file (and ratelimitctl) shows it: rule_to_json plus "expires".
nlohmann::json runtime_rule_to_json(const RuntimeRule &runtime);

// "2026-11-29T08:00:00Z", with a fraction of a second only when `time` has one.
std::string format_utc(WallClock::time_point time);
// What format_utc writes, read back: a real date and time of day, within the range of WallClock
// (with nanoseconds: 1677-09-21 .. 2262-04-11); nullopt for anything else.
std::optional<WallClock::time_point> parse_utc(std::string_view text);

class RuntimeStore
{
  public:
    explicit RuntimeStore(std::string path); // e.g. STATE_DIR/runtime-rules.json

    const std::string &path() const { return path_; }

    // A missing file holds no rules. Throws std::runtime_error naming the file and every problem
    // in it (unreadable, malformed JSON and where, or the path of each invalid field).
    std::vector<RuntimeRule> load() const;

    // Replaces the file atomically and durably: PATH.tmp is written and synced, renamed over
    // PATH, and the directory synced. Creates missing directories (mode 0750); the file is mode
    // 0640. Throws std::runtime_error naming the operation and the file (state_file.hpp).
    void save(const std::vector<RuntimeRule> &rules) const;

  private:
    std::string path_;
};

// Pure edits of the runtime rule list, for the daemon's control commands. A prefix names at most
// one runtime rule.

// A change of the list: a rule to add (replacing the one with its prefix), a prefix whose rule
// to remove, a name whose rule to remove, or all of them away.
struct RemoveAllRules {
};
using RuntimeEdit = std::variant<RuntimeRule, Prefix, std::string, RemoveAllRules>;

struct EditCounts {
    std::size_t added = 0, replaced = 0, removed = 0;
    std::vector<std::size_t>
        not_found; // the edits (by index) removing a prefix or name no rule has
};
// Applies `edits` in order, in time linear in the rules and edits (times a log): as many upserts
// and removes would, each new rule appended, a replaced one kept in its place.
EditCounts apply_edits(std::vector<RuntimeRule> &rules, std::vector<RuntimeEdit> edits);

// Replaces the rule with the same prefix, or appends `rule`.
void upsert(std::vector<RuntimeRule> &rules, RuntimeRule rule);
// Removes the rule for `prefix`; false if there is none.
bool remove(std::vector<RuntimeRule> &rules, const Prefix &prefix);
// Removes the rules that expire at or before `now` and returns them, in their order.
std::vector<RuntimeRule> drop_expired(std::vector<RuntimeRule> &rules, WallClock::time_point now);
// The earliest expiry among `rules`, if any expires: when the daemon next has work to do.
std::optional<WallClock::time_point> next_expiry(const std::vector<RuntimeRule> &rules);

} // namespace ratelimit
