// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitctl and the control socket end to end (see daemon_fixture.hpp): every command against
// a daemon in a private network namespace, as tables and as --json; runtime rules change the
// verdicts on the wire, survive a restart and a reload, and expire; other users are refused;
// broken, oversized and half-sent requests get errors while other clients keep being served.

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "control/server.hpp"
#include "daemon_fixture.hpp"

namespace ratelimit::test
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

constexpr uid_t kNobody = 65534;

struct CtlRun {
    int exit_code = -1;
    std::string out, err;

    json parsed() const { return json::parse(out); }
};

// A client writing the protocol by hand, to send what ratelimitctl never would.
class RawClient
{
  public:
    explicit RawClient(const fs::path &socket)
    {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, socket.c_str(), sizeof(address.sun_path) - 1);
        fd_.reset(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
        check(::connect(fd_.get(), reinterpret_cast<const sockaddr *>(&address), sizeof address),
              "connect to " + socket.string());
    }

    void send(std::string_view bytes)
    {
        while (!bytes.empty()) {
            ssize_t sent = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            check(static_cast<int>(sent), "send to the daemon");
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
    }

    void request(control::Command command, std::uint64_t id = 1)
    {
        send(control::encode(control::Request{id, command, json::object()}));
    }

    // The next line the daemon sends, decoded; nullopt if it hung up first or sent nothing
    // within `timeout`.
    std::optional<control::Response> response(std::chrono::milliseconds timeout = 5s)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto newline = buffer_.find('\n'); newline != std::string::npos) {
                std::string line = buffer_.substr(0, newline);
                buffer_.erase(0, newline + 1);
                return control::decode_response(line);
            }
            if (!wait_readable(deadline))
                return std::nullopt;
            char chunk[65536];
            ssize_t got = ::recv(fd_.get(), chunk, sizeof chunk, 0);
            if (got <= 0) // a close with our bytes unread is a reset: hung up all the same
                return std::nullopt;
            buffer_.append(chunk, static_cast<std::size_t>(got));
        }
    }

    // Whether the daemon hangs up within `timeout` (reading and dropping what it sends first).
    bool hung_up_within(std::chrono::milliseconds timeout)
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (wait_readable(deadline)) {
            char chunk[65536];
            if (::recv(fd_.get(), chunk, sizeof chunk, 0) <= 0)
                return true;
        }
        return false;
    }

  private:
    bool wait_readable(std::chrono::steady_clock::time_point deadline) const
    {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd_.get(), POLLIN, 0};
        return left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) > 0;
    }

    UniqueFd fd_;
    std::string buffer_;
};

class CtlTest : public DaemonTest
{
  protected:
    fs::path socket() const { return dir_.path() / "run/ratelimitd.sock"; }

    // `ratelimitctl --socket SOCKET args...`, run to its end.
    CtlRun ctl(const std::vector<std::string> &args)
    {
        std::vector<std::string> with_socket = {"--socket", socket().string()};
        with_socket.insert(with_socket.end(), args.begin(), args.end());
        return ctl_anywhere(with_socket);
    }

    // `ratelimitctl args...`, whichever socket they name.
    CtlRun ctl_anywhere(const std::vector<std::string> &args)
    {
        Process process = start_ctl(args, {});
        return finish(process);
    }

    // `ratelimitctl args...` started, with `environment` ("NAME=value") added to its own.
    Process start_ctl(const std::vector<std::string> &args,
                      const std::vector<std::string> &environment)
    {
        std::vector<std::string> argv = {"/usr/bin/env"};
        argv.insert(argv.end(), environment.begin(), environment.end());
        argv.push_back(RATELIMITCTL_PATH);
        argv.insert(argv.end(), args.begin(), args.end());
        auto [out, err] = output_files();
        return host_ns_->spawn(argv, out, err);
    }

    CtlRun finish(Process &process)
    {
        CtlRun run;
        run.exit_code = process.wait_for(20s).value_or(-1);
        run.out = process.stdout_text();
        run.err = process.stderr_text();
        return run;
    }

    // The result of a command that must succeed, from --json.
    json ctl_json(std::vector<std::string> args)
    {
        args.push_back("--json");
        CtlRun run = ctl(args);
        EXPECT_EQ(run.exit_code, 0) << run.err;
        return run.exit_code == 0 ? run.parsed() : json();
    }

    // ratelimitctl as a user other than root: `uid` and `gid`, no supplementary groups.
    CtlRun ctl_as(uid_t uid, gid_t gid, const std::vector<std::string> &args)
    {
        std::vector<std::string> argv = {RATELIMITCTL_PATH, "--socket", socket().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<char *> c_argv;
        for (auto &arg : argv)
            c_argv.push_back(arg.data());
        c_argv.push_back(nullptr);
        auto [out_path, err_path] = output_files();
        UniqueFd out(check(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644), "open"));
        UniqueFd err(check(::open(err_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644), "open"));
        pid_t pid = check(::fork(), "fork");
        if (pid == 0) {
            // Raw system calls only until exec: this process has threads, the child does not.
            if (::dup2(out.get(), STDOUT_FILENO) < 0 || ::dup2(err.get(), STDERR_FILENO) < 0 ||
                ::syscall(SYS_setgroups, 0, nullptr) != 0 || ::syscall(SYS_setgid, gid) != 0 ||
                ::syscall(SYS_setuid, uid) != 0)
                ::_exit(126);
            ::execv(c_argv[0], c_argv.data());
            ::_exit(127);
        }
        int status = 0;
        check(::waitpid(pid, &status, 0), "wait for ratelimitctl");
        CtlRun run;
        run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        run.out = read_file(out_path);
        run.err = read_file(err_path);
        return run;
    }

    // Lets users other than root reach the socket's directory, as /run/ratelimitd would be.
    void open_test_directory() const
    {
        fs::permissions(dir_.path(), fs::perms::others_exec | fs::perms::group_exec,
                        fs::perm_options::add);
    }

    // Runs a command that must be a usage error (exit 2) saying `says`.
    void expect_usage_error(const std::vector<std::string> &args, const std::string &says)
    {
        CtlRun run = ctl(args);
        EXPECT_EQ(run.exit_code, 2) << args[0];
        EXPECT_NE(run.err.find(says), std::string::npos) << run.err;
    }

    // The runtime rules as `list` reports them.
    json runtime_rules() { return ctl_json({"list"})["runtime"]; }

    // `ratelimitctl --socket SOCKET args...` reading its stdin from `input` (not a terminal).
    CtlRun ctl_with_stdin(const std::vector<std::string> &args, const fs::path &input)
    {
        std::string command =
            "exec " + std::string(RATELIMITCTL_PATH) + " --socket " + socket().string();
        for (const auto &arg : args)
            command += " '" + arg + "'";
        command += " < '" + input.string() + "'";
        auto [out, err] = output_files();
        Process process = host_ns_->spawn({"/bin/sh", "-c", command}, out, err);
        return finish(process);
    }

    // A file in the test's directory holding `text`.
    fs::path write_file(const std::string &name, const std::string &text) const
    {
        const fs::path path = dir_.path() / name;
        std::ofstream(path) << text;
        return path;
    }

  private:
    std::pair<fs::path, fs::path> output_files()
    {
        runs_++;
        return {dir_.path() / ("ctl" + std::to_string(runs_) + ".out"),
                dir_.path() / ("ctl" + std::to_string(runs_) + ".err")};
    }

