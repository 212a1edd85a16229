// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The far side's count of what arrived: a socket that does not trust the limiter.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

#include "net/address.hpp"
#include "netns.hpp"
#include "sys/fd.hpp"

namespace ratelimit::test
{

// A UDP socket in a namespace, bound to [::]:port for IPv4 and IPv6 (FrameBuilder's frames go
// to port 9), counting datagrams by source on a thread of its own until destroyed.
class UdpCounter
{
  public:
    explicit UdpCounter(const NetNs &ns, std::uint16_t port = 9);
    ~UdpCounter();
    UdpCounter(const UdpCounter &) = delete;
    UdpCounter &operator=(const UdpCounter &) = delete;

    std::uint64_t total() const;
    std::map<Address, std::uint64_t> by_source() const;
    // Whether every datagram the socket has taken in is counted: none waits unread (the drain
    // thread may lag behind on a loaded machine).
    bool idle() const;
    // Datagrams the socket dropped for want of buffer (SO_RXQ_OVFL): not the limiter's doing.
    std::uint64_t socket_drops() const;
    // Waits until `count` datagrams have arrived or `timeout` has passed; returns total().
    std::uint64_t wait_for(std::uint64_t count, std::chrono::milliseconds timeout) const;

  private:
    void drain();

    UniqueFd socket_;
    UniqueFd stop_; // eventfd: written to end the drain thread
    mutable std::mutex mutex_;
    mutable std::condition_variable arrived_;
    std::uint64_t total_ = 0;
    std::uint64_t socket_drops_ = 0;
    std::map<Address, std::uint64_t> by_source_;
    std::thread drainer_;
};

} // namespace ratelimit::test
