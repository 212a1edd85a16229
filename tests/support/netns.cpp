// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "netns.hpp"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "sys/error.hpp"

extern char **environ;

namespace ratelimit::test
{

namespace
{

namespace fs = std::filesystem;

// Everything the harness names starts with this and the owning test process's pid, so that
// leftovers of a dead process can be told from those of a running one.
constexpr std::string_view kNamePrefix = "rlt-";
constexpr char kNetnsDir[] = "/run/netns";
constexpr char kTmpDir[] = "/tmp";

std::string owned_name_prefix()
{
    return std::string(kNamePrefix) + std::to_string(getpid()) + "-";
}

// "rlt-<pid>-..." of a process that no longer exists.
bool left_by_dead_process(std::string_view name)
{
    if (!name.starts_with(kNamePrefix))
        return false;
    name.remove_prefix(kNamePrefix.size());
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end == name.data() + name.size() || *end != '-')
        return false;
    return pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

std::vector<char *> c_argv(const std::vector<std::string> &argv)
{
    if (argv.empty())
        throw std::invalid_argument("empty command line");
    std::vector<char *> out;
    for (const auto &arg : argv)
        out.push_back(const_cast<char *>(arg.c_str()));
    out.push_back(nullptr);
    return out;
}

std::string joined(const std::vector<std::string> &argv)
{
    std::string out;
    for (const auto &arg : argv)
        out += (out.empty() ? "" : " ") + arg;
    return out;
}

int exit_code(int status)
{
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int wait_child(pid_t pid, const std::string &what)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            throw SystemError(errno, "wait for " + what);
    return status;
}

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

std::string file_text(const fs::path &path)
{
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Address address_of(const std::string &text)
{
    auto address = parse_address(text);
    if (!address)
        throw std::invalid_argument("not an address: " + text);
    return *address;
}

} // namespace

void remove_leftovers_of_dead_tests()
{
    // Namespaces, then bpffs mounts, then the directories (bpffs mount points among them).
    auto warn = [](const std::string &what) {
        std::cerr << "netns harness: leftover not removed: " << what << "\n";
    };
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(kNetnsDir, ec)) {
        std::string name = entry.path().filename();
        if (!left_by_dead_process(name))
            continue;
        try {
            run_command({"ip", "netns", "delete", name});
        } catch (const std::exception &e) {
            warn(e.what());
        }
    }
    std::ifstream mountinfo("/proc/self/mountinfo");
    for (std::string line; std::getline(mountinfo, line);) {
        std::istringstream fields(line);
        std::string id, parent, device, root, mount_point;
        fields >> id >> parent >> device >> root >> mount_point;
        fs::path path(mount_point);
        if (path.parent_path() == kTmpDir && left_by_dead_process(path.filename().string()) &&
            umount2(mount_point.c_str(), MNT_DETACH) < 0)
            warn("umount " + mount_point + ": " + std::strerror(errno));
    }
    for (const auto &entry : fs::directory_iterator(kTmpDir, ec)) {
        if (!left_by_dead_process(entry.path().filename().string()))
            continue;
        std::error_code removed;
        fs::remove_all(entry.path(), removed);
        if (removed)
            warn(entry.path().string() + ": " + removed.message());
    }
}

namespace
{

void remove_leftovers_once()
{
    static std::once_flag once;
    std::call_once(once, remove_leftovers_of_dead_tests);
}

} // namespace

std::string run_command(const std::vector<std::string> &argv)
{
    auto args = c_argv(argv);
    int fds[2];
    check(pipe2(fds, O_CLOEXEC), "pipe");
    UniqueFd output(fds[0]), child_output(fds[1]);

    posix_spawn_file_actions_t actions;
    auto must = [&](int rc, const char *what) {
        if (rc != 0)
            throw SystemError(rc, std::string(what) + " for " + argv[0]);
    };
    must(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
    pid_t pid = 0;
    try {
        must(posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0),
             "redirect stdin");
        must(posix_spawn_file_actions_adddup2(&actions, child_output.get(), STDOUT_FILENO),
             "redirect stdout");
        must(posix_spawn_file_actions_adddup2(&actions, child_output.get(), STDERR_FILENO),
             "redirect stderr");
        must(posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ), "start");
    } catch (...) {
        posix_spawn_file_actions_destroy(&actions);
        throw;
    }
    posix_spawn_file_actions_destroy(&actions);
    child_output.reset();

    std::string text;
    char buffer[4096];
    int read_error = 0;
    for (;;) {
        ssize_t n = read(output.get(), buffer, sizeof(buffer));
        if (n > 0)
            text.append(buffer, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR) {
            read_error = n < 0 ? errno : 0;
            break;
        }
    }
    int status = wait_child(pid, argv[0]); // reaped even when its output could not be read
    if (read_error)
        throw SystemError(read_error, "read the output of " + joined(argv));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("`" + joined(argv) + "` failed with exit code " +
                                 std::to_string(exit_code(status)) + ": " + text);
    return text;
}