    static std::string read_file(const fs::path &path)
    {
        std::ifstream in(path);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    int runs_ = 0;
};

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

TEST_F(CtlTest, StatusReportsTheDaemonItsInterfacesAndItsTraffic)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 20), 10u);

    json status = ctl_json({"status"});
    EXPECT_FALSE(status["version"].get<std::string>().empty());
    EXPECT_GE(status["uptime_s"].get<int>(), 0);
    EXPECT_EQ(status["config"], config_path().string());
    EXPECT_EQ(status["mode"], "enforce");
    ASSERT_EQ(status["interfaces"].size(), 1u);
    EXPECT_EQ(status["interfaces"][0]["name"], iface());
    EXPECT_EQ(status["interfaces"][0]["xdp_mode"], "native");
    EXPECT_EQ(status["interfaces"][0]["program_id"], attached().prog_id);
    EXPECT_EQ(status["last_reload"]["ok"], true);
    EXPECT_EQ(status["rules"], json::parse(R"({"config": 3, "runtime": 0})"));
    EXPECT_EQ(status["totals"]["passed"]["packets"], 10);
    EXPECT_EQ(status["totals"]["dropped"]["packets"], 10);
    EXPECT_EQ(status["tracked_sources"], 1);
    EXPECT_EQ(status["max_sources"], 1000000);

    CtlRun table = ctl({"status"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_TRUE(contains(table.out, "interface        " + iface() + ": XDP native")) << table.out;
    EXPECT_TRUE(contains(table.out, "dropped          10 packets")) << table.out;
    EXPECT_TRUE(contains(table.out, "1 of 1000000")) << table.out;
}

TEST_F(CtlTest, RuntimeRulesChangeTheVerdictsOnTheWire)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.5.0.1", 50), 50u); // no rule

    CtlRun deny = ctl({"deny", "10.5.0.0/16"});
    EXPECT_EQ(deny.exit_code, 0) << deny.err;
    EXPECT_EQ(deny.out, "runtime rule added: 10.5.0.0/16 deny\n");
    EXPECT_EQ(delivered("10.5.0.1", 50), 0u);

    json unset = ctl_json({"unset", "10.5.0.0/16"});
    EXPECT_EQ(unset["removed"]["action"], "deny");
    EXPECT_EQ(unset["config_rule"], nullptr);
    EXPECT_EQ(delivered("10.5.0.1", 50), 50u);

    json set = ctl_json({"set", "10.5.0.0/16", "--rate", "1pps", "--burst", "5"});
    EXPECT_EQ(set["rule"]["limits"], json::parse(R"([{"rate": 1, "burst": 5, "per": "source"}])"));
    EXPECT_EQ(set["replaced"], false);
    EXPECT_EQ(delivered("10.5.0.2", 100), 5u);

    // A runtime rule for a prefix the config has wins while it exists.
    ASSERT_EQ(delivered("10.2.0.1", 30), 30u);
    CtlRun limit = ctl({"set", "10.2.0.0/16", "--rate", "1", "--burst", "3", "--ttl", "1h"});
    EXPECT_EQ(limit.exit_code, 0) << limit.err;
    EXPECT_TRUE(contains(limit.out, "it overrides the config rule for 10.2.0.0/16")) << limit.out;
    EXPECT_EQ(delivered("10.2.0.1", 30), 3u);
    CtlRun removed = ctl({"unset", "10.2.0.0/16"});
    EXPECT_TRUE(contains(removed.out, "the config rule applies again: 10.2.0.0/16 allow"))
        << removed.out;
    EXPECT_EQ(delivered("10.2.0.1", 30), 30u);

    json allow = ctl_json({"allow", "10.9.0.0/16"});
    EXPECT_EQ(allow["overrides_config"], true);
    EXPECT_EQ(delivered("10.9.0.1", 30), 30u);
}

TEST_F(CtlTest, ListShowsConfigAndRuntimeRulesApart)
{
    write_config(kStandardRules, R"(, "default": {"rate": "2kpps", "burst": 4000})");
    Process daemon = start_daemon();
    ASSERT_EQ(ctl({"set", "10.1.0.0/16", "--bytes", "10Mbit", "--byte-burst", "256KiB", "--per",
                   "/24", "--ttl", "1h"})
                  .exit_code,
              0);
    ASSERT_EQ(ctl({"deny", "2001:db8::/32"}).exit_code, 0);

    json list = ctl_json({"list"});
    EXPECT_EQ(list["default"],
              json::parse(R"({"limits": [{"rate": 2000, "burst": 4000, "per": "source"}]})"));
    ASSERT_EQ(list["config"].size(), 3u);
    EXPECT_EQ(list["config"][0], json::parse(R"({"match": "10.9.0.0/16", "action": "deny",
                                                 "overridden": false})"));
    EXPECT_EQ(list["config"][1]["overridden"], true);
    ASSERT_EQ(list["runtime"].size(), 2u);
    const json &bytes = list["runtime"][0];
    EXPECT_EQ(bytes["limits"], json::parse(R"([{"bytes": 1250000, "byte_burst": 262144,
                                                "per": "/24"}])"));
    EXPECT_TRUE(bytes["expires"].is_string());
    EXPECT_GT(bytes["expires_in_s"].get<int>(), 3500);
    EXPECT_LE(bytes["expires_in_s"].get<int>(), 3600);
    EXPECT_EQ(list["runtime"][1]["expires_in_s"], nullptr);

    CtlRun table = ctl({"list"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_TRUE(contains(table.out, "default: 2kpps burst 4000 per source")) << table.out;
    const auto config_at = table.out.find("config rules:");
    const auto runtime_at = table.out.find("runtime rules:");
    ASSERT_LT(config_at, runtime_at) << table.out;
    const std::string config_part = table.out.substr(config_at, runtime_at - config_at);
    const std::string runtime_part = table.out.substr(runtime_at);
    EXPECT_TRUE(contains(config_part, "1pps burst 10 per source")) << table.out;
    EXPECT_TRUE(contains(config_part, "overridden by a runtime rule")) << table.out;
    EXPECT_TRUE(contains(runtime_part, "10Mbit burst 256KiB per /24")) << table.out;
    EXPECT_TRUE(contains(runtime_part, "2001:db8::/32")) << table.out;
    EXPECT_TRUE(contains(runtime_part, "never")) << table.out;
}

// Names: given with --name, unique across config and runtime rules (a clash names both places),
// shown by list and show, and taken by unset instead of the prefix.
TEST_F(CtlTest, RulesAreNamedAndUnsetByName)
{
    write_config(R"([{"match": "10.9.0.0/16", "action": "deny", "name": "blocked"}])");
    Process daemon = start_daemon();
    ASSERT_EQ(ctl({"deny", "10.5.0.0/16", "--name", "scanner"}).exit_code, 0);
    json list = ctl_json({"list"});
    EXPECT_EQ(list["config"][0]["name"], "blocked");
    ASSERT_EQ(list["runtime"].size(), 1u);
    EXPECT_EQ(list["runtime"][0]["name"], "scanner");
    EXPECT_TRUE(contains(ctl({"list"}).out, "scanner  10.5.0.0/16")) << ctl({"list"}).out;
    EXPECT_TRUE(contains(ctl({"show", "10.5.0.1"}).out, "10.5.0.0/16 (scanner) deny"));

    CtlRun clash = ctl({"deny", "10.6.0.0/16", "--name", "blocked"});
    EXPECT_EQ(clash.exit_code, 1);
    EXPECT_TRUE(contains(clash.err, "\"blocked\" of the runtime rule for 10.6.0.0/16 is the name "
                                    "of rules[0] (10.9.0.0/16) too"))
        << clash.err;
    CtlRun twice = ctl({"deny", "10.7.0.0/16", "--name", "scanner"});
    EXPECT_EQ(twice.exit_code, 1);
    EXPECT_TRUE(contains(twice.err, "is the name of the runtime rule for 10.5.0.0/16 too"))
        << twice.err;
    EXPECT_EQ(ctl({"deny", "10.7.0.0/16", "--name", "Scanner"}).exit_code, 2);
    EXPECT_EQ(runtime_rules().size(), 1u) << "nothing refused was added";

    write_config(R"([{"match": "10.8.0.0/16", "action": "deny", "name": "scanner"}])");
    CtlRun reload = ctl({"reload"});
    EXPECT_EQ(reload.exit_code, 1);
    EXPECT_TRUE(contains(reload.err, "rules[0].name: \"scanner\" is the name of the runtime rule "
                                     "for 10.5.0.0/16 too"))
        << reload.err;
    EXPECT_EQ(delivered("10.9.0.1", 10), 0u) << "the running rules stay";

    CtlRun config_rule = ctl({"unset", "blocked"});
    EXPECT_EQ(config_rule.exit_code, 1);
    EXPECT_TRUE(contains(config_rule.err, "no runtime rule named \"blocked\" (it is a config rule"))
        << config_rule.err;
    EXPECT_EQ(delivered("10.5.0.1", 10), 0u);
    CtlRun unset = ctl({"unset", "scanner"});
    EXPECT_EQ(unset.exit_code, 0) << unset.err;
    EXPECT_TRUE(runtime_rules().empty());
    EXPECT_EQ(delivered("10.5.0.1", 10), 10u);
}

TEST_F(CtlTest, RuntimeRulesSurviveARestartAndAReload)
{
    write_config(kStandardRules);
    std::optional<Process> daemon(start_daemon());
    ASSERT_EQ(ctl({"deny", "10.5.0.0/16", "--ttl", "1h"}).exit_code, 0);
    ASSERT_EQ(ctl({"set", "10.6.0.0/16", "--rate", "2pps", "--burst", "4"}).exit_code, 0);
    const json before = runtime_rules();
    ASSERT_EQ(before.size(), 2u);

    // Killed, so that it leaves its socket behind for the next daemon to replace.
    daemon->signal(SIGKILL);
    EXPECT_EQ(daemon->wait_for(5s), 128 + SIGKILL);
    daemon.reset();
    ASSERT_TRUE(fs::is_socket(socket()));
    daemon.emplace(start_daemon());
    json after = runtime_rules();
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0]["expires"], before[0]["expires"]);
    EXPECT_EQ(after[1]["limits"], before[1]["limits"]);
    EXPECT_EQ(delivered("10.5.0.1", 20), 0u);
    EXPECT_EQ(delivered("10.6.0.1", 20), 4u);

    write_config(R"([{"match": "10.5.0.0/16", "action": "allow"}])");
    CtlRun reload = ctl({"reload"});
    EXPECT_EQ(reload.exit_code, 0) << reload.err;
    EXPECT_TRUE(contains(reload.out, "applied")) << reload.out;
    daemon->signal(SIGHUP);
    wait_for_log(*daemon, "rules (reload)", 2);
    EXPECT_EQ(runtime_rules().size(), 2u);
    EXPECT_EQ(delivered("10.5.0.2", 20), 0u) << "the runtime deny wins over the config's allow";
}

