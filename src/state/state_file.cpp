// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/files.hpp"
#include "sys/trusted_file.hpp"

namespace ratelimit
{

namespace
{

constexpr mode_t kDirectoryMode = 0750;
constexpr mode_t kFileMode = 0640;

void write_all(int fd, std::string_view data, const std::string &path)
{
    while (!data.empty()) {
        const ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0)
            throw SystemError(errno, "cannot write " + path);
        data.remove_prefix(static_cast<std::size_t>(written));
    }
}

// `text` in a new file `name` of `directory` (`path` names it in errors), on disk when this
// returns. O_EXCL | O_NOFOLLOW: the file is the one this made, never one prepared by someone
// else, nor the target of a link.
void write_synced(int directory, const std::string &name, const std::string &path,
                  std::string_view text)
{
    // A raw descriptor rather than a UniqueFd: the last close is checked, as it reports
    // write-back errors some file systems defer to it.
    const int file =
        check(::openat(directory, name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode),
              "cannot create " + path);
    try {
        check(::fchmod(file, kFileMode), "cannot chmod " + path);
        write_all(file, text, path);
        check(::fsync(file), "cannot sync " + path);
    } catch (...) {
        ::close(file); // the error being thrown is the one to report
        throw;
    }
    check(::close(file), "cannot close " + path);
}

} // namespace

std::optional<std::string> read_state_file(const std::string &path, std::size_t max_bytes)
{
    return read_trusted_file(path, Symlinks::Refuse, max_bytes);
}

void replace_state_file(const std::string &path, std::string_view text)
{
    const auto [directory_path, name] = split_path(path);
    make_directories(directory_path, kDirectoryMode, SyncDirectories::Yes);
    // Named by the file in errors: the directory may be a file in the way, or gone since made.
    const std::string cannot_open = "cannot open the directory of " + path;
    UniqueFd directory;
    try {
        directory = open_trusted_directory(directory_path);
    } catch (const SystemError &e) {
        throw SystemError(e.code().value(), cannot_open);
    }
    if (!directory)
        throw SystemError(ENOENT, cannot_open);
    const std::string temporary = name + ".tmp";
    const std::string temporary_path = path + ".tmp";
    // A leftover of a crash, or a link planted there: unlinkat removes the name, never what a
    // link leads to. Only when there is one: on a read-only disk the create below says why.
    struct stat leftover;
    if (::fstatat(directory.get(), temporary.c_str(), &leftover, AT_SYMLINK_NOFOLLOW) == 0 &&
        ::unlinkat(directory.get(), temporary.c_str(), 0) != 0)
        throw SystemError(errno, "cannot remove " + temporary_path);
    try {
        write_synced(directory.get(), temporary, temporary_path, text);
        check(::renameat(directory.get(), temporary.c_str(), directory.get(), name.c_str()),
              "cannot rename " + temporary_path + " to " + path);
    } catch (...) {
        // The error being thrown is the one to report; a failed unlink leaves only a stale .tmp
        // that the next save removes.
        ::unlinkat(directory.get(), temporary.c_str(), 0);
        throw;
    }
    check(::fsync(directory.get()), "cannot sync directory " + directory_path);
}

void SaveStatus::succeeded()
{
    saved_ = true;
    error_.clear();
}

void SaveStatus::failed(std::string error)
{
    saved_ = false;
    error_ = std::move(error);
    failures_++;
}

std::chrono::seconds save_retry_delay(unsigned retry)
{
    constexpr std::chrono::seconds kFirst{1}, kLongest{60};
    // 2^6 s is past the longest already: no shift overflows, however many retries.
    const unsigned doublings = std::min(retry == 0 ? 0 : retry - 1, 6u);
    return std::min(kFirst * (1 << doublings), kLongest);
}

} // namespace ratelimit
