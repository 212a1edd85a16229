// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Running the real XDP program in the kernel from GoogleTest: BPF_PROG_TEST_RUN on built frames,
// CPU pinning, and a skip (or, under CI, a failure) where the machine cannot run BPF.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tools/frame.hpp"

namespace ratelimit::test
{

// Empty if BPF programs can be loaded here; else why not.
std::string bpf_unavailable_reason();

// Skips the test with the reason, or fails it when RATELIMITD_NO_SKIP is set (as .ci/run does).
#define RL_REQUIRE_BPF()                                                                           \
    do {                                                                                           \
        if (auto why = ::ratelimit::test::bpf_unavailable_reason(); !why.empty()) {                \
            if (std::getenv("RATELIMITD_NO_SKIP"))                                                 \
                FAIL() << "cannot run BPF tests: " << why;                                         \
            GTEST_SKIP() << "needs root and BPF: " << why;                                         \
        }                                                                                          \
    } while (0)

struct XdpRun {
    std::uint32_t action;      // XDP_PASS, XDP_DROP, ...
    std::uint32_t duration_ns; // average per repetition, as the kernel measured it
};

// Runs the program once (or `repeat` times) on `frame` on the calling thread's CPU.
XdpRun run_xdp(int prog_fd, const Frame &frame, std::uint32_t repeat = 1);

// Pins the calling thread to one CPU for its lifetime; restores the old mask after.
class CpuPin
{
  public:
    explicit CpuPin(int cpu);
    ~CpuPin();
    CpuPin(const CpuPin &) = delete;
    CpuPin &operator=(const CpuPin &) = delete;

  private:
    cpu_set_t previous_;
};

int online_cpus();

} // namespace ratelimit::test
