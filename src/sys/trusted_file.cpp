// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sys/trusted_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "sys/error.hpp"

namespace ratelimit
{

namespace
{

namespace fs = std::filesystem;

std::string mode_text(mode_t mode)
{
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// "root", or "root or uid 1000" when the daemon runs as another user.
std::string trusted_owners()
{
    const uid_t self = ::geteuid();
    return self == 0 ? "root" : "root or uid " + std::to_string(self);
}

// Throws UntrustedFile if `status` makes `path` (a directory or a regular file, as `directory`
// says) untrusted, saying why and how to fix it.
void check_trusted(const struct stat &status, const std::string &path, bool directory)
{
    const std::string subject = directory ? path + " is" : "cannot read " + path + ": it is";
    const std::string consequence = directory ? "ratelimitd trusts no file in a directory "
                                              : "ratelimitd does not take its rules from a file ";
    if (!(directory ? S_ISDIR(status.st_mode) : S_ISREG(status.st_mode)))
        throw UntrustedFile(subject + " not a " + (directory ? "directory" : "regular file"));
    if (status.st_uid != 0 && status.st_uid != ::geteuid())
        throw UntrustedFile(subject + " owned by uid " + std::to_string(status.st_uid) + ", and " +
                            consequence + "that " + trusted_owners() +
                            " does not own; fix it with `chown root " + path + "`");
    const bool group = (status.st_mode & S_IWGRP) != 0;
    const bool others = (status.st_mode & S_IWOTH) != 0;
    if (group || others)
        throw UntrustedFile(subject + " writable by " +
                            (group && others ? "its group and others"
                             : group         ? "its group"
                                             : "others") +
                            " (mode " + mode_text(status.st_mode) + "), and " + consequence +
                            "that others can write to; fix it with `chmod go-w " + path + "`");
}

std::string too_large(const std::string &path, std::size_t max_bytes)
{
    return path + " is larger than " + std::to_string(max_bytes) +
           " bytes, more than ratelimitd reads from such a file";
}

// Throws UntrustedFile past `max_bytes`: a file that size is not one the daemon wrote or an
// operator meant, and reading it would cost memory for nothing. `expected` (the size fstat gave,
// at most max_bytes) is read straight into the string; a file that grew meanwhile is read on.
std::string read_all(int fd, const std::string &path, std::size_t max_bytes, std::size_t expected)
{
    std::string text(std::min(std::max<std::size_t>(expected, 4095), max_bytes) + 1, '\0');
    std::size_t have = 0;
    for (;;) {
        if (have > max_bytes)
            throw UntrustedFile(too_large(path, max_bytes));
        if (have == text.size())
            text.resize(std::min(text.size() * 2, max_bytes + 1));
        const ssize_t got = ::read(fd, text.data() + have, text.size() - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            throw SystemError(errno, "cannot read " + path);
        if (got == 0) {
            text.resize(have);
            return text;
        }
        have += static_cast<std::size_t>(got);
    }
}

} // namespace

PathInDirectory split_path(const std::string &path)
{
    const fs::path split(path);
    if (!split.has_filename())
        throw std::invalid_argument("\"" + path + "\" names no file");
    return {split.has_parent_path() ? split.parent_path().string() : std::string("."),
            split.filename().string()};
}

UniqueFd open_trusted_directory(const std::string &path)
{
    UniqueFd directory(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directory && errno == ENOENT)
        return directory;
    check(directory.get(), "cannot open directory " + path);
    struct stat status;
    check(::fstat(directory.get(), &status), "cannot stat " + path);
    check_trusted(status, path, true);
    return directory;
}

std::optional<std::string> read_trusted_file(const std::string &path, Symlinks symlinks,
                                             std::size_t max_bytes)
{
    const auto [directory_path, name] = split_path(path);
    const UniqueFd directory = open_trusted_directory(directory_path);
    if (!directory)
        return std::nullopt;
    struct stat status;
    if (symlinks == Symlinks::Follow &&
        ::fstatat(directory.get(), name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(status.st_mode)) {
        // The link is trusted as far as its directory is; what it leads to is checked as if it had
        // been named, so that a link cannot lend trust to a file in a directory others can write.
        std::error_code error;
        const fs::path target = fs::canonical(path, error);
        if (error == std::errc::no_such_file_or_directory)
            return std::nullopt; // a dangling link
        if (error)
            throw SystemError(error.value(), "cannot follow the symbolic link " + path);
        return read_trusted_file(target.string(), Symlinks::Refuse, max_bytes);
    }
    // O_NONBLOCK: a FIFO in the file's place is refused below instead of blocking the open.
    const UniqueFd file(::openat(directory.get(), name.c_str(),
                                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!file && errno == ENOENT)
        return std::nullopt;
    if (!file && errno == ELOOP)
        throw UntrustedFile("cannot read " + path +
                            ": it is a symbolic link, which ratelimitd does not follow here (it "
                            "could lead to any file); replace it with a regular file");
    check(file.get(), "cannot open " + path);
    check(::fstat(file.get(), &status), "cannot stat " + path);
    check_trusted(status, path, false);
    if (S_ISREG(status.st_mode) && static_cast<std::uintmax_t>(status.st_size) > max_bytes)
        throw UntrustedFile(too_large(path, max_bytes)); // refused by its size, unread
    const std::size_t expected =
        S_ISREG(status.st_mode) ? static_cast<std::size_t>(status.st_size) : 4096;
    return read_all(file.get(), path, max_bytes, expected);
}

} // namespace ratelimit