TempDir::TempDir()
{
    remove_leftovers_once();
    std::string pattern = std::string(kTmpDir) + "/" + owned_name_prefix() + "XXXXXX";
    path_ = check_ptr(mkdtemp(pattern.data()), "mkdtemp " + pattern);
}

TempDir::~TempDir()
{
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec)
        ADD_FAILURE() << "cleanup: remove " << path_ << ": " << ec.message();
}

Bpffs::Bpffs()
{
    check(mount("bpffs", path().c_str(), "bpf", 0, "mode=0700"),
          "mount bpffs at " + path().string());
}

Bpffs::~Bpffs()
{
    if (umount2(path().c_str(), MNT_DETACH) < 0)
        ADD_FAILURE() << "cleanup: unmount bpffs at " << path() << ": " << std::strerror(errno);
}

Tmpfs::Tmpfs(std::size_t bytes)
{
    check(mount("tmpfs", path().c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                ("size=" + std::to_string(bytes) + ",mode=0750").c_str()),
          "mount a tmpfs at " + path().string());
}

Tmpfs::~Tmpfs()
{
    if (umount2(path().c_str(), MNT_DETACH) < 0)
        ADD_FAILURE() << "cleanup: unmount the tmpfs at " << path() << ": " << std::strerror(errno);
}

fs::path Tmpfs::fill() const
{
    const fs::path filler = path() / "filler";
    UniqueFd fd(check(::open(filler.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600),
                      "create " + filler.string()));
    const std::string block(4096, '\0');
    for (;;) {
        if (::write(fd.get(), block.data(), block.size()) >= 0)
            continue;
        if (errno == ENOSPC)
            return filler;
        if (errno != EINTR)
            throw SystemError(errno, "fill " + filler.string());
    }
}

void Tmpfs::make_read_only() const
{
    check(mount(nullptr, path().c_str(), nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                nullptr),
          "remount " + path().string() + " read-only");
}

Process::Process(pid_t pid, UniqueFd pidfd, fs::path stdout_path, fs::path stderr_path)
    : pid_(pid), pidfd_(std::move(pidfd)), stdout_path_(std::move(stdout_path)),
      stderr_path_(std::move(stderr_path))
{
}

Process::Process(Process &&other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)),
      exit_code_(other.exit_code_), stdout_path_(std::move(other.stdout_path_)),
      stderr_path_(std::move(other.stderr_path_))
{
}

Process::~Process()
{
    if (pid_ <= 0 || exit_code_)
        return;
    try {
        stop();
    } catch (const std::exception &e) {
        ADD_FAILURE() << "cleanup: stop process " << pid_ << ": " << e.what();
    }
}

void Process::signal(int signo) const
{
    // Once reaped, the pid may belong to someone else.
    if (exit_code_)
        throw std::logic_error("process " + std::to_string(pid_) + " has already exited");
    check(kill(pid_, signo), "signal process " + std::to_string(pid_));
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout)
{
    if (exit_code_)
        return exit_code_;
    pollfd exited{pidfd_.get(), POLLIN, 0};
    auto wait_ms = static_cast<int>(
        std::min<std::chrono::milliseconds::rep>(timeout.count(), std::numeric_limits<int>::max()));
    int ready = 0;
    while ((ready = poll(&exited, 1, wait_ms)) < 0)
        if (errno != EINTR)
            throw SystemError(errno, "wait for process " + std::to_string(pid_));
    if (ready == 0)
        return std::nullopt;
    exit_code_ = exit_code(wait_child(pid_, "process " + std::to_string(pid_)));
    return exit_code_;
}

int Process::stop(std::chrono::milliseconds grace)
{
    if (exit_code_)
        return *exit_code_;
    signal(SIGTERM);
    if (auto code = wait_for(grace))
        return *code;
    signal(SIGKILL);
    return *wait_for(std::chrono::milliseconds::max());
}

std::string Process::stdout_text() const
{
    return file_text(stdout_path_);
}

std::string Process::stderr_text() const
{
    return file_text(stderr_path_);
}

NetNs::NetNs()
{
    remove_leftovers_once();
    static std::atomic<unsigned> next_index{0};
    name_ = owned_name_prefix() + std::to_string(next_index++);
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

    // The syscall itself: glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link it.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        int error = errno;
        kill(pid, SIGKILL);
        wait_child(pid, argv[0]);
        throw SystemError(error, "pidfd_open for " + argv[0]);
    }
    Process process(pid, UniqueFd(pidfd), stdout_path, stderr_path);

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

