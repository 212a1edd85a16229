// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The daemon's dealings with the host around it: bpffs, the one-instance lock, systemd.

#include <string>

#include "sys/fd.hpp"

namespace ratelimit
{

// Where the pins live, and whether they will outlive the daemon.
struct PinMount {
    std::string mounted_at;      // where this daemon mounted a bpffs; empty if `dir` was on one
    bool outlives_daemon = true; // false: that bpffs goes when the daemon's mount namespace does
    std::string warning;         // set when !outlives_daemon: what that costs and what to do
};

// Makes sure `dir` exists on a bpffs. If it is not on one (`ip netns exec` and some containers
// hide /sys/fs/bpf), mounts one: at `dir` if its directories can be made, else, as Cilium does,
// at the deepest directory of it that exists if that is empty (/sys/fs/bpf in a fresh sysfs);
// else fails saying what to do. A bpffs it mounts outside PID 1's mount namespace lives only
// as long as the daemon's own namespace: the result says so.
PinMount ensure_bpffs(const std::string &dir);

// Raises the soft limit on open files to the hard one (systemd starts services with a soft limit
// of 1024 for the sake of select(), which the daemon does not use). Every listener of the daemon
// bounds its own connections, so the limit is headroom, not what keeps one port from starving
// another. Logs, and carries on, if it cannot.
void raise_open_files_limit();

// Fails, naming each missing capability and what it is for, unless this process has every
// capability a start needs: CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON always, CAP_CHOWN when the
// control socket is given to a group (`socket_group`). Each is needed on its own (tests/privilege
// drops them one at a time); without this check their absence shows only as an EPERM or EACCES
// from libbpf or chown.
void require_capabilities(bool socket_group);

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
