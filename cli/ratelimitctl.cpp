// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitctl: drives ratelimitd over its control socket.
//
//   ratelimitctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS...]
//
// Exit codes: 0 done, 1 refused by the daemon, 2 usage error, 3 daemon unreachable.

#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "control/protocol.hpp"
#include "render.hpp"

namespace
{

using nlohmann::json;
using ratelimit::control::Command;
namespace control = ratelimit::control;
namespace ctl = ratelimit::ctl;

enum ExitCode { kDone = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

// What the subcommands' arguments and options are parsed into (one subcommand runs).
struct Inputs {
    std::string prefix, address;
    std::string rate, burst, bytes, byte_burst, per, ttl;
    std::uint32_t count = 0;
    std::string by;
    bool all = false;
};

// A subcommand, and how what it parsed becomes its request's "args": decoded and encoded again
// exactly as the daemon will decode them, so that bad input is a usage error here.
struct Subcommand {
    Command command;
    CLI::App *app;
    std::function<json()> args;
};

CLI::App *add(CLI::App &app, Command command, const std::string &description,
              const std::string &example)
{
    CLI::App *sub = app.add_subcommand(std::string(control::command_name(command)), description);
    sub->footer("Example:\n  " + example);
    return sub;
}

json without_args()
{
    return json::object();
}

// set, allow and deny: a rule object as the config file states it, and its TTL.
std::function<json()> runtime_rule_args(Command command, const Inputs &in)
{
    return [command, &in] {
        json rule = {{"match", in.prefix}};
        const std::pair<const char *, const std::string &> fields[] = {
            {"rate", in.rate},   {"burst", in.burst},
            {"bytes", in.bytes}, {"byte_burst", in.byte_burst},
            {"per", in.per},     {"ttl", in.ttl}};
        for (const auto &[key, value] : fields)
            if (!value.empty())
                rule[key] = value;
        return control::encode_args(control::decode_runtime_rule_args(command, rule));
    };
}

void add_ttl(CLI::App *sub, Inputs &in)
{
    sub->add_option("--ttl", in.ttl, "remove the rule after this long: 30s, 15m, 2h, 7d");
}

std::vector<Subcommand> add_subcommands(CLI::App &app, Inputs &in)
{
    std::vector<Subcommand> subs;

    subs.push_back({Command::Status,
                    add(app, Command::Status,
                        "version, uptime, interfaces and XDP mode, config and last reload, totals, "
                        "tracked sources",
                        "ratelimitctl status"),
                    without_args});

    subs.push_back({Command::List,
                    add(app, Command::List,
                        "rules in force: the default, config rules and runtime rules apart",
                        "ratelimitctl list --json"),
                    without_args});

    CLI::App *set = add(app, Command::Set,
                        "add or change a runtime limit for a prefix (it wins over a config rule "
                        "for the same prefix while it exists)",
                        "ratelimitctl set 203.0.113.0/24 --rate 100pps --burst 200 --ttl 1h");
    set->add_option("PREFIX", in.prefix, "an IPv4 or IPv6 prefix, or one address")->required();
    set->add_option("--rate", in.rate, "packets per second: 100, 100pps, 1.5kpps");
    set->add_option("--burst", in.burst, "packets a full bucket admits (default: one second's)");
    set->add_option("--bytes", in.bytes, "byte rate: 10Mbit, 125kB/s");
    set->add_option("--byte-burst", in.byte_burst, "bytes a full bucket admits: 256KiB");
    set->add_option("--per", in.per, "who shares a bucket: source (default), rule, or /N");
    add_ttl(set, in);
    subs.push_back({Command::Set, set, runtime_rule_args(Command::Set, in)});

    for (auto [command, verb] : {std::pair(Command::Allow, "never limit"),
                                 std::pair(Command::Deny, "drop every packet of")}) {
        const std::string name(control::command_name(command));
        CLI::App *sub = add(app, command, std::string(verb) + " a prefix, as a runtime rule",
                            "ratelimitctl " + name + " 198.51.100.7 --ttl 30m");
        sub->add_option("PREFIX", in.prefix, "an IPv4 or IPv6 prefix, or one address")->required();
        add_ttl(sub, in);
        subs.push_back({command, sub, runtime_rule_args(command, in)});
    }

    CLI::App *unset = add(app, Command::Unset, "remove the runtime rule for a prefix",
                          "ratelimitctl unset 203.0.113.0/24");
    unset->add_option("PREFIX", in.prefix, "the prefix the runtime rule is for")->required();
    subs.push_back(
        {Command::Unset, unset, [&in] {
             return control::encode_args(control::decode_unset_args({{"match", in.prefix}}));
         }});

    CLI::App *show = add(app, Command::Show,
                         "which rule applies to an address and why, its buckets and its traffic",
                         "ratelimitctl show 203.0.113.9");
    show->add_option("ADDRESS", in.address, "an IPv4 or IPv6 address")->required();
    subs.push_back(
        {Command::Show, show, [&in] {
             return control::encode_args(control::decode_show_args({{"address", in.address}}));
         }});

    CLI::App *top = add(app, Command::Top, "the heaviest sources now, summed over all CPUs",
                        "ratelimitctl top -n 20 --by bytes");
    CLI::Option *count = top->add_option("-n,--count", in.count, "how many sources (default 10)")
                             ->check(CLI::Range(1u, control::kMaxTopCount));
    CLI::Option *by =
        top->add_option("--by", in.by, "rank by drops (default), packets or bytes")
            ->check(CLI::IsMember(std::vector<std::string>(std::begin(control::kTopOrderNames),
                                                           std::end(control::kTopOrderNames))));
    subs.push_back({Command::Top, top, [&in, count, by] {
                        json args = json::object();
                        if (*count)
                            args["count"] = in.count;
                        if (*by)
                            args["by"] = in.by;
                        return control::encode_args(control::decode_top_args(args));
                    }});

    subs.push_back({Command::Stats,
                    add(app, Command::Stats, "packets and bytes by interface, reason and verdict",
                        "ratelimitctl stats"),
                    without_args});

    CLI::App *flush = add(app, Command::Flush,
                          "forget bucket state: the sources in a prefix start with full buckets",
                          "ratelimitctl flush 203.0.113.0/24");
    CLI::Option *prefix = flush->add_option("PREFIX", in.prefix, "forget the sources in it");
    flush->add_flag("--all", in.all, "forget every bucket, per-rule buckets too")->excludes(prefix);
    subs.push_back({Command::Flush, flush, [&in] {
                        if (!in.all && in.prefix.empty())
                            throw control::RequestError(control::ErrorCode::BadRequest,
                                                        "give a PREFIX or --all");
                        const json args = in.all ? json{{"all", true}} : json{{"match", in.prefix}};
                        return control::encode_args(control::decode_flush_args(args));
                    }});

    subs.push_back({Command::Reload,
                    add(app, Command::Reload,
                        "re-read the config file like SIGHUP, and say whether it was applied",
                        "ratelimitctl reload"),
                    without_args});
    return subs;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"ratelimitctl: drive ratelimitd, the XDP per-source rate limiter"};
    std::string socket = control::kDefaultSocket;
    bool as_json = false;
    double timeout_s = 30;
    app.add_option("--socket", socket, "the daemon's control socket")->capture_default_str();
    app.add_flag("--json", as_json, "print the daemon's result as JSON, for scripts");
    app.add_option("--timeout", timeout_s, "seconds to wait for the daemon's answer")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.set_version_flag("--version", std::string(RATELIMITD_VERSION));
    app.require_subcommand(1);
    app.fallthrough(); // --json and --socket after the command too
    app.footer("Exit codes: 0 done, 1 refused by the daemon, 2 usage error, 3 daemon "
               "unreachable.\nExample:\n  ratelimitctl status");
    Inputs inputs;
    const std::vector<Subcommand> subs = add_subcommands(app, inputs);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? kDone : kUsage;
    }
    const Subcommand &chosen =
        *std::ranges::find_if(subs, [](const Subcommand &sub) { return sub.app->parsed(); });
    const std::string name(control::command_name(chosen.command));

