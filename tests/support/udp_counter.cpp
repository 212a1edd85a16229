// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "udp_counter.hpp"

#include <gtest/gtest.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "sys/error.hpp"

namespace ratelimit::test
{

UdpCounter::UdpCounter(const NetNs &ns, std::uint16_t port)
{
    socket_ = ns.run([&] {
        std::string what = "UDP [::]:" + std::to_string(port) + " in " + ns.name();
        UniqueFd fd(check(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket for " + what));
        int off = 0, on = 1;
        // Room for every datagram of a test's burst: a socket overflow would pass for drops.
        int buffer_bytes = 64 << 20;
        check(setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)),
              "IPV6_V6ONLY off for " + what);
        check(setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof(buffer_bytes)),
              "SO_RCVBUFFORCE for " + what);
        check(setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)),
              "SO_RXQ_OVFL for " + what);
        sockaddr_in6 any{};
        any.sin6_family = AF_INET6;
        any.sin6_port = htons(port);
        check(bind(fd.get(), reinterpret_cast<const sockaddr *>(&any), sizeof(any)),
              "bind " + what);
        return fd;
    });
    stop_.reset(check(eventfd(0, EFD_CLOEXEC), "eventfd"));
    drainer_ = std::thread([this] { drain(); });
}

UdpCounter::~UdpCounter()
{
    std::uint64_t one = 1;
    if (write(stop_.get(), &one, sizeof(one)) != sizeof(one))
        ADD_FAILURE() << "cleanup: cannot stop the UDP counter: " << std::strerror(errno);
    drainer_.join();
}

void UdpCounter::drain()
{
    constexpr unsigned kBatch = 64;
    constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(std::uint32_t));
    // Payloads are not looked at: a short buffer only truncates them.
    std::array<std::array<char, 64>, kBatch> payloads;
    std::array<sockaddr_in6, kBatch> sources;
    alignas(cmsghdr) std::array<std::array<char, kControlBytes>, kBatch> controls;
    std::array<iovec, kBatch> iov;
    std::array<mmsghdr, kBatch> messages;
    for (;;) {
        pollfd ready[2] = {{socket_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (poll(ready, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            ADD_FAILURE() << "UDP counter: poll: " << std::strerror(errno);
            return;
        }
        if (ready[1].revents)
            return;
        for (unsigned i = 0; i < kBatch; i++) {
            iov[i] = {payloads[i].data(), payloads[i].size()};
            messages[i] = {};
            messages[i].msg_hdr.msg_name = &sources[i];
            messages[i].msg_hdr.msg_namelen = sizeof(sources[i]);
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            messages[i].msg_hdr.msg_control = controls[i].data();
            messages[i].msg_hdr.msg_controllen = controls[i].size();
        }
        {
            // Read and counted under one lock: idle() never sees a datagram that has left the
            // socket but is not counted yet.
            std::lock_guard lock(mutex_);
            int n = recvmmsg(socket_.get(), messages.data(), kBatch, MSG_DONTWAIT, nullptr);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                ADD_FAILURE() << "UDP counter: recvmmsg: " << std::strerror(errno);
                return;
            }
            for (int i = 0; i < n; i++) {
                Address source;
                std::memcpy(source.bytes.data(), &sources[i].sin6_addr, source.bytes.size());
                by_source_[source]++;
                total_++;
                // Present once the socket has dropped anything: its running count of drops.
                for (auto *cmsg = CMSG_FIRSTHDR(&messages[i].msg_hdr); cmsg;
                     cmsg = CMSG_NXTHDR(&messages[i].msg_hdr, cmsg)) {
                    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SO_RXQ_OVFL) {
                        std::uint32_t drops = 0;
                        std::memcpy(&drops, CMSG_DATA(cmsg), sizeof(drops));
                        socket_drops_ = std::max<std::uint64_t>(socket_drops_, drops);
                    }
                }
            }
        }
        arrived_.notify_all();
    }
}

std::uint64_t UdpCounter::total() const
{
    std::lock_guard lock(mutex_);
    return total_;
}

std::map<Address, std::uint64_t> UdpCounter::by_source() const
{
    std::lock_guard lock(mutex_);
    return by_source_;
}

bool UdpCounter::idle() const
{
    std::lock_guard lock(mutex_);
    std::array<std::uint32_t, SK_MEMINFO_VARS> meminfo{};
    socklen_t length = sizeof(meminfo);
    check(getsockopt(socket_.get(), SOL_SOCKET, SO_MEMINFO, meminfo.data(), &length),
          "SO_MEMINFO of the UDP counter");
    return meminfo[SK_MEMINFO_RMEM_ALLOC] == 0;
}

std::uint64_t UdpCounter::socket_drops() const
{
    std::lock_guard lock(mutex_);
    return socket_drops_;
}

std::uint64_t UdpCounter::wait_for(std::uint64_t count, std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return total_ >= count; });
    return total_;
}

} // namespace ratelimit::test