TEST_F(CtlTest, RuntimeRulesExpire)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    json deny = ctl_json({"deny", "10.5.0.0/16", "--ttl", "2s"});
    EXPECT_LE(deny["rule"]["expires_in_s"].get<int>(), 2);
    EXPECT_EQ(delivered("10.5.0.1", 20), 0u);

    wait_for_log(daemon, "runtime rule 10.5.0.0/16 expired");
    EXPECT_TRUE(runtime_rules().empty());
    EXPECT_EQ(delivered("10.5.0.1", 20), 20u);
}

TEST_F(CtlTest, APlantedTemporaryFileLinkIsNotFollowed)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    // What a link at the daemon's temporary name would have it overwrite.
    const fs::path precious = dir_.path() / "precious";
    std::ofstream(precious) << "precious\n";
    fs::create_directories(state_dir());
    fs::create_symlink(precious, state_dir() / "runtime-rules.json.tmp");

    ASSERT_EQ(ctl({"deny", "10.5.0.0/16"}).exit_code, 0);
    std::stringstream text;
    text << std::ifstream(precious).rdbuf();
    EXPECT_EQ(text.str(), "precious\n");
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(state_dir() / "runtime-rules.json")));
    EXPECT_FALSE(fs::exists(fs::symlink_status(state_dir() / "runtime-rules.json.tmp")));
    EXPECT_EQ(runtime_rules().size(), 1u);
}

TEST_F(CtlTest, ShowExplainsTheRuleAndShowsTheLiveBucket)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 4), 4u);

    json shown = ctl_json({"show", "10.1.0.1"});
    EXPECT_EQ(shown["rule"]["origin"], "config");
    EXPECT_EQ(shown["rule"]["prefix"], "10.1.0.0/16");
    EXPECT_TRUE(contains(shown["why"], "10.1.0.0/16 is the longest prefix that matches"));
    EXPECT_EQ(shown["tracked"], true);
    ASSERT_EQ(shown["buckets"].size(), 1u);
    const json &bucket = shown["buckets"][0];
    EXPECT_EQ(bucket["per"], "source");
    EXPECT_EQ(bucket["key"], "10.1.0.1");
    EXPECT_EQ(bucket["burst"], 10);
    // 4 of 10 taken; at 1 pps, a token or two may have come back since.
    EXPECT_GE(bucket["tokens"].get<int>(), 6);
    EXPECT_LE(bucket["tokens"].get<int>(), 8);
    EXPECT_EQ(shown["traffic"]["passed"]["packets"], 4);
    EXPECT_EQ(shown["traffic"]["dropped"]["packets"], 0);

    ASSERT_EQ(ctl({"set", "10.1.0.0/24", "--rate", "5", "--per", "/28"}).exit_code, 0);
    json narrower = ctl_json({"show", "10.1.0.1"});
    EXPECT_EQ(narrower["rule"]["origin"], "runtime");
    EXPECT_EQ(narrower["rule"]["prefix"], "10.1.0.0/24");
    EXPECT_EQ(narrower["buckets"][0]["key"], "10.1.0.0/28");

    json nothing = ctl_json({"show", "10.3.0.1"});
    EXPECT_EQ(nothing["rule"], nullptr);
    EXPECT_TRUE(contains(nothing["why"], "no rule matches 10.3.0.1"));
    EXPECT_EQ(nothing["buckets"], json::array());

    CtlRun table = ctl({"show", "10.1.0.1"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_TRUE(contains(table.out, "runtime rule 10.1.0.0/24 limit 5pps burst 5 per /28"))
        << table.out;
    EXPECT_TRUE(contains(table.out, "10.1.0.0/28")) << table.out;
    EXPECT_TRUE(contains(table.out, "5 of 5 packets")) << table.out;
}

TEST_F(CtlTest, TopRanksTheHeaviestSourcesAndTellsTheirRates)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 100), 10u);
    ASSERT_EQ(delivered("10.1.0.2", 30), 10u);
    ASSERT_EQ(delivered("10.2.0.1", 200), 200u);
    // Seen once, a source has no entry (the admission filter); its second packet earns one, which
    // keeps the first packet as the filter remembered it.
    ASSERT_EQ(delivered("10.2.0.2", 2), 2u);

    json drops = ctl_json({"top", "-n", "2", "--interval", "100ms"});
    EXPECT_EQ(drops["by"], "drops");
    EXPECT_EQ(drops["scanned"], 4);
    ASSERT_EQ(drops["sources"].size(), 2u);
    EXPECT_EQ(drops["sources"][0]["address"], "10.1.0.1");
    EXPECT_EQ(drops["sources"][0]["dropped"]["packets"], 90);
    EXPECT_EQ(drops["sources"][0]["passed"]["packets"], 10);
    EXPECT_EQ(drops["sources"][1]["address"], "10.1.0.2");
    // Even the first call has rates: over its own window.
    EXPECT_GE(drops["interval_s"].get<double>(), 0.1);
    EXPECT_EQ(drops["sources"][0]["per_second"]["dropped"], 0.0) << "no traffic since";

    json packets = ctl_json({"top", "--by", "packets", "-n", "10", "--interval", "100ms"});
    ASSERT_EQ(packets["sources"].size(), 4u);
    EXPECT_EQ(packets["sources"][0]["address"], "10.2.0.1");
    EXPECT_EQ(packets["sources"][3]["address"], "10.2.0.2");
    EXPECT_EQ(packets["sources"][3]["passed"]["packets"], 2);
    EXPECT_EQ(packets["sources"][1]["per_second"]["packets"], 0.0) << "no traffic since";

    CtlRun table = ctl({"top", "--by", "bytes", "--interval", "100ms"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_TRUE(contains(table.out, "ADDRESS")) << table.out;
    EXPECT_TRUE(contains(table.out, "BYTES/S")) << table.out;
    EXPECT_TRUE(contains(table.out, "4 sources with traffic; rates over the last 0.1 s"))
        << table.out;
    EXPECT_FALSE(contains(table.out, " -\n")) << "every source has a rate\n" << table.out;
}

TEST_F(CtlTest, TopRatesAreOverTheIntervalTheCallerChooses)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.2.0.1", 500), 500u);
    // Another caller's top in between does not shorten this one's window.
    Process top = start_ctl(
        {"--socket", socket().string(), "top", "--by", "packets", "--interval", "2s", "--json"},
        {});
    std::this_thread::sleep_for(500ms);
    ASSERT_EQ(ctl({"top", "--interval", "10ms"}).exit_code, 0);
    ASSERT_EQ(delivered("10.2.0.1", 100), 100u);
    ASSERT_EQ(delivered("10.2.0.2", 50), 50u); // new during the window: its rate is known too
    CtlRun run = finish(top);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const json result = run.parsed();
    const double seconds = result["interval_s"].get<double>();
    EXPECT_GE(seconds, 2.0);
    EXPECT_LT(seconds, 3.0);
    ASSERT_EQ(result["sources"].size(), 2u);
    EXPECT_EQ(result["sources"][0]["address"], "10.2.0.1");
    EXPECT_DOUBLE_EQ(result["sources"][0]["per_second"]["packets"].get<double>(), 100 / seconds);
    EXPECT_EQ(result["sources"][1]["address"], "10.2.0.2");
    EXPECT_DOUBLE_EQ(result["sources"][1]["per_second"]["packets"].get<double>(), 50 / seconds);

    expect_usage_error({"top", "--interval", "1x"}, "--interval: \"1x\" has an unknown unit");
}

