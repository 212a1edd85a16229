// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "kernel/error.hpp"
#include "kernel/fd.hpp"

namespace ratelimit
{

namespace
{

namespace fs = std::filesystem;

constexpr mode_t kDirectoryMode = 0750;
constexpr mode_t kFileMode = 0640;

// The directory holding `path`; "." for a bare file name.
fs::path directory_of(const fs::path &path)
{
    return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

void sync_directory(const fs::path &directory)
{
    UniqueFd fd(check(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                      "cannot open directory " + directory.string()));
    check(::fsync(fd.get()), "cannot sync directory " + directory.string());
}

// mkdir -p. Each directory made gets kDirectoryMode whatever the umask and is synced into its
// parent.
void make_directories(const fs::path &directory)
{
    struct stat status;
    if (::stat(directory.c_str(), &status) == 0)
        return; // a file in the way is reported by the open that follows
    if (errno != ENOENT)
        throw KernelError(errno, "cannot stat " + directory.string());
    if (directory.has_parent_path() && directory.parent_path() != directory)
        make_directories(directory.parent_path());
    if (::mkdir(directory.c_str(), kDirectoryMode) != 0) {
        if (errno == EEXIST) // made meanwhile by someone else
            return;
        throw KernelError(errno, "cannot create directory " + directory.string());
    }
    check(::chmod(directory.c_str(), kDirectoryMode), "cannot chmod " + directory.string());
    sync_directory(directory_of(directory));
}

void write_all(int fd, std::string_view data, const std::string &path)
{
    while (!data.empty()) {
        const ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0)
            throw KernelError(errno, "cannot write " + path);
        data.remove_prefix(static_cast<std::size_t>(written));
    }
}

// `text` in `path`, on disk when this returns.
void write_synced(const std::string &path, std::string_view text)
{
    // A raw descriptor rather than a UniqueFd: the last close is checked, as it reports
    // write-back errors some file systems defer to it.
    const int file =
        check(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kFileMode),
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

std::optional<std::string> read_state_file(const std::string &path)
{
    UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file && errno == ENOENT)
        return std::nullopt;
    check(file.get(), "cannot open " + path);
    std::string text;
    char buffer[4096];
    for (;;) {
        const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            throw KernelError(errno, "cannot read " + path);
        if (got == 0)
            return text;
        text.append(buffer, static_cast<std::size_t>(got));
    }
}

void replace_state_file(const std::string &path, std::string_view text)
{
    const fs::path directory = directory_of(path);
    const std::string temporary = path + ".tmp";
    make_directories(directory);
    try {
        write_synced(temporary, text);
        check(::rename(temporary.c_str(), path.c_str()),
              "cannot rename " + temporary + " to " + path);
    } catch (...) {
        // The error being thrown is the one to report; a failed unlink leaves only a stale .tmp
        // that the next save truncates.
        ::unlink(temporary.c_str());
        throw;
    }
    sync_directory(directory);
}

} // namespace ratelimit
