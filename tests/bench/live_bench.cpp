// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The wire benchmark: ratelimitd side by side with the floor (trivial XDP programs) and with what
// an operator would otherwise use (nftables meters, iptables hashlimit), in one run on one
// machine, with the same frames and the same limit. Prints Markdown.
//
// Per-packet cost is measured the way a NIC driver runs XDP, not by timing a veth receiver (whose
// native XDP copies every skb): BPF_PROG_RUN in live-frames mode, with the frames arriving on an
// interface inside a namespace of the benchmark's own. Frames the program drops never become skbs;
// frames it passes are built into skbs and climb that interface's stack, through nftables and
// iptables, all within the system call, so wall time / frames is the whole cost on that CPU.
//
//   live_bench [--frames N] [--runs N] [--cpu N] [--accuracy-seconds S] [--plot FILE]
//              [--rows REGEX] [--no-accuracy] [--no-control-plane] [--only-bulk-apply]
//              [--only-reads] [--tag TAG] [--only-rule-scale]
//
// --rows measures only the per-packet rows whose name REGEX finds (ECMAScript): `--rows
// "source rotator"` for the new-source rows alone. Targets whose rows were not measured are left
// out. --only-reads runs only the reads-at-scale rows (a million tracked sources); --tag puts TAG
// in the names of the namespaces and directories it makes.

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <signal.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench.skel.h"
#include "bpf_test.hpp"
#include "client.hpp"
#include "control/protocol.hpp"
#include "config/config.hpp"
#include "daemon_process.hpp"
#include "datapath/datapath.hpp"
#include "datapath/pins.hpp"
#include "leftovers.hpp"
#include "many_sources.hpp"
#include "netns.hpp"
#include "process.hpp"
#include "ratelimit/gcra.h"
#include "state/desired.hpp"
#include "state/map_rule_table.hpp"
#include "state/reconcile.hpp"
#include "sys/skeleton.hpp"
#include "temp_fs.hpp"
#include "testbed.hpp"
#include "tools/frame.hpp"
#include "tools/sender.hpp"
#include "udp_counter.hpp"

using namespace ratelimit;
using namespace ratelimit::test;
using namespace std::chrono_literals;

namespace
{

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
    std::uint32_t frames = 1'000'000; // per BPF_PROG_RUN
    int runs = 5;                     // measured runs per row, after one warm-up run
    int cpu = 1;
    double accuracy_seconds = 3;
    std::string plot_path;          // gnuplot data of the per-packet table, if set
    std::optional<std::regex> rows; // per-packet rows measured: those whose name it finds
    bool accuracy = true;
    bool control_plane = true;
    bool only_bulk_apply = false; // the bulk apply row alone
    bool only_reads = false;      // the reads-at-scale rows alone
    std::string name_tag;         // in the names of the namespaces and directories made
    bool only_rule_scale = false; // the control plane at scale and nothing else
};

// The limit every limiter gets, each in its own spelling: 1000 packets/s, bursts of 100.
constexpr double kRate = 1000, kBurst = 100;
constexpr char kRatelimitdLimit[] = R"("rate": "1000pps", "burst": 100)";
constexpr char kNftLimit[] = "limit rate over 1000/second burst 100 packets";
constexpr char kHashlimitAbove[] = "1000/second", kHashlimitBurst[] = "100";
// The per-source tables of the incumbents hold as many sources as ratelimitd's.
constexpr std::uint32_t kTrackedSources = 65536;

