// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Directories as the daemon makes them: its runtime directory, its pin directories and its state
// directory.

#include <sys/types.h>

#include <string>

namespace ratelimit
{

enum class SyncDirectories {
    No,
    Yes, // each directory made is synced into its parent: the state directory survives a crash
};

// mkdir -p. Each directory it makes gets `mode` whatever the umask; directories that exist are
// left as they are (a file in the way is reported by whatever opens the path next). Throws
// SystemError naming the directory and what failed.
void make_directories(const std::string &path, mode_t mode,
                      SyncDirectories sync = SyncDirectories::No);

} // namespace ratelimit
