// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The end-to-end harness itself: namespaces, processes and mounts come and go without a trace,
// and real frames from the sender cross a veth pair and are all counted on the other side.

#include <linux/magic.h>
#include <net/if.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "leftovers.hpp"
#include "netns.hpp"
#include "process.hpp"
#include "sys/error.hpp"
#include "temp_fs.hpp"
#include "testbed.hpp"
#include "tools/sender.hpp"
#include "udp_counter.hpp"

namespace ratelimit::test
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool listed_namespace(const std::string &name)
{
    std::istringstream listing(run_command({"ip", "netns", "list"}));
    for (std::string line; std::getline(listing, line);)
        if (line.substr(0, line.find(' ')) == name)
            return true;
    return false;
}

bool is_mount_point(const fs::path &path)
{
    std::ifstream mountinfo("/proc/self/mountinfo");
    for (std::string line; std::getline(mountinfo, line);) {
        std::istringstream fields(line);
        std::string id, parent, device, root, mount_point;
        fields >> id >> parent >> device >> root >> mount_point;
        if (mount_point == path.string())
            return true;
    }
    return false;
}

bool process_exists(pid_t pid)
{
    return kill(pid, 0) == 0 || errno != ESRCH;
}

ino_t netns_inode()
{
    struct stat st {
    };
    check(stat("/proc/thread-self/ns/net", &st), "stat /proc/thread-self/ns/net");
    return st.st_ino;
}

TEST(NetNsTest, CreatesAPrivateNamespaceAndDeletesIt)
{
    RL_REQUIRE_NETNS();
    std::string name;
    {
        NetNs ns;
        name = ns.name();
        EXPECT_TRUE(name.starts_with("rlt-" + std::to_string(getpid()) + "-")) << name;
        EXPECT_TRUE(listed_namespace(name));
        EXPECT_NE(ns.run(netns_inode), netns_inode());
        // A fresh stack: loopback only, and this thread never left the test's namespace.
        EXPECT_NE(ns.run([] { return if_nametoindex("lo"); }), 0u);
        EXPECT_EQ(ns.run([] { return if_nametoindex("rl-rx0"); }), 0u);
    }
    EXPECT_FALSE(listed_namespace(name));
}

TEST(NetNsTest, RunRethrowsWhatTheFunctionThrows)
{
    RL_REQUIRE_NETNS();
    NetNs ns;
    EXPECT_THROW(ns.run([]() -> int { throw std::runtime_error("inside"); }), std::runtime_error);
}

TEST(NetNsTest, SpawnRunsInsideTheNamespaceWithItsOwnSysfs)
{
    RL_REQUIRE_NETNS();
    NetNs sender, receiver;
    VethPair veth(sender, receiver);
    TempDir logs;
    Process process = receiver.spawn(
        {"sh", "-c", "cat /sys/class/net/rl-rx0/address; echo to-stderr >&2; exit 3"},
        logs.path() / "stdout", logs.path() / "stderr");
    EXPECT_EQ(process.wait_for(10s), 3);
    EXPECT_EQ(process.stdout_text(), "02:00:00:00:00:02\n");
    EXPECT_EQ(process.stderr_text(), "to-stderr\n");
    // The test's own /sys was not touched.
    EXPECT_TRUE(fs::exists("/sys/class/net/lo"));
    EXPECT_FALSE(fs::exists("/sys/class/net/rl-rx0"));
}

TEST(NetNsTest, SpawnOfAMissingProgramThrows)
{
    RL_REQUIRE_NETNS();
    NetNs ns;
    TempDir logs;
    EXPECT_THROW(ns.spawn({"rlt-no-such-program"}, logs.path() / "out", logs.path() / "err"),
                 SystemError);
}

TEST(NetNsTest, ProcessesAreStoppedAndReaped)
{
    RL_REQUIRE_NETNS();
    NetNs ns;
    TempDir logs;
    pid_t pid = 0;
    {
        Process sleeper = ns.spawn({"sleep", "1000"}, logs.path() / "out", logs.path() / "err");
        pid = sleeper.pid();
        EXPECT_TRUE(process_exists(pid));
    }
    EXPECT_FALSE(process_exists(pid));

    // One that ignores SIGTERM gets SIGKILL once the grace period is over.
    Process stubborn = ns.spawn({"sh", "-c", "trap '' TERM; exec sleep 1000"}, logs.path() / "out",
                                logs.path() / "err");
    EXPECT_EQ(stubborn.wait_for(200ms), std::nullopt);
    EXPECT_EQ(stubborn.stop(200ms), 128 + SIGKILL);
}

TEST(BpffsTest, MountsABpffsOfItsOwnAndRemovesIt)
{
    RL_REQUIRE_NETNS();
    fs::path path;
    {
        Bpffs bpffs;
        path = bpffs.path();
        struct statfs fs_info {
        };
        ASSERT_EQ(statfs(path.c_str(), &fs_info), 0);
        EXPECT_EQ(static_cast<unsigned long>(fs_info.f_type), BPF_FS_MAGIC);
        EXPECT_TRUE(is_mount_point(path));
    }
    EXPECT_FALSE(is_mount_point(path));
    EXPECT_FALSE(fs::exists(path));
}

