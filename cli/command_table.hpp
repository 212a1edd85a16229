// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitctl's subcommands, built on CLI11: what one parses its words into, and how that
// becomes its request's "args", decoded and encoded again exactly as the daemon will decode them,
// so that bad input is a usage error here. The subcommands that change runtime rules (set, allow,
// deny, unset) live here: ratelimitctl's command line and the lines of `apply -f FILE`
// (apply_file.hpp) are parsed by the same ones.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "control/protocol.hpp"

namespace ratelimit::ctl
{

// What the subcommands' arguments and options are parsed into (one subcommand runs). The
// options of a rule (set, allow, deny) are read back from the subcommand itself.
struct Inputs {
    std::string prefix, address;
    std::map<std::string, std::string> rule_options; // by option name
    bool force = false;
    std::uint32_t count = 0;
    std::string by;
    std::string interval = "1s";
    bool watch = false;
    bool all = false;
    bool yes = false;
    bool rules = false;
    std::string file;
};

// A subcommand, and how what it parsed becomes its request's "args". Those that change runtime
// rules also say which change they make, as apply sends it (its line left 0); throws
// control::RequestError, like `args`, for input the daemon would refuse.
struct Subcommand {
    control::Command command;
    CLI::App *app;
    std::function<nlohmann::json()> args;
    std::function<control::ApplyChange()> change = {};
};

// The arguments as the user typed them, for error messages: PREFIX and --rate, not the request's
// args.match and args.rate.
control::ArgNamer typed_names(const CLI::App *sub);

// "drops (default), packets or bytes": the choices, the first of them the default.
std::string choices(const std::vector<std::string_view> &names, std::string_view last);

// A subcommand of `app` named after `command`, its help ending with `example`.
CLI::App *add(CLI::App &app, control::Command command, const std::string &description,
              const std::string &example);

// status, list, stats and reload: no arguments.
Subcommand without_args(CLI::App &app, control::Command command, const std::string &description,
                        const std::string &example);

Subcommand set_command(CLI::App &app, Inputs &in);
// allow and deny: a prefix, and for deny the mode and --force.
Subcommand allow_or_deny_command(CLI::App &app, control::Command command, const std::string &verb,
                                 Inputs &in);
// unset PREFIX, or unset --all (which is sent as an apply: the unset request names one prefix).
Subcommand unset_command(CLI::App &app, Inputs &in);

} // namespace ratelimit::ctl
