// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitd end to end (see daemon_fixture.hpp): attach, verdicts on the wire, reload, restart
// with and without keeping the program attached, and config and state files others could have
// written refused.

#include <bpf/bpf.h>
#include <net/if.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include "daemon_fixture.hpp"
#include "open_files_limit.hpp"

namespace ratelimit::test
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_F(DaemonTest, AttachesAndEnforcesTheConfiguredVerdicts)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();

    auto xdp = attached();
    EXPECT_EQ(program_name(xdp.prog_id), "ratelimit_xdp");
    EXPECT_EQ(xdp.mode, "native");
    EXPECT_NE(pinned_link_id(), 0u);

    EXPECT_EQ(delivered("10.9.0.1", 100), 0u);
    EXPECT_EQ(delivered("10.1.0.1", 100), 10u);
    EXPECT_EQ(delivered("10.2.0.1", 100), 100u);
    EXPECT_EQ(delivered("10.3.0.1", 100), 100u); // no rule, no default
}

TEST_F(DaemonTest, SighupAppliesNewRulesAndABrokenFileChangesNothing)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.2.0.1", 50), 50u);

    write_config(R"([{"match": "10.2.0.0/16", "action": "deny"}])");
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "rules (reload)");
    EXPECT_EQ(delivered("10.2.0.1", 50), 0u);
    EXPECT_EQ(delivered("10.9.0.1", 50), 50u); // its deny rule is gone

    std::ofstream(config_path()) << R"({"interfaces": [{"name": "nope0"}], "rulez": []})";
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "reload refused");
    EXPECT_NE(daemon.stderr_text().find("rulez: unknown field"), std::string::npos);
    EXPECT_EQ(delivered("10.2.0.1", 50), 0u);
    EXPECT_EQ(delivered("10.9.0.1", 50), 50u);
    EXPECT_FALSE(daemon.wait_for(0ms)) << "the daemon must survive a broken config";
}

TEST_F(DaemonTest, KeepAttachedRestartKeepsTheLinkAndTheBuckets)
{
    write_config(kStandardRules, R"(, "keep_attached_on_exit": true)");
    std::optional<Process> first(start_daemon());
    std::uint32_t link = pinned_link_id();
    ASSERT_NE(link, 0u);
    ASSERT_EQ(delivered("10.1.0.1", 100), 10u); // drains the source's bucket

    // Poll the interface through the whole restart: it must never be without a program.
    std::atomic<bool> polling{true};
    std::atomic<std::uint64_t> polls{0}, bare{0};
    std::thread poller([&] {
        host_ns_->run([&] {
            int ifindex = static_cast<int>(if_nametoindex(iface().c_str()));
            while (polling) {
                bare += query_xdp(ifindex).prog_id == 0;
                polls++;
            }
            return 0;
        });
    });
    auto restart_started = std::chrono::steady_clock::now();
    EXPECT_EQ(first->stop(), 0);
    first.reset();
    Process second = start_daemon();
    polling = false;
    poller.join();
    double restart_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - restart_started).count();

    EXPECT_GT(polls.load(), 100u);
    EXPECT_EQ(bare.load(), 0u) << "the interface was seen without a program";
    EXPECT_EQ(pinned_link_id(), link);
    EXPECT_NE(second.stderr_text().find("adopted"), std::string::npos);
    // The bucket was not refilled: only what 1 pps earned during the restart gets through.
    EXPECT_LE(delivered("10.1.0.1", 100), static_cast<std::uint64_t>(restart_s + 2));
}

