// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// End-to-end test harness, after xdp-tools' test runner: every test gets private network
// namespaces joined by a veth pair, its own bpffs, and counters on the receiving side that do
// not trust the limiter. Every object removes what it created when destroyed, so a failing test
// cleans up too; what a killed test process left behind is removed by the next one.

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "sys/fd.hpp"
#include "net/address.hpp"

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

// Removes the namespaces, bpffs mounts and directories that harness objects of test processes
// no longer running left behind (a test killed by a timeout runs no destructors). The first
// harness object a test process creates calls it.
void remove_leftovers_of_dead_tests();

// Runs a program (no shell) and returns its stdout and stderr; throws std::runtime_error with
// them when it exits non-zero.
std::string run_command(const std::vector<std::string> &argv);

// A directory under /tmp, removed with its contents when destroyed.
class TempDir
{
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::filesystem::path &path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// A bpffs of the test's own for its pins (never /sys/fs/bpf: `ip netns exec` and NetNs::spawn
// remount /sys, so it is not a bpffs there anyway). Unmounting drops every pin in it.
class Bpffs
{
  public:
    Bpffs();
    ~Bpffs();
    Bpffs(const Bpffs &) = delete;
    Bpffs &operator=(const Bpffs &) = delete;

    const std::filesystem::path &path() const { return dir_.path(); }

  private:
    TempDir dir_;
};

// A tmpfs of `bytes` of the test's own: a small disk to fill up, or to make read-only. Its root is
// mode 0750, as a state directory is.
class Tmpfs
{
  public:
    explicit Tmpfs(std::size_t bytes);
    ~Tmpfs();
    Tmpfs(const Tmpfs &) = delete;
    Tmpfs &operator=(const Tmpfs &) = delete;

    const std::filesystem::path &path() const { return dir_.path(); }
    // Writes a file until no byte more fits; returns it (remove it to free the space).
    std::filesystem::path fill() const;
    void make_read_only() const;

  private:
    TempDir dir_;
};

// A process started by NetNs::spawn. Destroying it stops it (SIGTERM, then SIGKILL) and reaps it;
// it is also killed if the test process dies first.
class Process
{
  public:
    Process(Process &&other) noexcept;
    Process &operator=(Process &&) = delete;
    Process(const Process &) = delete;
    ~Process();

    pid_t pid() const { return pid_; }
    void signal(int signo) const;
    // The exit code (128 + the signal if one killed it) once it has exited within `timeout`.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL if it is still running after `grace`; returns the exit code.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    std::string stdout_text() const;
    std::string stderr_text() const;

  private:
    friend class NetNs;
    Process(pid_t pid, UniqueFd pidfd, std::filesystem::path stdout_path,
            std::filesystem::path stderr_path);

    pid_t pid_;
    UniqueFd pidfd_; // readable once the process has exited
    std::optional<int> exit_code_;
    std::filesystem::path stdout_path_, stderr_path_;
};

// A named network namespace ("rlt-<pid>-<n>", listed by `ip netns list`), deleted when
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
    // stderr go to the given files; stdin is /dev/null. Throws if it could not be started.
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

// A UDP socket in a namespace, bound to [::]:port for IPv4 and IPv6 (FrameBuilder's frames go
// to port 9), counting datagrams by source on a thread of its own until destroyed.
class UdpCounter
{
  public:
    explicit UdpCounter(const NetNs &ns, std::uint16_t port = 9);
    ~UdpCounter();
    UdpCounter(const UdpCounter &) = delete;
    UdpCounter &operator=(const UdpCounter &) = delete;

    std::uint64_t total() const;
    std::map<Address, std::uint64_t> by_source() const;
    // Whether every datagram the socket has taken in is counted: none waits unread (the drain
    // thread may lag behind on a loaded machine).
    bool idle() const;
    // Datagrams the socket dropped for want of buffer (SO_RXQ_OVFL): not the limiter's doing.
    std::uint64_t socket_drops() const;
    // Waits until `count` datagrams have arrived or `timeout` has passed; returns total().
    std::uint64_t wait_for(std::uint64_t count, std::chrono::milliseconds timeout) const;

  private:
    void drain();

    UniqueFd socket_;
    UniqueFd stop_; // eventfd: written to end the drain thread
    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::uint64_t total_ = 0;
    std::uint64_t socket_drops_ = 0;
    std::map<Address, std::uint64_t> by_source_;
    std::thread drainer_;
};

} // namespace ratelimit::test
