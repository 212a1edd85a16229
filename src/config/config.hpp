// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The daemon's configuration: JSON text -> plain structs, validated as a whole so that one run
// reports every problem, each naming the field's path, the value and why it is refused. Nothing
// here touches the kernel; the one question about the system (does an interface exist) is asked
// through a callback. configs/ratelimitd.json uses every field.
//
// Top level: "interfaces" (required: 1 .. 32 of {"name", "xdp_mode": auto|native|generic}),
// "mode" (enforce|monitor), "default" (a limit, or {"limits": [...]}, for sources no rule
// matches; "per" there is "source" or "rule"), "rules" (rule objects, policy/rule_json.hpp),
// "max_sources", "max_rules", "max_prefixes", "max_bans", "drop_malformed", "control" {"socket",
// "group"}, "metrics"
// {"enabled", "listen": HOST:PORT}, "state_dir", "pin_dir", "keep_attached_on_exit", "log_level".

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "json/validated.hpp"
#include "net/address.hpp"
#include "policy/rule.hpp"

namespace ratelimit::config
{

inline constexpr std::uint32_t kMinSources = 1024, kMaxSources = 1u << 27;
inline constexpr std::uint32_t kMinRules = 16, kMaxRules = 1u << 20;
// Prefixes of all rules together (the trie: never preallocated, so room costs nothing unused).
inline constexpr std::uint32_t kMinPrefixes = 16, kMaxPrefixes = 1u << 24;
// Bans at once (the bans map, never evicted: full, it refuses new bans).
inline constexpr std::uint32_t kMinBans = 16, kMaxBans = 1u << 22;
// The largest config (or runtime rule file) read: kMaxRules rules of up to 256 bytes each.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{kMaxRules} * 256;
// Where the daemon listens and ratelimitctl connects unless told otherwise.
inline constexpr char kDefaultSocket[] = "/run/ratelimitd/ratelimitd.sock";

// A rule's limit, which ratelimitctl's help states as the config's.
using ratelimit::kMaxCommentBytes;
using ratelimit::Mode;
using ratelimit::XdpMode;

struct Interface {
    std::string name;
    XdpMode xdp_mode = XdpMode::Auto;
    bool operator==(const Interface &) const = default;
};

struct Config {
    struct Control {
        std::string socket = kDefaultSocket;
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
    std::uint32_t max_prefixes = RL_DEFAULT_MAX_PREFIXES;
    std::uint32_t max_bans = RL_DEFAULT_MAX_BANS;
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

using ParseResult = Validated<Config>;

using InterfaceExists = std::function<bool(const std::string &name)>;
// The text of the file a rule's "match_file" names; throws saying why it cannot be read.
using ReadMatchFile = std::function<std::string(const std::string &path)>;

// A "match_file" as the daemon reads it, at start and on every reload: a trusted regular file
// (sys/trusted_file.hpp, links followed; not a FIFO or a device) of at most kMaxPrefixFileBytes.
std::string read_match_file(const std::string &path);

ParseResult parse_config(std::string_view json_text, const InterfaceExists &interface_exists,
                         const ReadMatchFile &read_file = read_match_file);
// An unreadable file is one error with an empty path naming the file and the system's reason.
// The file and its directory must be trusted (sys/trusted_file.hpp: owned by root, writable by
// no one else); a symbolic link is followed, and its target's directory must be trusted too.
ParseResult load_config_file(const std::string &file, const InterfaceExists &interface_exists,
                             const ReadMatchFile &read_file = read_match_file);

// Why `level` is not one of the log levels that "log_level" and `ratelimitd --log-level` accept
// (trace, debug, info, warn, error, critical, off: lowercase), if it is not.
std::optional<std::string> explain_bad_log_level(std::string_view level);

} // namespace ratelimit::config
