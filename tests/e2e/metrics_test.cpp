// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// /metrics end to end (see daemon_fixture.hpp): a live scrape passes `promtool check metrics`, a
// real Prometheus scraping the daemon reports the packets the far side counted, ratelimitctl
// stats shows the same counters, and no counter goes back across a reload or a restart that
// keeps the program attached. No client of the metrics port can take the daemon's memory or
// descriptors or hold up a scrape: a body is refused before it is read, a client that drips its
// request is cut off, and connections held open never starve the control socket. A state disk
// that takes no writes (full, read-only) is reported there and in status, retried, and never
// fatal. Everything HTTP happens on the loopback of the daemon's network namespace.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"
#include "daemon/host_check.hpp"
#include "metrics_fixture.hpp"
#include "metrics/http_server.hpp"

namespace ratelimit::test
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

bool is_counter(const std::string &series)
{
    return series.substr(0, series.find('{')).ends_with("_total");
}

// Every counter series of `before` is in `after`, with a value no lower.
void expect_no_counter_went_back(const Samples &before, const Samples &after, const char *across)
{
    for (const auto &[series, value] : before) {
        if (!is_counter(series))
            continue;
        auto later = after.find(series);
        if (later == after.end())
            ADD_FAILURE() << series << " is gone after " << across;
        else
            EXPECT_GE(later->second, value) << series << " went back across " << across;
    }
}

class MetricsTest : public MetricsDaemonTest
{
  protected:
    // A Prometheus server on the loopback of the daemon's namespace, scraping it every second.
    // Returns the port its HTTP API listens on once it is ready.
    std::uint16_t start_prometheus()
    {
        const fs::path config = dir_.path() / "prometheus.yml";
        std::ofstream(config) << "global:\n"
                                 "  scrape_interval: 1s\n"
                                 "  scrape_timeout: 1s\n"
                                 "scrape_configs:\n"
                                 "  - job_name: ratelimitd\n"
                                 "    static_configs:\n"
                                 "      - targets: ['127.0.0.1:"
                              << metrics_port_ << "']\n";
        const std::uint16_t port = free_loopback_port();
        prometheus_.emplace(
            host_ns_->spawn({"prometheus", "--config.file=" + config.string(),
                             "--storage.tsdb.path=" + (dir_.path() / "prometheus-data").string(),
                             "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                            dir_.path() / "prometheus.out", dir_.path() / "prometheus.err"));
        for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;
             std::this_thread::sleep_for(100ms)) {
            try {
                if (http_get(port, "/-/ready").status == 200)
                    return port;
            } catch (const std::runtime_error &) {
                // not listening yet
            }
            if (auto code = prometheus_->wait_for(0ms))
                throw std::runtime_error("prometheus exited with " + std::to_string(*code) + ":\n" +
                                         prometheus_->stderr_text());
        }
        throw std::runtime_error("prometheus was not ready within 30 s:\n" +
                                 prometheus_->stderr_text());
    }

    // The instant query `promql` against the Prometheus at `port`: each resulting series' labels
    // and value.
    std::vector<std::pair<json, double>> query(std::uint16_t port, const std::string &promql) const
    {
        HttpAnswer answer = http_get(port, "/api/v1/query?query=" + promql);
        const json reply = json::parse(answer.body);
        if (answer.status != 200 || reply.value("status", "") != "success")
            throw std::runtime_error("query " + promql + ": " + answer.body);
        std::vector<std::pair<json, double>> series;
        for (const auto &result : reply["data"]["result"])
            series.emplace_back(result["metric"], std::stod(result["value"][1].get<std::string>()));
        return series;
    }

    // A TCP connection to the metrics port from the daemon's namespace, connected (or, with
    // `wait` false, still connecting).
    UniqueFd connect_to_metrics(bool wait = true) const
    {
        return host_ns_->run([&] {
            UniqueFd fd(
                check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK), 0),
                      "socket"));
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            address.sin_port = htons(metrics_port_);
            if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 &&
                (wait || errno != EINPROGRESS))
                throw SystemError(errno, "connect to the metrics port");
            return fd;
        });
    }

    // The status of the runtime rule file, as `ratelimitctl status` and /metrics report it.
    struct RuleFileState {
        json status;       // status's "state_files" entry
        double saved = -1; // ratelimitd_state_saved
        double write_failures = -1;
    };
    RuleFileState rule_file_state() const
    {
        RuleFileState state;
        const json status = ctl_json({"status"});
        for (const json &file : status["state_files"])
            if (fs::path(file["path"].get<std::string>()).filename() == "runtime-rules.json")
                state.status = file;
        const Samples samples = samples_of(scrape());
        const std::string labels = R"({file="runtime-rules.json"})";
        state.saved = samples.at("ratelimitd_state_saved" + labels);
        state.write_failures = samples.at("ratelimitd_state_write_failures_total" + labels);
        return state;
    }

    std::optional<Process> prometheus_;
};

