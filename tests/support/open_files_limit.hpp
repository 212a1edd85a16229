// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The test process's soft limit on open files, changed while an object lives: to run out of
// descriptors quickly, or to start a daemon (which inherits it) as systemd would.

#include <sys/resource.h>

#include <algorithm>

#include "sys/error.hpp"

namespace ratelimit::test
{

class OpenFilesLimit
{
  public:
    // Sets the soft limit to `soft`, or to the hard limit if that is lower.
    explicit OpenFilesLimit(rlim_t soft)
    {
        check(::getrlimit(RLIMIT_NOFILE, &saved_), "read the limit on open files");
        rlimit changed = saved_;
        changed.rlim_cur = std::min(soft, saved_.rlim_max);
        check(::setrlimit(RLIMIT_NOFILE, &changed), "set the limit on open files");
    }
    ~OpenFilesLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    OpenFilesLimit(const OpenFilesLimit &) = delete;
    OpenFilesLimit &operator=(const OpenFilesLimit &) = delete;

  private:
    rlimit saved_{};
};

} // namespace ratelimit::test
