// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "netns.hpp"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <tuple>

#include "leftovers.hpp"
#include "sys/error.hpp"

namespace ratelimit::test
{

namespace
{

namespace fs = std::filesystem;

// What a spawned child reports through its pipe when it fails before exec.
struct ChildFailure {
    const char *step;
    int error;
};

[[noreturn]] void become_child(int netns_fd, pid_t parent, const char *stdout_path,
                               const char *stderr_path, char *const *argv, int report_fd)
{
    // Only async-signal-safe calls from here to exec: the test process may have other threads.
    auto fail = [report_fd](const char *step) {
        ChildFailure failure{step, errno};
        // Should even this write fail, the parent sees a bare exit code 127 instead.
        [[maybe_unused]] ssize_t reported = write(report_fd, &failure, sizeof(failure));
        _exit(127);
    };
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        fail("PR_SET_PDEATHSIG");
    if (getppid() != parent)
        _exit(127); // the test process died before the line above took effect
    if (setns(netns_fd, CLONE_NEWNET) < 0)
        fail("enter network namespace");
    // As `ip netns exec` does: a mount namespace of its own, slave so that nothing done in it
    // reaches the test's, with a sysfs that shows this network namespace's devices.
    if (unshare(CLONE_NEWNS) < 0)
        fail("unshare mount namespace");
    if (mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
        fail("make / a slave mount");
    if (umount2("/sys", MNT_DETACH) < 0)
        fail("unmount /sys");
    if (mount("sysfs", "/sys", "sysfs", 0, nullptr) < 0)
        fail("mount sysfs");
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0 || dup2(in, STDIN_FILENO) < 0)
        fail("stdin from /dev/null");
    int out = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0 || dup2(out, STDOUT_FILENO) < 0)
        fail("open stdout file");
    int err = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err < 0 || dup2(err, STDERR_FILENO) < 0)
        fail("open stderr file");
    execvp(argv[0], argv);
    fail("exec");
    _exit(127);
}

Address address_of(const std::string &text)
{
    auto address = parse_address(text);
    if (!address)
        throw std::invalid_argument("not an address: " + text);
    return *address;
}

} // namespace

NetNs::NetNs(const std::string &tag)
{
    remove_leftovers_once();
    static std::atomic<unsigned> next_index{0};
    name_ = owned_name_prefix() + (tag.empty() ? "" : tag + "-") + std::to_string(next_index++);
    run_command({"ip", "netns", "add", name_});
    std::string path = std::string(kNetnsDir) + "/" + name_;
    fd_.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) {
        int err = errno;
        run_command({"ip", "netns", "delete", name_});
        throw SystemError(err, "open " + path);
    }
}

NetNs::~NetNs()
{
    fd_.reset();
    try {
        run_command({"ip", "netns", "delete", name_});
    } catch (const std::exception &e) {
        ADD_FAILURE() << "cleanup: " << e.what();
    }
}

void NetNs::enter() const
{
    check(setns(fd_.get(), CLONE_NEWNET), "enter network namespace " + name_);
}