TEST_F(MetricsTest, ALiveScrapePassesPromtoolAndOnlyMetricsIsServed)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 30), 10u);
    EXPECT_EQ(delivered("10.9.0.1", 5), 0u);

    const HttpAnswer answer = http_get(metrics_port_, "/metrics");
    ASSERT_EQ(answer.status, 200);
    EXPECT_EQ(answer.content_type, "text/plain; version=0.0.4; charset=utf-8");
    const fs::path scraped = dir_.path() / "scrape.txt";
    std::ofstream(scraped) << answer.body;
    // promtool reads the exposition from stdin, and exits non-zero on a problem it finds.
    EXPECT_NO_THROW(run_command({"sh", "-c", "promtool check metrics < " + scraped.string()}))
        << answer.body;

    const Samples samples = samples_of(answer.body);
    const std::string on = "{interface=\"" + iface() + "\",";
    EXPECT_EQ(
        samples.at("ratelimitd_packets_total" + on + R"(verdict="pass",reason="conforming"})"), 10);
    EXPECT_EQ(
        samples.at("ratelimitd_packets_total" + on + R"(verdict="drop",reason="over_limit"})"), 20);
    EXPECT_EQ(samples.at("ratelimitd_packets_total" + on + R"(verdict="drop",reason="denied"})"),
              5);
    EXPECT_EQ(samples.at("ratelimitd_xdp_attached" + on + R"(mode="native"})"), 1);
    EXPECT_EQ(samples.at(R"(ratelimitd_rules{origin="config"})"), 3);
    EXPECT_EQ(samples.at("ratelimitd_tracked_sources"), static_cast<double>(tracked_sources()));
    EXPECT_EQ(samples.at("ratelimitd_source_capacity"), 1'000'000);
    EXPECT_EQ(answer.body.find("10.1.0.1"), std::string::npos) << "a label per source address";

    EXPECT_EQ(http_get(metrics_port_, "/").status, 404);
    EXPECT_EQ(http_get(metrics_port_, "/metrics/extra").status, 404);
}

// A named rule's series count what the far side received (passed) and what it did not (sent
// minus received: dropped); the unnamed rules are summed under rule="".
TEST_F(MetricsTest, NamedRulesCountWhatTheFarSideReceivedAndWhatItDidNot)
{
    write_config(R"([{"match": "10.9.0.0/16", "action": "deny", "name": "blocked"},
                     {"match": "10.1.0.0/16", "rate": "1pps", "burst": 10, "name": "lab"},
                     {"match": "10.2.0.0/16", "action": "allow"}])");
    Process daemon = start_daemon();
    const std::uint64_t lab_received = delivered("10.1.0.1", 30);
    const std::uint64_t blocked_received = delivered("10.9.0.1", 7);
    const std::uint64_t allowed_received = delivered("10.2.0.1", 4);
    ASSERT_EQ(lab_received, 10u);

    const Samples samples = samples_of(scrape());
    auto rule = [&](const char *name, const char *verdict, const char *reason) {
        return samples.at(std::string("ratelimitd_rule_packets_total{rule=\"") + name +
                          "\",verdict=\"" + verdict + "\",reason=\"" + reason + "\"}");
    };
    EXPECT_EQ(rule("lab", "pass", "conforming"), lab_received);
    EXPECT_EQ(rule("lab", "drop", "over_limit"), 30 - lab_received);
    EXPECT_EQ(rule("blocked", "drop", "denied"), 7 - blocked_received);
    EXPECT_EQ(rule("blocked", "pass", "denied"), 0);
    EXPECT_EQ(rule("", "pass", "allowed"), allowed_received);
    EXPECT_GT(
        samples.at(R"(ratelimitd_rule_bytes_total{rule="lab",verdict="pass",reason="conforming"})"),
        0);
}

