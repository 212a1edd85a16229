// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Files the daemon keeps in its state directory (the runtime rules, the metrics' own counters):
// read whole, and replaced whole, atomically and durably, so that a crash at any point leaves
// either the old file or the new one. Directories are made mode 0750 and files mode 0640
// whatever the umask: the state directory, not the daemon's environment, decides who may read
// them. The directory must be trusted (sys/trusted_file.hpp: owned by root, writable by no one
// else), and no symbolic link in it is followed, neither to read a file nor to write one.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ratelimit
{

// The file's text; nullopt when there is no file. Throws UntrustedFile (a std::runtime_error)
// saying what is wrong with the file or its directory (or that it is over `max_bytes`, refused
// unread), or SystemError naming the file.
std::optional<std::string> read_state_file(const std::string &path, std::size_t max_bytes);

// Replaces `path` with `text`: PATH.tmp is made anew (whatever was at that name, a leftover or a
// link, is removed, never followed), written and synced, renamed over PATH, and the directory
// synced. Creates missing directories. Throws SystemError naming the operation and the file, or
// UntrustedFile; PATH is then unchanged.
void replace_state_file(const std::string &path, std::string_view text);

// Whether one state file holds the state the daemon runs with, for status, metrics and retries.
// A write that fails (a full or read-only disk) never stops the daemon: it goes on with the state
// in memory, reports the file as not saved, and writes it again later.
class SaveStatus
{
  public:
    explicit SaveStatus(std::string path) : path_(std::move(path)) {}

    const std::string &path() const { return path_; }
    // False from a change of the state the file keeps until a write of it succeeds.
    bool saved() const { return saved_; }
    // Why the last write failed; empty when it did not.
    const std::string &error() const { return error_; }
    // Failed writes since the daemon started.
    std::uint64_t failures() const { return failures_; }

    void changed() { saved_ = false; }
    void succeeded();
    void failed(std::string error);

    bool operator==(const SaveStatus &) const = default;

  private:
    std::string path_;
    bool saved_ = true;
    std::string error_;
    std::uint64_t failures_ = 0;
};

// How long to wait before retry number `retry` (1, 2, ...) of writes that keep failing: 1 s,
// doubling, at most a minute, so that a full disk costs one attempt a minute.
std::chrono::seconds save_retry_delay(unsigned retry);

} // namespace ratelimit
