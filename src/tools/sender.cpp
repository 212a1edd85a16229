// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "tools/sender.hpp"

#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <limits>
#include <random>
#include <stdexcept>

#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/time.hpp"
#include "tools/frame.hpp"

namespace ratelimit
{

namespace
{

constexpr std::uint32_t kMaxBatch = 1024; // UIO_MAXIOV: the most sendmmsg takes per call
constexpr std::uint16_t kMinFrameBytes = 64;
constexpr std::size_t kEthHeader = 14, kVlanTag = 4, kIpv4Header = 20, kIpv6Header = 40,
                      kUdpHeader = 8;
// A paced send puts out one batch per interval: long enough for a sleep to be worth it, short
// enough that even at high rates no burst reaches a token bucket's scale.
constexpr double kPacedBatchIntervalNs = 200'000;
// Sleeping ends this early and the rest is spun, so that a late wake-up does not shift the
// schedule (the sending thread's timer slack is also cut to 1 ns).
constexpr std::uint64_t kSpinWindowNs = 100'000;

std::uint64_t now_ns()
{
    return clock_ns(CLOCK_MONOTONIC, "the monotonic clock");
}

void wait_until(std::uint64_t deadline_ns)
{
    std::uint64_t now = now_ns();
    if (deadline_ns > now + kSpinWindowNs) {
        std::uint64_t wake = deadline_ns - kSpinWindowNs;
        const timespec ts = to_timespec(std::chrono::nanoseconds(wake));
        // EINTR only wakes us early, which the spin below absorbs.
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
        if (rc != 0 && rc != EINTR)
            throw SystemError(rc, "clock_nanosleep");
    }
    while (now_ns() < deadline_ns) {
    }
}

// SplitMix64: one multiply-xorshift step per draw, plenty for picking spoofed sources.
class SplitMix64
{
  public:
    explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next()
    {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }

  private:
    std::uint64_t state_;
};

std::uint64_t random_seed()
{
    std::random_device device;
    return (std::uint64_t{device()} << 32) | device();
}

// The source of every frame: the plan's list in turn, or a random address of its range.
class SourceSequence
{
  public:
    explicit SourceSequence(const SendPlan &plan)
        : list_(plan.sources), random_(plan.seed ? *plan.seed : random_seed())
    {
        if (!plan.source_range)
            return;
        range_ = plan.source_range->address;
        for (std::uint32_t bit = plan.source_range->length; bit < 128; bit++)
            host_mask_[bit / 8] |= 0x80 >> (bit % 8);
    }

    bool varies() const { return range_ || list_.size() > 1; }
    const Address &first() const { return range_ ? *range_ : list_.front(); }

    Address next()
    {
        if (!range_)
            return list_[next_index_++ % list_.size()];
        std::uint64_t draws[2] = {random_.next(), random_.next()};
        std::uint8_t noise[16];
        std::memcpy(noise, draws, sizeof(noise));
        Address out = *range_;
        for (std::size_t i = 0; i < out.bytes.size(); i++)
            out.bytes[i] |= noise[i] & host_mask_[i];
        return out;
    }