TEST_F(MetricsTest, PrometheusScrapesThePacketsTheFarSideCounted)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    const std::uint16_t prometheus = start_prometheus();

    struct Traffic {
        const char *source;
        std::uint64_t sent;
        const char *passed_as;  // the reason its delivered packets are counted under
        const char *dropped_as; // and its dropped ones
    };
    const Traffic traffic[] = {{"10.2.0.1", 40, "allowed", "allowed"},
                               {"10.9.0.1", 30, "denied", "denied"},
                               {"10.1.0.1", 50, "conforming", "over_limit"},
                               {"10.3.0.1", 20, "no_rule", "no_rule"}};
    std::map<std::string, double> expected; // "verdict/reason" -> packets
    for (const auto &t : traffic) {
        const std::uint64_t got = delivered(t.source, t.sent);
        expected["pass/" + std::string(t.passed_as)] += static_cast<double>(got);
        expected["drop/" + std::string(t.dropped_as)] += static_cast<double>(t.sent - got);
    }
    // The traffic did what the rules say, so the comparison below is not of zeroes.
    ASSERT_EQ(expected["pass/allowed"], 40);
    ASSERT_EQ(expected["drop/denied"], 30);
    ASSERT_EQ(expected["pass/conforming"], 10);
    ASSERT_EQ(expected["drop/over_limit"], 40);
    ASSERT_EQ(expected["pass/no_rule"], 20);

    // Prometheus scrapes every second: wait until a scrape after the traffic is what it reports.
    std::map<std::string, double> reported;
    for (auto deadline = Clock::now() + 30s; Clock::now() < deadline;
         std::this_thread::sleep_for(250ms)) {
        reported.clear();
        for (const auto &[labels, value] : query(prometheus, "ratelimitd_packets_total")) {
            EXPECT_EQ(labels.value("interface", ""), iface());
            EXPECT_EQ(labels.value("job", ""), "ratelimitd");
            reported[labels.value("verdict", "") + "/" + labels.value("reason", "")] = value;
        }
        bool all_seen = !reported.empty();
        for (const auto &[series, packets] : expected)
            all_seen = all_seen && reported[series] == packets;
        if (all_seen)
            break;
    }
    double passed = 0;
    for (const auto &[series, packets] : reported) {
        EXPECT_EQ(packets, expected[series]) << series;
        if (series.starts_with("pass/"))
            passed += packets;
    }
    EXPECT_EQ(passed, static_cast<double>(counter_->total())) << "the far side counts";
    EXPECT_EQ(reported.size(), 18u)
        << "every reason (9, banned among them) and verdict of the one interface";
}

TEST_F(MetricsTest, RatelimitctlStatsShowsTheCountersMetricsShows)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_EQ(delivered("10.1.0.1", 25), 10u);
    ASSERT_EQ(delivered("10.9.0.1", 7), 0u);
    settle();

    const json stats = ctl_json({"stats"});
    const Samples samples = samples_of(scrape());
    ASSERT_EQ(stats["interfaces"].size(), 1u);
    std::size_t compared = 0;
    for (const auto &interface : stats["interfaces"]) {
        for (const auto &counter : interface["counters"]) {
            const std::string labels = "{interface=\"" + interface["name"].get<std::string>() +
                                       "\",verdict=\"" + counter["verdict"].get<std::string>() +
                                       "\",reason=\"" + counter["reason"].get<std::string>() +
                                       "\"}";
            EXPECT_EQ(samples.at("ratelimitd_packets_total" + labels),
                      counter["packets"].get<double>())
                << labels;
            EXPECT_EQ(samples.at("ratelimitd_bytes_total" + labels), counter["bytes"].get<double>())
                << labels;
            compared++;
        }
    }
    EXPECT_EQ(compared, 18u);
}