TEST(HarnessTest, LeavesNothingBehindWhenATestThrows)
{
    RL_REQUIRE_NETNS();
    std::vector<std::string> namespaces;
    fs::path bpffs_path, temp_path;
    pid_t pid = 0;
    try {
        NetNs sender, receiver;
        VethPair veth(sender, receiver);
        Bpffs bpffs;
        TempDir temp;
        UdpCounter counter(receiver);
        Process daemon =
            receiver.spawn({"sleep", "1000"}, temp.path() / "out", temp.path() / "err");
        namespaces = {sender.name(), receiver.name()};
        bpffs_path = bpffs.path();
        temp_path = temp.path();
        pid = daemon.pid();
        throw std::runtime_error("the test failed");
    } catch (const std::runtime_error &) {
    }
    for (const auto &name : namespaces)
        EXPECT_FALSE(listed_namespace(name)) << name;
    EXPECT_FALSE(is_mount_point(bpffs_path));
    EXPECT_FALSE(fs::exists(bpffs_path));
    EXPECT_FALSE(fs::exists(temp_path));
    EXPECT_FALSE(process_exists(pid));
}

TEST(HarnessTest, RemovesWhatADeadTestProcessLeft)
{
    RL_REQUIRE_NETNS();
    // A pid that is surely dead: a child that has exited and been reaped.
    pid_t dead = fork();
    ASSERT_GE(dead, 0);
    if (dead == 0)
        _exit(0);
    ASSERT_EQ(waitpid(dead, nullptr, 0), dead);

    std::string prefix = "rlt-" + std::to_string(dead) + "-";
    std::string name = prefix + "0";
    fs::path dir = "/tmp/" + prefix + "bpffs";
    run_command({"ip", "netns", "add", name});
    fs::create_directory(dir);
    ASSERT_EQ(mount("bpffs", dir.c_str(), "bpf", 0, nullptr), 0) << std::strerror(errno);

    remove_leftovers_of_dead_tests();
    EXPECT_FALSE(listed_namespace(name));
    EXPECT_FALSE(is_mount_point(dir));
    EXPECT_FALSE(fs::exists(dir));
}

// A veth pair from a sender namespace to a receiver namespace with a UDP counter on the
// receiving end.
class VethTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        RL_REQUIRE_NETNS();
        testbed_.emplace();
        sender_ns_ = &testbed_->sender_ns();
        receiver_ns_ = &testbed_->receiver_ns();
        veth_ = &testbed_->veth();
        counter_.emplace(*receiver_ns_);
    }

    SendPlan plan_to_receiver(bool ipv4) const
    {
        SendPlan plan;
        plan.interface = veth_->sender().name;
        plan.destination = ipv4 ? veth_->receiver().ipv4 : veth_->receiver().ipv6;
        return plan;
    }

    SendReport send(const SendPlan &plan) const { return testbed_->send(plan); }

    // Every frame the receiving interface took in, whatever became of it after.
    std::uint64_t rx_packets() const
    {
        return receiver_ns_->link_stats(veth_->receiver().name).rx_packets;
    }

    std::optional<Testbed> testbed_;
    // The testbed's parts, by the names the tests use.
    const NetNs *sender_ns_ = nullptr, *receiver_ns_ = nullptr;
    const VethPair *veth_ = nullptr;
    std::optional<UdpCounter> counter_;
};

TEST_F(VethTest, PacedIpv4FramesAllArrive)
{
    constexpr std::uint64_t kFrames = 10000;
    constexpr double kRate = 50000;
    std::uint64_t rx_before = rx_packets();
    SendPlan plan = plan_to_receiver(true);
    plan.sources = {veth_->sender().ipv4};
    plan.rate_pps = kRate;
    plan.count = kFrames;

    SendReport report = send(plan);
    EXPECT_EQ(report.packets, kFrames);
    EXPECT_EQ(report.bytes, kFrames * 64);
    EXPECT_EQ(report.retries, 0u);
    // The schedule is exact; only a late wake-up for the last batch on a busy machine can
    // stretch the 200 ms, so allow 2 %.
    EXPECT_NEAR(report.rate_pps(), kRate, kRate * 0.02);

    // Nothing but the test's frames crosses the link, and nothing is lost at this rate.
    EXPECT_EQ(counter_->wait_for(kFrames, 5s), kFrames);
    EXPECT_EQ(rx_packets() - rx_before, kFrames);
    EXPECT_EQ(counter_->by_source(),
              (std::map<Address, std::uint64_t>{{veth_->sender().ipv4, kFrames}}));
    EXPECT_EQ(counter_->socket_drops(), 0u);
}

