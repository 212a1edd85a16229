// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A fresh directory for one test's files (mode 0700, as mkdtemp makes it, so that the daemon's
// file checks trust it), removed with them when destroyed. End-to-end tests use TempDir
// (netns.hpp), which also cleans up after test processes that were killed.

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace ratelimit::test
{

class ScratchDir
{
  public:
    ScratchDir()
    {
        std::string pattern = "/tmp/ratelimit_test.XXXXXX";
        if (!mkdtemp(pattern.data()))
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        path_ = pattern;
    }
    ~ScratchDir()
    {
        std::error_code ignored; // what is left is left in /tmp
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir &) = delete;
    ScratchDir &operator=(const ScratchDir &) = delete;

    const std::filesystem::path &path() const { return path_; }

  private:
    std::filesystem::path path_;
};

} // namespace ratelimit::test