// An upgrade's restart: SIGUSR2 stops the daemon as keep_attached_on_exit would, for this stop
// only, whatever the config says; the next daemon adopts the link.
TEST_F(DaemonTest, Sigusr2StopsKeepingTheProgramAttachedForTheNextDaemon)
{
    write_config(kStandardRules);
    std::optional<Process> first(start_daemon());
    std::uint32_t link = pinned_link_id();
    ASSERT_NE(link, 0u);
    first->signal(SIGUSR2);
    ASSERT_EQ(first->wait_for(5s), std::optional<int>(0)) << first->stderr_text();
    EXPECT_NE(attached().prog_id, 0u) << "SIGUSR2 must leave the program attached";
    EXPECT_EQ(pinned_link_id(), link);
    first.reset();
    Process second = start_daemon();
    EXPECT_NE(second.stderr_text().find("adopted"), std::string::npos);
    EXPECT_EQ(second.stop(), 0); // SIGTERM, as before: detaches
    EXPECT_EQ(attached().prog_id, 0u);
}

TEST_F(DaemonTest, SigtermLeavesNoProgramAndNoPins)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_NE(attached().prog_id, 0u);
    EXPECT_EQ(daemon.stop(), 0);
    EXPECT_EQ(attached().prog_id, 0u);
    EXPECT_FALSE(fs::exists(pins().root()));
    EXPECT_EQ(delivered("10.9.0.1", 20), 20u);
}

TEST_F(DaemonTest, RefusesAnUnknownInterfaceAndAForeignProgram)
{
    std::ofstream(config_path()) << R"({"interfaces": [{"name": "nope0"}]})";
    Process bad = host_ns_->spawn({RATELIMITD_PATH, "-c", config_path()}, dir_.path() / "bad.out",
                                  dir_.path() / "bad.err");
    EXPECT_EQ(bad.wait_for(10s), 78);
    EXPECT_NE(bad.stderr_text().find("nope0"), std::string::npos);

    // Someone else's XDP program on the interface: a clear error, and it is left alone.
    write_config(kStandardRules);
    Process first = start_daemon();
    std::uint32_t ours = attached().prog_id;
    fs::path other_pins = dir_.path() / "other";
    std::string cfg2 = (dir_.path() / "cfg2.json").string();
    {
        std::ifstream in(config_path());
        std::string text((std::istreambuf_iterator<char>(in)), {});
        auto at = text.find(pin_dir().string());
        text.replace(at, pin_dir().string().size(), (bpffs_->path() / "other").string());
        at = text.find("run/ratelimitd.sock");
        text.replace(at, 19, "run2/ratelimitd.sock");
        std::ofstream(cfg2) << text;
    }
    Process second = host_ns_->spawn({RATELIMITD_PATH, "-c", cfg2}, dir_.path() / "2.out",
                                     dir_.path() / "2.err");
    EXPECT_EQ(second.wait_for(10s), 1);
    EXPECT_NE(second.stderr_text().find("already has an XDP program"), std::string::npos)
        << second.stderr_text();
    EXPECT_EQ(attached().prog_id, ours);
}

TEST_F(DaemonTest, PinsOfAnotherLayoutAreReplacedWholeAndTheProgramStays)
{
    write_config(kStandardRules, R"(, "keep_attached_on_exit": true)");
    std::optional<Process> first(start_daemon());
    std::uint32_t link = pinned_link_id();
    EXPECT_EQ(first->stop(), 0);
    first.reset();

    // Another capacity: the maps cannot be reused, the link can.
    write_config(kStandardRules, R"(, "keep_attached_on_exit": true, "max_sources": 4096)");
    Process second = start_daemon();
    EXPECT_NE(second.stderr_text().find("are not this program's"), std::string::npos)
        << second.stderr_text();
    EXPECT_NE(second.stderr_text().find("data path created"), std::string::npos);
    EXPECT_EQ(pinned_link_id(), link);
    EXPECT_EQ(delivered("10.1.0.1", 100), 10u); // fresh buckets, rules reinstalled
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u);
}

