// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The files ratelimitd takes its orders from (the config file, the state directory's files) and
// the directories holding them must be writable only by root or by the daemon itself: whoever
// else could write them could change the rules. After systemd's state-file helpers and OpenSSH's
// StrictModes: a directory is opened once and checked, everything in it is then opened relative
// to that descriptor and checked through its own descriptor, so nothing can be swapped in between
// a check and a use. Messages say what is wrong and how to fix it; they never quote a file's
// content.
//
// Trusted: a directory, or a regular file, owned by root or this process's effective uid, and
// not writable by group or others. Directories above the one holding the file are not checked.

#include <optional>
#include <stdexcept>
#include <string>

#include "sys/fd.hpp"

namespace ratelimit
{

// A file or directory that is there but not to be trusted.
class UntrustedFile : public std::runtime_error
{
  public:
    using std::runtime_error::runtime_error;
};

// `path` as the directory holding it ("." for a bare name) and the name in it.
struct PathInDirectory {
    std::string directory;
    std::string name;
};
// Throws std::invalid_argument if `path` names no file (it is empty or ends in "/").
PathInDirectory split_path(const std::string &path);

// Opens the directory `path` (symbolic links on the way are followed; the directory reached is
// the one checked). An empty fd if it does not exist. Throws UntrustedFile if it is not a trusted
// directory, SystemError if it cannot be opened.
UniqueFd open_trusted_directory(const std::string &path);

enum class Symlinks {
    Refuse, // the file itself must not be a symbolic link (a state file the daemon writes)
    Follow, // a link is followed, and the directory holding the file it leads to must be
            // trusted too (a config file deployed as a link)
};

// The content of the regular file at `path`, if it and the directory holding it are trusted;
// nullopt if the file or its directory does not exist. Throws UntrustedFile saying what is wrong
// and how to fix it (also for a file over `max_bytes`, refused unread), or SystemError naming the
// operation and the file.
std::optional<std::string> read_trusted_file(const std::string &path, Symlinks symlinks,
                                             std::size_t max_bytes);

} // namespace ratelimit
