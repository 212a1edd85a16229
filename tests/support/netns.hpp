// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// End-to-end test harness, after xdp-tools' test runner: every test gets private network
// namespaces joined by a veth pair (here), its own bpffs (temp_fs.hpp), and counters on the
// receiving side that do not trust the limiter (udp_counter.hpp). Every object removes what it
// created when destroyed, so a failing test cleans up too; what a killed test process left behind
// is removed by the next one (leftovers.hpp).

#include <gtest/gtest.h>
#include <linux/if_link.h>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "net/address.hpp"
#include "process.hpp"
#include "sys/fd.hpp"

namespace ratelimit::test
{

// Empty if this process can create network namespaces and veth pairs; else why not.
std::string netns_unavailable_reason();

// Skips the test with the reason, or fails it when RATELIMITD_NO_SKIP is set (as .ci/run does).
#define RL_REQUIRE_NETNS()                                                                         \
    do {                                                                                           \
        if (auto why = ::ratelimit::test::netns_unavailable_reason(); !why.empty()) {              \
            if (std::getenv("RATELIMITD_NO_SKIP"))                                                 \
                FAIL() << "cannot run network namespace tests: " << why;                           \
            GTEST_SKIP() << "needs root and network namespaces: " << why;                          \
        }                                                                                          \
    } while (0)

// A named network namespace ("rlt-<pid>-<n>", or "rlt-<pid>-<n>-TAG" with RL_TEST_NETNS_TAG=TAG in
// the environment, so that whose tests made it shows; listed by `ip netns list`), deleted when
// destroyed. Things created inside it (veth ends, sockets' namespaces) go with it.
class NetNs
{
  public:
    NetNs();
    ~NetNs();
    NetNs(const NetNs &) = delete;
    NetNs &operator=(const NetNs &) = delete;

    const std::string &name() const { return name_; }

    // Runs `fn` on a thread that has joined this namespace and returns what it returns (or
    // throws what it throws). Sockets it creates stay in this namespace. /sys still shows the
    // test's own namespace there; use link_stats() for counters.
    template <typename Fn>
    std::invoke_result_t<Fn &> run(Fn &&fn) const;

    // `ip -n NAME args...`
    std::string ip(const std::vector<std::string> &args) const;
    // Writes /proc/sys/`key` as this namespace sees it, e.g. "net/ipv4/conf/all/rp_filter".
    void set_sysctl(const std::string &key, const std::string &value) const;
    // The interface's counters (RTM_GETLINK), e.g. rx_packets: every frame the interface took
    // in, whatever the limiter or the stack then did with it.
    rtnl_link_stats64 link_stats(const std::string &interface) const;

    // Starts `argv` (argv[0] searched in PATH) inside this namespace, as `ip netns exec` would:
    // in a mount namespace of its own where /sys shows this namespace's devices. Its stdout and
    // stderr go to the given files; stdin is /dev/null. It is killed if the test process dies
    // first. Throws if it could not be started.
    Process spawn(const std::vector<std::string> &argv, const std::filesystem::path &stdout_path,
                  const std::filesystem::path &stderr_path) const;

  private:
    void enter() const;

    std::string name_;
    UniqueFd fd_;
};

template <typename Fn>
std::invoke_result_t<Fn &> NetNs::run(Fn &&fn) const
{
    // A thread of its own, so that the caller's thread never changes namespace.
    std::packaged_task<std::invoke_result_t<Fn &>()> task([&] {
        enter();
        return fn();
    });
    auto result = task.get_future();
    std::thread(std::move(task)).join();
    return result.get();
}

struct VethEnd {
    std::string name; // interface name inside its namespace
    std::string mac;
    Address ipv4; // in a /24 shared with the other end
    Address ipv6; // in a /64 shared with the other end
};

// A veth pair from `sender_ns` to `receiver_ns`, up, with addresses; removed when destroyed.
// The sender end has FrameBuilder's source MAC and the receiver end its destination MAC, so
// built frames are the receiver's. Pair `index` (for several pairs between the same namespaces)
// is named rl-tx<index> / rl-rx<index>, in 10.200.<index>.0/24 and fd00:200:<index>::/64, the
// sender end .1 / ::1 and the receiver end .2 / ::2.
//
// The link carries only what tests send: both ends are NOARP with permanent neighbour entries
// for each other (no ARP, no IPv6 DAD or MLD reports) and send no router solicitations, so
// rx_packets counts test frames alone. Reverse-path filtering is off in both namespaces, so
// spoofed sources from any prefix are delivered.
class VethPair
{
  public:
    VethPair(const NetNs &sender_ns, const NetNs &receiver_ns, unsigned index = 0);
    ~VethPair();
    VethPair(const VethPair &) = delete;
    VethPair &operator=(const VethPair &) = delete;

    const VethEnd &sender() const { return sender_; }
    const VethEnd &receiver() const { return receiver_; }

  private:
    const NetNs &sender_ns_;
    VethEnd sender_, receiver_;
};

} // namespace ratelimit::test