TEST_F(DaemonTest, MapsAnEarlierVersionPinnedUnderOtherNamesAreReplacedAndTheProgramStays)
{
    write_config(kStandardRules, R"(, "keep_attached_on_exit": true)");
    std::optional<Process> first(start_daemon());
    std::uint32_t link = pinned_link_id();
    EXPECT_EQ(first->stop(), 0);
    first.reset();

    // As a version that named its maps without the prefix would have left them.
    auto pinned_maps = [this] {
        std::set<std::string> names;
        for (const auto &entry : fs::directory_iterator(pins().maps_dir()))
            names.insert(entry.path().filename().string());
        return names;
    };
    const std::set<std::string> ours = pinned_maps();
    ASSERT_FALSE(ours.empty());
    for (const std::string &name : ours) {
        ASSERT_TRUE(name.starts_with("rld_")) << name;
        fs::rename(pins().map(name), pins().map(name.substr(4)));
    }

    Process second = start_daemon();
    EXPECT_NE(second.stderr_text().find("are not this program's"), std::string::npos)
        << second.stderr_text();
    EXPECT_NE(second.stderr_text().find("data path created"), std::string::npos);
    EXPECT_EQ(pinned_link_id(), link);
    EXPECT_EQ(pinned_maps(), ours) << "the old pins are gone, the new ones in place";
    EXPECT_EQ(delivered("10.1.0.1", 100), 10u); // fresh buckets, rules reinstalled
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u);
}

TEST_F(DaemonTest, AnUnknownLogLevelIsAUsageErrorNamingTheLevels)
{
    write_config(kStandardRules);
    for (std::string level : {"verbose", "WARN", "", "0"}) {
        for (bool check : {true, false}) {
            std::vector<std::string> args = {"-c", config_path(), "--log-level", level};
            if (check)
                args.push_back("--check");
            Process daemon = spawn_daemon(args);
            EXPECT_EQ(daemon.wait_for(10s), 2) << level;
            EXPECT_NE(daemon.stderr_text().find(
                          "is not one of trace, debug, info, warn, error, critical or off"),
                      std::string::npos)
                << level << ": " << daemon.stderr_text();
        }
    }
    Process upper = spawn_daemon({"-c", config_path(), "--log-level", "WARN", "--check"});
    upper.wait_for(10s);
    EXPECT_NE(upper.stderr_text().find(R"(did you mean "warn"?)"), std::string::npos)
        << upper.stderr_text();
    EXPECT_EQ(attached().prog_id, 0u);
}

TEST_F(DaemonTest, LogLevelOffStillPrintsWhyItExits)
{
    write_config(kStandardRules);
    Process first = start_daemon();
    Process second = spawn_daemon({"-c", config_path(), "--log-level", "off"});
    EXPECT_EQ(second.wait_for(10s), 1);
    EXPECT_NE(second.stderr_text().find("critical: another ratelimitd"), std::string::npos)
        << second.stderr_text();
    EXPECT_EQ(second.stderr_text().find("info:"), std::string::npos) << "off silences the rest";
}

// What --check accepts, a start does not refuse halfway: both refuse, before anything is attached.
TEST_F(DaemonTest, CheckAndStartRefuseAMissingGroupOrAnUnusableDirectoryBeforeAttaching)
{
    write_config(kStandardRules);
    set_control_group("rlt-no-such-group");
    const std::string group_error = R"(control.group: no group named "rlt-no-such-group")";
    Process check = spawn_daemon({"--check", "-c", config_path()});
    EXPECT_EQ(check.wait_for(10s), 78);
    EXPECT_NE(check.stderr_text().find(group_error), std::string::npos) << check.stderr_text();
    Process start = spawn_daemon({"-c", config_path()});
    EXPECT_EQ(start.wait_for(10s), 78);
    EXPECT_NE(start.stderr_text().find(group_error), std::string::npos) << start.stderr_text();
    EXPECT_EQ(attached().prog_id, 0u);
    EXPECT_FALSE(fs::exists(pins().root()));

    // A state_dir under a regular file can never be created.
    write_config(kStandardRules);
    std::ofstream(dir_.path() / "file") << "not a directory\n";
    edit_config((dir_.path() / "state").string(), (dir_.path() / "file/state").string());
    Process bad_dir = spawn_daemon({"--check", "-c", config_path()});
    EXPECT_EQ(bad_dir.wait_for(10s), 78);
    EXPECT_NE(bad_dir.stderr_text().find("state_dir: \"" + (dir_.path() / "file/state").string() +
                                         "\": " + (dir_.path() / "file").string() +
                                         " is not a directory"),
              std::string::npos)
        << bad_dir.stderr_text();

    // A reload checks the same: the running daemon keeps its rules.
    write_config(kStandardRules);
    Process daemon = start_daemon();
    write_config(R"([{"match": "10.2.0.0/16", "action": "deny"}])");
    set_control_group("rlt-no-such-group");
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "reload refused");
    EXPECT_NE(daemon.stderr_text().find(group_error), std::string::npos) << daemon.stderr_text();
    EXPECT_EQ(delivered("10.2.0.1", 20), 20u);
}