  private:
    const std::vector<Address> &list_;
    std::size_t next_index_ = 0;
    std::optional<Address> range_;
    std::array<std::uint8_t, 16> host_mask_{};
    SplitMix64 random_;
};

std::uint16_t load16(const std::uint8_t *p)
{
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// Rewrites the source address of a built frame in place and fixes the one checksum covering it
// (the IPv4 header's, or the UDP checksum over the IPv6 pseudo-header), without re-summing the
// frame: the sum of everything but the source is taken once from the template (RFC 1624).
class SourceWriter
{
  public:
    SourceWriter(const Frame &frame, std::size_t l3_offset, bool ipv4)
        : source_offset_(l3_offset + (ipv4 ? 12 : 8)), source_len_(ipv4 ? 4 : 16),
          address_offset_(ipv4 ? 12 : 0),
          checksum_offset_(ipv4 ? l3_offset + 10 : l3_offset + kIpv6Header + 6), udp_(!ipv4)
    {
        // ~checksum is the sum of all covered words; adding the one's complement of each
        // source word subtracts it.
        partial_sum_ = static_cast<std::uint16_t>(~load16(frame.data() + checksum_offset_));
        for (std::size_t i = 0; i < source_len_; i += 2)
            partial_sum_ += static_cast<std::uint16_t>(~load16(frame.data() + source_offset_ + i));
    }

    void write(std::uint8_t *frame, const Address &source) const
    {
        const std::uint8_t *bytes = source.bytes.data() + address_offset_;
        std::memcpy(frame + source_offset_, bytes, source_len_);
        std::uint32_t sum = partial_sum_;
        for (std::size_t i = 0; i < source_len_; i += 2)
            sum += load16(bytes + i);
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        auto checksum = static_cast<std::uint16_t>(~sum);
        if (udp_ && checksum == 0)
            checksum = 0xffff; // a UDP checksum of 0 means "none", which IPv6 forbids
        frame[checksum_offset_] = checksum >> 8;
        frame[checksum_offset_ + 1] = checksum & 0xff;
    }

  private:
    std::size_t source_offset_, source_len_, address_offset_, checksum_offset_;
    bool udp_;
    std::uint32_t partial_sum_ = 0;
};

void validate(const SendPlan &plan)
{
    auto fail = [](const std::string &why) { throw std::invalid_argument("send plan: " + why); };
    if (plan.sources.empty() == !plan.source_range)
        fail("give either a list of sources or a source range");
    bool ipv4 = plan.destination.is_v4();
    for (const auto &source : plan.sources)
        if (source.is_v4() != ipv4)
            fail("source " + source.to_string() + " is not of the destination's family");
    if (plan.source_range && plan.source_range->address.is_v4() != ipv4)
        fail("source range " + plan.source_range->to_string() +
             " is not of the destination's family");
    if (plan.vlan && *plan.vlan > 4094)
        fail("VLAN ID " + std::to_string(*plan.vlan) + " is not in 0..4094");
    if (plan.rate_pps && !(*plan.rate_pps > 0 && std::isfinite(*plan.rate_pps)))
        fail("rate must be a positive number of packets per second");
    if (!plan.count && !plan.duration)
        fail("give a count, a duration or both");
    if (plan.duration && plan.duration->count() <= 0)
        fail("duration must be positive");
    if (plan.batch == 0 || plan.batch > kMaxBatch)
        fail("batch must be 1.." + std::to_string(kMaxBatch));
    if (plan.cpu && (*plan.cpu < 0 || *plan.cpu >= CPU_SETSIZE))
        fail("CPU " + std::to_string(*plan.cpu) + " does not exist");
}

UniqueFd open_packet_socket(const SendPlan &plan)
{
    // Protocol 0: this socket only sends, so the kernel never copies received frames to it.
    UniqueFd fd(check(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), "AF_PACKET socket"));
    unsigned ifindex = if_nametoindex(plan.interface.c_str());
    if (ifindex == 0)
        throw SystemError(errno, "interface " + plan.interface);
    sockaddr_ll where{};
    where.sll_family = AF_PACKET;
    where.sll_ifindex = static_cast<int>(ifindex);
    check(bind(fd.get(), reinterpret_cast<const sockaddr *>(&where), sizeof(where)),
          "bind AF_PACKET socket to " + plan.interface);
    if (plan.qdisc_bypass) {
        int on = 1;
        check(setsockopt(fd.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof(on)),
              "PACKET_QDISC_BYPASS");
    }
    return fd;
}

// The sending loop, on its own thread: a batch of frame copies whose sources are rewritten
// before each sendmmsg when they vary.
class Sender
{
  public:
    Sender(const SendPlan &plan, UniqueFd socket) : plan_(plan), socket_(std::move(socket)) {}

    SendReport run()
    {
        prepare_thread();
        SourceSequence sources(plan_);
        Frame frame = template_frame(sources.first());
        std::uint32_t batch = batch_size();
        SourceWriter writer(frame, kEthHeader + (plan_.vlan ? kVlanTag : 0),
                            plan_.destination.is_v4());

        std::vector<std::uint8_t> slots(batch * frame.size());
        std::vector<iovec> iov(batch);
        std::vector<mmsghdr> messages(batch);
        for (std::uint32_t i = 0; i < batch; i++) {
            std::uint8_t *slot = slots.data() + i * frame.size();
            std::memcpy(slot, frame.data(), frame.size());
            iov[i] = {slot, frame.size()};
            messages[i].msg_hdr.msg_iov = &iov[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }

        std::uint64_t limit = frame_limit();
        std::uint64_t start = now_ns();
        std::uint64_t end = plan_.duration
                                ? start + static_cast<std::uint64_t>(plan_.duration->count())
                                : std::numeric_limits<std::uint64_t>::max();
        double period_ns = plan_.rate_pps ? 1e9 / *plan_.rate_pps : 0;
        auto slot_start = [&](std::uint64_t frame_index) {
            return start + static_cast<std::uint64_t>(static_cast<double>(frame_index) * period_ns);
        };

        SendReport report;
        while (report.packets < limit) {
            if (plan_.rate_pps)
                wait_until(slot_start(report.packets));
            auto n =
                static_cast<std::uint32_t>(std::min<std::uint64_t>(batch, limit - report.packets));
            if (sources.varies())
                for (std::uint32_t i = 0; i < n; i++)
                    writer.write(slots.data() + i * frame.size(), sources.next());
            std::uint32_t sent = send_all(messages.data(), n, end, report);
            report.packets += sent;
            if (sent < n || now_ns() >= end)
                break;
        }
        if (plan_.rate_pps)
            wait_until(slot_start(report.packets));
        report.elapsed = std::chrono::nanoseconds(now_ns() - start);
        report.bytes = report.packets * frame.size();
        return report;
    }

  private:
    void prepare_thread() const
    {
        if (plan_.cpu) {
            cpu_set_t only;
            CPU_ZERO(&only);
            CPU_SET(*plan_.cpu, &only);
            check(sched_setaffinity(0, sizeof(only), &only),
                  "pin sending thread to CPU " + std::to_string(*plan_.cpu));
        }
        if (plan_.rate_pps)
            check(prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL), "cut timer slack for pacing");
    }