    control::Request request{1, chosen.command, json::object()};
    try {
        request.args = chosen.args();
    } catch (const control::RequestError &e) {
        std::cerr << "ratelimitctl " << name << ": " << e.what()
                  << "\nRun with --help for more information.\n";
        return kUsage;
    }

    control::Response response;
    try {
        const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::duration<double>(timeout_s));
        response = ctl::call(socket, request, timeout);
    } catch (const ctl::Unreachable &e) {
        std::cerr << "ratelimitctl: " << e.what() << "\n";
        return kUnreachable;
    }

    if (const auto *error = std::get_if<control::Error>(&response.outcome)) {
        const std::string code(control::error_code_name(error->code));
        if (as_json)
            std::cout << json{{"code", code}, {"message", error->message}}.dump(2) << "\n";
        std::cerr << "ratelimitctl " << name << ": refused (" << code << "): " << error->message
                  << "\n";
        return kRefused;
    }
    const json &result = std::get<json>(response.outcome);
    if (as_json) {
        std::cout << result.dump(2) << "\n";
        return kDone;
    }
    try {
        ctl::render(chosen.command, result, std::cout);
    } catch (const json::exception &e) {
        std::cerr << "ratelimitctl: the daemon's answer lacks what " << name
                  << " shows (is it another version?): " << e.what() << "\n";
        return kUnreachable;
    }
    return kDone;
}
