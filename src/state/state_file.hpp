// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Files the daemon keeps in its state directory (the runtime rules, the metrics' own counters):
// read whole, and replaced whole, atomically and durably, so that a crash at any point leaves
// either the old file or the new one. Directories are made mode 0750 and files mode 0640
// whatever the umask: the state directory, not the daemon's environment, decides who may read
// them.

#include <optional>
#include <string>
#include <string_view>

namespace ratelimit
{

// The file's text; nullopt when there is no file. Throws KernelError naming the file.
std::optional<std::string> read_state_file(const std::string &path);

// Replaces `path` with `text`: PATH.tmp is written and synced, renamed over PATH, and the
// directory synced. Creates missing directories. Throws KernelError naming the operation and the
// file; PATH is then unchanged.
void replace_state_file(const std::string &path, std::string_view text);

} // namespace ratelimit
