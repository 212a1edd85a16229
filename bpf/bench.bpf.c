// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reference programs for the live-frames benchmark (tests/bench/live_bench.cpp): the floor every
 * XDP program stands on, and a source rotator that gives each frame of a BPF_PROG_RUN a source
 * of its own.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
    return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
    return XDP_PASS;
}

/* Slot 0: the program bench_new_source hands every frame to. */
struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} bench_next SEC(".maps");

/* Frames bench_new_source has rewritten; one benchmark thread, so a plain increment. */
__u32 frames_rewritten;

/*
 * The IPv4 header checksum after replacing the 32-bit word `from` with `to`, updated from the
 * old one without summing the header again (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). The
 * one's-complement sum does not depend on byte order, so the words are taken as they are.
 */
static __always_inline __u16 checksum_replace32(__u16 check, __u32 from, __u32 to)
{
    __u32 sum = (__u16)~check;

    sum += (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)~sum;
}

/*
 * BPF_PROG_RUN repeats one frame, hence one source. This rewrites the IPv4 source of each frame
 * to 10.x.y.z, where x.y.z is the frame's sequence number times an odd constant modulo 2^24 (a
 * bijection: 2^24 frames in a row have distinct sources), then tail-calls the program under
 * test. The header checksum is updated with the source, so that a frame passed on survives the
 * IP layer's check and reaches netfilter's hooks beyond it. The update starts from the frame as
 * it is: live frames are recycled without being copied afresh, so a frame may hold the source
 * an earlier run wrote.
 */
SEC("xdp")
int bench_new_source(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    __u32 sequence = frames_rewritten++, source;

    if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_ABORTED;
    source = bpf_htonl(0x0a000000 | ((sequence * 0x9e3779b1u) & 0x00ffffff));
    ip->check = checksum_replace32(ip->check, ip->saddr, source);
    ip->saddr = source;
    bpf_tail_call(ctx, &bench_next, 0);
    return XDP_ABORTED; /* slot 0 empty */
}
