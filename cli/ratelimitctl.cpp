// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitctl: drives ratelimitd over its control socket.
//
//   ratelimitctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS...]
//
// The socket is --socket, else $RATELIMITCTL_SOCKET, else the daemon's default.
// Exit codes: 0 done, 1 refused by the daemon, 2 usage error, 3 daemon unreachable.

#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.hpp"
#include "json/suggest.hpp"
#include "policy/units.hpp"
#include "control/protocol.hpp"
#include "control/results.hpp"
#include "policy/names.hpp"
#include "render.hpp"

namespace
{

using nlohmann::json;
using ratelimit::control::Command;
namespace control = ratelimit::control;
namespace ctl = ratelimit::ctl;
namespace config = ratelimit::config;

enum ExitCode { kDone = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

constexpr char kSocketVariable[] = "RATELIMITCTL_SOCKET";
constexpr double kMaxTimeoutSeconds = 3600;

// What the subcommands' arguments and options are parsed into (one subcommand runs). The
// options of a rule (set, allow, deny) are read back from the subcommand by rule_fields.
struct Inputs {
    std::string prefix, address;
    std::map<std::string, std::string> rule_options; // by option name
    bool force = false;
    std::uint32_t count = 0;
    std::string by;
    std::string interval = "1s";
    bool watch = false;
    bool all = false;
};

// A subcommand, and how what it parsed becomes its request's "args": decoded and encoded again
// exactly as the daemon will decode them, so that bad input is a usage error here.
struct Subcommand {
    Command command;
    CLI::App *app;
    std::function<json()> args;
};

// An option's long name is the field of the request it sets, with dashes: --byte-burst sets
// "byte_burst".
std::string field_of(const CLI::Option &option)
{
    std::string field = option.get_lnames().front();
    std::ranges::replace(field, '-', '_');
    return field;
}

// The arguments as the user typed them, for error messages: PREFIX and --rate, not the request's
// args.match and args.rate.
std::string typed_name(const CLI::App &sub, std::string_view path)
{
    static const std::map<std::string_view, std::string_view> kPositional = {
        {"match", "PREFIX"}, {"address", "ADDRESS"}};
    if (path.empty())
        return "the arguments";
    if (auto found = kPositional.find(path); found != kPositional.end())
        return std::string(found->second);
    std::string flat(path); // "ban.after" is set by --ban-after
    std::ranges::replace(flat, '.', '_');
    for (const CLI::Option *option : sub.get_options())
        if (!option->get_lnames().empty() && field_of(*option) == flat)
            return "--" + option->get_lnames().front();
    return std::string(path);
}

control::ArgNamer typed_names(const CLI::App *sub)
{
    return [sub](std::string_view path) { return typed_name(*sub, path); };
}

// The rule object as the config file states it: PREFIX as its "match", and each option given as
// the field it names; a flag is true.
json rule_fields(const CLI::App &sub, const std::string &prefix)
{
    json rule = {{"match", prefix}};
    for (const CLI::Option *option : sub.get_options()) {
        if (option->get_lnames().empty() || option->count() == 0 || option == sub.get_help_ptr())
            continue;
        if (option->get_expected_min() == 0) {
            if (option->as<bool>())
                rule[field_of(*option)] = true;
        } else if (const std::string &value = option->results().front(); !value.empty())
            rule[field_of(*option)] = value;
    }
    return rule;
}

// "drops (default), packets or bytes": the choices, the first of them the default.
std::string choices(const std::vector<std::string_view> &names, std::string_view last)
{
    std::string text = std::string(names.front()) + " (default)";
    for (std::size_t i = 1; i < names.size(); i++)
        text += std::string(i + 1 == names.size() ? last : ", ") + std::string(names[i]);
    return text;
}

template <typename T, std::size_t N>
std::vector<std::string_view> names_of(const ratelimit::Spellings<T, N> &table)
{
    std::vector<std::string_view> names;
    for (const auto &entry : table)
        names.push_back(entry.name);
    return names;
}

CLI::App *add(CLI::App &app, Command command, const std::string &description,
              const std::string &example)
{
    CLI::App *sub = app.add_subcommand(std::string(control::command_name(command)), description);
    sub->footer("Example:\n  " + example);
    return sub;
}

// status, list, stats and reload: no arguments.
Subcommand without_args(CLI::App &app, Command command, const std::string &description,
                        const std::string &example)
{
    return {command, add(app, command, description, example), [] { return json::object(); }};
}

// ----- set, allow, deny, unset: the runtime rules ----------------------

// An option of a rule, read back by rule_fields.
void add_rule_option(CLI::App *sub, Inputs &in, const std::string &name, const std::string &help)
{
    sub->add_option(name, in.rule_options[name], help);
}

void add_prefix(CLI::App *sub, Inputs &in)
{
    sub->add_option("PREFIX", in.prefix, "an IPv4 or IPv6 prefix, or one address")->required();
}

void add_ttl(CLI::App *sub, Inputs &in)
{
    add_rule_option(sub, in, "--ttl", "remove the rule after this long: 30s, 15m, 2h, 1h30m, 7d");
    add_rule_option(sub, in, "--comment",
                    "a note shown by list (at most " + std::to_string(config::kMaxCommentBytes) +
                        " bytes, one line)");
}

void add_mode(CLI::App *sub, Inputs &in)
{
    add_rule_option(sub, in, "--mode",
                    choices(names_of(ratelimit::kModeNames), ", or ") +
                        ": count what it would drop, drop nothing");
}

// --ban-after, --ban-for and --ban-scope as the rule's "ban" object.
void nest_ban(json &rule)
{
    for (const char *field : {"after", "for", "scope"}) {
        const std::string option = std::string("ban_") + field;
        if (rule.contains(option)) {
            rule["ban"][field] = rule[option];
            rule.erase(option);
        }
    }
}

// A rule object from the options given, and its TTL, as `command` sends it.
Subcommand runtime_rule_command(Command command, CLI::App *sub, const Inputs &in)
{
    return {command, sub, [command, sub, &in] {
                json rule = rule_fields(*sub, in.prefix);
                nest_ban(rule);
                if (command == Command::Set && !rule.contains("rate") && !rule.contains("bytes"))
                    throw control::RequestError(
                        control::ErrorCode::InvalidRule,
                        "give --rate (packets per second), --bytes or both");
                return control::encode_args(
                    control::decode_runtime_rule_args(command, rule, typed_names(sub)));
            }};
}

Subcommand set_command(CLI::App &app, Inputs &in)
{
    CLI::App *set = add(app, Command::Set,
                        "add or change a runtime limit for a prefix (it wins over a config rule "
                        "for the same prefix while it exists)",
                        "ratelimitctl set 203.0.113.0/24 --rate 100pps --burst 200 --ttl 1h");
    add_prefix(set, in);
    add_rule_option(set, in, "--rate", "packets per second: 100, 100pps, 1.5kpps");
    add_rule_option(set, in, "--burst", "packets a full bucket admits (default: one second's)");
    add_rule_option(set, in, "--bytes", "byte rate: 10Mbit, 125kB/s");
    add_rule_option(set, in, "--byte-burst", "bytes a full bucket admits: 256KiB");
    std::vector<std::string_view> per = names_of(ratelimit::kPerNames);
    per.push_back("/N"); // the form with a number (policy/names.hpp)
    add_rule_option(set, in, "--per", "who shares a bucket: " + choices(per, ", or "));
    add_mode(set, in);
    add_rule_option(set, in, "--ban-after",
                    "ban a source that keeps exceeding the rule for this long (with --ban-for)");
    add_rule_option(set, in, "--ban-for", "how long such a ban lasts (doubled for a repeat)");
    add_rule_option(set, in, "--ban-scope",
                    choices(names_of(ratelimit::kBanScopeNames), " or ") +
                        ": whether a ban drops the rule's traffic or all of it");
    add_ttl(set, in);
    return runtime_rule_command(Command::Set, set, in);
}

// allow and deny: a prefix, and for deny the mode and --force.
Subcommand allow_or_deny_command(CLI::App &app, Command command, const std::string &verb,
                                 Inputs &in)
{
    const std::string name(control::command_name(command));
    CLI::App *sub = add(app, command, verb + " a prefix, as a runtime rule",
                        "ratelimitctl " + name + " 198.51.100.7 --ttl 30m");
    add_prefix(sub, in);
    add_ttl(sub, in);
    if (command == Command::Deny) {
        add_mode(sub, in);
        sub->add_flag("--force", in.force,
                      "take a deny of every source of a family (0.0.0.0/0, ::/0), which cuts "
                      "this host off");
    }
    return runtime_rule_command(command, sub, in);
}

Subcommand unset_command(CLI::App &app, Inputs &in)
{
    CLI::App *unset = add(app, Command::Unset, "remove the runtime rule for a prefix",
                          "ratelimitctl unset 203.0.113.0/24");
    unset->add_option("PREFIX", in.prefix, "the prefix the runtime rule is for")->required();
    return {Command::Unset, unset, [unset, &in] {
                return control::encode_args(
                    control::decode_unset_args({{"match", in.prefix}}, typed_names(unset)));
            }};
}

// ----- show, top, stats, flush: the data path --------------------------

Subcommand show_command(CLI::App &app, Inputs &in)
{
    CLI::App *show = add(app, Command::Show,
                         "which rule applies to an address and why, its buckets and its traffic",
                         "ratelimitctl show 203.0.113.9");
    show->add_option("ADDRESS", in.address, "an IPv4 or IPv6 address")->required();
    return {Command::Show, show, [show, &in] {
                return control::encode_args(
                    control::decode_show_args({{"address", in.address}}, typed_names(show)));
            }};
}

Subcommand top_command(CLI::App &app, Inputs &in)
{
    CLI::App *top = add(app, Command::Top,
                        "the heaviest sources, summed over all CPUs, with their rates over an "
                        "interval",
                        "ratelimitctl top -n 20 --by bytes --interval 5s --watch");
    CLI::Option *count = top->add_option("-n,--count", in.count, "how many sources (default 10)")
                             ->check(CLI::Range(1u, control::kMaxTopCount));
    const std::vector<std::string_view> orders(std::begin(control::kTopOrderNames),
                                               std::end(control::kTopOrderNames));
    CLI::Option *by =
        top->add_option("--by", in.by, "rank by " + choices(orders, " or "))
            ->check(CLI::IsMember(std::vector<std::string>(orders.begin(), orders.end())));
    top->add_option("--interval", in.interval,
                    "the window rates are over: sample, wait this long, sample (default 1s)");
    top->add_flag("--watch", in.watch,
                  "redraw every interval until Ctrl-C (or q on a terminal), like top(1)");
    return {Command::Top, top, [top, &in, count, by] {
                json args = json::object();
                if (*count)
                    args["count"] = in.count;
                if (*by)
                    args["by"] = in.by;
                return control::encode_args(control::decode_top_args(args, typed_names(top)));
            }};
}

Subcommand flush_command(CLI::App &app, Inputs &in)
{
    CLI::App *flush = add(app, Command::Flush,
                          "forget bucket state: the sources in a prefix start with full buckets",
                          "ratelimitctl flush 203.0.113.0/24");
    CLI::Option *prefix = flush->add_option("PREFIX", in.prefix, "forget the sources in it");
    flush->add_flag("--all", in.all, "forget every bucket, per-rule buckets too")->excludes(prefix);
    return {Command::Flush, flush, [flush, &in] {
                if (!in.all && in.prefix.empty())
                    throw control::RequestError(control::ErrorCode::BadRequest,
                                                "give a PREFIX or --all");
                const json args = in.all ? json{{"all", true}} : json{{"match", in.prefix}};
                return control::encode_args(control::decode_flush_args(args, typed_names(flush)));
            }};
}

// ----- bans, unban ----------------------------------------------------

Subcommand unban_command(CLI::App &app, Inputs &in)
{
    CLI::App *unban =
        add(app, Command::Unban, "lift the ban of a source (its offences are forgotten too)",
            "ratelimitctl unban 203.0.113.9");
    unban->add_option("ADDRESS", in.address, "the banned IPv4 or IPv6 address")->required();
    return {Command::Unban, unban, [unban, &in] {
                return control::encode_args(
                    control::decode_show_args({{"address", in.address}}, typed_names(unban)));
            }};
}

// Every command, in the order help lists them.
std::vector<Subcommand> add_subcommands(CLI::App &app, Inputs &in)
{
    return {
        without_args(app, Command::Status,
                     "version, uptime, interfaces and XDP mode, config and last reload, totals, "
                     "tracked sources",
                     "ratelimitctl status"),
        without_args(app, Command::List,
                     "rules in force: the default, config rules and runtime rules apart",
                     "ratelimitctl list --json"),
        set_command(app, in),
        allow_or_deny_command(app, Command::Allow, "never limit", in),
        allow_or_deny_command(app, Command::Deny, "drop every packet of", in),
        unset_command(app, in),
        show_command(app, in),
        top_command(app, in),
        without_args(app, Command::Stats, "packets and bytes by interface, reason and verdict",
                     "ratelimitctl stats"),
        flush_command(app, in),
        without_args(app, Command::Bans,
                     "sources banned now by a rule's \"ban\": since, until, offences",
                     "ratelimitctl bans --json"),
        unban_command(app, in),
        without_args(app, Command::Reload,
                     "re-read the config file like SIGHUP, and say whether it was applied",
                     "ratelimitctl reload"),
    };
}

// A refusal from the daemon, with what it said.
struct Refused {
    control::Error error;
};

// Asks the daemon; throws ctl::Unreachable or Refused.
json ask(const std::string &socket, control::Request request, std::chrono::milliseconds timeout)
{
    control::Response response = ctl::call(socket, request, timeout);
    if (const auto *error = std::get_if<control::Error>(&response.outcome))
        throw Refused{*error};
    return std::get<json>(std::move(response.outcome));
}

// Before CLI11 parses: the first word that is neither a global option nor an option's value.
std::optional<std::string> command_word(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const std::string_view arg = argv[i];
        if (arg == "--socket" || arg == "--timeout")
            i++;
        else if (!arg.starts_with('-'))
            return std::string(arg);
    }
    return std::nullopt;
}

bool asks_for_help_or_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        for (std::string_view flag : {"-h", "--help", "--version"})
            if (argv[i] == flag)
                return true;
    return false;
}

