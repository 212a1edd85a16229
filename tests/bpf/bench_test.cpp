// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The live-frames benchmark's reference programs (bpf/bench.bpf.c) in the kernel: the source
// rotator gives each frame a source of its own and leaves a frame the IP layer accepts, so that
// frames it passes on reach netfilter's hooks beyond the IP header check.

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <optional>
#include <set>

#include "bench.skel.h"
#include "bpf_test.hpp"
#include "net/address.hpp"
#include "sys/error.hpp"
#include "sys/skeleton.hpp"

namespace ratelimit::test
{
namespace
{

constexpr std::size_t kIpv4Offset = 14, kIpv4HeaderBytes = 20, kSourceOffset = kIpv4Offset + 12;

// The one's-complement sum of the IPv4 header, checksum included: 0xffff when it is valid.
std::uint16_t header_sum(const Frame &frame)
{
    std::uint32_t sum = 0;
    for (std::size_t i = kIpv4Offset; i < kIpv4Offset + kIpv4HeaderBytes; i += 2)
        sum += (frame[i] << 8) | frame[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

class RotatorTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        RL_REQUIRE_BPF();
        bench_.emplace();
        bench_->load();
        // The rotator hands every frame to the trivial XDP_PASS.
        std::uint32_t slot = 0;
        int pass = bpf_program__fd(bench_->get()->progs.bench_pass);
        check(
            bpf_map_update_elem(bpf_map__fd(bench_->get()->maps.bench_next), &slot, &pass, BPF_ANY),
            "point the source rotator at bench_pass");
    }

    // The frame as the rotator leaves it, with the verdict of the program it handed it to.
    std::pair<Frame, std::uint32_t> rotate(const Frame &frame) const
    {
        Frame out(frame.size());
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                    .data_size_in = static_cast<std::uint32_t>(frame.size()),
                    .data_size_out = static_cast<std::uint32_t>(out.size()), .repeat = 1);
        check(bpf_prog_test_run_opts(bpf_program__fd(bench_->get()->progs.bench_new_source), &opts),
              "BPF_PROG_TEST_RUN of the source rotator");
        out.resize(opts.data_size_out);
        return {out, opts.retval};
    }

    std::optional<Skeleton<bench_bpf>> bench_;
};

TEST_F(RotatorTest, EveryFrameGetsANewSourceAndAValidHeaderChecksum)
{
    const Frame frame =
        FrameBuilder().ip(*parse_address("192.0.2.1"), *parse_address("198.51.100.1")).build();
    ASSERT_EQ(header_sum(frame), 0xffff) << "the template's own checksum";
    std::set<std::uint32_t> sources;
    for (int i = 0; i < 64; i++) {
        auto [out, verdict] = rotate(frame);
        ASSERT_EQ(verdict, XDP_PASS);
        ASSERT_EQ(out.size(), frame.size());
        const std::uint8_t *at = out.data() + kSourceOffset;
        std::uint32_t source = (at[0] << 24) | (at[1] << 16) | (at[2] << 8) | at[3];
        EXPECT_EQ(source >> 24, 10u) << "a source in 10.0.0.0/8";
        sources.insert(source);
        EXPECT_EQ(header_sum(out), 0xffff) << "frame " << i << ": stale IPv4 header checksum";
    }
    EXPECT_EQ(sources.size(), 64u);
}

} // namespace
} // namespace ratelimit::test
