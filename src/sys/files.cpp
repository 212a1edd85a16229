// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sys/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace ratelimit
{

namespace
{

namespace fs = std::filesystem;

void sync_directory(const fs::path &directory)
{
    UniqueFd fd(check(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                      "cannot open directory " + directory.string()));
    check(::fsync(fd.get()), "cannot sync directory " + directory.string());
}

void make_missing(const fs::path &directory, mode_t mode, SyncDirectories sync)
{
    struct stat status;
    if (::stat(directory.c_str(), &status) == 0)
        return;
    if (errno != ENOENT)
        throw SystemError(errno, "cannot stat " + directory.string());
    if (directory.has_parent_path() && directory.parent_path() != directory)
        make_missing(directory.parent_path(), mode, sync);
    if (::mkdir(directory.c_str(), mode) != 0) {
        if (errno == EEXIST) // made meanwhile by someone else
            return;
        throw SystemError(errno, "cannot create directory " + directory.string());
    }
    check(::chmod(directory.c_str(), mode), "cannot chmod " + directory.string());
    if (sync == SyncDirectories::Yes)
        sync_directory(directory.has_parent_path() ? directory.parent_path() : fs::path("."));
}

} // namespace

void make_directories(const std::string &path, mode_t mode, SyncDirectories sync)
{
    make_missing(path, mode, sync);
}

} // namespace ratelimit
