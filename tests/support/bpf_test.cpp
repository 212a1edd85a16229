// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "bpf_test.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>

#include "sys/error.hpp"

namespace ratelimit::test
{

std::string bpf_unavailable_reason()
{
    if (geteuid() != 0)
        return "not running as root";
    // The smallest program there is: r0 = XDP_PASS; exit.
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K,
         .dst_reg = 0,
         .src_reg = 0,
         .off = 0,
         .imm = XDP_PASS},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "probe", "GPL", insns, 2, nullptr);
    if (fd < 0)
        return std::string("loading an XDP program failed: ") + std::strerror(-fd);
    close(fd);
    return {};
}

XdpRun run_xdp(int prog_fd, const Frame &frame, std::uint32_t repeat)
{
    Frame out(frame.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                .data_size_in = static_cast<std::uint32_t>(frame.size()),
                .data_size_out = static_cast<std::uint32_t>(out.size()),
                .repeat = static_cast<int>(repeat));
    check(bpf_prog_test_run_opts(prog_fd, &opts), "BPF_PROG_TEST_RUN");
    return {opts.retval, opts.duration};
}

CpuPin::CpuPin(int cpu)
{
    check(sched_getaffinity(0, sizeof(previous_), &previous_), "read CPU affinity");
    cpu_set_t only;
    CPU_ZERO(&only);
    CPU_SET(cpu, &only);
    check(sched_setaffinity(0, sizeof(only), &only), "pin thread to CPU " + std::to_string(cpu));
}

CpuPin::~CpuPin()
{
    sched_setaffinity(0, sizeof(previous_), &previous_);
}

int online_cpus()
{
    return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
}

} // namespace ratelimit::test
