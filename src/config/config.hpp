// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The daemon's configuration: JSON text -> plain structs, validated as a whole so that one run
// reports every problem, each naming the field's path, the value and why it is refused. Nothing
// here touches the kernel; the one question about the system (does an interface exist) is asked
// through a callback. Units are spelled as in units.hpp; configs/ratelimitd.json uses every field.
//
// Top level: "interfaces" (required: 1 .. 32 of {"name", "xdp_mode": auto|native|generic}),
// "mode" (enforce|monitor), "default" (a limit, or {"limits": [...]}, for sources no rule
// matches; "per" there is "source" or "rule"), "rules", "max_sources", "max_rules",
// "drop_malformed", "control" {"socket", "group"}, "metrics" {"enabled", "listen": HOST:PORT},
// "state_dir", "pin_dir", "keep_attached_on_exit", "log_level".
// A rule: {"match": prefix or bare address, "action": limit (default)|allow|deny,
// "mode": enforce|monitor, "comment": text (at most kMaxCommentBytes, no control characters),
// "force": true to take a deny of a whole address family (0.0.0.0/0, ::/0), and for "limit" one
// limit written on the rule itself or "limits": a list of them}. A limit: "rate" (packets/s) with
// "burst" (packets, default one second's worth) and/or "bytes" (a byte rate) with "byte_burst"
// (default one second's worth, at least 1518 bytes), and "per": "source" (default), "rule", or "/N"
// within the rule's address family. Each rate is one LimitSpec; a rule holds at most RL_MAX_LIMITS
// of them. A bare JSON number is in the base unit: packets per second, bytes per second, packets or
// bytes.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "json/reader.hpp"
#include "net/address.hpp"
#include "policy/rule.hpp"

namespace ratelimit::config
{

// A byte bucket smaller than one full-size Ethernet frame could never pass such a frame.
inline constexpr std::uint64_t kMinByteBurst = 1518;
inline constexpr std::uint32_t kMinSources = 1024, kMaxSources = 1u << 27;
inline constexpr std::uint32_t kMinRules = 16, kMaxRules = 1u << 20;
// The largest config (or runtime rule file) read: kMaxRules rules of up to 256 bytes each.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{kMaxRules} * 256;
inline constexpr std::size_t kMaxCommentBytes = 200;

enum class XdpMode { Auto, Native, Generic };
enum class Mode { Enforce, Monitor };

struct Interface {
    std::string name;
    XdpMode xdp_mode = XdpMode::Auto;
    bool operator==(const Interface &) const = default;
};

struct Rule {
    Prefix match;
    rl_action action = RL_ACTION_LIMIT;
    std::vector<LimitSpec> limits; // RL_ACTION_LIMIT: 1 .. RL_MAX_LIMITS; else empty
    bool monitor = false;          // count would-be drops of this rule, pass everything
    std::string text;              // the match as written, for error messages
    bool force = false;            // taken although it denies a whole address family
    std::string comment{};         // the operator's note, shown by ratelimitctl list
    // The same rule however its match was spelled: `text` is left out.
    bool operator==(const Rule &other) const
    {
        return match == other.match && action == other.action && limits == other.limits &&
               monitor == other.monitor && force == other.force && comment == other.comment;
    }
};

struct Config {
    struct Control {
        std::string socket = "/run/ratelimitd/ratelimitd.sock";
        std::string group; // empty: root only
        bool operator==(const Control &) const = default;
    };
    struct Metrics {
        bool enabled = true;
        std::string listen = "127.0.0.1:9469";
        bool operator==(const Metrics &) const = default;
    };

    std::vector<Interface> interfaces;
    Mode mode = Mode::Enforce;
    std::vector<LimitSpec> default_limits; // for sources no rule matches; empty: no default
    std::vector<Rule> rules;
    std::uint32_t max_sources = 1'000'000;
    std::uint32_t max_rules = RL_DEFAULT_MAX_RULES; // the program's own capacity
    bool drop_malformed = false;
    Control control;
    Metrics metrics;
    std::string state_dir = "/var/lib/ratelimitd";
    std::string pin_dir = "/sys/fs/bpf/ratelimitd";
    bool keep_attached_on_exit = false;
    std::string log_level = "info"; // trace, debug, info, warn, error, critical or off
    bool operator==(const Config &) const = default;
};

// A path ("rules[3].match"; empty for the file as a whole) and what is wrong there.
using ConfigError = JsonError;

struct ParseResult {
    std::optional<Config> config; // set exactly when there are no errors
    std::vector<ConfigError> errors;
};

struct RuleResult {
    std::optional<Rule> rule; // set exactly when there are no errors
    std::vector<ConfigError> errors;
};

using InterfaceExists = std::function<bool(const std::string &name)>;

ParseResult parse_config(std::string_view json_text, const InterfaceExists &interface_exists);
// An unreadable file is one error with an empty path naming the file and the system's reason.
// The file and its directory must be trusted (sys/trusted_file.hpp: owned by root, writable by
// no one else); a symbolic link is followed, and its target's directory must be trusted too.
ParseResult load_config_file(const std::string &file, const InterfaceExists &interface_exists);

// `text` as error messages quote a value: a JSON string, escaping what a terminal should not see
// raw.
std::string quote(std::string_view text);

// Why `level` is not one of the log levels that "log_level" and `ratelimitd --log-level` accept
// (trace, debug, info, warn, error, critical, off: lowercase), if it is not.
std::optional<std::string> explain_bad_log_level(std::string_view level);

// One rule object exactly as in "rules" (e.g. one added at run time), with `path` ("runtime",
// "rules[2]") naming it in errors. Duplicates among rules are the caller's to find.
RuleResult parse_rule(const nlohmann::json &rule, const std::string &path);

} // namespace ratelimit::config