TEST_F(CtlTest, TopWatchRedrawsEveryIntervalUntilInterrupted)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 20), 10u);
    Process watch =
        start_ctl({"--socket", socket().string(), "top", "--watch", "--interval", "200ms"}, {});
    std::this_thread::sleep_for(1500ms);
    watch.signal(SIGINT);
    CtlRun run = finish(watch);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    // Not on a terminal: successive tables, one per interval, no screen control codes.
    std::size_t frames = 0;
    for (auto at = run.out.find("ratelimitctl top at "); at != std::string::npos;
         at = run.out.find("ratelimitctl top at ", at + 1))
        frames++;
    EXPECT_GE(frames, 4u) << run.out;
    EXPECT_LE(frames, 8u) << run.out;
    EXPECT_FALSE(contains(run.out, "\033[")) << run.out;
    EXPECT_TRUE(contains(run.out, "10.1.0.1")) << run.out;
}

TEST_F(CtlTest, ShowAndTopTellWhatAMonitorRuleWouldDrop)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    CtlRun set =
        ctl({"set", "10.6.0.0/16", "--rate", "1pps", "--burst", "150", "--mode", "monitor"});
    ASSERT_EQ(set.exit_code, 0) << set.err;
    EXPECT_TRUE(contains(set.out, "(monitor)")) << set.out;
    ASSERT_EQ(delivered("10.6.0.1", 2000), 2000u) << "monitor mode drops nothing";

    json shown = ctl_json({"show", "10.6.0.1"});
    EXPECT_EQ(shown["traffic"]["passed"]["packets"], 2000);
    EXPECT_EQ(shown["traffic"]["dropped"]["packets"], 0);
    // 150 of burst, and the odd token 1 pps brought back while the packets were sent.
    const int would = shown["traffic"]["would_drop"]["packets"].get<int>();
    EXPECT_LE(would, 1850);
    EXPECT_GE(would, 1840);
    CtlRun table = ctl({"show", "10.6.0.1"});
    EXPECT_TRUE(contains(table.out, "would drop  " + std::to_string(would) + " packets"))
        << table.out;

    ASSERT_EQ(delivered("10.1.0.1", 30), 10u); // 20 real drops, fewer than the would-drops
    json top = ctl_json({"top", "--interval", "10ms"});
    ASSERT_GE(top["sources"].size(), 2u);
    EXPECT_EQ(top["sources"][0]["address"], "10.6.0.1") << "would-drops rank as drops";
    EXPECT_EQ(top["sources"][0]["would_drop"]["packets"], would);
    EXPECT_EQ(top["sources"][1]["dropped"]["packets"], 20);
    CtlRun top_table = ctl({"top", "--interval", "10ms"});
    EXPECT_TRUE(contains(top_table.out, "WOULD DROP")) << top_table.out;
    EXPECT_TRUE(contains(top_table.out, "10.6.0.1  2000     0        " + std::to_string(would)))
        << top_table.out;

    json status = ctl_json({"status"});
    EXPECT_EQ(status["totals"]["would_drop"]["packets"], would);
}

TEST_F(CtlTest, ADenyOfEveryoneNeedsForce)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    for (const char *everyone : {"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"})
        expect_usage_error({"deny", everyone}, "cutting this host off; if that is meant, force it "
                                               "(\"force\": true on the rule, ratelimitctl deny "
                                               "--force)");
    // The daemon refuses it too, from a client that skips the CLI's check.
    RawClient raw(socket());
    raw.send(R"({"id": 1, "cmd": "deny", "args": {"match": "0.0.0.0/0"}})"
             "\n");
    auto answer = raw.response();
    ASSERT_TRUE(answer);
    EXPECT_EQ(std::get<control::Error>(answer->outcome).code, control::ErrorCode::InvalidRule);
    EXPECT_TRUE(runtime_rules().empty());
    EXPECT_EQ(delivered("10.5.0.1", 10), 10u);

    // A dry run needs no force; a forced one is taken.
    EXPECT_EQ(ctl({"deny", "0.0.0.0/0", "--mode", "monitor"}).exit_code, 0);
    EXPECT_EQ(delivered("10.5.0.1", 10), 10u);
    CtlRun forced = ctl({"deny", "0.0.0.0/0", "--force", "--ttl", "1m"});
    EXPECT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_EQ(delivered("10.5.0.1", 10), 0u);
    EXPECT_EQ(runtime_rules()[0]["force"], true);
}

TEST_F(CtlTest, EveryChangeIsLoggedWithWhoMadeIt)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    auto logged = [&](const std::vector<std::string> &args, const std::string &what) {
        std::vector<std::string> with_socket = {"--socket", socket().string()};
        with_socket.insert(with_socket.end(), args.begin(), args.end());
        Process run = start_ctl(with_socket, {});
        const std::string who = "uid 0 (pid " + std::to_string(run.pid()) + ") ";
        EXPECT_EQ(finish(run).exit_code, 0) << args[0];
        wait_for_log(daemon, "control socket: " + who + what);
    };
    logged({"deny", "10.5.0.0/16", "--ttl", "1h30m", "--comment", "scanner"},
           R"(added runtime rule {"action":"deny","comment":"scanner","match":"10.5.0.0/16"} )"
           "for 1.5h");
    logged({"set", "10.5.0.0/16", "--rate", "5"}, "replaced runtime rule {");
    logged({"unset", "10.5.0.0/16"}, "removed runtime rule {");
    logged({"flush", "--all"}, "flushed the bucket state of everything");
    logged({"reload"}, "reloads " + config_path().string());
}

