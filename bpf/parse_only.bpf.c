// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline: the limiter's parser and nothing else. The gap between this program and
 * ratelimit.bpf.c is what rule lookup, bucket arithmetic and counting cost.
 */
#include "parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int parse_only_xdp(struct xdp_md *ctx)
{
    struct rl_packet pkt = {};

    /* Use the result so that the compiler keeps the whole parse. */
    if (rl_parse(ctx, &pkt) == RL_PARSE_IP && pkt.source.addr[15] == 0xff && pkt.frame_len == 1)
        return XDP_DROP;
    return XDP_PASS;
}