TEST_F(MetricsTest, CountersNeverGoBackAcrossAReloadOrAKeepAttachedRestart)
{
    const std::string keep = R"(, "keep_attached_on_exit": true)";
    write_config(kStandardRules, keep);
    std::optional<Process> first(start_daemon());
    ASSERT_EQ(delivered("10.1.0.1", 30), 10u);
    const Samples started = samples_of(scrape());
    EXPECT_EQ(started.at(R"(ratelimitd_config_reloads_total{result="success"})"), 0);

    write_config(R"([{"match": "10.1.0.0/16", "rate": "1pps", "burst": 10},
                     {"match": "10.4.0.0/16", "action": "deny"}])",
                 keep);
    first->signal(SIGHUP);
    wait_for_log(*first, "rules (reload)");
    const Samples reloaded = samples_of(scrape());
    expect_no_counter_went_back(started, reloaded, "a reload");
    EXPECT_EQ(reloaded.at(R"(ratelimitd_config_reloads_total{result="success"})"), 1);
    EXPECT_EQ(reloaded.at(R"(ratelimitd_rules{origin="config"})"), 2);
    EXPECT_GE(reloaded.at("ratelimitd_last_reload_success_timestamp_seconds"),
              started.at("ratelimitd_last_reload_success_timestamp_seconds"));

    std::ofstream(config_path()) << "{ not json";
    first->signal(SIGHUP);
    wait_for_log(*first, "reload refused");
    const Samples refused = samples_of(scrape());
    expect_no_counter_went_back(reloaded, refused, "a refused reload");
    EXPECT_EQ(refused.at(R"(ratelimitd_config_reloads_total{result="failure"})"), 1);
    EXPECT_EQ(refused.at("ratelimitd_last_reload_success_timestamp_seconds"),
              reloaded.at("ratelimitd_last_reload_success_timestamp_seconds"));

    write_config(kStandardRules, keep);
    EXPECT_EQ(first->stop(), 0);
    first.reset();
    Process second = start_daemon();
    const Samples restarted = samples_of(scrape());
    expect_no_counter_went_back(refused, restarted, "a keep-attached restart");
    EXPECT_EQ(restarted.at(R"(ratelimitd_config_reloads_total{result="success"})"), 1);
    EXPECT_EQ(restarted.at(R"(ratelimitd_config_reloads_total{result="failure"})"), 1);

    // And they still count.
    EXPECT_EQ(delivered("10.9.0.1", 6), 0u);
    const Samples later = samples_of(scrape());
    const std::string denied =
        "ratelimitd_packets_total{interface=\"" + iface() + R"(",verdict="drop",reason="denied"})";
    EXPECT_EQ(later.at(denied), restarted.at(denied) + 6);
}

// A log sink that scrapes /metrics from inside the log call when a line starts with one of
// `triggers`: what it sees is what a reader who has just seen that line can see at the earliest.
class ScrapeWhenLogged : public spdlog::sinks::base_sink<std::mutex>
{
  public:
    ScrapeWhenLogged(std::vector<std::string> triggers, std::function<std::string()> scrape)
        : triggers_(std::move(triggers)), scrape_(std::move(scrape))
    {
    }

    // Each trigger seen, with the scrape made while it was being logged.
    std::map<std::string, Samples> seen;

  protected:
    void sink_it_(const spdlog::details::log_msg &message) override
    {
        std::string_view text(message.payload.data(), message.payload.size());
        for (const auto &trigger : triggers_)
            if (text.starts_with(trigger))
                seen[trigger] = samples_of(scrape_());
    }
    void flush_() override {}

  private:
    std::vector<std::string> triggers_;
    std::function<std::string()> scrape_;
};

// The daemon runs in this process, so that a sink can scrape while the reload's line is being
// logged: had the figures been published after the line (as they once were), this would see
// them before they were.
TEST_F(MetricsTest, AReloadIsCountedAndPublishedBeforeItIsLogged)
{
    write_config(kStandardRules);
    auto sink = std::make_shared<ScrapeWhenLogged>(
        std::vector<std::string>{"rules (reload)", "reload refused"}, [this] { return scrape(); });
    host_ns_->run([&] {
        auto parsed = load_config_for_host(config_path());
        ASSERT_TRUE(parsed.value) << parsed.errors.at(0).to_string();
        Daemon daemon(config_path(), *parsed.value);
        spdlog::default_logger()->sinks().push_back(sink);
        write_config(R"([{"match": "10.4.0.0/16", "action": "deny"}])");
        EXPECT_TRUE(daemon.reload().ok);
        std::ofstream(config_path()) << "{ not json";
        EXPECT_FALSE(daemon.reload().ok);
        spdlog::default_logger()->sinks().pop_back();
    });
    ASSERT_EQ(sink->seen.size(), 2u);
    const Samples &applied = sink->seen.at("rules (reload)");
    EXPECT_EQ(applied.at(R"(ratelimitd_config_reloads_total{result="success"})"), 1);
    EXPECT_EQ(applied.at(R"(ratelimitd_rules{origin="config"})"), 1);
    const Samples &refused = sink->seen.at("reload refused");
    EXPECT_EQ(refused.at(R"(ratelimitd_config_reloads_total{result="failure"})"), 1);
}