TEST_F(CtlTest, ListShowsCommentsAndPrefixesCanonically)
{
    write_config(R"([{"match": "10.3.0.0/016", "action": "allow", "comment": "office"},
                     {"match": "::ffff:10.4.0.0/112", "action": "deny"}])");
    Process daemon = start_daemon();
    ASSERT_EQ(ctl({"set", "::ffff:10.6.0.0/112", "--rate", "5", "--comment",
                   "noisy NTP client, ticket 42"})
                  .exit_code,
              0);
    ASSERT_EQ(ctl({"deny", "2001:DB8::0/32"}).exit_code, 0);

    json list = ctl_json({"list"});
    EXPECT_EQ(list["config"][0]["match"], "10.3.0.0/16");
    EXPECT_EQ(list["config"][0]["comment"], "office");
    EXPECT_EQ(list["config"][1]["match"], "10.4.0.0/16");
    EXPECT_EQ(list["runtime"][0]["match"], "10.6.0.0/16");
    EXPECT_EQ(list["runtime"][0]["comment"], "noisy NTP client, ticket 42");
    EXPECT_EQ(list["runtime"][1]["match"], "2001:db8::/32");

    CtlRun table = ctl({"list"});
    EXPECT_TRUE(contains(table.out, "COMMENT")) << table.out;
    EXPECT_TRUE(contains(table.out, "office")) << table.out;
    EXPECT_TRUE(contains(table.out, "noisy NTP client, ticket 42")) << table.out;
    EXPECT_FALSE(contains(table.out, "/016")) << table.out;
    EXPECT_FALSE(contains(table.out, "::ffff:")) << table.out;

    expect_usage_error({"deny", "10.7.0.0/16", "--comment", "two\nlines"},
                       "--comment: \"two\\nlines\" contains a control character");
}

TEST_F(CtlTest, StatsCountByInterfaceReasonAndVerdict)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 30), 10u);
    ASSERT_EQ(delivered("10.9.0.1", 7), 0u);
    ASSERT_EQ(delivered("10.2.0.1", 5), 5u);

    json stats = ctl_json({"stats"});
    ASSERT_EQ(stats["interfaces"].size(), 1u);
    EXPECT_EQ(stats["interfaces"][0]["name"], iface());
    std::map<std::string, std::uint64_t> packets;
    for (const auto &counter : stats["interfaces"][0]["counters"])
        packets[counter["reason"].get<std::string>() + "/" +
                counter["verdict"].get<std::string>()] = counter["packets"];
    EXPECT_EQ(packets.size(), 2u * RL_REASON_COUNT);
    EXPECT_EQ(packets["conforming/pass"], 10u);
    EXPECT_EQ(packets["over_limit/drop"], 20u);
    EXPECT_EQ(packets["denied/drop"], 7u);
    EXPECT_EQ(packets["allowed/pass"], 5u);

    CtlRun table = ctl({"stats"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_TRUE(contains(table.out, "over_limit  drop")) << table.out;
    EXPECT_FALSE(contains(table.out, "malformed")) << "rows without packets are left out";
}

TEST_F(CtlTest, FlushForgetsBucketState)
{
    write_config(R"([{"match": "10.1.0.0/16", "limits": [
        {"rate": "1pps", "burst": 10}, {"rate": "1pps", "burst": 15, "per": "rule"}]}])");
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 50), 10u);
    ASSERT_EQ(delivered("10.1.0.1", 50), 0u);

    json flushed = ctl_json({"flush", "10.1.0.0/24"});
    EXPECT_EQ(flushed["match"], "10.1.0.0/24");
    EXPECT_EQ(flushed["sources"], 1);
    // Its own bucket is full again; the rule's, not inside the prefix, has 5 left (and what
    // 1 pps brought back meanwhile).
    const std::uint64_t after_flush = delivered("10.1.0.1", 50);
    EXPECT_GE(after_flush, 5u);
    EXPECT_LE(after_flush, 7u);

    CtlRun all = ctl({"flush", "--all"});
    EXPECT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(all.out, "forgot the buckets of 1 sources and 0 /N blocks, and refilled 1 per-rule "
                       "buckets\n");
    EXPECT_EQ(delivered("10.1.0.1", 50), 10u);
}

// ::/0 is an IPv6 rule's prefix: it covers IPv6 sources only, so flushing it leaves IPv4 ones.
TEST_F(CtlTest, FlushOfAnIpv6PrefixKeepsTheIpv4Buckets)
{
    write_config(R"([{"match": "10.1.0.0/16", "rate": "1pps", "burst": 10}])");
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 50), 10u);

    json flushed = ctl_json({"flush", "::/0"});
    EXPECT_EQ(flushed["sources"], 0);
    EXPECT_EQ(delivered("10.1.0.1", 50), 0u) << "the IPv4 source's bucket is still empty";
}

TEST_F(CtlTest, ReloadPrintsTheResultAndRefusesABrokenConfig)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    write_config(R"([{"match": "10.5.0.0/16", "action": "deny"}])");
    CtlRun applied = ctl({"reload"});
    EXPECT_EQ(applied.exit_code, 0) << applied.err;
    EXPECT_TRUE(contains(applied.out, "reloaded at ")) << applied.out;
    EXPECT_EQ(delivered("10.5.0.1", 10), 0u);

    std::ofstream(config_path()) << R"({"interfaces": [{"name": ")" << iface()
                                 << R"("}], "rules": [{"match": "10.0.0.300/8"}]})";
    CtlRun refused = ctl({"reload"});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(contains(refused.err, "refused (reload_failed): rules[0].match")) << refused.err;
    EXPECT_EQ(delivered("10.5.0.1", 10), 0u) << "the running rules stay";
    json status = ctl_json({"status"});
    EXPECT_EQ(status["last_reload"]["ok"], false);
    EXPECT_TRUE(contains(status["last_reload"]["message"], "10.0.0.300/8"));
    EXPECT_TRUE(contains(ctl({"status"}).out, "REFUSED")) << "shown in the table too";
}

TEST_F(CtlTest, StatsByRuleCountWhatTheFarSideReceived)
{
    write_config(R"([{"name": "capped", "match": "10.1.0.0/16", "rate": "1pps", "burst": 10},
                     {"name": "blocked", "match": "10.9.0.0/16", "action": "deny"},
                     {"match": "10.2.0.0/16", "action": "deny"}])");
    Process daemon = start_daemon();
    const std::uint64_t capped = delivered("10.1.0.1", 100);
    ASSERT_GT(capped, 0u);
    ASSERT_LT(capped, 100u);
    ASSERT_EQ(delivered("10.9.0.1", 40), 0u);
    ASSERT_EQ(delivered("10.2.0.1", 30), 0u);

    const json stats = ctl_json({"stats", "--rules"});
    ASSERT_TRUE(stats.contains("rules")) << stats.dump();
    std::map<std::string, std::map<std::string, std::uint64_t>> packets; // rule, reason: packets
    for (const auto &rule : stats["rules"])
        for (const auto &counter : rule["counters"])
            packets[rule["rule"]][counter["reason"].get<std::string>() + "/" +
                                  counter["verdict"].get<std::string>()] +=
                counter["packets"].get<std::uint64_t>();
    EXPECT_EQ(packets["capped"]["conforming/pass"], capped) << stats.dump();
    EXPECT_EQ(packets["capped"]["over_limit/drop"], 100 - capped);
    EXPECT_EQ(packets["blocked"]["denied/drop"], 40u);
    EXPECT_EQ(packets[""]["denied/drop"], 30u) << "the unnamed rules, together";
    EXPECT_FALSE(ctl_json({"stats"}).contains("rules")) << "only when asked";

    // top names the rule of each source under a named one (asked until it lists all three:
    // per-source counters of drops the drop memo counted reach the map when it moves on).
    std::map<std::string, std::string> rule_of;
    json top;
    for (int attempt = 0; attempt < 10 && rule_of.size() < 3; attempt++) {
        top = ctl_json({"top", "-n", "100"});
        rule_of.clear();
        for (const auto &source : top["sources"])
            if (source["address"] == "10.1.0.1" || source["address"] == "10.9.0.1" ||
                source["address"] == "10.2.0.1")
                rule_of[source["address"]] = source.value("rule", "-");
    }
    EXPECT_EQ(rule_of["10.1.0.1"], "capped") << top.dump();
    EXPECT_EQ(rule_of["10.9.0.1"], "blocked");
    EXPECT_EQ(rule_of["10.2.0.1"], "-") << "an unnamed rule's source";

    const CtlRun table = ctl({"stats", "--rules"});
    EXPECT_EQ(table.exit_code, 0) << table.err;
    EXPECT_TRUE(contains(table.out, "RULE")) << table.out;
    EXPECT_TRUE(contains(table.out, "(unnamed)")) << table.out;
}