VethPair::VethPair(const NetNs &sender_ns, const NetNs &receiver_ns, unsigned index)
    : sender_ns_(sender_ns)
{
    if (index > 255)
        throw std::invalid_argument("veth pair index " + std::to_string(index) + " over 255");
    std::string n = std::to_string(index);
    sender_ = {"rl-tx" + n, "02:00:00:00:00:01", address_of("10.200." + n + ".1"),
               address_of("fd00:200:" + n + "::1")};
    receiver_ = {"rl-rx" + n, "02:00:00:00:00:02", address_of("10.200." + n + ".2"),
                 address_of("fd00:200:" + n + "::2")};

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

UdpCounter::UdpCounter(const NetNs &ns, std::uint16_t port)
{
    socket_ = ns.run([&] {
        std::string what = "UDP [::]:" + std::to_string(port) + " in " + ns.name();
        UniqueFd fd(check(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket for " + what));
        int off = 0, on = 1;
        // Room for every datagram of a test's burst: a socket overflow would pass for drops.
        int buffer_bytes = 64 << 20;
        check(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)),
              "IPV6_V6ONLY off for " + what);
        check(setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof(buffer_bytes)),
              "SO_RCVBUFFORCE for " + what);
        check(setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)),
              "SO_RXQ_OVFL for " + what);
        sockaddr_in6 any{};
        any.sin6_family = AF_INET6;
        any.sin6_port = htons(port);
        check(bind(fd.get(), reinterpret_cast<const sockaddr *>(&any), sizeof(any)),
              "bind " + what);
        return fd;
    });
    stop_.reset(check(eventfd(0, EFD_CLOEXEC), "eventfd"));
    drainer_ = std::thread([this] { drain(); });
}

UdpCounter::~UdpCounter()
{
    std::uint64_t one = 1;
    if (write(stop_.get(), &one, sizeof(one)) != sizeof(one))
        ADD_FAILURE() << "cleanup: cannot stop the UDP counter: " << std::strerror(errno);
    drainer_.join();
}

void UdpCounter::drain()
{
    constexpr unsigned kBatch = 64;
    constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(std::uint32_t));
    // Payloads are not looked at: a short buffer only truncates them.
    std::array<std::array<char, 64>, kBatch> payloads;
    std::array<sockaddr_in6, kBatch> sources;
    alignas(cmsghdr) std::array<std::array<char, kControlBytes>, kBatch> controls;
    std::array<iovec, kBatch> iov;
    std::array<mmsghdr, kBatch> messages;
    for (;;) {
        pollfd ready[2] = {{socket_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (poll(ready, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            ADD_FAILURE() << "UDP counter: poll: " << std::strerror(errno);
            return;
        }
        if (ready[1].revents)
            return;
        for (unsigned i = 0; i < kBatch; i++) {
            iov[i] = {payloads[i].data(), payloads[i].size()};
            messages[i] = {};
            messages[i].msg_hdr.msg_name = &sources[i];
            messages[i].msg_hdr.msg_namelen = sizeof(sources[i]);
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            messages[i].msg_hdr.msg_control = controls[i].data();
            messages[i].msg_hdr.msg_controllen = controls[i].size();
        }
        {
            // Read and counted under one lock: idle() never sees a datagram that has left the
            // socket but is not counted yet.
            std::lock_guard lock(mutex_);
            int n = recvmmsg(socket_.get(), messages.data(), kBatch, MSG_DONTWAIT, nullptr);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                ADD_FAILURE() << "UDP counter: recvmmsg: " << std::strerror(errno);
                return;
            }
            for (int i = 0; i < n; i++) {
                Address source;
                std::memcpy(source.bytes.data(), &sources[i].sin6_addr, source.bytes.size());
                by_source_[source]++;
                total_++;
                // Present once the socket has dropped anything: its running count of drops.
                for (auto *cmsg = CMSG_FIRSTHDR(&messages[i].msg_hdr); cmsg;
                     cmsg = CMSG_NXTHDR(&messages[i].msg_hdr, cmsg)) {
                    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SO_RXQ_OVFL) {
                        std::uint32_t drops = 0;
                        std::memcpy(&drops, CMSG_DATA(cmsg), sizeof(drops));
                        socket_drops_ = std::max<std::uint64_t>(socket_drops_, drops);
                    }
                }
            }
        }
        arrived_.notify_all();
    }
}

std::uint64_t UdpCounter::total() const
{
    std::lock_guard lock(mutex_);
    return total_;
}

std::map<Address, std::uint64_t> UdpCounter::by_source() const
{
    std::lock_guard lock(mutex_);
    return by_source_;
}

bool UdpCounter::idle() const
{
    std::lock_guard lock(mutex_);
    std::array<std::uint32_t, SK_MEMINFO_VARS> meminfo{};
    socklen_t length = sizeof(meminfo);
    check(getsockopt(socket_.get(), SOL_SOCKET, SO_MEMINFO, meminfo.data(), &length),
          "SO_MEMINFO of the UDP counter");
    return meminfo[SK_MEMINFO_RMEM_ALLOC] == 0;
}

std::uint64_t UdpCounter::socket_drops() const
{
    std::lock_guard lock(mutex_);
    return socket_drops_;
}

std::uint64_t UdpCounter::wait_for(std::uint64_t count, std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return total_ >= count; });
    return total_;
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
