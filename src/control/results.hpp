// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// What a successful response's "result" holds, command by command (protocol.hpp has the
// messages and the arguments): one struct per result, one encoder (encode_result) the daemon
// writes it with and one decoder (decode_<command>_result) ratelimitctl reads it with. Decoders
// are strict: a field missing or of the wrong type is a std::runtime_error naming it
// ("result.totals.passed.bytes: missing"), so a client never misreads a daemon of another
// version; fields it does not know are left alone.
//
// Rules are rule objects exactly as in the config file (rule_to_json), runtime rules with
// "expires" (RFC 3339 UTC) as in the runtime rule file; counts are {"packets", "bytes"}; traffic
// is {"passed": count, "dropped": count, "would_drop": count}, where would_drop is the part of
// "passed" that only monitor mode passed (denied or over the limit). Rates and bursts are numbers
// in base units (packets, bytes). A state file is {"path", "saved": bool, "write_failures",
// "error" or null}: whether the file holds the state in force (a change that could not be written
// is in force all the same, and retried).
//   status   -> {"version", "uptime_s", "config", "mode", "interfaces": [{"name", "xdp_mode",
//                "program_id"}], "last_reload": {"time", "ok", "message"}, "rules": {"config",
//                "runtime"}, "totals": traffic, "tracked_sources", "tracked_sources_age_ms",
//                "max_sources", "loop_longest_stall_ms", "loop_longest_stall_in",
//                "loop_longest_on_cpu_ms", "pins": {"dir",
//                "mounted_at" (a bpffs the daemon mounted) or null, "outlives_daemon", "warning"
//                or null}, "state_files": [state file]}
//               tracked_sources is counted in the background (a million take a tenth of a
//               second), tracked_sources_age_ms ago; loop_longest_stall_ms is the longest the
//               daemon's event loop was held by one event since it started, and
//               loop_longest_stall_in what held it ("" before any); loop_longest_on_cpu_ms the
//               most CPU time one event took (wall time also counts the loop's thread being
//               preempted on a busy host).
//   list     -> {"default": {"limits": [...]} or null, "config": [rule + "overridden"],
//                "runtime": [rule + "expires", "expires_in_s"]}
//   set, allow, deny
//            -> {"rule": runtime rule + "expires_in_s", "replaced": bool,
//                "overrides_config": bool, "state_file": state file}
//   unset    -> {"removed": runtime rule, "config_rule": rule or null, "state_file": state file}
//   show     -> {"address", "rule": {"origin", "prefix", "rule"} or null, "why", "tracked",
//                "buckets": [{"limit", "unit", "per", "key", "tokens", "burst"}], "traffic",
//                "ban": ban (as bans gives it) or null}
//               where "rule" is the default's {"limits"}, a config rule or a runtime rule +
//               "expires_in_s", as "origin" says.
//   top      -> {"by", "scanned", "sampled_at_ms", "sources": [{"address"} + traffic]}
//               sampled_at_ms is the daemon's monotonic clock when it read the counters: the
//               difference between two answers is the window their rates are over.
//   stats    -> {"interfaces": [{"name", "slot", "counters": [{"reason", "verdict", "packets",
//                "bytes"}]}]}
//   flush    -> {"match" or null, "sources", "blocks", "rule_buckets"}
//   reload   -> {"time", "message"}; a refused config is the error reload_failed
//   apply    -> {"changes": the transaction's changes so far, "committed": null (a part held
//                for the next) or {"added", "replaced", "removed", "runtime_rules" (in force
//                now), "state_file": state file}}
//   bans     -> {"bans": [ban], "capacity"} where a ban is {"address", "rule" (the prefix of the
//                rule it was for; null for a rule since removed), "scope": "rule"|"all", "since",
//                "until", "remaining_s", "offences"}, soonest to end first
//   unban    -> {"lifted": ban}; an address with no ban in force is the error not_found
// "expires_in_s" is the whole seconds left, rounded up, or null for a rule that never expires.
// Times ("expires", "time") are RFC 3339 UTC text as the daemon wrote them: the client only shows
// them, and its own clock is not the daemon's.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/config.hpp"
#include "control/protocol.hpp"
#include "net/address.hpp"
#include "policy/rule.hpp"
#include "ratelimit/abi.h"

