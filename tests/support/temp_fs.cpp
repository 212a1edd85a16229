// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "temp_fs.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "leftovers.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace ratelimit::test
{

namespace fs = std::filesystem;

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

} // namespace ratelimit::test
