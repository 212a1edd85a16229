// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/xdp_link.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include "sys/error.hpp"

namespace ratelimit
{

namespace
{

int ifindex_of(const std::string &ifname)
{
    unsigned index = if_nametoindex(ifname.c_str());
    if (index == 0)
        throw SystemError(errno, "find interface " + ifname);
    return static_cast<int>(index);
}

// The pinned link, if it exists and still points at `ifindex` (a link whose interface was
// deleted and recreated is defunct: its pin is dropped).
UniqueFd open_pinned_link(const std::string &pin_path, int ifindex)
{
    int fd = bpf_obj_get(pin_path.c_str());
    if (fd < 0) {
        if (errno != ENOENT)
            throw SystemError(errno, "open the pinned link " + pin_path);
        return {};
    }
    UniqueFd link(fd);
    bpf_link_info info{};
    std::uint32_t len = sizeof(info);
    check(bpf_obj_get_info_by_fd(link.get(), &info, &len), "read the pinned link " + pin_path);
    if (info.type == BPF_LINK_TYPE_XDP && static_cast<int>(info.xdp.ifindex) == ifindex)
        return link;
    spdlog::warn("link pinned at {} no longer belongs to this interface; replacing it", pin_path);
    if (::unlink(pin_path.c_str()) != 0)
        throw SystemError(errno, "remove the stale link pin " + pin_path);
    return {};
}

int create_link(int prog_fd, int ifindex, std::uint32_t flags)
{
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    return bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
}

} // namespace

XdpAttachment query_xdp(int ifindex)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, opts);
    check(bpf_xdp_query(ifindex, 0, &opts), "query XDP on ifindex " + std::to_string(ifindex));
    static const char *const modes[] = {"none", "native", "generic", "offload", "multi"};
    return {opts.prog_id, opts.attach_mode < 5 ? modes[opts.attach_mode] : "unknown"};
}

XdpLink::XdpLink(std::string ifname, int ifindex, UniqueFd link, std::string pin_path, bool adopted)
    : ifname_(std::move(ifname)), ifindex_(ifindex), link_(std::move(link)),
      pin_path_(std::move(pin_path)), adopted_(adopted)
{
}

XdpLink XdpLink::attach(int prog_fd, const std::string &ifname, XdpMode mode,
                        const std::string &pin_path)
{
    int ifindex = ifindex_of(ifname);
    if (UniqueFd pinned = open_pinned_link(pin_path, ifindex)) {
        XdpLink link(ifname, ifindex, std::move(pinned), pin_path, true);
        link.update(prog_fd);
        return link;
    }

    if (auto present = query_xdp(ifindex); present.prog_id != 0)
        throw SystemError(EBUSY, "interface " + ifname + " already has an XDP program (id " +
                                     std::to_string(present.prog_id) + ", " + present.mode +
                                     ") that ratelimitd did not attach; remove it first (ip link "
                                     "set dev " +
                                     ifname + " xdp off) or stop whatever owns it");

    int fd = -1;
    if (mode != XdpMode::Generic) {
        fd = create_link(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
        if (fd < 0 && mode == XdpMode::Native)
            check(fd, "attach XDP in native mode to " + ifname);
        if (fd < 0)
            spdlog::warn("{}: native XDP unavailable ({}); falling back to generic mode, which "
                         "runs after the kernel has allocated an skb",
                         ifname, std::strerror(-fd));
    }
    if (fd < 0)
        fd = check(create_link(prog_fd, ifindex, XDP_FLAGS_SKB_MODE),
                   "attach XDP in generic mode to " + ifname);
    UniqueFd link(fd);
    check(bpf_obj_pin(link.get(), pin_path.c_str()), "pin the XDP link at " + pin_path);
    return XdpLink(ifname, ifindex, std::move(link), pin_path, false);
}

std::string XdpLink::kernel_mode() const
{
    return query_xdp(ifindex_).mode;
}

void XdpLink::update(int prog_fd)
{
    check(bpf_link_update(link_.get(), prog_fd, nullptr),
          "swap the program of the XDP link on " + ifname_);
}

void XdpLink::unpin()
{
    if (::unlink(pin_path_.c_str()) != 0 && errno != ENOENT)
        throw SystemError(errno, "remove the link pin " + pin_path_);
}

} // namespace ratelimit
