// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The rule object, both ways: the one reader and the one writer of a rule's JSON form, for the
// config file's "rules" and "default", the runtime rule file and the control requests that add
// rules. parse_rule(rule_to_json(r)) == r, and rule_to_json(parse_rule(j)) is j's canonical form.
//
// A rule: {"match": a prefix or bare address, or a non-empty list of them, or instead "match_file":
// the absolute path of a file of prefixes (prefix_list.hpp; only where MatchFiles reads it: the
// config), "name"?: unique name, "action": limit (default)|allow|deny, "mode": enforce|monitor,
// "comment": text (at most kMaxCommentBytes, no control characters), "force": true to take a deny
// of a whole address family (0.0.0.0/0, ::/0), "ban" (limit rules only): {"after": duration,
// "for": duration, "scope"?: "rule" (default) | "all"}, and for "limit" one limit written on the
// rule itself or "limits": a list of them}, and its selector: "proto": tcp|udp|icmp|icmpv6 or a
// protocol number 0 .. 255, "port" (tcp and udp only): destination ports as a number, a string of
// ports and ranges ("80,443", "27015-27030") or a list of these, and "tcp_flags" (tcp only): "syn"
// (SYN set, ACK clear). Without "proto" the rule is a catch-all. A limit: "rate" (packets/s) with
// "burst" (packets, default one second's worth) and/or "bytes" (a byte rate) with "byte_burst"
// (default one second's worth, at least kMinByteBurst bytes), and "per": "source" (default),
// "rule", or "/N" within the rule's address family. Each rate is one LimitSpec; a rule holds at
// most RL_MAX_LIMITS of them. Rates and sizes are spelled as in units.hpp; a bare JSON number is
// in the base unit: packets per second, bytes per second, packets or bytes. A prefix listed twice
// in one rule is taken once. "per": "/N" on a rule of several prefixes needs them all of one
// address family and N at least the longest of them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "json/validated.hpp"
#include "net/address.hpp"
#include "policy/fields.hpp"
#include "policy/rule.hpp"

namespace ratelimit
{

// The fields of one limit object.
inline constexpr std::string_view kLimitFields[] = {"rate", "burst", "bytes", "byte_burst", "per"};
// The fields that set limits: all that the config's "default" has.
inline constexpr std::string_view kLimitingFields[] = {"limits", "rate",       "burst",
                                                       "bytes",  "byte_burst", "per"};
inline constexpr std::string_view kRuleFields[] = {
    "match", "match_file", "action",  "mode", "limits", "rate", "burst",     "bytes", "byte_burst",
    "per",   "force",      "comment", "ban",  "proto",  "port", "tcp_flags", "name"};
// The fields of a rule's "ban".
inline constexpr std::string_view kBanFields[] = {"after", "for", "scope"};

// ----- reading -------------------------------------------------------

// How a rule's "match_file" is taken. The daemon never opens a file a client names: the control
// protocol and the runtime rule file refuse it, and only the config reads it.
struct MatchFiles {
    enum class Use {
        Refuse, // an error: "match" only
        Name,   // the rule keeps the file's name, `match` left empty (a config rule as listed)
        Read,   // read: the file's text, or an exception saying why it cannot be read
    };
    Use use = Use::Refuse;
    std::function<std::string(const std::string &path)> read{};
};

// One rule object, with `path` ("runtime", "rules[2]", "args") naming it in errors. Duplicates
// among rules are the caller's to find (DistinctPrefixes).
Validated<Rule> parse_rule(const nlohmann::json &rule, const std::string &path,
                           const MatchFiles &files = {});

// The same within a larger document: the rule whose fields `rule` reads (its errors go to the
// document's list), if it has none.
std::optional<Rule> read_rule(const Fields &rule, const MatchFiles &files = {});

// Runtime rules (ratelimitctl, the runtime rule file) are named by their prefix: one each. Why
// `rule` cannot be one, if it cannot.
std::optional<std::string> runtime_rule_problem(const Rule &rule);

// What a limit's "per": "/N" is counted against.
struct PerScope {
    bool in_default = false; // the config's "default" covers both families: "/N" means nothing
    std::optional<std::span<const Prefix>> match; // the rule's prefixes; none when invalid
    // A "match_file" rule named only (MatchFiles::Use::Name): "/N" is kept as N bits unchecked,
    // as rule_to_json wrote it against the prefixes the writer had.
    bool listed_file = false;
};

// The limits of a rule or of the config's "default": one limit written on the owner itself, or a
// list of them in "limits".
std::vector<LimitSpec> read_limits(const Fields &owner, const PerScope &scope);

// Finds the rules of a list that name a prefix an earlier one named (the same prefix in two rules
// is refused, as it always was; within one rule it is taken once), compared parsed, so that
// 10.0.0.0/8 and ::ffff:10.0.0.0/104 are one prefix: which of the two would be enforced could not
// be told from the document.
class DistinctPrefixes
{
  public:
    // False, with an error at LIST[index].match ("... is the same prefix as rules[0]", or at
    // .match_file), when an earlier rule of the list has one of `rule`'s prefixes.
    bool add(const Rule &rule, const std::string &list_path, std::size_t index, JsonErrors &errors);