// ----- a state disk that takes no writes ------------------------------------------------------

std::string file_text(const fs::path &file)
{
    std::stringstream text;
    text << std::ifstream(file).rdbuf();
    return text.str();
}

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

TEST_F(MetricsTest, ARuleExpiringOnAFullStateDiskLeavesTheMapsAndTheFileCatchesUp)
{
    Tmpfs disk(1 << 20);
    use_state_dir(disk.path());
    write_config(kStandardRules);
    Process daemon = start_daemon();
    const fs::path rule_file = disk.path() / "runtime-rules.json";
    ctl_json({"deny", "10.5.0.0/16", "--ttl", "3s"});
    ASSERT_TRUE(contains(file_text(rule_file), "10.5.0.0/16"));
    EXPECT_EQ(delivered("10.5.0.1", 20), 0u);

    const fs::path filler = disk.fill();
    wait_for_log(daemon, "runtime rule 10.5.0.0/16 expired");
    wait_for_log(daemon, "No space left on device");
    EXPECT_EQ(delivered("10.5.0.1", 20), 20u) << "the expired rule is out of the maps";
    const RuleFileState full = rule_file_state();
    EXPECT_EQ(full.status["saved"], false);
    EXPECT_TRUE(contains(full.status["error"].get<std::string>(), "No space left on device"))
        << full.status;
    EXPECT_GE(full.status["write_failures"].get<int>(), 1);
    EXPECT_EQ(full.saved, 0);
    EXPECT_GE(full.write_failures, 1);
    EXPECT_TRUE(contains(file_text(rule_file), "10.5.0.0/16")) << "behind, but whole";

    // A change that cannot be written is in force all the same, and says so.
    const json denied = ctl_json({"deny", "10.6.0.0/16"});
    EXPECT_EQ(denied["state_file"]["saved"], false) << denied;
    EXPECT_EQ(delivered("10.6.0.1", 20), 0u);

    fs::remove(filler);
    wait_for_log(daemon, "runtime-rules.json saved again");
    const json rules = json::parse(file_text(rule_file))["rules"];
    ASSERT_EQ(rules.size(), 1u) << rules;
    EXPECT_EQ(rules[0]["match"], "10.6.0.0/16");
    const RuleFileState freed = rule_file_state();
    EXPECT_EQ(freed.status["saved"], true);
    EXPECT_TRUE(freed.status["error"].is_null());
    EXPECT_EQ(freed.saved, 1);
    EXPECT_EQ(freed.write_failures, freed.status["write_failures"].get<double>());
    EXPECT_FALSE(daemon.wait_for(0ms));
}

class StateDiskTest : public MetricsTest
{
  protected:
    // A daemon starts on a state disk `spoil` made take no writes, with a rule file in which a
    // rule expired while no daemon ran: it starts, serves, and says the file is not saved.
    void starts_on_a_disk_that_takes_no_writes(const std::function<void(const Tmpfs &)> &spoil,
                                               const std::string &error)
    {
        Tmpfs disk(1 << 20);
        use_state_dir(disk.path());
        std::ofstream(disk.path() / "runtime-rules.json") << R"({"version": 1, "rules": [
            {"match": "10.5.0.0/16", "action": "deny", "expires": "2020-01-01T00:00:00Z"},
            {"match": "10.6.0.0/16", "action": "deny"}]})";
        spoil(disk);
        write_config(kStandardRules);
        Process daemon = start_daemon();
        wait_for_log(daemon, "runtime rule 10.5.0.0/16 expired");
        wait_for_log(daemon, "runtime-rules.json not saved");
        EXPECT_TRUE(contains(daemon.stderr_text(), error)) << daemon.stderr_text();
        EXPECT_EQ(delivered("10.5.0.1", 20), 20u);
        EXPECT_EQ(delivered("10.6.0.1", 20), 0u);
        const RuleFileState state = rule_file_state();
        EXPECT_EQ(state.status["saved"], false);
        EXPECT_EQ(state.saved, 0);
        EXPECT_EQ(ctl_json({"list"})["runtime"].size(), 1u);
        EXPECT_FALSE(daemon.wait_for(0ms)) << daemon.stderr_text();
    }
};

TEST_F(StateDiskTest, StartsOnAFullStateDisk)
{
    starts_on_a_disk_that_takes_no_writes([](const Tmpfs &disk) { disk.fill(); },
                                          "No space left on device");
}