TEST_F(CtlTest, AReloadThatDoesNotFitKeepsTheRunningMode)
{
    // 3 config rules and 12 runtime denies fill 15 of 16 slots; a config of 3 more rules passes
    // its checks (it fits alone) and fails at reconcile, where the runtime rules count too.
    write_config(kStandardRules, R"(, "max_rules": 16)");
    Process daemon = start_daemon();
    for (int i = 0; i < 12; i++) {
        CtlRun added = ctl({"deny", "10.50.0." + std::to_string(i)});
        ASSERT_EQ(added.exit_code, 0) << added.err;
    }
    write_config(R"([{"match": "10.9.0.0/16", "action": "deny"},
                     {"match": "10.1.0.0/16", "rate": "1pps", "burst": 10},
                     {"match": "10.2.0.0/16", "action": "allow"},
                     {"match": "10.3.0.0/16", "action": "deny"},
                     {"match": "10.4.0.0/16", "action": "deny"},
                     {"match": "10.6.0.0/16", "action": "deny"}])",
                 R"(, "max_rules": 16, "mode": "monitor")");
    CtlRun refused = ctl({"reload"});
    EXPECT_EQ(refused.exit_code, 1) << refused.out;
    EXPECT_TRUE(contains(refused.err, "max_rules")) << refused.err;
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u) << "still enforcing, as the running config says";
    EXPECT_EQ(delivered("10.50.0.3", 20), 0u);
    EXPECT_EQ(ctl_json({"status"})["mode"], "enforce");
}