    Frame template_frame(const Address &source) const
    {
        bool ipv4 = plan_.destination.is_v4();
        std::size_t headers = kEthHeader + (plan_.vlan ? kVlanTag : 0) +
                              (ipv4 ? kIpv4Header : kIpv6Header) + kUdpHeader;
        std::size_t length =
            plan_.frame_bytes.value_or(std::max<std::size_t>(kMinFrameBytes, headers));
        if (length < headers)
            throw std::invalid_argument("send plan: a frame of " + std::to_string(length) +
                                        " bytes cannot hold its " + std::to_string(headers) +
                                        " bytes of headers");
        FrameBuilder builder;
        if (plan_.vlan)
            builder.vlan(FrameBuilder::kTpid8021Q, *plan_.vlan);
        return builder.ip(source, plan_.destination)
            .udp_payload(static_cast<std::uint16_t>(length - headers))
            .build();
    }

    std::uint32_t batch_size() const
    {
        if (!plan_.rate_pps)
            return plan_.batch;
        double per_interval = std::round(*plan_.rate_pps * kPacedBatchIntervalNs / 1e9);
        return static_cast<std::uint32_t>(std::clamp(per_interval, 1.0, double(plan_.batch)));
    }

    // A paced send turns its duration into a count: the frames whose slot starts within it.
    // (It still stops at the end of the duration if it has fallen behind.)
    std::uint64_t frame_limit() const
    {
        std::uint64_t limit = plan_.count.value_or(std::numeric_limits<std::uint64_t>::max());
        if (plan_.rate_pps && plan_.duration) {
            // The epsilon keeps 3 s at 50 kpps at 150000 frames despite rounding in the product.
            double in_duration = std::ceil(
                static_cast<double>(plan_.duration->count()) * *plan_.rate_pps / 1e9 - 1e-6);
            limit = std::min(limit, static_cast<std::uint64_t>(in_duration));
        }
        return limit;
    }

    // sendmmsg may take only part of a batch; the rest is sent again, as is a batch refused
    // because a queue was full, until `end` (a queue that never drains, such as a direct
    // transmit to a veth whose peer is down, would hold the send forever). Returns how many
    // frames went out.
    std::uint32_t send_all(mmsghdr *messages, std::uint32_t n, std::uint64_t end,
                           SendReport &report) const
    {
        std::uint32_t done = 0;
        while (done < n) {
            int sent = sendmmsg(socket_.get(), messages + done, n - done, 0);
            if (sent >= 0) {
                done += static_cast<std::uint32_t>(sent);
            } else if (errno == ENOBUFS || errno == EAGAIN) {
                report.retries++;
                if (now_ns() >= end)
                    break;
            } else if (errno != EINTR) {
                throw SystemError(errno, "sendmmsg on " + plan_.interface);
            }
        }
        return done;
    }

    const SendPlan &plan_;
    UniqueFd socket_;
};

} // namespace

double SendReport::rate_pps() const
{
    return elapsed.count() > 0 ? static_cast<double>(packets) * 1e9 / elapsed.count() : 0;
}

SendReport send_frames(const SendPlan &plan)
{
    validate(plan);
    // The socket is opened here so that it belongs to the caller's network namespace; the
    // sending thread may then be pinned and re-timed without touching the caller's thread.
    Sender sender(plan, open_packet_socket(plan));
    return std::async(std::launch::async, [&sender] { return sender.run(); }).get();
}

} // namespace ratelimit