TEST_F(VethTest, Ipv6FramesOfAnySizeArrive)
{
    constexpr std::uint64_t kFrames = 1000;
    std::uint64_t rx_before = rx_packets();
    SendPlan plan = plan_to_receiver(false);
    plan.sources = {veth_->sender().ipv6};
    plan.frame_bytes = 1514; // a full 1500-byte IPv6 packet
    plan.rate_pps = 50000;
    plan.count = kFrames;

    SendReport report = send(plan);
    EXPECT_EQ(report.packets, kFrames);
    EXPECT_EQ(report.bytes, kFrames * 1514);
    EXPECT_EQ(counter_->wait_for(kFrames, 5s), kFrames);
    EXPECT_EQ(rx_packets() - rx_before, kFrames);
    EXPECT_EQ(counter_->by_source(),
              (std::map<Address, std::uint64_t>{{veth_->sender().ipv6, kFrames}}));
}

TEST_F(VethTest, SpoofedRangeReachesEveryAddressOfIt)
{
    // 10000 uniform draws from 256 addresses miss one with probability ~1e-14; the seed makes
    // the draws the same on every run anyway. Every frame must pass the receiver's checksum
    // checks (IPv4 header, UDP over IPv6), so this also checks the in-place rewriting.
    constexpr std::uint64_t kFrames = 10000;
    for (const char *range : {"198.18.7.0/24", "2001:db8:5::/120"}) {
        SCOPED_TRACE(range);
        Prefix prefix = *parse_prefix(range);
        SendPlan plan = plan_to_receiver(prefix.is_v4());
        plan.source_range = prefix;
        plan.seed = 42;
        plan.rate_pps = 50000;
        plan.count = kFrames;
        std::uint64_t before = counter_->total();

        EXPECT_EQ(send(plan).packets, kFrames);
        EXPECT_EQ(counter_->wait_for(before + kFrames, 5s), before + kFrames);
        std::size_t distinct = 0;
        std::uint64_t from_range = 0;
        for (const auto &[source, datagrams] : counter_->by_source()) {
            if (prefix.contains(source)) {
                distinct++;
                from_range += datagrams;
            }
        }
        EXPECT_EQ(distinct, 256u);
        EXPECT_EQ(from_range, kFrames);
    }
}

TEST_F(VethTest, VlanTaggedFramesArriveTagged)
{
    // The receiver has no VLAN device (this kernel may lack CONFIG_VLAN_8021Q), so frames of
    // VLAN 7 must reach the interface and then never be taken as untagged datagrams.
    constexpr std::uint64_t kFrames = 1000;
    std::uint64_t rx_before = rx_packets();
    SendPlan plan = plan_to_receiver(true);
    plan.sources = {veth_->sender().ipv4};
    plan.vlan = 7;
    plan.rate_pps = 50000;
    plan.count = kFrames;
    plan.cpu = 0;
    EXPECT_EQ(send(plan).packets, kFrames);

    // Then one untagged frame from the same CPU, so through the same backlog queue: once it is
    // counted, the tagged ones before it have been dealt with.
    plan.vlan.reset();
    plan.count = 1;
    EXPECT_EQ(send(plan).packets, 1u);
    EXPECT_EQ(counter_->wait_for(1, 5s), 1u);
    EXPECT_EQ(rx_packets() - rx_before, kFrames + 1);
    EXPECT_EQ(counter_->total(), 1u);
}

TEST_F(VethTest, RlSendSendsWhatItReports)
{
    constexpr std::uint64_t kFrames = 1000;
    TempDir logs;
    Process rl_send =
        sender_ns_->spawn({RL_SEND_PATH, "-i", veth_->sender().name, "--src", "10.200.0.1", "--src",
                           "10.200.0.3", "--dst", veth_->receiver().ipv4.to_string(), "--size",
                           "200", "--rate", "50k", "--count", "1k", "--json"},
                          logs.path() / "stdout", logs.path() / "stderr");
    ASSERT_EQ(rl_send.wait_for(10s), 0) << rl_send.stderr_text();
    std::string report = rl_send.stdout_text();
    EXPECT_NE(report.find("\"packets\":1000,\"bytes\":200000,"), std::string::npos) << report;

    // The two sources take turns.
    EXPECT_EQ(counter_->wait_for(kFrames, 5s), kFrames);
    EXPECT_EQ(counter_->by_source(),
              (std::map<Address, std::uint64_t>{{*parse_address("10.200.0.1"), kFrames / 2},
                                                {*parse_address("10.200.0.3"), kFrames / 2}}));
}

TEST_F(VethTest, RlSendRefusesAnInconsistentCommandLine)
{
    TempDir logs;
    Process rl_send = sender_ns_->spawn({RL_SEND_PATH, "-i", veth_->sender().name, "--src",
                                         "10.200.0.1", "--dst", "fd00:200::2", "--count", "1"},
                                        logs.path() / "stdout", logs.path() / "stderr");
    EXPECT_EQ(rl_send.wait_for(10s), 2);
    EXPECT_NE(rl_send.stderr_text().find("not of the destination's family"), std::string::npos)
        << rl_send.stderr_text();
    EXPECT_EQ(counter_->total(), 0u);
}

} // namespace
} // namespace ratelimit::test
