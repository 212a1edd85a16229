// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Directories and file systems of a test's own, removed when destroyed (or, if the test process
// was killed, by the next one: leftovers.hpp).

#include <cstddef>
#include <filesystem>

namespace ratelimit::test
{

// A directory under /tmp, removed with its contents when destroyed.
class TempDir
{
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::filesystem::path &path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// A bpffs of the test's own for its pins (never /sys/fs/bpf: `ip netns exec` and NetNs::spawn
// remount /sys, so it is not a bpffs there anyway). Unmounting drops every pin in it.
class Bpffs
{
  public:
    Bpffs();
    ~Bpffs();
    Bpffs(const Bpffs &) = delete;
    Bpffs &operator=(const Bpffs &) = delete;

    const std::filesystem::path &path() const { return dir_.path(); }

  private:
    TempDir dir_;
};

// A tmpfs of `bytes` of the test's own: a small disk to fill up, or to make read-only. Its root is
// mode 0750, as a state directory is.
class Tmpfs
{
  public:
    explicit Tmpfs(std::size_t bytes);
    ~Tmpfs();
    Tmpfs(const Tmpfs &) = delete;
    Tmpfs &operator=(const Tmpfs &) = delete;

    const std::filesystem::path &path() const { return dir_.path(); }
    // Writes a file until no byte more fits; returns it (remove it to free the space).
    std::filesystem::path fill() const;
    void make_read_only() const;

  private:
    TempDir dir_;
};

} // namespace ratelimit::test