double median(std::vector<double> values)
{
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

// A command line split at spaces (none of the benchmark's has quoted ones).
std::vector<std::string> words(const std::string &command)
{
    std::istringstream in(command);
    std::vector<std::string> out;
    for (std::string word; in >> word;)
        out.push_back(word);
    return out;
}

double seconds_since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// A testbed where the incumbents' tools run too: frames arrive on the receiver's end (rl-rx0).
// Each measurement gets a stage of its own, so that nothing one installs (iptables-legacy's raw
// table stays registered once used) weighs on the next. `tag` names what its namespaces serve.
class Stage : public Testbed
{
  public:
    explicit Stage(const std::string &tag) : Testbed(tag) {}

    // `argv` run inside the receiving namespace (nft, iptables-legacy).
    std::string exec(std::vector<std::string> argv) const
    {
        argv.insert(argv.begin(), {"ip", "netns", "exec", receiver_ns().name()});
        return run_command(argv);
    }

    // `nft -f` of `ruleset` inside the receiving namespace.
    void nft(const std::string &ruleset) const
    {
        TempDir dir;
        fs::path file = dir.path() / "ruleset.nft";
        std::ofstream(file) << ruleset;
        exec({"nft", "-f", file.string()});
    }
};

// ---- the limiters under test, each installed on a stage --------------------------------------

// What a firewall does with a frame its per-source limit lets through: pass it on, or drop it
// right after the per-source state is updated (as ratelimitd's per-rule cap drops a spoofed
// flood), so that a new-source row times the state update and not the stack beyond.
enum class Conforming { Pass, Drop };

// A firewall configuration that limits each source to kRate/kBurst and drops the excess.
struct Incumbent {
    std::string name;
    std::function<void(const Stage &, Conforming)> install;
    std::function<std::uint64_t(const Stage &)> dropped; // by its rules, from their counters
    std::string when_full; // what it does with a new source once its table is full
};

std::uint64_t nft_rule_drops(const Stage &stage, const std::string &family,
                             const std::string &chain)
{
    std::string listing = stage.exec(words("nft list chain " + family + " rl_bench " + chain));
    const std::regex counter(R"(counter packets (\d+))");
    std::uint64_t packets = 0;
    bool found = false;
    for (std::sregex_iterator it(listing.begin(), listing.end(), counter), end; it != end; ++it) {
        packets += std::stoull((*it)[1]);
        found = true;
    }
    if (!found)
        throw std::runtime_error("no counter in nft chain " + chain + ":\n" + listing);
    return packets;
}

Incumbent nft_meter(const std::string &family, const std::string &chain, const std::string &hook)
{
    Incumbent incumbent;
    incumbent.name = "nftables " + family + " " + hook + " meter";
    incumbent.when_full = "a full set takes no new source, whose frame goes on to the next rule";
    incumbent.install = [=](const Stage &stage, Conforming conforming) {
        std::string device =
            family == "netdev" ? " device \"" + stage.veth().receiver().name + "\"" : "";
        stage.nft("table " + family + " rl_bench {\n" + "  set sources { type ipv4_addr; size " +
                  std::to_string(kTrackedSources) + "; flags dynamic,timeout; timeout 60s; }\n" +
                  "  chain " + chain + " { type filter hook " + hook + device +
                  " priority -300; policy accept;\n" + "    update @sources { ip saddr " +
                  kNftLimit + " } counter drop\n" +
                  (conforming == Conforming::Drop ? "    counter drop\n" : "") + "  }\n}\n");
    };
    incumbent.dropped = [=](const Stage &stage) { return nft_rule_drops(stage, family, chain); };
    return incumbent;
}

Incumbent iptables_hashlimit()
{
    Incumbent incumbent;
    incumbent.name = "iptables-legacy raw PREROUTING hashlimit";
    incumbent.when_full = "a full table drops a new source's frame, counted by no rule";
    incumbent.install = [](const Stage &stage, Conforming conforming) {
        // iptables-legacy: iptables-nft would turn hashlimit into an nftables meter.
        const std::string size = std::to_string(kTrackedSources);
        stage.exec(words("iptables-legacy -t raw -A PREROUTING -m hashlimit --hashlimit-name "
                         "rl_bench --hashlimit-mode srcip --hashlimit-above " +
                         std::string(kHashlimitAbove) + " --hashlimit-burst " + kHashlimitBurst +
                         " --hashlimit-htable-size " + size + " --hashlimit-htable-max " + size +
                         " -j DROP"));
        if (conforming == Conforming::Drop)
            stage.exec(words("iptables-legacy -t raw -A PREROUTING -j DROP"));
    };
    incumbent.dropped = [](const Stage &stage) {
        std::istringstream listing(
            stage.exec(words("iptables-legacy -t raw -L PREROUTING -v -n -x")));
        std::string line;
        for (int skip = 0; skip < 2 && std::getline(listing, line);) // chain header, columns
            skip++;
        std::uint64_t packets = 0, rules = 0;
        for (std::uint64_t rule_packets = 0; std::getline(listing, line); rules++) {
            if (!(std::istringstream(line) >> rule_packets))
                break;
            packets += rule_packets;
        }
        if (rules == 0)
            throw std::runtime_error("no hashlimit rule in the raw table's PREROUTING");
        return packets;
    };
    return incumbent;
}

const std::vector<Incumbent> &incumbents()
{
    static const std::vector<Incumbent> all = {nft_meter("netdev", "ingress", "ingress"),
                                               nft_meter("inet", "prerouting", "prerouting"),
                                               iptables_hashlimit()};
    return all;
}

// ratelimitd's program with `rules` (the config's "rules", JSON), installed through the daemon's
// own path: config parser, desired state, reconcile into the maps.
std::shared_ptr<Datapath> ratelimitd_with(const std::string &rules)
{
    auto parsed =
        config::parse_config(R"({"interfaces": [{"name": "bench"}], "rules": )" + rules + "}",
                             [](const std::string &) { return true; });
    if (!parsed.value)
        throw std::invalid_argument("benchmark rules: " + parsed.errors.front().to_string());
    DatapathOptions options;
    options.max_sources = kTrackedSources;
    options.max_rules = 16;
    auto dp = std::make_shared<Datapath>(options);
    dp->set_settings_flags(desired_settings_flags(*parsed.value, false));
    DatapathRuleTable table(*dp);
    reconcile(*parsed.value, {}, table, WallClock::now());
    return dp;
}

std::uint64_t ratelimitd_drops(const Datapath &dp)
{
    return dp.counter(RL_REASON_OVER_LIMIT, RL_VERDICT_DROP).packets;
}

// ---- per-packet cost ---------------------------------------------------------------------

// Datagrams the receiving namespace's UDP layer got for a closed port (where the frames are
// addressed): how many frames climbed the whole stack, whatever the limiter says.
std::uint64_t udp_no_ports(const Stage &stage)
{
    return stage.receiver_ns().run([] {
        // /proc/thread-self/net: this thread's namespace (/proc/net is the process's).
        std::ifstream snmp("/proc/thread-self/net/snmp");
        std::string names, values;
        while (std::getline(snmp, names) && std::getline(snmp, values)) {
            if (!names.starts_with("Udp:"))
                continue;
            std::istringstream n(names), v(values);
            for (std::string name, value; n >> name && v >> value;)
                if (name == "NoPorts")
                    return std::stoull(value);
        }
        throw std::runtime_error("no Udp NoPorts in /proc/thread-self/net/snmp");
    });
}

enum class Path { Drop, Pass, NewSource };
// Floor: the trivial program other rows of its path are divided by; Ratelimitd: ratelimitd's
// row of its path, the incumbents' yardstick.
enum class Role { Floor, Ratelimitd, Other };

const char *path_name(Path path)
{
    switch (path) {
    case Path::Drop:
        return "drop";
    case Path::Pass:
        return "pass";
    default:
        return "new source";
    }
}

// What the namespaces of a row's stage are named after: its path (the new-source rows are a
// spoofed-source attack).
std::string stage_tag(Path path)
{
    return path == Path::NewSource ? "attack" : path_name(path);
}

struct CostRow {
    std::string name;
    Path path;
    Role role = Role::Other;
    double ns = 0;
    double reached_udp = 0; // fraction of the frames that climbed to UDP
    std::string note;       // the limiter's own count of what it did, as a check
};

// One row of the per-packet table, set up on a stage of its own.
struct CostCase {
    CostCase(std::string name, Path path, Role role, Frame frame, int prog_fd)
        : frame(std::move(frame)), prog_fd(prog_fd)
    {
        row.name = std::move(name);
        row.path = path;
        row.role = role;
    }

    CostRow row;
    Frame frame;
    int prog_fd;
    std::optional<int> rotated_into;   // the source rotator hands every frame to this program
    std::shared_ptr<Datapath> limiter; // ratelimitd's program and maps, kept while measured
    // Called after the runs with the number of frames run: the limiter's own account.
    std::function<std::string(const Stage &, std::uint64_t)> note;
    std::unique_ptr<Stage> stage;
    std::uint64_t udp_before = 0;
    std::vector<double> ns;
};

class CostBench
{
  public:
    explicit CostBench(const Options &options) : options_(options) { bench_.load(); }

    // Whether the row named `name` is measured (--rows).
    bool wanted(const std::string &name) const
    {
        return !options_.rows || std::regex_search(name, *options_.rows);
    }

    // Sets up `c` on a fresh stage (after `install` there), if wanted; measured by run().
    void add(CostCase c, const std::function<void(const Stage &)> &install = {})
    {
        if (!wanted(c.row.name))
            return;
        c.stage = std::make_unique<Stage>(stage_tag(c.row.path));
        if (install)
            install(*c.stage);
        c.udp_before = udp_no_ports(*c.stage);
        cases_.push_back(std::move(c));
    }

    // Runs every case once per round, a warm-up round first, so that a machine busy for a while
    // weighs on all rows alike; each row's figure is its median over the measured rounds.
    void run()
    {
        for (int round = 0; round <= options_.runs; round++) {
            for (auto &c : cases_) {
                if (c.rotated_into)
                    point_rotator_at(*c.rotated_into);
                double ns = ns_per_frame(*c.stage, c.prog_fd, c.frame);
                if (round > 0) // the warm-up fills the limiters' tables and the caches
                    c.ns.push_back(ns);
            }
        }
        const std::uint64_t frames =
            static_cast<std::uint64_t>(options_.runs + 1) * options_.frames;
        for (auto &c : cases_) {
            c.row.ns = median(c.ns);
            c.row.reached_udp = static_cast<double>(udp_no_ports(*c.stage) - c.udp_before) / frames;
            if (c.note)
                c.row.note = c.note(*c.stage, frames);
            rows_.push_back(c.row);
            std::fprintf(stderr, "  %-52s %8.1f ns\n", c.row.name.c_str(), c.row.ns);
        }
        cases_.clear();
    }

    int drop_fd() const { return bpf_program__fd(bench_->progs.bench_drop); }
    int pass_fd() const { return bpf_program__fd(bench_->progs.bench_pass); }
    int rotator_fd() const { return bpf_program__fd(bench_->progs.bench_new_source); }

    const std::vector<CostRow> &rows() const { return rows_; }
    // The floor or ratelimitd row of `path`; null if it was not measured.
    const CostRow *row(Path path, Role role) const
    {
        for (const auto &row : rows_)
            if (row.path == path && row.role == role)
                return &row;
        return nullptr;
    }
    // The row named `name`; null if it was not measured.
    const CostRow *named(const std::string &name) const
    {
        for (const auto &row : rows_)
            if (row.name == name)
                return &row;
        return nullptr;
    }

  private:
    void point_rotator_at(int prog_fd)
    {
        std::uint32_t slot = 0;
        check(bpf_map_update_elem(bpf_map__fd(bench_->maps.bench_next), &slot, &prog_fd, BPF_ANY),
              "point the source rotator at the program under test");
    }

    // Wall time per frame of one BPF_PROG_RUN of `prog_fd` over `options_.frames` copies of
    // `frame` arriving on the stage's receiving end.
    double ns_per_frame(const Stage &stage, int prog_fd, const Frame &frame) const
    {
        // The system call must run in the namespace: ingress_ifindex is looked up in the
        // caller's, and passed frames climb that namespace's stack.
        return stage.receiver_ns().run([&] {
            CpuPin pin(options_.cpu);
            xdp_md context{};
            context.data_end = static_cast<std::uint32_t>(frame.size());
            context.ingress_ifindex = if_nametoindex(stage.veth().receiver().name.c_str());
            if (context.ingress_ifindex == 0)
                throw SystemError(errno, "find " + stage.veth().receiver().name);
            LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                        .data_size_in = static_cast<std::uint32_t>(frame.size()),
                        .ctx_in = &context, .ctx_size_in = sizeof(context),
                        .repeat = static_cast<int>(options_.frames),
                        .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
            auto start = Clock::now();
            check(bpf_prog_test_run_opts(prog_fd, &opts), "BPF_PROG_RUN with live frames");
            return seconds_since(start) * 1e9 / options_.frames;
        });
    }

    const Options &options_;
    Skeleton<bench_bpf> bench_;
    std::vector<CostCase> cases_;
    std::vector<CostRow> rows_;
};

std::string fixed(double value, int decimals)
{
    char text[32];
    std::snprintf(text, sizeof(text), "%.*f", decimals, value);
    return text;
}

std::string percent(double fraction)
{
    return fixed(100 * fraction, 1) + " %";
}

std::string dropped_note(std::uint64_t dropped, std::uint64_t frames)
{
    return "dropped " + percent(static_cast<double>(dropped) / frames);
}

// A ratelimitd row: its program with `rules` (JSON), its note the share it dropped.
CostCase ratelimitd_case(const std::string &name, Path path, Role role, const Frame &frame,
                         const std::string &rules)
{
    auto limiter = ratelimitd_with(rules);
    CostCase c(name, path, role, frame, limiter->program_fd());
    c.limiter = limiter;
    c.note = [dp = c.limiter.get()](const Stage &, std::uint64_t frames) {
        return "ratelimitd: " + dropped_note(ratelimitd_drops(*dp), frames);
    };
    return c;
}

// An incumbent's row: its rules on the row's stage, its note the share they dropped.
void add_incumbent_case(CostBench &bench, CostCase c, const Incumbent &incumbent,
                        Conforming conforming)
{
    c.note = [&incumbent, conforming](const Stage &stage, std::uint64_t frames) {
        std::string note = "its rules: " + dropped_note(incumbent.dropped(stage), frames);
        return conforming == Conforming::Drop ? note + " (" + incumbent.when_full + ")" : note;
    };
    bench.add(std::move(c), [&incumbent, conforming](const Stage &stage) {
        incumbent.install(stage, conforming);
    });
}

// ---- new sources: a spoofed random-source flood (issue 13) -----------------------------------

constexpr char kRotatedDrop[] = "source rotator + trivial XDP_DROP";
constexpr char kRotatedRatelimitd[] = "source rotator + ratelimitd, new source each frame";

std::string rotated_incumbent(const Incumbent &incumbent)
{
    return "source rotator + XDP_PASS + " + incumbent.name;
}

// Legitimate sources ratelimitd tracks before the flood and that send nothing during it: the
// flood must leave their entries as they were.
struct LegitimateSources {
    static constexpr int kCount = 64;
    int tracked_before = 0;
    int untouched = -1; // after the flood; -1: not measured
};

// Has ratelimitd's program see LegitimateSources::kCount sources of 198.51.100.0/24 send a frame
// each, three times 100 ms apart (a newcomer may have to be seen again to be tracked; the rule's
// cap refills meanwhile), and returns the entries the program keeps for them.
std::map<Address, rl_source> track_legitimate_sources(const Datapath &dp, const VethEnd &to)
{
    std::vector<Address> sources;
    for (int i = 1; i <= LegitimateSources::kCount; i++)
        sources.push_back(*parse_address("198.51.100." + std::to_string(i)));
    for (int round = 0; round < 3; round++) {
        if (round > 0)
            std::this_thread::sleep_for(100ms);
        for (const auto &source : sources)
            run_xdp(dp.program_fd(), FrameBuilder().ip(source, to.ipv4).build());
    }
    std::map<Address, rl_source> entries;
    const auto table = dp.sources();
    for (const auto &source : sources)
        if (auto entry = table.lookup(source.key()))
            entries[source] = *entry;
    return entries;
}

// The rows of the spoofed flood: every frame a source never seen, from the source rotator, into
// the trivial XDP_DROP (the floor), ratelimitd and each incumbent. ratelimitd's rule limits each
// source and caps the rule: the cap holds the flood, so the row is the cost of a new source (its
// state, and what it does to the table) and a drop. Each incumbent likewise drops a frame right
// after its per-source state update. `legitimate` is filled in after the runs.
void measure_new_source_costs(CostBench &bench, const VethEnd &to,
                              const std::shared_ptr<LegitimateSources> &legitimate)
{
    const Frame v4 = FrameBuilder().ip(*parse_address("10.1.2.3"), to.ipv4).build();
    CostCase floor(kRotatedDrop, Path::NewSource, Role::Floor, v4, bench.rotator_fd());
    floor.rotated_into = bench.drop_fd();
    bench.add(std::move(floor));

    if (bench.wanted(kRotatedRatelimitd)) {
        CostCase flood = ratelimitd_case(kRotatedRatelimitd, Path::NewSource, Role::Ratelimitd, v4,
                                         std::string(R"([{"match": "0.0.0.0/0", "limits": [{)") +
                                             kRatelimitdLimit + "}, {" + kRatelimitdLimit +
                                             R"(, "per": "rule"}]}])");
        flood.rotated_into = flood.prog_fd;
        flood.prog_fd = bench.rotator_fd();
        auto before = track_legitimate_sources(*flood.limiter, to);
        legitimate->tracked_before = static_cast<int>(before.size());
        flood.note = [dp = flood.limiter.get(), before, legitimate](const Stage &,
                                                                    std::uint64_t frames) {
            const auto table = dp->sources();
            legitimate->untouched = 0;
            for (const auto &[source, entry] : before) {
                auto now = table.lookup(source.key());
                legitimate->untouched += now && std::memcmp(&*now, &entry, sizeof(entry)) == 0;
            }
            return "ratelimitd: " + dropped_note(ratelimitd_drops(*dp), frames) + ", " +
                   std::to_string(table.keys().size()) + " sources tracked; legitimate entries " +
                   "untouched: " + std::to_string(legitimate->untouched) + " of " +
                   std::to_string(legitimate->tracked_before) + " tracked (of " +
                   std::to_string(LegitimateSources::kCount) + ")";
        };
        bench.add(std::move(flood));
    }

    for (const auto &incumbent : incumbents()) {
        CostCase c(rotated_incumbent(incumbent), Path::NewSource, Role::Other, v4,
                   bench.rotator_fd());
        c.rotated_into = bench.pass_fd();
        add_incumbent_case(bench, std::move(c), incumbent, Conforming::Drop);
    }
}

// `to`: the receiving end of every stage.
void measure_costs(CostBench &bench, const VethEnd &to,
                   const std::shared_ptr<LegitimateSources> &legitimate)
{
    const Frame v4 = FrameBuilder().ip(*parse_address("10.1.2.3"), to.ipv4).build();
    const Frame v6 = FrameBuilder().ip(*parse_address("2001:db8::1"), to.ipv6).build();
    auto limit_on = [](const std::string &prefix) {
        return R"([{"match": ")" + prefix + R"(", )" + kRatelimitdLimit + "}]";
    };

    std::fprintf(stderr, "per-packet cost:\n");
    bench.add(CostCase("trivial XDP_DROP", Path::Drop, Role::Floor, v4, bench.drop_fd()));
    if (bench.wanted("ratelimitd drop, IPv4"))
        bench.add(ratelimitd_case("ratelimitd drop, IPv4", Path::Drop, Role::Ratelimitd, v4,
                                  limit_on("10.0.0.0/8")));
    if (bench.wanted("ratelimitd drop, IPv6"))
        bench.add(ratelimitd_case("ratelimitd drop, IPv6", Path::Drop, Role::Other, v6,
                                  limit_on("2001:db8::/32")));
    for (const auto &incumbent : incumbents())
        add_incumbent_case(
            bench,
            CostCase("XDP_PASS + " + incumbent.name, Path::Drop, Role::Other, v4, bench.pass_fd()),
            incumbent, Conforming::Pass);

    bench.add(CostCase("trivial XDP_PASS + stack", Path::Pass, Role::Floor, v4, bench.pass_fd()));
    if (bench.wanted("ratelimitd pass + stack")) {
        // Under its limit: a bucket that never empties.
        CostCase pass =
            ratelimitd_case("ratelimitd pass + stack", Path::Pass, Role::Ratelimitd, v4,
                            R"([{"match": "10.0.0.0/8", "rate": "100Mpps", "burst": 1000000000}])");
        pass.note = [dp = pass.limiter.get()](const Stage &, std::uint64_t frames) {
            auto passed = dp->counter(RL_REASON_CONFORMING, RL_VERDICT_PASS).packets;
            return "ratelimitd: passed " + percent(static_cast<double>(passed) / frames);
        };
        bench.add(std::move(pass));
    }

    measure_new_source_costs(bench, to, legitimate);
    bench.run();
}

// `a` ÷ `b` when both rows were measured.
std::optional<double> ratio(const CostRow *a, const CostRow *b)
{
    if (!a || !b)
        return std::nullopt;
    return a->ns / b->ns;
}

std::string ratio_text(std::optional<double> value)
{
    return value ? fixed(*value, 2) : "–";
}

void print_costs(const CostBench &bench, const Options &options)
{
    std::printf(
        "## Per-packet cost\n\n"
        "BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, %u minimum-size UDP frames (60 bytes "
        "without FCS, IPv6 80) per run arriving on a veth inside the benchmark's namespace, CPU "
        "%d; ns per frame is "
        "the median of %d rounds after a warm-up round (each round runs every row once, so that a "
        "busy moment weighs on all rows alike). Frames passed become skbs and climb "
        "that interface's stack (nftables, iptables, IP, UDP to a closed port) within the "
        "system call. \"reached UDP\" is counted by the namespace's UDP layer, not by the "
        "limiter.\n\n",
        options.frames, options.cpu, options.runs);
    std::printf("| path | row | ns/packet | × ratelimitd | × floor | reached UDP | check |\n"
                "|---|---|---:|---:|---:|---:|---|\n");
    for (const auto &row : bench.rows())
        std::printf("| %s | %s | %.1f | %s | %s | %s | %s |\n", path_name(row.path),
                    row.name.c_str(), row.ns,
                    ratio_text(ratio(&row, bench.row(row.path, Role::Ratelimitd))).c_str(),
                    ratio_text(ratio(&row, bench.row(row.path, Role::Floor))).c_str(),
                    percent(row.reached_udp).c_str(), row.note.c_str());

    struct Target {
        std::string what;
        std::optional<double> measured;
        double required, aim;
    };
    const CostRow *drop = bench.row(Path::Drop, Role::Ratelimitd);
    std::vector<Target> targets;
    for (const auto &incumbent : incumbents())
        targets.push_back({"ratelimitd drop ÷ (XDP_PASS + " + incumbent.name + ")",
                           ratio(drop, bench.named("XDP_PASS + " + incumbent.name)), 0.35, 0.25});
    targets.push_back({"ratelimitd drop ÷ trivial XDP_DROP",
                       ratio(drop, bench.row(Path::Drop, Role::Floor)), 2.0, 1.5});
    targets.push_back(
        {"ratelimitd pass + stack ÷ (trivial XDP_PASS + stack)",
         ratio(bench.row(Path::Pass, Role::Ratelimitd), bench.row(Path::Pass, Role::Floor)), 1.2,
         0});
    std::erase_if(targets, [](const Target &t) { return !t.measured; });
    if (!targets.empty()) {
        std::printf("\n### Targets (issue 5)\n\n| ratio | measured | required | aim | met |\n"
                    "|---|---:|---:|---:|---|\n");
        for (const auto &t : targets)
            std::printf("| %s | %.2f | ≤ %.2f | %s | %s |\n", t.what.c_str(), *t.measured,
                        t.required, t.aim > 0 ? ("≤ " + fixed(t.aim, 2)).c_str() : "",
                        *t.measured <= t.required ? "yes" : "**no**");
    }

    if (!options.plot_path.empty()) {
        std::ofstream plot(options.plot_path);
        plot << "# row\tns_per_packet\tpath (0 drop, 1 pass, 2 new source)\n";
        for (const auto &row : bench.rows())
            plot << '"' << row.name << "\"\t" << row.ns << '\t' << static_cast<int>(row.path)
                 << '\n';
    }
}

// Issue 13's targets for a spoofed random-source flood: a new source costs at most 4 × the
// trivial XDP_DROP behind the same rotator and at most 0.2 × each incumbent's new source, and the
// legitimate sources ratelimitd tracked come out of the flood untouched.
void print_new_source_targets(const CostBench &bench, const LegitimateSources &legitimate)
{
    struct Target {
        std::string what, measured, required;
        bool met;
    };
    std::vector<Target> targets;
    const CostRow *ours = bench.named(kRotatedRatelimitd);
    auto add_ratio = [&](const std::string &what, const CostRow *other, double required) {
        if (auto value = ratio(ours, other))
            targets.push_back(
                {what, fixed(*value, 2), "≤ " + fixed(required, 2), *value <= required});
    };
    add_ratio(std::string("ratelimitd new source ÷ (") + kRotatedDrop + ")",
              bench.named(kRotatedDrop), 4.0);
    for (const auto &incumbent : incumbents())
        add_ratio("ratelimitd new source ÷ (" + rotated_incumbent(incumbent) + ")",
                  bench.named(rotated_incumbent(incumbent)), 0.2);
    if (legitimate.untouched >= 0)
        targets.push_back({"tracked legitimate sources whose entries the flood left untouched",
                           std::to_string(legitimate.untouched) + " of " +
                               std::to_string(legitimate.tracked_before),
                           "all " + std::to_string(LegitimateSources::kCount),
                           legitimate.untouched == LegitimateSources::kCount});
    if (targets.empty())
        return;
    std::printf("\n### Targets (issue 13)\n\nA spoofed flood, every frame a new source (the "
                "source rotator's), held by ratelimitd's per-rule cap; each incumbent drops "
                "right after its per-source state update. %d legitimate sources were tracked "
                "before the flood and send nothing during it.\n\n"
                "| target | measured | required | met |\n|---|---:|---:|---|\n",
                LegitimateSources::kCount);
    for (const auto &t : targets)
        std::printf("| %s | %s | %s | %s |\n", t.what.c_str(), t.measured.c_str(),
                    t.required.c_str(), t.met ? "yes" : "**no**");
}

// ---- ratelimitd as a daemon ---------------------------------------------------------------

// A ratelimitd on a stage's receiving end, its pins in a bpffs of its own and its log in a file.
class BenchDaemon
{
  public:
    // Starts it with `rules` (JSON) and room for `max_sources`, and waits until it is ready.
    BenchDaemon(const Stage &stage, const std::string &rules,
                std::uint32_t max_sources = kTrackedSources)
        : stage_(stage), max_sources_(max_sources)
    {
        write_config(rules);
        auto started = Clock::now();
        process_.emplace(spawn_ratelimitd(stage.receiver_ns(), {"-c", config_path()},
                                          dir_.path() / "daemon.out", dir_.path() / "daemon.err"));
        wait_for_log(*process_, "ready:", 1, kLogWait);
        start_seconds_ = seconds_since(started);
    }
    BenchDaemon(const BenchDaemon &) = delete;
    BenchDaemon &operator=(const BenchDaemon &) = delete;

    double start_seconds() const { return start_seconds_; }

    // Rewrites the config with `rules` (JSON, `count` of them) and sends SIGHUP; returns the
    // seconds until the log says they are in force.
    double reload(const std::string &rules, std::size_t count)
    {
        write_config(rules);
        auto signalled = Clock::now();
        process_->signal(SIGHUP);
        std::string log = wait_for_log(*process_, "rules (reload):", ++reloads_, kLogWait);
        double seconds = seconds_since(signalled);
        std::string in_force = "rules (reload): " + std::to_string(count) + " in force";
        if (log.rfind(in_force) < log.rfind("rules (reload):"))
            throw std::runtime_error("ratelimitd did not put " + std::to_string(count) +
                                     " rules in force:\n" + log);
        return seconds;
    }

    // Resident memory (VmRSS), bytes.
    std::uint64_t rss_bytes() const
    {
        std::ifstream status("/proc/" + std::to_string(process_->pid()) + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.starts_with("VmRSS:"))
                return std::stoull(line.substr(6)) * 1024;
        throw std::runtime_error("no VmRSS for ratelimitd");
    }

    fs::path socket() const { return dir_.path() / "run/ratelimitd.sock"; }
    fs::path directory() const { return dir_.path(); }
    std::uint64_t pid() const { return static_cast<std::uint64_t>(process_->pid()); }

    fs::path map_pin(const std::string &name) const
    {
        return PinLayout((bpffs_.path() / "ratelimitd").string()).map(name);
    }

  private:
    // Polled often: the wait is what the control-plane figures measure. A reload the daemon
    // refused or failed ends it.
    inline static const LogWait kLogWait = {120s, 1ms, {"reload refused", "reload failed"}};

    fs::path config_path() const { return dir_.path() / "ratelimitd.json"; }

    void write_config(const std::string &rules) const
    {
        DaemonConfig config;
        config.interface = stage_.veth().receiver().name;
        config.interface_fields = R"(, "xdp_mode": "native")";
        config.rules = rules;
        config.socket = socket();
        config.state_dir = dir_.path() / "state";
        config.pin_dir = (bpffs_.path() / "ratelimitd").string();
        // Room for the control-plane benchmark's 100k rules (the capacity is fixed at start).
        config.extra = R"(, "max_rules": 131072, "max_sources": )" + std::to_string(max_sources_);
        config.write(config_path());
    }

    const Stage &stage_;
    std::uint32_t max_sources_;
    TempDir dir_;
    Bpffs bpffs_;
    std::optional<Process> process_;
    double start_seconds_ = 0;
    int reloads_ = 0;
};

// ---- accuracy on the wire ------------------------------------------------------------------

void measure_accuracy(const Options &options)
{
    std::fprintf(stderr, "accuracy on the wire:\n");
    std::printf(
        "\n## Accuracy on the wire\n\n"
        "One source sending 4 × the limit, paced, for %.0f s over the veth pair; the "
        "receiving socket counts what was admitted. Limit %.0f packets/s, burst %.0f.\n\n"
        "| limiter | sent | seconds | admitted | burst + rate × t | ratio | within ±5 %% |\n"
        "|---|---:|---:|---:|---:|---:|---|\n",
        options.accuracy_seconds, kRate, kBurst);
    auto row = [&](const std::string &name, const Incumbent *incumbent) {
        Stage stage("accuracy");
        std::optional<BenchDaemon> daemon;
        if (incumbent)
            incumbent->install(stage, Conforming::Pass);
        else
            daemon.emplace(stage,
                           std::string(R"([{"match": "10.1.0.0/16", )") + kRatelimitdLimit + "}]");
        UdpCounter counter(stage.receiver_ns());
        SendPlan plan = stage.plan_from({*parse_address("10.1.0.1")});
        plan.rate_pps = 4 * kRate;
        plan.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(options.accuracy_seconds));
        SendReport sent = stage.send(plan);
        std::this_thread::sleep_for(300ms); // the last frames climb the stack
        double t = std::chrono::duration<double>(sent.elapsed).count();
        double expected = kBurst + kRate * t, ratio = counter.total() / expected;
        std::printf("| %s | %llu | %.3f | %llu | %.0f | %.4f | %s |\n", name.c_str(),
                    static_cast<unsigned long long>(sent.packets), t,
                    static_cast<unsigned long long>(counter.total()), expected, ratio,
                    std::abs(ratio - 1) <= 0.05 ? "yes" : "**no**");
        std::fflush(stdout);
        std::fprintf(stderr, "  %-48s %.4f\n", name.c_str(), ratio);
    };
    row("ratelimitd (daemon, native XDP)", nullptr);
    for (const auto &incumbent : incumbents())
        row(incumbent.name, &incumbent);
}