// A selector is validated with the rule (field, value, why); a valid one is refused by this data
// path, by --check, at start and on reload, rather than enforced on all of its sources' traffic.
TEST_F(DaemonTest, BadAndUnenforceableSelectorsAreRefusedNamingTheField)
{
    const std::pair<const char *, const char *> cases[] = {
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": "udp", "port": 0}])",
         R"(rules[0].port: "0" is not a port (1 .. 65535))"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "port": 53}])",
         R"(rules[0].port: 53 needs "proto": "tcp" or "udp")"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": "udp", "port": "30-20"}])",
         R"(rules[0].port: "30-20" is a reversed range; did you mean "20-30"?)"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": "sctpp"}])",
         R"(rules[0].proto: "sctpp" is not one of tcp, udp, icmp, icmpv6)"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": 300}])",
         R"(rules[0].proto: 300 is not a protocol number (0 .. 255))"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": "udp", "tcp_flags": "syn"}])",
         R"(rules[0].tcp_flags: "syn" needs "proto": "tcp")"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": "tcp", "tcp_flags": "rst"}])",
         R"(rules[0].tcp_flags: "rst" is not one of syn)"},
        {R"([{"match": "10.2.0.0/16", "rate": 1, "proto": "udp", "port": 53}])",
         R"(rules[0].proto: "udp/53": this data path enforces rules on all traffic only)"},
    };
    for (const auto &[rules, error] : cases) {
        write_config(rules);
        Process check = spawn_daemon({"--check", "-c", config_path()});
        EXPECT_EQ(check.wait_for(10s), 78) << rules;
        EXPECT_NE(check.stderr_text().find(error), std::string::npos) << check.stderr_text();
    }
    write_config(kStandardRules);
    Process daemon = start_daemon();
    write_config(R"([{"match": "10.2.0.0/16", "action": "deny", "proto": "tcp", "port": 443}])");
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "reload refused");
    EXPECT_NE(daemon.stderr_text().find(R"(rules[0].proto: "tcp/443")"), std::string::npos)
        << daemon.stderr_text();
    EXPECT_EQ(delivered("10.2.0.1", 20), 20u) << "the running rules stay";
}

TEST_F(DaemonTest, OneInstanceAtATime)
{
    write_config(kStandardRules);
    Process first = start_daemon();
    Process second = host_ns_->spawn({RATELIMITD_PATH, "-c", config_path()},
                                     dir_.path() / "second.out", dir_.path() / "second.err");
    EXPECT_EQ(second.wait_for(std::chrono::seconds(10)), 1);
    EXPECT_NE(second.stderr_text().find("another ratelimitd"), std::string::npos)
        << second.stderr_text();
    EXPECT_FALSE(first.wait_for(std::chrono::milliseconds(0)));
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u);
}