namespace ratelimit::control
{

// ----- shared pieces -------------------------------------------------

struct Count {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    bool operator==(const Count &) const = default;
};

// A source's (or the totals') traffic; `passed` includes `would_drop`.
struct Traffic {
    Count passed, dropped, would_drop;
    bool operator==(const Traffic &) const = default;
};
// The program's per-outcome counters as the protocol states them.
Traffic traffic_of(const rl_source_counters &counters);

struct StateFileStatus {
    std::string path;
    bool saved = true;
    std::uint64_t write_failures = 0;
    std::optional<std::string> error; // why the last write failed, while not saved
    bool operator==(const StateFileStatus &) const = default;
};

// A runtime rule as the runtime rule file states it.
struct RuntimeRuleEntry {
    Rule rule;
    std::optional<std::string> expires; // RFC 3339 UTC; none: until unset
    bool operator==(const RuntimeRuleEntry &) const = default;
};

// A runtime rule in force, as list, set/allow/deny and show give it.
struct ActiveRuntimeRule : RuntimeRuleEntry {
    std::optional<std::int64_t> expires_in_s; // none: never expires
    bool operator==(const ActiveRuntimeRule &) const = default;
};

// The config's "default": the limits of sources no rule matches.
struct DefaultLimits {
    std::vector<LimitSpec> limits;
    bool operator==(const DefaultLimits &) const = default;
};

// ----- status --------------------------------------------------------

struct InterfaceStatus {
    std::string name;
    std::string xdp_mode; // as the kernel reports the attachment: native, generic, ... or none
    std::uint32_t program_id = 0;
    bool operator==(const InterfaceStatus &) const = default;
};

struct LastReload {
    std::string time;
    bool ok = true;
    std::string message;
    bool operator==(const LastReload &) const = default;
};

struct RuleCounts {
    std::uint64_t config = 0, runtime = 0;
    bool operator==(const RuleCounts &) const = default;
};

struct PinsStatus {
    std::string dir;
    std::optional<std::string> mounted_at; // a bpffs the daemon mounted there
    bool outlives_daemon = false;
    std::optional<std::string> warning;
    bool operator==(const PinsStatus &) const = default;
};

// The source table's admission (TablePressure): status's "table".
struct TableStatus {
    std::uint64_t admitted = 0, refused = 0, evictions = 0;
    double filter_fill = 0, sketch_fill = 0;
    bool operator==(const TableStatus &) const = default;
};

struct StatusResult {
    std::string version;
    std::int64_t uptime_s = 0;
    std::string config; // the config file's path
    Mode mode = Mode::Enforce;
    std::vector<InterfaceStatus> interfaces;
    LastReload last_reload;
    RuleCounts rules;
    Traffic totals;
    std::uint64_t tracked_sources = 0, tracked_sources_age_ms = 0, max_sources = 0;
    double loop_longest_stall_ms = 0;
    std::string loop_longest_stall_in;
    double loop_longest_on_cpu_ms = 0;
    TableStatus table;
    PinsStatus pins;
    std::vector<StateFileStatus> state_files;
    bool operator==(const StatusResult &) const = default;
};
nlohmann::json encode_result(const StatusResult &result);
StatusResult decode_status_result(const nlohmann::json &result);

// ----- list ----------------------------------------------------------

struct ListedConfigRule {
    Rule rule;
    bool overridden = false; // by a runtime rule for its prefix
    bool operator==(const ListedConfigRule &) const = default;
};

struct ListResult {
    std::optional<DefaultLimits> default_limits; // none: no default
    std::vector<ListedConfigRule> config;
    std::vector<ActiveRuntimeRule> runtime;
    bool operator==(const ListResult &) const = default;
};
nlohmann::json encode_result(const ListResult &result);
ListResult decode_list_result(const nlohmann::json &result);

// ----- set, allow, deny; unset ---------------------------------------

struct RuleChangeResult {
    ActiveRuntimeRule rule;
    bool replaced = false;         // a runtime rule for the prefix was there before
    bool overrides_config = false; // a config rule for the prefix is set aside while it exists
    StateFileStatus state_file;
    bool operator==(const RuleChangeResult &) const = default;
};
nlohmann::json encode_result(const RuleChangeResult &result);
RuleChangeResult decode_rule_change_result(const nlohmann::json &result);

struct UnsetResult {
    RuntimeRuleEntry removed;
    std::optional<Rule> config_rule; // the config rule for the prefix, in force again
    StateFileStatus state_file;
    bool operator==(const UnsetResult &) const = default;
};
nlohmann::json encode_result(const UnsetResult &result);
UnsetResult decode_unset_result(const nlohmann::json &result);

// ----- show ----------------------------------------------------------

// A ban in force (the trigger and the growth: struct rl_ban in ratelimit/abi.h).
struct BanInfo {
    Address address;
    std::optional<Prefix> rule; // the prefix of the rule it was for; none: since removed
    BanScope scope = BanScope::Rule;
    std::string since, until;     // RFC 3339 UTC
    std::int64_t remaining_s = 0; // whole seconds left, rounded up
    std::uint32_t offences = 1;   // this ban and the earlier ones within the repeat window
    bool operator==(const BanInfo &) const = default;
};

// The rule the program's longest-prefix match finds for an address, and the prefix it found.
struct AppliedRule {
    Prefix prefix;
    std::variant<DefaultLimits, Rule, ActiveRuntimeRule> rule;
    Origin origin() const;
    bool operator==(const AppliedRule &) const = default;
};

// The bucket one limit of the rule charges for the address.
struct BucketStatus {
    std::uint32_t limit = 0; // its index among the rule's limits
    rl_unit unit = RL_UNIT_PACKETS;
    std::string per; // "source", "rule" or "/N"
    std::string key; // whose bucket: the source, its /N block or "rule"
    std::uint64_t tokens = 0, burst = 0;
    bool operator==(const BucketStatus &) const = default;
};

struct ShowResult {
    Address address;
    std::optional<AppliedRule> rule; // none: no rule and no default
    std::string why;
    bool tracked = false;
    std::vector<BucketStatus> buckets;
    Traffic traffic;
    std::optional<BanInfo> ban; // none: not banned
    bool operator==(const ShowResult &) const = default;
};
nlohmann::json encode_result(const ShowResult &result);
ShowResult decode_show_result(const nlohmann::json &result);

// ----- top -----------------------------------------------------------

struct SourceTraffic {
    Address address;
    Traffic traffic;
    std::string rule{}; // the name of the rule it falls under ("rule", only if it is named)
    bool operator==(const SourceTraffic &) const = default;
};

struct TopResult {
    TopOrder by = TopOrder::Drops;
    std::uint64_t scanned = 0; // sources with any traffic
    std::int64_t sampled_at_ms = 0;
    std::vector<SourceTraffic> sources; // heaviest first
    bool operator==(const TopResult &) const = default;
};
nlohmann::json encode_result(const TopResult &result);
TopResult decode_top_result(const nlohmann::json &result);
// A source of a top result on its own: its "address" and its traffic.
nlohmann::json encode_source(const SourceTraffic &source);

// ----- stats ---------------------------------------------------------

struct ReasonCount {
    rl_reason reason = RL_REASON_NON_IP;
    rl_verdict verdict = RL_VERDICT_PASS;
    Count count;
    bool operator==(const ReasonCount &) const = default;
};

struct InterfaceCounters {
    std::string name;
    std::uint32_t slot = 0; // its attach slot
    std::vector<ReasonCount> counters;
    bool operator==(const InterfaceCounters &) const = default;
};

// What one named rule judged ("rule": its name), or the unnamed rules together ("rule": "").
struct RuleStats {
    std::string rule;
    std::vector<ReasonCount> counters; // the (reason, verdict) pairs a rule counts
    bool operator==(const RuleStats &) const = default;
};

struct StatsResult {
    std::vector<InterfaceCounters> interfaces;
    std::optional<std::vector<RuleStats>> rules; // asked for ("rules": true): named, then ""
    bool operator==(const StatsResult &) const = default;
};
nlohmann::json encode_result(const StatsResult &result);
StatsResult decode_stats_result(const nlohmann::json &result);

// ----- flush ---------------------------------------------------------

struct FlushResult {
    std::optional<Prefix> match; // none: everything
    std::uint64_t sources = 0, blocks = 0, rule_buckets = 0;
    bool operator==(const FlushResult &) const = default;
};
nlohmann::json encode_result(const FlushResult &result);
FlushResult decode_flush_result(const nlohmann::json &result);

// ----- reload --------------------------------------------------------

// A reload that was applied (a refused one is the error reload_failed).
struct ReloadCommandResult {
    std::string time;
    std::string message;
    bool operator==(const ReloadCommandResult &) const = default;
};
nlohmann::json encode_result(const ReloadCommandResult &result);
ReloadCommandResult decode_reload_result(const nlohmann::json &result);

// ----- apply ---------------------------------------------------------

struct AppliedChanges {
    std::uint64_t added = 0, replaced = 0, removed = 0; // runtime rules
    std::uint64_t runtime_rules = 0;                    // in force after them
    StateFileStatus state_file;
    bool operator==(const AppliedChanges &) const = default;
};

struct ApplyResult {
    std::uint64_t changes = 0;               // received in the transaction so far
    std::optional<AppliedChanges> committed; // none: held until the transaction's last part
    bool operator==(const ApplyResult &) const = default;
};
nlohmann::json encode_result(const ApplyResult &result);
ApplyResult decode_apply_result(const nlohmann::json &result);
// ----- bans, unban ---------------------------------------------------

struct BansResult {
    std::vector<BanInfo> bans;  // soonest to end first
    std::uint64_t capacity = 0; // max_bans
    bool operator==(const BansResult &) const = default;
};
nlohmann::json encode_result(const BansResult &result);
BansResult decode_bans_result(const nlohmann::json &result);

struct UnbanResult {
    BanInfo lifted;
    bool operator==(const UnbanResult &) const = default;
};
nlohmann::json encode_result(const UnbanResult &result);
UnbanResult decode_unban_result(const nlohmann::json &result);

// ----- a rule's words ------------------------------------------------
// As the rule codec writes them, for the CLI's tables: the match (one address bare), a limit's
// "per" ("source", "rule", "/24").
std::string match_text(const Rule &rule);
std::string per_text(const LimitSpec &limit, const Prefix &match);

} // namespace ratelimit::control