// ---- control plane and memory ----------------------------------------------------------------

// `count` per-IP limits, one for each of 10.0.0.1, 10.0.0.2, ...
std::string many_rules(std::size_t count, int pps = 100, int burst = 200)
{
    std::string rules = "[";
    for (std::size_t i = 1; i <= count; i++) {
        char rule[112];
        std::snprintf(rule, sizeof(rule),
                      R"(%s{"match": "10.%zu.%zu.%zu", "rate": "%dpps", "burst": %d})",
                      i > 1 ? ",\n" : "", (i >> 16) & 255, (i >> 8) & 255, i & 255, pps, burst);
        rules += rule;
    }
    return rules + "]";
}

struct MapMemory {
    std::string name;
    bpf_map_info info{};
    std::uint64_t kernel_bytes = 0; // the kernel's own account (fdinfo "memlock")
    // What the bytes pay for: every entry of a preallocated map, the ones in use of another.
    std::uint32_t entries = 0;
};

std::uint32_t entries_in_use(int fd, std::uint32_t key_size, const std::string &name)
{
    std::vector<std::uint8_t> key(key_size), next(key_size);
    std::uint32_t count = 0;
    for (const void *previous = nullptr;; previous = key.data(), count++) {
        int rc = bpf_map_get_next_key(fd, previous, next.data());
        if (rc == -ENOENT)
            return count;
        check(rc, "iterate the keys of map " + name);
        key.swap(next);
    }
}

