// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon/system.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "sys/error.hpp"
#include "sys/files.hpp"

namespace ratelimit
{

void raise_open_files_limit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        spdlog::warn("cannot read the limit on open files: {}", std::strerror(errno));
        return;
    }
    if (limit.rlim_cur >= limit.rlim_max)
        return;
    const rlim_t soft = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
        spdlog::warn("cannot raise the limit on open files from {} to {}: {}", soft, limit.rlim_max,
                     std::strerror(errno));
    else
        spdlog::info("limit on open files raised from {} to {}", soft, limit.rlim_max);
}

void require_capabilities(bool socket_group)
{
    struct Need {
        int cap;
        const char *name, *why;
    };
    const Need needs[] = {
        {CAP_BPF, "CAP_BPF", "to create the maps and load the XDP program"},
        {CAP_PERFMON, "CAP_PERFMON",
         "for the verifier to accept the program's pointer arithmetic on packet data"},
        {CAP_NET_ADMIN, "CAP_NET_ADMIN", "to load an XDP program and attach it to the interfaces"},
        {CAP_CHOWN, "CAP_CHOWN", "to give the control socket to control.group"},
    };
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    check(static_cast<int>(::syscall(SYS_capget, &header, data)),
          "read this process' capabilities");
    std::string missing;
    for (const Need &need : needs) {
        if (need.cap == CAP_CHOWN && !socket_group)
            continue;
        if (!(data[CAP_TO_INDEX(need.cap)].effective & CAP_TO_MASK(need.cap)))
            missing += std::string(missing.empty() ? "" : "; ") + need.name + " (" + need.why + ")";
    }
    if (!missing.empty())
        throw SystemError(EPERM, "missing capabilities: " + missing +
                                     "; the systemd unit grants them with AmbientCapabilities=");
}

namespace
{

bool on_bpffs(const std::string &path)
{
    struct statfs fs {
    };
    check(::statfs(path.c_str(), &fs), "inspect the file system of " + path);
    return static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC;
}

// The deepest directory of `dir` that exists (`dir` itself if it does).
std::string deepest_existing(std::string dir)
{
    struct stat st {
    };
    while (::stat(dir.c_str(), &st) != 0 && dir.size() > 1)
        dir = std::filesystem::path(dir).parent_path().string();
    return dir;
}

bool empty_directory(const std::string &dir)
{
    std::error_code ec;
    return std::filesystem::is_directory(dir, ec) && std::filesystem::is_empty(dir, ec) && !ec;
}

// Whether this process is in PID 1's mount namespace, where a mount outlives the process; false
// if that cannot be read.
bool in_init_mount_namespace()
{
    struct stat self {
    }, init{};
    return ::stat("/proc/self/ns/mnt", &self) == 0 && ::stat("/proc/1/ns/mnt", &init) == 0 &&
           self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

} // namespace

PinMount ensure_bpffs(const std::string &dir)
{
    const std::string existing = deepest_existing(dir);
    if (on_bpffs(existing)) {
        make_directories(dir, 0700);
        return {};
    }
    std::string mount_point = dir;
    try {
        make_directories(dir, 0700);
    } catch (const SystemError &e) {
        if (!empty_directory(existing))
            throw SystemError(e.code().value(),
                              std::string(e.what()) + "; pin_dir " + dir +
                                  " is not on a bpffs and none can be mounted there: mount one "
                                  "(mount -t bpf bpf DIR) and set pin_dir to a directory in it");
        mount_point = existing; // e.g. /sys/fs/bpf of a fresh sysfs: read-only, made for it
    }
    check(::mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700"),
          "mount bpffs at " + mount_point);
    spdlog::info("mounted a bpffs at {} for the pins", mount_point);
    make_directories(dir, 0700);
    PinMount pins{mount_point, in_init_mount_namespace(), {}};
    if (!pins.outlives_daemon)
        pins.warning = "the bpffs mounted at " + mount_point +
                       " is in this daemon's own mount namespace (not PID 1's, as under `ip "
                       "netns exec`): it goes with the pins when ratelimitd exits, so the "
                       "program is detached then (even by kill -9 or with keep_attached_on_exit) "
                       "and the next start adopts nothing. Mount a bpffs where it outlives the "
                       "daemon and set pin_dir in it (README: running in a network namespace)";
    return pins;
}

InstanceLock::InstanceLock(const std::string &path)
{
    // The lock lives beside the control socket, in a directory the config names: where others
    // can write (a socket under /tmp), a symlink or a hard link planted there must not have the
    // daemon truncate the file it points at.
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd_ && errno == ELOOP)
        throw SystemError(ELOOP, "open the lock file " + path +
                                     ": it is a symbolic link; remove it or choose another "
                                     "control.socket directory");
    if (!fd_)
        throw SystemError(errno, "open the lock file " + path);
    struct stat st {
    };
    check(::fstat(fd_.get(), &st), "stat the lock file " + path);
    if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || st.st_nlink != 1)
        throw SystemError(EPERM, "the lock file " + path +
                                     " is not a regular file of this user with one link; remove "
                                     "it or choose another control.socket directory");
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            throw SystemError(errno, "lock " + path);
        char pid[32] = {};
        ssize_t n = ::pread(fd_.get(), pid, sizeof(pid) - 1, 0);
        throw SystemError(EBUSY, "another ratelimitd holds " + path + " (pid " +
                                     (n > 0 ? std::string(pid, strcspn(pid, "\n")) : "?") + ")");
    }
    std::string me = std::to_string(::getpid()) + "\n";
    check(::ftruncate(fd_.get(), 0), "truncate the lock file " + path);
    check(static_cast<int>(::pwrite(fd_.get(), me.data(), me.size(), 0)),
          "write the lock file " + path);
}

void notify_systemd(const std::string &state)
{
    int rc = sd_notify(0, state.c_str());
    if (rc < 0)
        spdlog::warn("sd_notify failed: {}", std::strerror(-rc));
}

} // namespace ratelimit
