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
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apply_file.hpp"
#include "client.hpp"
#include "command_table.hpp"
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
using ctl::add;
using ctl::allow_or_deny_command;
using ctl::choices;
using ctl::Inputs;
using ctl::set_command;
using ctl::Subcommand;
using ctl::typed_names;
using ctl::unset_command;
using ctl::without_args;

enum ExitCode { kDone = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

constexpr char kSocketVariable[] = "RATELIMITCTL_SOCKET";
constexpr double kMaxTimeoutSeconds = 3600;

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

Subcommand stats_command(CLI::App &app, Inputs &in)
{
    CLI::App *stats =
        add(app, Command::Stats, "packets and bytes by interface, reason and verdict, or by rule",
            "ratelimitctl stats --rules");
    stats->add_flag("--rules", in.rules,
                    "by named rule instead (the unnamed ones together), as in /metrics");
    return {Command::Stats, stats,
            [&in] { return control::encode_args(control::StatsArgs{in.rules}); }};
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

// apply: the changes are the file's (apply_file.hpp), sent in parts on one connection.
Subcommand apply_command(CLI::App &app, Inputs &in)
{
    CLI::App *apply =
        add(app, Command::Apply,
            "make many runtime rule changes at once, all or none: a file of set, allow, deny and "
            "unset lines (or a JSON array)",
            "ratelimitctl apply -f denies.txt   # lines like: deny 198.51.100.7 --ttl 1h");
    apply->add_option("-f,--file", in.file, "the file of changes; - reads them from stdin")
        ->required();
    apply->footer(apply->get_footer() +
                  "\nA line is a set, allow, deny or unset command with its arguments, as on the "
                  "command line; # starts a comment. A JSON array holds objects like {\"op\": "
                  "\"deny\", \"match\": \"198.51.100.7\", \"ttl\": \"1h\"}. Every bad line is "
                  "named and nothing is sent; the daemon applies all the changes or none.");
    return {Command::Apply, apply, [] { return json::object(); }};
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
        apply_command(app, in),
        show_command(app, in),
        top_command(app, in),
        stats_command(app, in),
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

// The changes `file` holds (- is stdin). Throws control::RequestError naming every bad line.
std::vector<control::ApplyChange> changes_of_file(const std::string &file)
{
    std::ostringstream text;
    if (file == "-") {
        text << std::cin.rdbuf();
    } else {
        std::ifstream in(file, std::ios::binary);
        if (!in)
            throw control::RequestError(control::ErrorCode::BadRequest,
                                        "cannot read " + file + ": " + std::strerror(errno));
        text << in.rdbuf();
    }
    ctl::FileChanges read = ctl::read_changes(text.str());
    const std::string name = file == "-" ? "stdin" : file;
    if (!read.errors.empty()) {
        std::string message = name + ": " + std::to_string(read.errors.size()) +
                              (read.errors.size() == 1 ? " bad change" : " bad changes") +
                              ", nothing sent:";
        for (const auto &error : read.errors)
            message += "\n  " + error;
        throw control::RequestError(control::ErrorCode::BadRequest, message);
    }
    if (read.changes.empty())
        throw control::RequestError(control::ErrorCode::BadRequest, name + " holds no changes");
    return std::move(read.changes);
}

// Sends `changes` as the parts of one apply on one connection and returns the last part's
// result; throws ctl::Unreachable or Refused (the daemon then applied none of them).
json ask_apply(const std::string &socket, std::vector<control::ApplyChange> changes,
               std::chrono::milliseconds timeout)
{
    ctl::Session session(socket, timeout);
    json result;
    std::uint64_t id = 1;
    for (const control::ApplyArgs &part : control::split_into_parts(std::move(changes))) {
        control::Response response =
            session.call({id++, Command::Apply, control::encode_args(part)});
        if (const auto *error = std::get_if<control::Error>(&response.outcome))
            throw Refused{*error};
        result = std::get<json>(std::move(response.outcome));
    }
    return result;
}

// unset --all: given --yes, or confirmed on the terminal. Throws control::RequestError if not.
void confirm_unset_all(bool yes)
{
    if (yes)
        return;
    if (!::isatty(STDIN_FILENO))
        throw control::RequestError(control::ErrorCode::BadRequest,
                                    "--all removes every runtime rule: give --yes too (stdin is "
                                    "not a terminal to ask on)");
    std::cerr << "Remove every runtime rule? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes")
        throw control::RequestError(control::ErrorCode::BadRequest,
                                    "not confirmed: no runtime rule removed");
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
    // apply and unset --all: sent as the parts of an apply.
    std::optional<std::vector<control::ApplyChange>> changes;
    try {
        if (chosen.command == Command::Apply) {
            changes = changes_of_file(inputs.file);
        } else if (chosen.command == Command::Unset && inputs.all) {
            changes = {chosen.change()};
            confirm_unset_all(inputs.yes);
            request.command = Command::Apply;
        } else {
            request.args = chosen.args();
        }
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
        result = changes ? ask_apply(socket, std::move(*changes), timeout)
                         : ask(socket, request, timeout);
    } catch (const ctl::Unreachable &e) {
        std::cerr << "ratelimitctl: " << e.what() << "\n";
        return kUnreachable;
    } catch (const Refused &refused) {
        const std::string code(control::error_code_name(refused.error.code));
        if (as_json)
            std::cout << json{{"code", code}, {"message", refused.error.message}}.dump(2) << "\n";
        std::cerr << "ratelimitctl " << name << ": refused (" << code
                  << "): " << refused.error.message << "\n";
        if (changes)
            std::cerr << "ratelimitctl " << name << ": nothing was applied\n";
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
        ctl::render(request.command, result, std::cout);
    } catch (const std::runtime_error &e) {
        return unreadable_answer(e);
    }
    return kDone;
}
