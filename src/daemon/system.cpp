// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon/system.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "kernel/error.hpp"

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

void make_dirs(const std::string &dir, unsigned mode)
{
    for (std::size_t pos = 1; pos != std::string::npos;) {
        pos = dir.find('/', pos + 1);
        std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST)
            throw KernelError(errno, "create directory " + part);
    }
}

bool ensure_bpffs(const std::string &dir)
{
    make_dirs(dir, 0700);
    struct statfs fs {
    };
    check(::statfs(dir.c_str(), &fs), "inspect the file system of " + dir);
    if (static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC)
        return false;
    check(::mount("bpf", dir.c_str(), "bpf", 0, "mode=0700"), "mount bpffs at " + dir);
    spdlog::info("mounted a bpffs at {} for the pins", dir);
    return true;
}

InstanceLock::InstanceLock(const std::string &path)
{
    fd_.reset(check(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644),
                    "open the lock file " + path));
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            throw KernelError(errno, "lock " + path);
        char pid[32] = {};
        ssize_t n = ::pread(fd_.get(), pid, sizeof(pid) - 1, 0);
        throw KernelError(EBUSY, "another ratelimitd holds " + path + " (pid " +
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