void print_commands(const std::vector<Subcommand> &subs, std::ostream &out)
{
    std::size_t width = 0;
    for (const auto &sub : subs)
        width = std::max(width, sub.app->get_name().size());
    out << "Commands:\n";
    for (const auto &sub : subs)
        out << "  " << sub.app->get_name()
            << std::string(width - sub.app->get_name().size() + 2, ' ')
            << sub.app->get_description() << "\n";
    out << "Run ratelimitctl COMMAND --help for a command's arguments.\n";
}

// `ratelimitctl`, `ratelimitctl help [COMMAND]` and a mistyped command, which CLI11 would only
// answer with "A subcommand is required". Returns the exit code if it answered.
std::optional<int> answer_without_a_command(const CLI::App &app,
                                            const std::vector<Subcommand> &subs, int argc,
                                            char **argv)
{
    const std::optional<std::string> word = command_word(argc, argv);
    if (!word && asks_for_help_or_version(argc, argv))
        return std::nullopt;
    std::vector<std::string_view> names;
    for (const auto &sub : subs)
        names.push_back(sub.app->get_name());
    if (word && std::ranges::find(names, *word) != names.end())
        return std::nullopt;
    if (word == "help") {
        // "help COMMAND": that command's help; else the overview.
        for (int i = 1; i + 1 < argc; i++)
            if (argv[i] == std::string_view("help"))
                for (const auto &sub : subs)
                    if (sub.app->get_name() == argv[i + 1]) {
                        std::cout << sub.app->help();
                        return kDone;
                    }
        std::cout << app.help();
        return kDone;
    }
    if (!word) {
        std::cerr << "ratelimitctl: give a command\n";
    } else {
        std::cerr << "ratelimitctl: unknown command \"" << *word << "\"";
        if (auto nearest = config::nearest_name(*word, names))
            std::cerr << "; did you mean \"" << *nearest << "\"?";
        std::cerr << "\n";
    }
    print_commands(subs, std::cerr);
    return kUsage;
}