MapMemory map_memory(const fs::path &pin)
{
    MapMemory map;
    map.name = pin.filename();
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (!fd)
        throw SystemError(errno, "open the pinned map " + pin.string());
    std::uint32_t length = sizeof(map.info);
    check(bpf_obj_get_info_by_fd(fd.get(), &map.info, &length), "read map info of " + map.name);
    std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(fd.get()));
    for (std::string line; std::getline(fdinfo, line);)
        if (line.starts_with("memlock:"))
            map.kernel_bytes = std::stoull(line.substr(8));
    map.entries = (map.info.map_flags & BPF_F_NO_PREALLOC)
                      ? entries_in_use(fd.get(), map.info.key_size, map.name)
                      : map.info.max_entries;
    return map;
}

bool per_cpu(const bpf_map_info &info)
{
    return info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
           info.type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

// `ratelimitctl apply -f` of 10000 runtime denies to a daemon with one config rule: the time the
// process takes, from its start until it exits (reading, checking, sending the parts, the commit).
void measure_bulk_apply(const Stage &stage)
{
    constexpr int kDenies = 10000;
    BenchDaemon daemon(stage, many_rules(1));
    const fs::path file = daemon.directory() / "denies.txt";
    {
        std::ofstream lines(file);
        for (int i = 0; i < kDenies; i++)
            lines << "deny 10.200." << i / 256 << "." << i % 256 << "\n";
    }
    const auto start = Clock::now();
    const std::string said = run_command(
        {RATELIMITCTL_PATH, "--socket", daemon.socket().string(), "apply", "-f", file.string()});
    const double seconds = seconds_since(start);
    if (said.find(std::to_string(kDenies) + " added") == std::string::npos)
        throw std::runtime_error("ratelimitctl apply did not add every deny: " + said);
    std::printf("| apply %d runtime denies with ratelimitctl apply -f (target < 1 s) | %.0f ms |\n",
                kDenies, seconds * 1e3);
    std::fprintf(stderr, "  apply %d runtime denies with ratelimitctl apply -f: %.0f ms\n", kDenies,
                 seconds * 1e3);
}

void measure_control_plane()
{
    std::fprintf(stderr, "control plane:\n");
    Stage stage("control");
    std::printf("\n## Control plane\n\n"
                "Rules are per-IP limits (/32), written to the config; \"by SIGHUP\" is the time "
                "from the signal until the daemon logs them in force, starting each time from a "
                "config of one rule.\n\n| measure | value |\n|---|---:|\n");
    const std::string one_rule = many_rules(1);
    std::vector<MapMemory> maps;
    {
        BenchDaemon daemon(stage, one_rule);
        for (std::size_t count : {1000, 10000, 100000}) {
            double seconds = daemon.reload(many_rules(count), count);
            std::printf("| apply %zu rules by SIGHUP | %.0f ms |\n", count, seconds * 1e3);
            std::fprintf(stderr, "  apply %zu rules: %.0f ms\n", count, seconds * 1e3);
            if (count == 100000) {
                std::printf("| daemon RSS with 100000 rules (after that reload) | %.1f MiB |\n",
                            daemon.rss_bytes() / 1048576.0);
                for (const char *name :
                     {RL_MAP_NAME(RL_MAP_SOURCES), RL_MAP_NAME(RL_MAP_SOURCE_COUNTERS),
                      RL_MAP_NAME(RL_MAP_BLOCKS), RL_MAP_NAME(RL_MAP_RULES),
                      RL_MAP_NAME(RL_MAP_RULE_BUCKETS), RL_MAP_NAME(RL_MAP_PREFIXES)})
                    maps.push_back(map_memory(daemon.map_pin(name)));
            }
            double back = daemon.reload(one_rule, 1);
            std::printf("| remove %zu rules by SIGHUP | %.0f ms |\n", count, back * 1e3);
        }
    }
    {
        BenchDaemon daemon(stage, many_rules(100000));
        std::printf("| start with 100000 rules, until ready | %.0f ms |\n",
                    daemon.start_seconds() * 1e3);
        std::printf("| daemon RSS after starting with 100000 rules | %.1f MiB |\n",
                    daemon.rss_bytes() / 1048576.0);
    }
    measure_bulk_apply(stage);
    std::printf("| ratelimitctl round trip p50 / p99 | see ctl tests |\n");

    const int cpus = possible_cpus();
    std::printf(
        "\n## Kernel memory\n\nAs the kernel accounts it (fdinfo memlock) for the pinned "
        "maps, with 100000 rules, %u tracked sources and %d possible CPUs.\n\n"
        "| map | type | max entries | paid for | key B | value B | kernel bytes | "
        "bytes/entry | per-CPU part/entry |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
        kTrackedSources, cpus);
    double per_source_fixed = 0, per_source_per_cpu = 0;
    for (const auto &map : maps) {
        double per_entry = static_cast<double>(map.kernel_bytes) / map.entries;
        // A per-CPU value is kept once per possible CPU, rounded up to 8 bytes.
        double per_cpu_part = per_cpu(map.info) ? ((map.info.value_size + 7) / 8 * 8) * cpus : 0;
        std::printf("| %s | %s | %u | %u | %u | %u | %llu | %.1f | %.0f |\n", map.name.c_str(),
                    libbpf_bpf_map_type_str(static_cast<bpf_map_type>(map.info.type)),
                    map.info.max_entries, map.entries, map.info.key_size, map.info.value_size,
                    static_cast<unsigned long long>(map.kernel_bytes), per_entry, per_cpu_part);
        if (map.name == RL_MAP_NAME(RL_MAP_SOURCES) ||
            map.name == RL_MAP_NAME(RL_MAP_SOURCE_COUNTERS)) {
            per_source_fixed += per_entry - per_cpu_part;
            per_source_per_cpu += per_cpu_part / cpus;
        }
    }
    auto per_source = [&](int n) { return per_source_fixed + per_source_per_cpu * n; };
    std::printf("\nPer tracked source (sources + source_counters): %.0f B + %.0f B × possible "
                "CPUs = %.0f B here (%d CPUs); %.0f B with 16, %.0f B with 64, %.0f B with 256. "
                "1M sources: %.0f MiB here, %.0f MiB with 64 CPUs. A /N block of a `per: /N` "
                "limit takes one `blocks` entry more. These maps are preallocated: this is paid "
                "for max_sources at start, not per source seen. The prefixes trie alone grows "
                "with the entries in use.\n",
                per_source_fixed, per_source_per_cpu, per_source(cpus), cpus, per_source(16),
                per_source(64), per_source(256), per_source(cpus) * 1e6 / 1048576,
                per_source(64) * 1e6 / 1048576);
}

// ---- reads at scale ----------------------------------------------------------------------------

// The answer of the daemon at `socket` to `command`; throws if it refuses.
nlohmann::json ask(const std::string &socket, control::Command command,
                   nlohmann::json args = nlohmann::json::object())
{
    static std::atomic<std::uint64_t> id = 0;
    const control::Response answer = ctl::call(socket, {++id, command, std::move(args)}, 30s);
    if (!answer.ok())
        throw std::runtime_error(std::string(control::command_name(command)) +
                                 " refused: " + std::get<control::Error>(answer.outcome).message);
    return std::get<nlohmann::json>(answer.outcome);
}

double percentile(std::vector<double> values, int percent)
{
    std::ranges::sort(values);
    return values.at(values.size() * percent / 100);
}

// `ratelimitctl status` with a million tracked sources, the event loop's longest stall while
// clients ask for `top` as fast as they are answered, and the daemon's memory with 100,000 rules
// and those sources. The sources are written straight into the pinned maps.
void measure_reads()
{
    constexpr std::uint32_t kSources = 1'000'000;
    constexpr int kStatusRuns = 200;
    constexpr auto kHammering = 5s;
    std::fprintf(stderr, "reads with %u tracked sources:\n", kSources);
    Stage stage("reads");
    BenchDaemon daemon(stage, many_rules(100000), kSources);
    const UniqueFd sources(bpf_obj_get(daemon.map_pin(RL_MAP_NAME(RL_MAP_SOURCES)).c_str()));
    const UniqueFd counters(
        bpf_obj_get(daemon.map_pin(RL_MAP_NAME(RL_MAP_SOURCE_COUNTERS)).c_str()));
    if (!sources || !counters)
        throw SystemError(errno, "open the pinned source maps");
    const std::uint32_t tracked = test::fill_sources(sources.get(), counters.get(), kSources);
    std::fprintf(stderr, "  %u sources in the maps\n", tracked);
    std::this_thread::sleep_for(2s); // a first background count

    std::vector<double> status_ms;
    for (int i = 0; i < kStatusRuns; i++) {
        const auto started = Clock::now();
        run_command({RATELIMITCTL_PATH, "--socket", daemon.socket(), "status"});
        status_ms.push_back(seconds_since(started) * 1e3);
    }
    const double top_started_stall =
        ask(daemon.socket(), control::Command::Status).at("loop_longest_stall_ms").get<double>();

    std::atomic<bool> done = false;
    std::atomic<int> tops = 0;
    std::vector<double> hammered_ms;
    std::vector<std::thread> hammers;
    for (int i = 0; i < 2; i++)
        hammers.emplace_back([&] {
            while (!done) {
                ask(daemon.socket(), control::Command::Top,
                    control::encode_args(control::TopArgs{20, {}}));
                tops++;
            }
        });
    for (const auto until = Clock::now() + kHammering; Clock::now() < until;) {
        const auto started = Clock::now();
        run_command({RATELIMITCTL_PATH, "--socket", daemon.socket(), "status"});
        hammered_ms.push_back(seconds_since(started) * 1e3);
    }
    done = true;
    for (auto &hammer : hammers)
        hammer.join();
    const nlohmann::json status = ask(daemon.socket(), control::Command::Status);
    const double stall = status.at("loop_longest_stall_ms").get<double>();
    const double on_cpu = status.at("loop_longest_on_cpu_ms").get<double>();
    const double rss = daemon.rss_bytes() / 1048576.0;
    std::ifstream proc("/proc/" + std::to_string(daemon.pid()) + "/status");
    double peak = 0;
    for (std::string line; std::getline(proc, line);)
        if (line.starts_with("VmHWM:"))
            peak = std::stod(line.substr(6)) / 1024;

    std::printf("\n## Reads at scale\n\nratelimitd with 100000 rules and %u tracked sources "
                "(written into the pinned maps); `top` asked for by 2 clients as fast as they are "
                "answered (%d answers in %.0f s). Wall times on this shared 2-CPU VM.\n\n"
                "| measure | value | target |\n|---|---:|---|\n",
                tracked, tops.load(), std::chrono::duration<double>(kHammering).count());
    std::printf("| `ratelimitctl status` p50 / p99 | %.1f / %.1f ms | p99 < 50 ms |\n",
                percentile(status_ms, 50), percentile(status_ms, 99));
    std::printf("| `ratelimitctl status` p50 / p99 while top is hammered | %.1f / %.1f ms | "
                "p99 < 50 ms |\n",
                percentile(hammered_ms, 50), percentile(hammered_ms, 99));
    std::printf("| event loop's longest stall, before / while top is hammered | %.1f / %.1f ms "
                "(%s) | ≤ 10 ms |\n",
                top_started_stall, stall,
                status.at("loop_longest_stall_in").get<std::string>().c_str());
    std::printf("| event loop's most CPU time in one event | %.2f ms | ≤ 10 ms |\n", on_cpu);
    std::printf("| daemon RSS now / peak (VmHWM) | %.1f / %.1f MiB | < 150 MiB |\n", rss, peak);
    std::fprintf(stderr, "  status p99 %.1f ms (%.1f hammered), stall %.1f ms, RSS %.1f MiB\n",
                 percentile(status_ms, 99), percentile(hammered_ms, 99), stall, rss);
}

// ---- control plane at scale ------------------------------------------------------------------

// Fills the daemon's `sources` map through its pin with `count` sources, each cached under one of
// the rules the trie points at, with some of its tokens spent; returns how many the map holds.
std::size_t track_sources(const BenchDaemon &daemon, std::uint32_t count)
{
    auto open = [&](const char *name) {
        UniqueFd fd(bpf_obj_get(daemon.map_pin(name).c_str()));
        if (!fd)
            throw SystemError(errno, std::string("open the pinned map ") + name);
        return fd;
    };
    UniqueFd prefixes_fd = open(RL_MAP_NAME(RL_MAP_PREFIXES));
    UniqueFd sources_fd = open(RL_MAP_NAME(RL_MAP_SOURCES));
    UniqueFd settings_fd = open(RL_MAP_NAME(RL_MAP_SETTINGS));
    std::vector<std::uint32_t> rules;
    Map<rl_prefix_key, rl_prefix_value>(prefixes_fd.get(), RL_MAP_NAME(RL_MAP_PREFIXES))
        .for_each([&](const rl_prefix_key &, const rl_prefix_value &target) {
            if (target.rule != RL_NO_RULE)
                rules.push_back(target.rule);
        });
    if (rules.empty())
        throw std::runtime_error("no rules to track sources under");
    const std::uint32_t generation =
        Map<std::uint32_t, rl_settings>(settings_fd.get(), RL_MAP_NAME(RL_MAP_SETTINGS))
            .lookup(0)
            .value_or(rl_settings{})
            .generation;
    Map<rl_source_key, rl_source> sources(sources_fd.get(), RL_MAP_NAME(RL_MAP_SOURCES));
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const std::uint64_t now = rl_time_from_ns(ts.tv_sec * 1'000'000'000ull + ts.tv_nsec);
    constexpr std::uint32_t kChunk = 65536;
    std::vector<rl_source_key> keys;
    std::vector<rl_source> values;
    for (std::uint32_t first = 0; first < count; first += kChunk) {
        keys.clear();
        values.clear();
        for (std::uint32_t i = first; i < std::min(count, first + kChunk); i++) {
            rl_source_key key{};
            key.addr[10] = key.addr[11] = 0xff; // ::ffff:11.x.y.z
            key.addr[12] = 11;
            key.addr[13] = static_cast<std::uint8_t>(i >> 16);
            key.addr[14] = static_cast<std::uint8_t>(i >> 8);
            key.addr[15] = static_cast<std::uint8_t>(i);
            rl_source src{};
            src.rule = rules[i % rules.size()];
            src.generation = generation;
            src.tat[0] = now + (i % 1000) * rl_time_from_ns(1'000'000); // up to 1 s of debt
            keys.push_back(key);
            values.push_back(src);
        }
        sources.update(keys, values);
    }
    std::size_t held = 0;
    sources.for_each([&](const rl_source_key &, const rl_source &) { held++; });
    return held;
}

// The rows of issue 14: a reload's cost grows with what changed, not with the tracked sources,
// and 100,000 rules apply or start in about a second.
void measure_rule_scale()
{
    std::fprintf(stderr, "control plane at scale:\n");
    Stage stage("scale");
    std::printf("\n## Control plane at scale\n\n"
                "Rules are per-IP limits (/32); \"by SIGHUP\" is the time from the signal until "
                "the daemon logs them in force. Tracked sources are written into the `sources` "
                "map through its pin, each cached under one of the rules.\n\n"
                "| measure | value | target | met |\n|---|---:|---:|---|\n");
    auto row = [](const std::string &what, double seconds, double target) {
        std::printf("| %s | %.0f ms | < %.0f ms | %s |\n", what.c_str(), seconds * 1e3,
                    target * 1e3, seconds < target ? "yes" : "**no**");
        std::fflush(stdout);
        std::fprintf(stderr, "  %-72s %.0f ms\n", what.c_str(), seconds * 1e3);
    };
    {
        constexpr std::uint32_t kSources = 1'000'000;
        BenchDaemon daemon(stage, many_rules(1000), kSources);
        const std::size_t held = track_sources(daemon, kSources);
        row("change limits of 1000 rules with 1,000,000 tracked sources (" + std::to_string(held) +
                " held), by SIGHUP",
            daemon.reload(many_rules(1000, 50, 100), 1000), 1.0);
    }
    {
        BenchDaemon daemon(stage, many_rules(1));
        row("apply 100000 rules by SIGHUP", daemon.reload(many_rules(100000), 100000), 1.0);
    }
    {
        BenchDaemon daemon(stage, many_rules(100000));
        row("start with 100000 rules, until ready", daemon.start_seconds(), 1.5);
    }
}

// ---- command line ----------------------------------------------------------------------------

Options parse_options(int argc, char **argv)
{
    Options options;
    auto usage = [] {
        std::fprintf(stderr, "usage: live_bench [--frames N] [--runs N] [--cpu N] "
                             "[--accuracy-seconds S] [--plot FILE] [--rows REGEX] "
                             "[--no-accuracy] [--no-control-plane] [--only-bulk-apply] "
                             "[--only-reads] [--tag TAG] [--only-rule-scale]\n");
        std::exit(2);
    };
    for (int i = 1; i < argc; i++) {
        std::string flag = argv[i];
        if (flag == "--no-accuracy") {
            options.accuracy = false;
            continue;
        }
        if (flag == "--no-control-plane") {
            options.control_plane = false;
            continue;
        }
        if (flag == "--only-bulk-apply") {
            options.only_bulk_apply = true;
            continue;
        }
        if (flag == "--only-reads") {
            options.only_reads = true;
            continue;
        }
        if (flag == "--only-rule-scale") {
            options.only_rule_scale = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        std::string value = argv[++i];
        try {
            if (flag == "--frames")
                options.frames = static_cast<std::uint32_t>(std::stoul(value));
            else if (flag == "--runs")
                options.runs = std::stoi(value);
            else if (flag == "--cpu")
                options.cpu = std::stoi(value);
            else if (flag == "--accuracy-seconds")
                options.accuracy_seconds = std::stod(value);
            else if (flag == "--plot")
                options.plot_path = value;
            else if (flag == "--rows")
                options.rows.emplace(value);
            else if (flag == "--tag")
                options.name_tag = value;
            else
                usage();
        } catch (const std::logic_error &) {
            usage();
        } catch (const std::regex_error &) {
            usage();
        }
    }
    if (options.frames == 0 || options.runs < 1 || options.accuracy_seconds <= 0)
        usage();
    return options;
}

} // namespace

int main(int argc, char **argv)
{
    Options options = parse_options(argc, argv);
    // The daemons it starts run as the systemd unit runs them (its Environment=).
    if (::setenv("GLIBC_TUNABLES", RL_GLIBC_TUNABLES, 1) != 0) {
        std::perror("live_bench: setenv GLIBC_TUNABLES");
        return 1;
    }
    if (auto why = netns_unavailable_reason(); !why.empty()) {
        std::fprintf(stderr, "live_bench: needs root and network namespaces: %s\n", why.c_str());
        return 1;
    }
    if (options.cpu >= online_cpus())
        options.cpu = online_cpus() - 1;
    if (!options.name_tag.empty())
        test::set_owned_name_tag(options.name_tag);
    try {
        if (options.only_reads) {
            measure_reads();
            return 0;
        }
        utsname host{};
        uname(&host);
        std::printf("# ratelimitd on the wire\n\nKernel %s, %d CPUs online. Limit everywhere: %.0f "
                    "packets/s per source, burst %.0f.\n\n",
                    host.release, online_cpus(), kRate, kBurst);
        if (options.only_bulk_apply) {
            std::printf("| measure | value |\n|---|---:|\n");
            measure_bulk_apply(Stage("control"));
            return 0;
        }
        if (options.only_rule_scale) {
            measure_rule_scale();
            return 0;
        }
        CostBench bench(options);
        const VethEnd receiving_end = VethPair::ends().second; // every stage's: pair 0
        auto legitimate = std::make_shared<LegitimateSources>();
        measure_costs(bench, receiving_end, legitimate);
        print_costs(bench, options);
        print_new_source_targets(bench, *legitimate);
        std::fflush(stdout);
        if (options.accuracy)
            measure_accuracy(options);
        if (options.control_plane) {
            measure_control_plane();
            measure_reads();
        }
    } catch (const std::exception &e) {
        std::fflush(stdout);
        std::fprintf(stderr, "live_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
