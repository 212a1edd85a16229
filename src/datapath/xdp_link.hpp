// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The program's attachment to one interface: a pinned bpf_link. A new daemon that finds the pin
// swaps its own program into the same link (bpf_link_update), so the interface is never without
// a program across a restart or upgrade.

#include <cstdint>
#include <string>

#include "policy/rule.hpp"
#include "sys/fd.hpp"

namespace ratelimit
{

class XdpLink
{
  public:
    // Attaches `prog_fd` to `ifname`, or adopts the link pinned at `pin_path` (if any) by
    // swapping the program in. `Auto` tries native mode and falls back to generic with a
    // warning. Refuses an interface that already has an XDP program not attached by a link of
    // ours, naming it.
    static XdpLink attach(int prog_fd, const std::string &ifname, XdpMode mode,
                          const std::string &pin_path);

    const std::string &ifname() const { return ifname_; }
    int ifindex() const { return ifindex_; }
    bool adopted() const { return adopted_; }
    // "native" or "generic", as the kernel reports the attachment now.
    std::string kernel_mode() const;
    // Swaps another program into the link.
    void update(int prog_fd);
    // Removes the pin, so that closing this link detaches the program.
    void unpin();

  private:
    XdpLink(std::string ifname, int ifindex, UniqueFd link, std::string pin_path, bool adopted);

    std::string ifname_;
    int ifindex_;
    UniqueFd link_;
    std::string pin_path_;
    bool adopted_;
};

// The id of the program attached to `ifindex` (0: none), and its mode.
struct XdpAttachment {
    std::uint32_t prog_id = 0;
    std::string mode; // native, generic, offload, multi or none
};
XdpAttachment query_xdp(int ifindex);

} // namespace ratelimit