std::string NetNs::ip(const std::vector<std::string> &args) const
{
    std::vector<std::string> argv = {"ip", "-n", name_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

void NetNs::set_sysctl(const std::string &key, const std::string &value) const
{
    run([&] {
        // /proc/sys/net resolves against the namespace of the thread that opens it.
        std::string path = "/proc/sys/" + key;
        UniqueFd fd(check(open(path.c_str(), O_WRONLY | O_CLOEXEC), "open " + path));
        auto written = check(static_cast<int>(write(fd.get(), value.data(), value.size())),
                             "write " + path + " in " + name_);
        if (static_cast<std::size_t>(written) != value.size())
            throw SystemError(EIO, "short write to " + path);
    });
}

rtnl_link_stats64 NetNs::link_stats(const std::string &interface) const
{
    return run([&] {
        std::string what = "counters of " + interface + " in " + name_;
        unsigned ifindex = if_nametoindex(interface.c_str());
        if (ifindex == 0)
            throw SystemError(errno, what);
        UniqueFd fd(
            check(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "netlink socket"));
        struct {
            nlmsghdr header;
            ifinfomsg link;
        } request{};
        request.header.nlmsg_len = sizeof(request);
        request.header.nlmsg_type = RTM_GETLINK;
        request.header.nlmsg_flags = NLM_F_REQUEST;
        request.link.ifi_family = AF_UNSPEC;
        request.link.ifi_index = static_cast<int>(ifindex);
        check(static_cast<int>(send(fd.get(), &request, sizeof(request), 0)), "RTM_GETLINK");

        alignas(nlmsghdr) char reply_buffer[64 * 1024];
        int length = check(static_cast<int>(recv(fd.get(), reply_buffer, sizeof(reply_buffer), 0)),
                           "read " + what);
        auto *reply = reinterpret_cast<nlmsghdr *>(reply_buffer);
        if (!NLMSG_OK(reply, length))
            throw SystemError(EBADMSG, what);
        if (reply->nlmsg_type == NLMSG_ERROR)
            throw SystemError(-static_cast<nlmsgerr *>(NLMSG_DATA(reply))->error, what);
        auto *link = static_cast<ifinfomsg *>(NLMSG_DATA(reply));
        int attributes_length = static_cast<int>(IFLA_PAYLOAD(reply));
        for (auto *attr = IFLA_RTA(link); RTA_OK(attr, attributes_length);
             attr = RTA_NEXT(attr, attributes_length)) {
            if (attr->rta_type != IFLA_STATS64)
                continue;
            rtnl_link_stats64 stats{};
            std::memcpy(&stats, RTA_DATA(attr),
                        std::min<std::size_t>(sizeof(stats), RTA_PAYLOAD(attr)));
            return stats;
        }
        throw SystemError(ENODATA, what + ": no IFLA_STATS64");
    });
}

Process NetNs::spawn(const std::vector<std::string> &argv, const fs::path &stdout_path,
                     const fs::path &stderr_path) const
{
    // Everything the child needs is prepared before fork: it may not allocate.
    auto args = c_argv(argv);
    std::string out = stdout_path.string(), err = stderr_path.string();
    int fds[2];
    check(pipe2(fds, O_CLOEXEC), "pipe");
    UniqueFd report(fds[0]), child_report(fds[1]);
    pid_t parent = getpid();

    // PR_SET_PDEATHSIG follows the forking thread: spawn from the test's thread, not from run().
    pid_t pid = check(fork(), "fork for " + argv[0]);
    if (pid == 0)
        become_child(fd_.get(), parent, out.c_str(), err.c_str(), args.data(), child_report.get());
    child_report.reset();

    Process process = Process::adopt(pid, stdout_path, stderr_path);

    // exec closes the report pipe (O_CLOEXEC): end of file means the program is running.
    ChildFailure failure{};
    ssize_t n = 0;
    while ((n = read(report.get(), &failure, sizeof(failure))) < 0 && errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof(failure))) {
        process.wait_for(std::chrono::milliseconds::max());
        throw SystemError(failure.error, "start " + argv[0] + " in " + name_ + ": " + failure.step);
    }
    return process;
}

std::pair<VethEnd, VethEnd> VethPair::ends(unsigned index)
{
    if (index > 255)
        throw std::invalid_argument("veth pair index " + std::to_string(index) + " over 255");
    std::string n = std::to_string(index);
    return {{"rl-tx" + n, "02:00:00:00:00:01", address_of("10.200." + n + ".1"),
             address_of("fd00:200:" + n + "::1")},
            {"rl-rx" + n, "02:00:00:00:00:02", address_of("10.200." + n + ".2"),
             address_of("fd00:200:" + n + "::2")}};
}

VethPair::VethPair(const NetNs &sender_ns, const NetNs &receiver_ns, unsigned index)
    : sender_ns_(sender_ns)
{
    std::tie(sender_, receiver_) = ends(index);

    sender_ns.ip({"link", "add", sender_.name, "address", sender_.mac, "type", "veth", "peer",
                  "name", receiver_.name, "address", receiver_.mac, "netns", receiver_ns.name()});
    try {
        const std::pair<const NetNs *, std::pair<const VethEnd *, const VethEnd *>> ends[] = {
            {&sender_ns, {&sender_, &receiver_}}, {&receiver_ns, {&receiver_, &sender_}}};
        for (auto [ns, pair] : ends) {
            auto [self, peer] = pair;
            ns->set_sysctl("net/ipv6/conf/" + self->name + "/router_solicitations", "0");
            ns->set_sysctl("net/ipv4/conf/all/rp_filter", "0");
            ns->set_sysctl("net/ipv4/conf/" + self->name + "/rp_filter", "0");
            ns->ip({"link", "set", self->name, "arp", "off"});
            ns->ip({"address", "add", self->ipv4.to_string() + "/24", "dev", self->name});
            ns->ip({"address", "add", self->ipv6.to_string() + "/64", "dev", self->name, "nodad"});
            for (const auto &address : {peer->ipv4, peer->ipv6})
                ns->ip({"neigh", "replace", address.to_string(), "lladdr", peer->mac, "dev",
                        self->name, "nud", "permanent"});
        }
        for (auto [ns, pair] : ends)
            ns->ip({"link", "set", pair.first->name, "up"});
    } catch (...) {
        try {
            sender_ns.ip({"link", "delete", sender_.name});
        } catch (const std::exception &e) {
            ADD_FAILURE() << "cleanup: " << e.what();
        }
        throw;
    }
}

VethPair::~VethPair()
{
    try {
        sender_ns_.ip({"link", "delete", sender_.name}); // takes the peer with it
    } catch (const std::exception &e) {
        ADD_FAILURE() << "cleanup: " << e.what();
    }
}

std::string netns_unavailable_reason()
{
    static const std::string reason = []() -> std::string {
        if (geteuid() != 0)
            return "not running as root";
        try {
            NetNs probe;
            probe.ip({"link", "add", "rlt-probe0", "type", "veth", "peer", "name", "rlt-probe1"});
        } catch (const std::exception &e) {
            return e.what();
        }
        return {};
    }();
    return reason;
}

} // namespace ratelimit::test