TEST_F(CtlTest, ExitCodesTellRefusalsUsageErrorsAndAnUnreachableDaemon)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();

    CtlRun help = ctl({"top", "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_TRUE(contains(help.out, "Example:\n  ratelimitctl top")) << help.out;

    for (const std::vector<std::string> &usage :
         {std::vector<std::string>{"set", "10.0.0.300/8", "--rate", "5"},
          {"set", "10.0.0.0/8", "--rate", "5x"},
          {"deny", "10.0.0.0/8", "--ttl", "5"},
          {"top", "-n", "0"},
          {"flush"},
          {"show", "nope"},
          {"frobnicate"}}) {
        CtlRun run = ctl(usage);
        EXPECT_EQ(run.exit_code, 2) << usage[0] << ": " << run.err;
    }
    // Errors name what the user typed, not the request's fields.
    const std::string bad_rate = ctl({"set", "10.0.0.0/8", "--rate", "5x"}).err;
    EXPECT_TRUE(contains(bad_rate, "ratelimitctl set: --rate: \"5x\"")) << bad_rate;
    EXPECT_FALSE(contains(bad_rate, "args.")) << bad_rate;
    EXPECT_TRUE(contains(ctl({"deny", "10.0.0.300/8"}).err, "ratelimitctl deny: PREFIX: "));
    EXPECT_TRUE(contains(ctl({"show", "nope"}).err, "ratelimitctl show: ADDRESS: \"nope\""));
    EXPECT_TRUE(runtime_rules().empty()) << "bad input changes nothing";

    // A mistyped command, or none: the nearest one and the list.
    CtlRun typo = ctl({"sett", "10.0.0.0/8"});
    EXPECT_EQ(typo.exit_code, 2);
    EXPECT_TRUE(contains(typo.err, "unknown command \"sett\"; did you mean \"set\"?")) << typo.err;
    EXPECT_TRUE(contains(typo.err, "Commands:\n  status")) << typo.err;
    CtlRun far_off = ctl({"frobnicate"});
    EXPECT_FALSE(contains(far_off.err, "did you mean")) << far_off.err;
    EXPECT_TRUE(contains(far_off.err, "  reload")) << far_off.err;
    CtlRun nothing = ctl({});
    EXPECT_EQ(nothing.exit_code, 2);
    EXPECT_TRUE(contains(nothing.err, "give a command")) << nothing.err;
    CtlRun overview = ctl({"help"});
    EXPECT_EQ(overview.exit_code, 0) << overview.err;
    EXPECT_TRUE(contains(overview.out, "Subcommands:\n  status")) << overview.out;
    CtlRun set_help = ctl({"help", "set"});
    EXPECT_EQ(set_help.exit_code, 0);
    EXPECT_TRUE(contains(set_help.out, "--mode")) << set_help.out;

    // A sane range for --timeout.
    CtlRun no_time = ctl({"--timeout", "0", "status"});
    EXPECT_EQ(no_time.exit_code, 2);
    EXPECT_TRUE(contains(no_time.err, "3600")) << no_time.err;
    EXPECT_LT(no_time.err.size(), 200u) << no_time.err;

    // Compound durations.
    json compound = ctl_json({"deny", "10.5.0.0/16", "--ttl", "1h30m"});
    EXPECT_GT(compound["rule"]["expires_in_s"].get<int>(), 5390);
    EXPECT_LE(compound["rule"]["expires_in_s"].get<int>(), 5400);
    ASSERT_EQ(ctl({"unset", "10.5.0.0/16"}).exit_code, 0);

    CtlRun missing = ctl({"unset", "10.7.0.0/16", "--json"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_EQ(missing.parsed()["code"], "not_found");
    EXPECT_TRUE(contains(missing.err, "no runtime rule for 10.7.0.0/16")) << missing.err;

    CtlRun nowhere = ctl_anywhere({"--socket", (dir_.path() / "nope.sock").string(), "status"});
    EXPECT_EQ(nowhere.exit_code, 3);
    EXPECT_TRUE(contains(nowhere.err, "is ratelimitd running?")) << nowhere.err;
}

TEST_F(CtlTest, RatelimitctlSocketNamesTheSocketAndSocketWins)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    Process by_environment = start_ctl({"status"}, {"RATELIMITCTL_SOCKET=" + socket().string()});
    CtlRun found = finish(by_environment);
    EXPECT_EQ(found.exit_code, 0) << found.err;
    EXPECT_TRUE(contains(found.out, "interface")) << found.out;

    Process overridden = start_ctl({"--socket", (dir_.path() / "nope.sock").string(), "status"},
                                   {"RATELIMITCTL_SOCKET=" + socket().string()});
    CtlRun missed = finish(overridden);
    EXPECT_EQ(missed.exit_code, 3);
    EXPECT_TRUE(contains(missed.err, "nope.sock")) << missed.err;
}

TEST_F(CtlTest, OtherUsersAreRefused)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    open_test_directory();
    struct stat socket_status {
    };
    ASSERT_EQ(::stat(socket().c_str(), &socket_status), 0);
    EXPECT_EQ(socket_status.st_mode & 07777, 0660u);

    // The socket's mode keeps them out...
    CtlRun blocked = ctl_as(kNobody, kNobody, {"status"});
    EXPECT_EQ(blocked.exit_code, 3) << blocked.err;
    EXPECT_TRUE(contains(blocked.err, "no permission to connect")) << blocked.err;

    // ...and SO_PEERCRED too, should someone open the socket up.
    fs::permissions(socket(), fs::perms::all, fs::perm_options::add);
    CtlRun refused = ctl_as(kNobody, kNobody, {"deny", "10.2.0.0/16"});
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_TRUE(contains(refused.err, "refused (permission_denied): uid 65534 may not use"))
        << refused.err;
    wait_for_log(daemon, "refused deny from uid 65534");
    EXPECT_TRUE(runtime_rules().empty());
    EXPECT_EQ(delivered("10.2.0.1", 10), 10u);
}

TEST_F(CtlTest, MembersOfTheControlGroupAreServed)
{
    const group *members = ::getgrnam("nogroup");
    if (!members)
        GTEST_SKIP() << "no group \"nogroup\" on this system";
    const gid_t gid = members->gr_gid;
    write_config(kStandardRules);
    set_control_group("nogroup");
    Process daemon = start_daemon();
    open_test_directory();
    struct stat socket_status {
    };
    ASSERT_EQ(::stat(socket().c_str(), &socket_status), 0);
    EXPECT_EQ(socket_status.st_gid, gid);

    CtlRun member = ctl_as(kNobody, gid, {"deny", "10.2.0.0/16"});
    EXPECT_EQ(member.exit_code, 0) << member.err;
    EXPECT_EQ(delivered("10.2.0.1", 10), 0u);

    fs::permissions(socket(), fs::perms::all, fs::perm_options::add);
    CtlRun outsider = ctl_as(kNobody, gid - 1, {"status"});
    EXPECT_EQ(outsider.exit_code, 1) << outsider.err;
    EXPECT_TRUE(contains(outsider.err, "root and members of group nogroup only")) << outsider.err;
}

TEST_F(CtlTest, AnUnknownControlGroupIsAStartupError)
{
    write_config(kStandardRules);
    set_control_group("no-such-group");
    Process daemon = host_ns_->spawn({RATELIMITD_PATH, "-c", config_path()},
                                     dir_.path() / "daemon.out", dir_.path() / "daemon.err");
    // A config error (78), found before anything is attached: systemd does not restart on it.
    EXPECT_EQ(daemon.wait_for(15s), 78);
    EXPECT_TRUE(contains(daemon.stderr_text(), "control.group: no group named \"no-such-group\""))
        << daemon.stderr_text();
}

TEST_F(CtlTest, BrokenClientsGetErrorsWhileOthersAreServed)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();

    // A client that sends half a request and then nothing.
    const auto half_sent_at = std::chrono::steady_clock::now();
    RawClient half_sent(socket());
    half_sent.send(R"({"id": 1, "cmd": "sta)");

    // Malformed JSON, an unknown command, bad arguments: errors, and the connection serves on.
    RawClient sloppy(socket());
    sloppy.send("{nope\n");
    auto malformed = sloppy.response();
    ASSERT_TRUE(malformed);
    EXPECT_EQ(std::get<control::Error>(malformed->outcome).code, control::ErrorCode::BadRequest);
    EXPECT_EQ(malformed->id, std::nullopt);
    sloppy.send(R"({"id": 2, "cmd": "nope"})"
                "\n"
                R"({"id": 3, "cmd": "top", "args": {"count": 0}})"
                "\n");
    auto unknown = sloppy.response(), bad_args = sloppy.response();
    ASSERT_TRUE(unknown && bad_args);
    EXPECT_EQ(unknown->id, 2u);
    EXPECT_EQ(std::get<control::Error>(unknown->outcome).code, control::ErrorCode::UnknownCommand);
    EXPECT_EQ(bad_args->id, 3u);
    EXPECT_EQ(std::get<control::Error>(bad_args->outcome).code, control::ErrorCode::BadRequest);
    sloppy.request(control::Command::Status, 4);
    auto served = sloppy.response();
    ASSERT_TRUE(served);
    EXPECT_TRUE(served->ok());

    // A request over 64 KiB: too_large, and the connection is closed.
    RawClient flood(socket());
    flood.send(std::string(control::kMaxRequestBytes + 100, 'x'));
    auto too_large = flood.response();
    ASSERT_TRUE(too_large);
    EXPECT_EQ(std::get<control::Error>(too_large->outcome).code, control::ErrorCode::TooLarge);
    EXPECT_TRUE(flood.hung_up_within(2s));

    // A client that asks and asks but does not read is not read from, and costs no one else.
    RawClient hoarder(socket());
    std::string requests;
    for (int i = 0; i < 5000; i++)
        requests += control::encode(control::Request{std::uint64_t(i), control::Command::List});
    std::thread hoarding([&] { hoarder.send(requests); }); // blocks once the buffers are full

    // Many clients at once, and ratelimitctl, are served all along.
    std::vector<std::unique_ptr<RawClient>> crowd;
    for (int i = 0; i < 100; i++) {
        crowd.push_back(std::make_unique<RawClient>(socket()));
        crowd.back()->request(control::Command::Stats, i);
    }
    for (int i = 0; i < 100; i++) {
        auto answer = crowd[i]->response();
        ASSERT_TRUE(answer) << "client " << i;
        EXPECT_EQ(answer->id, std::uint64_t(i));
        EXPECT_TRUE(answer->ok());
    }
    CtlRun status = ctl({"status"});
    EXPECT_EQ(status.exit_code, 0) << status.err;

    // The hoarder gets every answer once it reads.
    for (int i = 0; i < 5000; i++) {
        auto answer = hoarder.response();
        ASSERT_TRUE(answer) << "answer " << i;
        ASSERT_EQ(answer->id, std::uint64_t(i));
    }
    hoarding.join();

    // The half-sent request is given up on after the idle timeout, with an error.
    auto gave_up = half_sent.response(control::Server::kIdleTimeout + 5s);
    ASSERT_TRUE(gave_up);
    EXPECT_EQ(std::get<control::Error>(gave_up->outcome).code, control::ErrorCode::BadRequest);
    EXPECT_GE(std::chrono::steady_clock::now() - half_sent_at, control::Server::kIdleTimeout);
    EXPECT_TRUE(half_sent.hung_up_within(1s));
    EXPECT_EQ(ctl({"status"}).exit_code, 0);
}

TEST_F(CtlTest, ConnectionsBeyondTheLimitAreToldTheDaemonIsBusy)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    std::vector<std::unique_ptr<RawClient>> idle;
    for (std::size_t i = 0; i < control::Server::kMaxConnections; i++)
        idle.push_back(std::make_unique<RawClient>(socket()));
    RawClient one_more(socket());
    auto busy = one_more.response();
    ASSERT_TRUE(busy);
    EXPECT_EQ(std::get<control::Error>(busy->outcome).code, control::ErrorCode::Busy);
    idle.pop_back();
    // The daemon sees the close before the next connection: ask on an existing one to sync.
    idle.front()->request(control::Command::Status);
    ASSERT_TRUE(idle.front()->response());
    EXPECT_EQ(ctl({"status"}).exit_code, 0);
}

// ----- apply and unset --all: many changes at once ---------------------

// `count` deny lines for 10.100.0.0 and up, one a line.
std::string deny_lines(int count)
{
    std::string text;
    for (int i = 0; i < count; i++)
        text += "deny 10.100." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "\n";
    return text;
}

// How many times the daemon wrote its runtime rules since it started: one log line each time.
int runtime_rule_writes(const Process &daemon)
{
    const std::string log = daemon.stderr_text();
    int writes = 0;
    for (auto at = log.find("rules (runtime rules)"); at != std::string::npos;
         at = log.find("rules (runtime rules)", at + 1))
        writes++;
    return writes;
}