TEST_F(DaemonTest, RaisesItsSoftOpenFilesLimitToTheHardOne)
{
    write_config(kStandardRules);
    rlimit own{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &own), 0);
    std::optional<Process> daemon;
    {
        // Started with systemd's default soft limit (or one below the hard limit, if lower).
        const OpenFilesLimit inherited(std::min<rlim_t>(1024, own.rlim_max - 1));
        daemon.emplace(start_daemon());
    }
    rlimit raised{};
    ASSERT_EQ(::prlimit(daemon->pid(), RLIMIT_NOFILE, nullptr, &raised), 0);
    EXPECT_EQ(raised.rlim_cur, own.rlim_max);
    EXPECT_EQ(raised.rlim_max, own.rlim_max);
}

// ----- files the daemon trusts ---------------------------------------------------------------

class TrustTest : public DaemonTest
{
  protected:
    // Starts a daemon that must refuse to start; returns what it logged.
    std::string refused_start()
    {
        const std::string name = "refused" + std::to_string(++refusals_);
        Process refused =
            host_ns_->spawn({RATELIMITD_PATH, "-c", config_path()}, dir_.path() / (name + ".out"),
                            dir_.path() / (name + ".err"));
        EXPECT_EQ(refused.wait_for(10s), 78)
            << "restarting would not fix it: " << refused.stderr_text();
        return refused.stderr_text();
    }

    int refusals_ = 0;
};

TEST_F(TrustTest, ASymlinkedRuntimeRuleFileIsRefusedWithoutQuotingWhatItLeadsTo)
{
    write_config(kStandardRules);
    fs::create_directory(state_dir());
    fs::permissions(state_dir(), fs::perms(0750));
    // A JSON string, which the rule file's errors would quote if it were read.
    std::ofstream(dir_.path() / "secret") << R"("hunter2-secret")";
    fs::create_symlink(dir_.path() / "secret", state_dir() / "runtime-rules.json");
    const std::string log = refused_start();
    EXPECT_NE(log.find((state_dir() / "runtime-rules.json").string() + ": it is a symbolic link"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
    EXPECT_EQ(attached().prog_id, 0u);
}

TEST_F(TrustTest, AStateDirectoryOthersCanWriteIsRefusedSayingHowToFixIt)
{
    write_config(kStandardRules);
    fs::create_directory(state_dir());
    fs::permissions(state_dir(), fs::perms(0777));
    const std::string log = refused_start();
    EXPECT_NE(log.find(state_dir().string() + " is writable by its group and others (mode 0777)"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("chmod go-w " + state_dir().string()), std::string::npos) << log;
    EXPECT_EQ(attached().prog_id, 0u);

    fs::permissions(state_dir(), fs::perms(0750));
    Process fixed = start_daemon();
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u);
}

TEST_F(TrustTest, AConfigOthersCanWriteIsRefusedAtStartAndOnReload)
{
    write_config(kStandardRules);
    fs::permissions(config_path(), fs::perms(0664));
    std::string log = refused_start();
    EXPECT_NE(log.find(config_path().string() + ": it is writable by its group (mode 0664)"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("chmod go-w " + config_path().string()), std::string::npos) << log;

    fs::permissions(config_path(), fs::perms(0644));
    fs::permissions(dir_.path(), fs::perms(0757));
    log = refused_start();
    EXPECT_NE(log.find(dir_.path().string() + " is writable by others (mode 0757)"),
              std::string::npos)
        << log;

    // A root-owned 0644 file in a 0755 directory, as /etc/ratelimitd/ratelimitd.json is.
    fs::permissions(dir_.path(), fs::perms(0755));
    Process daemon = start_daemon();
    write_config(R"([{"match": "10.2.0.0/16", "action": "deny"}])");
    fs::permissions(config_path(), fs::perms(0666));
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "reload refused");
    EXPECT_NE(daemon.stderr_text().find("writable by its group and others (mode 0666)"),
              std::string::npos)
        << daemon.stderr_text();
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u) << "the running rules stay";
    EXPECT_EQ(delivered("10.2.0.1", 20), 20u);
}

} // namespace
} // namespace ratelimit::test