// ----- top: two samples, or one every interval -----------------------

volatile sig_atomic_t quit_requested = 0;

extern "C" void request_quit(int)
{
    quit_requested = 1;
}

// While watching: Ctrl-C and SIGTERM end the loop (the terminal is restored first), and on a
// terminal a q without Enter does too.
class Watch
{
  public:
    Watch()
    {
        struct sigaction action {
        };
        action.sa_handler = request_quit; // no SA_RESTART: a wait ends at once
        for (int signal : {SIGINT, SIGTERM})
            ::sigaction(signal, &action, nullptr);
        if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios keys = saved_;
            keys.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            keys.c_cc[VMIN] = 0;
            keys.c_cc[VTIME] = 0;
            keys_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &keys) == 0;
        }
    }
    ~Watch()
    {
        if (keys_)
            ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    Watch(const Watch &) = delete;
    Watch &operator=(const Watch &) = delete;

    bool keys() const { return keys_; }

    // Waits `interval`; false if the user quit meanwhile.
    bool wait(std::chrono::milliseconds interval) const
    {
        const auto deadline = std::chrono::steady_clock::now() + interval;
        for (;;) {
            if (quit_requested)
                return false;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return true;
            pollfd key{STDIN_FILENO, POLLIN, 0};
            const int ready = ::poll(&key, keys_ ? 1 : 0, static_cast<int>(left.count()));
            char typed = 0;
            if (ready > 0 && ::read(STDIN_FILENO, &typed, 1) == 1 && (typed == 'q' || typed == 'Q'))
                return false;
        }
    }

  private:
    termios saved_{};
    bool keys_ = false;
};