TEST_F(StateDiskTest, StartsOnAReadOnlyStateDisk)
{
    starts_on_a_disk_that_takes_no_writes([](const Tmpfs &disk) { disk.make_read_only(); },
                                          "Read-only file system");
}

TEST_F(MetricsTest, AnAddressInUseIsAStartupErrorNamingIt)
{
    write_config(kStandardRules);
    // Something else listens on the metrics port already.
    const UniqueFd taken = host_ns_->run([this] {
        UniqueFd fd(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(metrics_port_);
        check(::bind(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address), "bind");
        check(::listen(fd.get(), 1), "listen");
        return fd;
    });
    Process daemon = host_ns_->spawn({RATELIMITD_PATH, "-c", config_path()},
                                     dir_.path() / "taken.out", dir_.path() / "taken.err");
    EXPECT_EQ(daemon.wait_for(15s), 1);
    EXPECT_NE(daemon.stderr_text().find("metrics.listen: cannot listen on 127.0.0.1:" +
                                        std::to_string(metrics_port_)),
              std::string::npos)
        << daemon.stderr_text();
    EXPECT_EQ(attached().prog_id, 0u) << "a daemon that failed to start left its program";
}

// A line of /proc/PID/status ("VmHWM", ...), in kB.
long status_kib(pid_t pid, const std::string &field)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with(field + ":"))
            return std::stol(line.substr(field.size() + 1));
    throw std::runtime_error("no " + field + " in /proc/" + std::to_string(pid) + "/status");
}

std::size_t open_descriptors(pid_t pid)
{
    const fs::directory_iterator fds("/proc/" + std::to_string(pid) + "/fd");
    return static_cast<std::size_t>(std::distance(fds, fs::directory_iterator()));
}

struct Refusal {
    int status = 0;            // of the answer; 0 if none came
    std::size_t body_sent = 0; // bytes of the body the daemon took before it answered
    Clock::duration took{};
};

// Sends `head` and then up to `body` bytes of body on `fd`, as fast as the daemon takes them,
// until the daemon answers (or 10 s pass).
Refusal send_with_body(int fd, const std::string &head, std::size_t body)
{
    const auto start = Clock::now();
    check(::fcntl(fd, F_SETFL, O_NONBLOCK), "make the client non-blocking");
    const std::string zeros(64 * 1024, '\0');
    std::string_view head_left = head;
    std::string received;
    Refusal refusal;
    for (;;) {
        const bool sending = !head_left.empty() || refusal.body_sent < body;
        pollfd watched{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(start + 10s - Clock::now());
        if (left <= 0ms || ::poll(&watched, 1, static_cast<int>(left.count())) <= 0)
            break;
        if (watched.revents & (POLLIN | POLLHUP | POLLERR)) {
            char chunk[4096];
            const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
            if (got <= 0)
                break;
            received.append(chunk, static_cast<std::size_t>(got));
            if (received.find("\r\n") != std::string::npos)
                break; // the status line
            continue;
        }
        const std::string_view next =
            !head_left.empty() ? head_left
                               : std::string_view(zeros).substr(0, body - refusal.body_sent);
        const ssize_t sent = ::send(fd, next.data(), next.size(), MSG_NOSIGNAL);
        if (sent < 0)
            break;
        if (!head_left.empty())
            head_left.remove_prefix(static_cast<std::size_t>(sent));
        else
            refusal.body_sent += static_cast<std::size_t>(sent);
    }
    refusal.took = Clock::now() - start;
    if (received.starts_with("HTTP/1.1 "))
        refusal.status = std::stoi(received.substr(9, 3));
    return refusal;
}

TEST_F(MetricsTest, ARequestWithABodyIsRefusedBeforeItsBodyIsRead)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    ASSERT_NO_THROW(scrape());
    const long peak_before = status_kib(daemon.pid(), "VmHWM");
    constexpr std::size_t kBody = 128u << 20;
    const std::string length = "Content-Length: 1000000000\r\n";
    const struct {
        std::string head;
        int status;
    } requests[] = {
        {"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n" + length + "\r\n", 405},
        {"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n" + length + "\r\n", 413},
        {"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n", 413},
    };
    for (const auto &request : requests) {
        const UniqueFd fd = connect_to_metrics();
        const Refusal refusal = send_with_body(fd.get(), request.head, kBody);
        EXPECT_EQ(refusal.status, request.status) << request.head;
        EXPECT_LT(refusal.took, 2s) << request.head;
        EXPECT_LT(refusal.body_sent, kBody) << request.head << "the daemon took in the whole body";
    }
    {
        // And a head over the bound is refused, not read on.
        const UniqueFd fd = connect_to_metrics();
        const std::string padding(metrics::BoundedHttpServer::kMaxRequestBytes, 'x');
        EXPECT_EQ(send_with_body(fd.get(),
                                 "GET /metrics HTTP/1.1\r\nX-Padding: " + padding + "\r\n\r\n", 0)
                      .status,
                  431);
    }
    const long grown = status_kib(daemon.pid(), "VmHWM") - peak_before;
    EXPECT_LT(grown, 16 * 1024) << "kB more at the daemon's peak";
    EXPECT_NO_THROW(scrape());
}