TEST_F(CtlTest, ApplyOfTenThousandDeniesLandsAllWithOneWriteAndSurvivesARestart)
{
    write_config(kStandardRules);
    std::optional<Process> daemon(start_daemon());
    ASSERT_EQ(ctl({"deny", "10.5.0.0/16"}).exit_code, 0);
    const fs::path state_file = state_dir() / "runtime-rules.json";
    struct stat before {
    };
    ASSERT_EQ(::stat(state_file.c_str(), &before), 0);
    ASSERT_EQ(runtime_rule_writes(*daemon), 1);

    const fs::path file =
        write_file("bulk-denies.txt", "# ten thousand scanners\n" + deny_lines(10'000) +
                                          "unset 10.5.0.0/16\nset 10.6.0.0/16 --rate 2pps "
                                          "--burst 4 --ttl 1h\n");
    const auto start = std::chrono::steady_clock::now();
    CtlRun apply = ctl({"apply", "-f", file.string()});
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(apply.exit_code, 0) << apply.err;
    EXPECT_TRUE(contains(apply.out, "applied 10002 changes: runtime rules 10001 added, 0 "
                                    "replaced, 1 removed; 10001 in force"))
        << apply.out;
    std::cout << "apply -f of 10,000 denies: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    EXPECT_LT(took, 5s);

    EXPECT_EQ(runtime_rule_writes(*daemon), 2) << "the state file is written once for all";
    struct stat after {
    };
    ASSERT_EQ(::stat(state_file.c_str(), &after), 0);
    EXPECT_NE(after.st_ino, before.st_ino) << "replaced atomically, by a file of its own";
    EXPECT_EQ(runtime_rules().size(), 10'001u);
    EXPECT_EQ(delivered("10.100.39.15", 20), 0u); // the 10,000th deny
    EXPECT_EQ(delivered("10.5.0.1", 20), 20u);
    EXPECT_EQ(delivered("10.6.0.1", 20), 4u);

    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait_for(10s), 0);
    daemon.reset();
    daemon.emplace(start_daemon());
    const json after_restart = runtime_rules();
    ASSERT_EQ(after_restart.size(), 10'001u);
    EXPECT_EQ(after_restart[0]["match"], "10.100.0.0");
    EXPECT_EQ(delivered("10.100.0.1", 20), 0u);
}

TEST_F(CtlTest, ABadLineAppliesNothingAndEveryBadLineIsNamed)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(ctl({"deny", "10.5.0.0/16"}).exit_code, 0);
    const json before = runtime_rules();

    const fs::path file = write_file("bulk-bad.txt", deny_lines(500) + "deny 10.0.0.300\n" +
                                                         deny_lines(10) + "allow --ttl 1h\n");
    CtlRun bad = ctl({"apply", "-f", file.string()});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_TRUE(contains(bad.err, "2 bad changes, nothing sent")) << bad.err;
    EXPECT_TRUE(contains(bad.err, "line 501: PREFIX: \"10.0.0.300\"")) << bad.err;
    EXPECT_TRUE(contains(bad.err, "line 512: ")) << bad.err;

    // What only the daemon can tell: no runtime rule to unset. The denies before it stay out.
    const fs::path missing =
        write_file("bulk-missing.txt", deny_lines(3) + "unset 10.7.0.0/16\nunset 10.9.0.0/16\n");
    CtlRun refused = ctl({"apply", "-f", missing.string()});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(contains(refused.err, "refused (not_found): line 4: no runtime rule for "
                                      "10.7.0.0/16\nline 5: no runtime rule for 10.9.0.0/16 (it is "
                                      "a config rule"))
        << refused.err;
    EXPECT_TRUE(contains(refused.err, "nothing was applied")) << refused.err;
    EXPECT_EQ(runtime_rules(), before);
    EXPECT_EQ(runtime_rule_writes(daemon), 1);
    EXPECT_EQ(delivered("10.100.0.1", 20), 20u);
}

TEST_F(CtlTest, ApplyReadsLinesOrAJsonArrayFromStdin)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    CtlRun lines = ctl_with_stdin({"apply", "-f", "-"},
                                  write_file("bulk-stdin.txt", "deny 10.5.0.0/16\n"
                                                               "allow 10.6.0.0/16 --ttl 1h\n"));
    ASSERT_EQ(lines.exit_code, 0) << lines.err;
    EXPECT_EQ(runtime_rules().size(), 2u);

    CtlRun array = ctl_with_stdin({"apply", "-f", "-", "--json"},
                                  write_file("bulk-stdin.json",
                                             R"([{"op": "unset", "match": "10.5.0.0/16"},
                       {"op": "set", "match": "10.7.0.0/16", "rate": "2pps", "burst": 4}])"));
    ASSERT_EQ(array.exit_code, 0) << array.err;
    const json result = array.parsed();
    EXPECT_EQ(result["changes"], 2);
    EXPECT_EQ(result["committed"]["added"], 1);
    EXPECT_EQ(result["committed"]["removed"], 1);
    EXPECT_EQ(result["committed"]["runtime_rules"], 2);
    EXPECT_EQ(delivered("10.7.0.1", 20), 4u);
    EXPECT_EQ(delivered("10.5.0.1", 20), 20u);
}

TEST_F(CtlTest, UnsetAllNeedsYesWhenItCannotAsk)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    const fs::path file = write_file("bulk-three.txt", deny_lines(3));
    ASSERT_EQ(ctl({"apply", "-f", file.string()}).exit_code, 0);

    CtlRun unasked = ctl_with_stdin({"unset", "--all"}, file);
    EXPECT_EQ(unasked.exit_code, 2);
    EXPECT_TRUE(contains(unasked.err, "give --yes")) << unasked.err;
    EXPECT_EQ(runtime_rules().size(), 3u);
    EXPECT_EQ(ctl({"unset", "10.0.0.0/8", "--all"}).exit_code, 2);

    CtlRun yes = ctl({"unset", "--all", "--yes"});
    ASSERT_EQ(yes.exit_code, 0) << yes.err;
    EXPECT_TRUE(contains(yes.out, "3 removed; 0 in force")) << yes.out;
    EXPECT_TRUE(runtime_rules().empty());
    EXPECT_EQ(runtime_rule_writes(daemon), 2);
    EXPECT_EQ(delivered("10.100.0.1", 20), 20u);
}

TEST_F(CtlTest, ThePartsOfAnApplyAreHeldByTheirConnectionOnly)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    auto part = [](std::uint64_t number, bool more, const std::string &match) {
        return control::encode(control::Request{
            number + 1,
            control::Command::Apply,
            {{"changes", {{{"op", "deny"}, {"match", match}}}}, {"part", number}, {"more", more}}});
    };
    {
        RawClient left(socket());
        left.send(part(0, true, "10.5.0.0/16"));
        auto held = left.response();
        ASSERT_TRUE(held && held->ok());
        EXPECT_EQ(std::get<json>(held->outcome)["committed"], json());
    } // closed before its last part: what it held is dropped
    RawClient other(socket());
    other.send(part(1, false, "10.6.0.0/16"));
    auto orphan = other.response();
    ASSERT_TRUE(orphan);
    ASSERT_FALSE(orphan->ok());
    EXPECT_EQ(std::get<control::Error>(orphan->outcome).code, control::ErrorCode::BadRequest);
    EXPECT_TRUE(runtime_rules().empty());

    other.send(part(0, true, "10.5.0.0/16"));
    other.send(part(1, false, "10.6.0.0/16"));
    auto first = other.response(), last = other.response();
    ASSERT_TRUE(first && first->ok() && last && last->ok());
    EXPECT_EQ(std::get<json>(last->outcome)["committed"]["added"], 2);
    EXPECT_EQ(runtime_rules().size(), 2u);
}

} // namespace
} // namespace ratelimit::test
