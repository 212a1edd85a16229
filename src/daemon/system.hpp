// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The daemon's dealings with the host around it: bpffs, the one-instance lock, systemd.

#include <string>

#include "kernel/fd.hpp"

namespace ratelimit
{

// Makes sure `dir` exists on a bpffs, mounting one there if it is not (`ip netns exec` and some
// containers hide /sys/fs/bpf). Returns true if it mounted one.
bool ensure_bpffs(const std::string &dir);

// Raises the soft limit on open files to the hard one (systemd starts services with a soft limit
// of 1024 for the sake of select(), which the daemon does not use). Every listener of the daemon
// bounds its own connections, so the limit is headroom, not what keeps one port from starving
// another. Logs, and carries on, if it cannot.
void raise_open_files_limit();

// mkdir -p with `mode` for the directories it creates.
void make_dirs(const std::string &dir, unsigned mode);

// Held for the daemon's lifetime: a second instance with the same lock file is refused.
class InstanceLock
{
  public:
    explicit InstanceLock(const std::string &path);

  private:
    UniqueFd fd_;
};

// sd_notify(3) with the given state lines; a no-op outside systemd.
void notify_systemd(const std::string &state);

} // namespace ratelimit