std::string utc_now()
{
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

struct TopOptions {
    std::chrono::milliseconds interval{};
    bool watch = false;
    bool as_json = false;
};

// Rates are the CLI's, between two samples it takes `interval` apart: each caller has its own
// window, and the daemon keeps no state for it and never waits (its event loop serves others
// meanwhile). The first sample lists as many sources as the daemon will, so that the sources
// shown have a sample to compare with.
int run_top(const std::string &socket, json args, std::chrono::milliseconds timeout,
            const TopOptions &options)
{
    const std::size_t shown = args.at("count").get<std::size_t>();
    std::uint64_t id = 1;
    auto sample = [&](std::uint32_t count) {
        args["count"] = count;
        return control::decode_top_result(ask(socket, {id++, Command::Top, args}, timeout));
    };
    auto show = [&](const control::TopResult &earlier, const control::TopResult &later) {
        const ctl::TopRates rates = ctl::top_with_rates(earlier, later, shown);
        if (options.as_json) {
            const json result = ctl::encode_top_rates(rates);
            std::cout << (options.watch ? result.dump() : result.dump(2)) << "\n";
        } else {
            ctl::render(rates, std::cout);
        }
        std::cout.flush();
    };
    control::TopResult earlier = sample(control::kMaxTopCount);
    if (!options.watch) {
        std::this_thread::sleep_for(options.interval);
        show(earlier, sample(static_cast<std::uint32_t>(shown)));
        return kDone;
    }
    const Watch watch;
    const bool terminal = ::isatty(STDOUT_FILENO) && !options.as_json;
    while (watch.wait(options.interval)) {
        control::TopResult later = sample(control::kMaxTopCount);
        if (terminal)
            std::cout << "\033[H\033[2J"; // home, clear: redraw in place like top(1)
        if (!options.as_json)
            std::cout << "ratelimitctl top at " << utc_now() << ", every "
                      << config::format_duration(options.interval)
                      << (watch.keys() ? "; q or Ctrl-C quits" : "; Ctrl-C quits") << "\n\n";
        show(earlier, later);
        if (!terminal && !options.as_json)
            std::cout << "\n";
        earlier = std::move(later);
    }
    return kDone;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"ratelimitctl: drive ratelimitd, the XDP per-source rate limiter", "ratelimitctl"};
    std::string socket = control::kDefaultSocket;
    bool as_json = false;
    double timeout_s = 30;
    app.add_option("--socket", socket,
                   "the daemon's control socket (default: $" + std::string(kSocketVariable) +
                       ", else " + control::kDefaultSocket + ")")
        ->envname(kSocketVariable);
    app.add_flag("--json", as_json, "print the daemon's result as JSON, for scripts");
    app.add_option("--timeout", timeout_s, "seconds to wait for the daemon's answer")
        ->check(CLI::Range(0.001, kMaxTimeoutSeconds))
        ->capture_default_str();
    app.set_version_flag("--version", std::string(RATELIMITD_VERSION));
    app.require_subcommand(1);
    app.fallthrough(); // --json and --socket after the command too
    app.footer("Exit codes: 0 done, 1 refused by the daemon, 2 usage error, 3 daemon "
               "unreachable.\nEnvironment: " +
               std::string(kSocketVariable) +
               " names the socket (--socket wins).\nExample:\n  ratelimitctl status");
    Inputs inputs;
    const std::vector<Subcommand> subs = add_subcommands(app, inputs);
    if (auto answered = answer_without_a_command(app, subs, argc, argv))
        return *answered;
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? kDone : kUsage;
    }
    const Subcommand &chosen =
        *std::ranges::find_if(subs, [](const Subcommand &sub) { return sub.app->parsed(); });
    const std::string name(control::command_name(chosen.command));
    auto usage_error = [&name](const std::string &message) {
        std::cerr << "ratelimitctl " << name << ": " << message
                  << "\nRun with --help for more information.\n";
        return kUsage;
    };
    auto unreadable_answer = [&name](const std::runtime_error &e) {
        std::cerr << "ratelimitctl: the daemon's answer lacks what " << name
                  << " shows (is it another version?): " << e.what() << "\n";
        return kUnreachable;
    };

    control::Request request{1, chosen.command, json::object()};
    TopOptions top;
    try {
        request.args = chosen.args();
    } catch (const control::RequestError &e) {
        return usage_error(e.what());
    }
    if (chosen.command == Command::Top) {
        const auto interval = config::parse_duration(inputs.interval);
        if (!interval.value)
            return usage_error("--interval: " + interval.error);
        top = {*interval.value, inputs.watch, as_json};
    }

    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(timeout_s));
    json result;
    try {
        if (chosen.command == Command::Top)
            return run_top(socket, request.args, timeout, top);
        result = ask(socket, request, timeout);
    } catch (const ctl::Unreachable &e) {
        std::cerr << "ratelimitctl: " << e.what() << "\n";
        return kUnreachable;
    } catch (const Refused &refused) {
        const std::string code(control::error_code_name(refused.error.code));
        if (as_json)
            std::cout << json{{"code", code}, {"message", refused.error.message}}.dump(2) << "\n";
        std::cerr << "ratelimitctl " << name << ": refused (" << code
                  << "): " << refused.error.message << "\n";
        return kRefused;
    } catch (const std::runtime_error &e) {
        return unreadable_answer(e);
    }
    // The result as the daemon sent it: scripts see every field of its version, the ones this
    // ratelimitctl does not read too.
    if (as_json) {
        std::cout << result.dump(2) << "\n";
        return kDone;
    }
    try {
        ctl::render(chosen.command, result, std::cout);
    } catch (const std::runtime_error &e) {
        return unreadable_answer(e);
    }
    return kDone;
}
