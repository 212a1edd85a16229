// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Traffic generator core: puts UDP frames from FrameBuilder on an interface through an AF_PACKET
// socket, in sendmmsg batches, flat out or paced to a packet rate, from one source, a list of
// sources or a random source per frame drawn from a prefix (a spoofed flood).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/address.hpp"

namespace ratelimit
{

struct SendPlan {
    // Interface name, looked up in the calling thread's network namespace.
    std::string interface;

    // Exactly one of: `sources`, used in turn (one address is a single-source send), or
    // `source_range`, from which every frame draws a uniformly random source.
    std::vector<Address> sources;
    std::optional<Prefix> source_range;
    // Seeds the draws from `source_range`; unset: a different sequence on every run.
    std::optional<std::uint64_t> seed;

    Address destination;               // same family as the sources
    std::optional<std::uint16_t> vlan; // 802.1Q VLAN ID
    // Ethernet frame length without FCS. Unset: 64 bytes, or the headers alone if longer.
    std::optional<std::uint16_t> frame_bytes;

    // Packets per second; unset: flat out.
    std::optional<double> rate_pps;
    // Stop after `count` frames, after `duration`, or at whichever comes first; at least one.
    std::optional<std::uint64_t> count;
    std::optional<std::chrono::nanoseconds> duration;

    // Frames per sendmmsg call when flat out (at most 1024); paced sends use smaller batches
    // so that frames stay spread over time.
    std::uint32_t batch = 128;
    std::optional<int> cpu;    // pin the sending thread to this CPU
    bool qdisc_bypass = false; // PACKET_QDISC_BYPASS: straight to the driver
};

struct SendReport {
    std::uint64_t packets = 0; // frames the kernel accepted
    std::uint64_t bytes = 0;   // their Ethernet bytes, without FCS
    // From the first send until the last one returned; a paced send also waits out the slot
    // of its last frame, so that `rate_pps()` is the rate it kept.
    std::chrono::nanoseconds elapsed{0};
    std::uint64_t retries = 0; // sendmmsg calls refused with ENOBUFS or EAGAIN and repeated

    double rate_pps() const;
};

// Sends as `plan` says on a thread of its own (pinned if asked) and reports what was sent.
// Throws std::invalid_argument for an inconsistent plan and SystemError when a call fails.
SendReport send_frames(const SendPlan &plan);

} // namespace ratelimit