TEST_F(MetricsTest, ClientsThatDripTheirRequestAreCutOffAndHoldUpNoScrape)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    // Each sends a header line a second: each read is quick, only the whole request is slow.
    std::vector<UniqueFd> drippers;
    for (int i = 0; i < 3; i++)
        drippers.push_back(connect_to_metrics());
    const auto connected = Clock::now();
    // Stopped and joined when the test ends, whatever it asserted.
    const std::jthread drip([&](std::stop_token stop) {
        std::string line = "GET /metrics HTTP/1.1\r\n";
        while (!stop.stop_requested()) {
            for (const auto &fd : drippers)
                ::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL); // fails once cut off
            line = "X-Drip: 1\r\n";
            for (int i = 0; i < 20 && !stop.stop_requested(); i++)
                std::this_thread::sleep_for(50ms);
        }
    });
    std::this_thread::sleep_for(500ms); // the daemon has taken them in
    for (int i = 0; i < 3; i++) {
        const auto start = Clock::now();
        EXPECT_NO_THROW(scrape(3s)) << "scrape " << i << " while the drippers drip";
        EXPECT_LT(Clock::now() - start, 2s);
    }
    // And the drippers are answered 408 and cut off once their deadline has passed.
    for (const auto &fd : drippers) {
        pollfd readable{fd.get(), POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            connected + metrics::BoundedHttpServer::kRequestDeadline + 2s - Clock::now());
        ASSERT_EQ(::poll(&readable, 1, static_cast<int>(std::max(left, 0ms).count())), 1)
            << "a dripper still connected after the request deadline";
        char answer[64] = {};
        EXPECT_GT(::recv(fd.get(), answer, sizeof answer - 1, 0), 0);
        EXPECT_TRUE(std::string(answer).starts_with("HTTP/1.1 408")) << answer;
    }
    EXPECT_LT(Clock::now() - connected, metrics::BoundedHttpServer::kRequestDeadline + 2s);
}

TEST_F(MetricsTest, ConnectionsHeldToTheMetricsPortNeverStarveTheControlSocket)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    // Room for what the metrics port may hold and a few more, as a low RLIMIT_NOFILE leaves;
    // without its bound, connections held to it took every descriptor there was.
    const rlim_t most = open_descriptors(daemon.pid()) + metrics::BoundedHttpServer::kWorkers +
                        metrics::BoundedHttpServer::kMaxWaiting + 8;
    const rlimit lowered{most, most};
    ASSERT_EQ(::prlimit(daemon.pid(), RLIMIT_NOFILE, &lowered, nullptr), 0) << std::strerror(errno);
    std::vector<UniqueFd> held;
    for (rlim_t i = 0; i < 4 * most; i++)
        held.push_back(connect_to_metrics(false));
    std::this_thread::sleep_for(500ms); // the daemon takes what it will of them

    EXPECT_NO_THROW(ctl_json({"status"})) << "while the connections are held";
    write_config(R"([{"match": "10.1.0.0/16", "action": "deny"}])");
    daemon.signal(SIGHUP);
    wait_for_log(daemon, "rules (reload)");

    held.clear();
    std::this_thread::sleep_for(200ms);
    json status;
    ASSERT_NO_THROW(status = ctl_json({"status"})) << "after the connections closed";
    EXPECT_EQ(status["last_reload"]["ok"], true) << status.dump();
    EXPECT_NO_THROW(scrape());
    EXPECT_EQ(delivered("10.1.0.1", 5), 0u) << "the reloaded rules are in force";
}

} // namespace
} // namespace ratelimit::test