  private:
    // By selector, then prefix: a rule's selector is looked up (and copied) once, not per prefix.
    std::map<Selector, std::map<Prefix, std::size_t>> first_index_;
};

// Finds the rules of a list that take a name an earlier one took.
class DistinctNames
{
  public:
    // False, with an error at LIST[index].name ("... is the name of rules[0] too"), when an
    // earlier rule of the list has `rule`'s name; true for an unnamed rule.
    bool add(const Rule &rule, const std::string &list_path, std::size_t index, JsonErrors &errors);

  private:
    std::map<std::string, std::size_t, std::less<>> first_index_;
};

// ----- names ---------------------------------------------------------
// A name is 1 to kMaxNameBytes of a-z, 0-9, '_', '.' and '-', and not only digits and dots. No
// name then reads as an address or a prefix (those have ':' or '/', or are digits and dots), so
// that a word naming a runtime rule (ratelimitctl unset WORD) is a prefix if it reads as one and
// a name otherwise, never both.

// Why `name` cannot be a rule's name, if it cannot ("\"DNS\" has 'D' at 1: ...").
std::optional<std::string> explain_bad_name(std::string_view name);

// How a runtime rule is named by an operator: its prefix, or its name.
using RuleRef = std::variant<Prefix, std::string>;
// A prefix if `text` reads as one (or looks like one: then why it is not a valid one), else a
// name (or why it is not a valid one).
Parsed<RuleRef> read_rule_ref(std::string_view text);
// The prefix as to_string writes it, or the name.
std::string to_string(const RuleRef &ref);

// ----- writing -------------------------------------------------------

// A rule object that parses back to an equal rule (a "match_file" rule: given the same file), its
// match written canonically (10.0.0.0/08 and ::ffff:10.0.0.0/104 as 10.0.0.0/8, 192.0.2.1/32 as
// 192.0.2.1; several as a list, a file's as "match_file" alone). Every limit is written as
// its own entry of "limits", rates and bursts as numbers in base units (packets or bytes, per
// second for rates) and "per" as "source", "rule" or "/N"; "mode", "force", "comment" and "ban"
// only when set ("ban" with its durations as format_duration spells them, and "scope").
nlohmann::json rule_to_json(const Rule &rule);

// The "limits" list of rule_to_json, for limits on `match` (the config's default: any prefix).
nlohmann::json limits_to_json(const std::vector<LimitSpec> &limits, const Prefix &match);

// A rule's "ban" as rule_to_json writes it.
nlohmann::json ban_to_json(const BanSpec &ban);

// A selector's fields as rule_to_json writes them ("proto" by name when it has one, "port" as a
// number for one port, else as a canonical string like "80,443,27015-27030", "tcp_flags"), added
// to `object`; nothing for the catch-all.
void selector_to_json(const Selector &selector, nlohmann::json &object);

// A selector as tables show it: "all", "udp/53", "tcp/80,443 syn", "47".
std::string selector_text(const Selector &selector);

// A port set as written: "53", "80,443,27015-27030".
std::string ports_text(const std::vector<PortRange> &ports);

// A limit's "per" as written: "source", "rule", or "/N" in the bits of the rule's address family
// (`v4`: an IPv4 rule).
std::string per_name(const LimitSpec &limit, bool v4);

} // namespace ratelimit
