/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the XDP programs (BPF only). A cursor walks the frame; every helper checks
 * bounds before it reads, every loop has a constant bound, and what is returned is in network
 * byte order unless said otherwise.
 */
#ifndef RATELIMIT_BPF_PARSE_H
#define RATELIMIT_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ratelimit/abi.h"

/*
 * What the parser found. A packet is judged by its source's rules whenever the source address can
 * be read: IPv4 with a fixed header of version 4 in the frame, IPv6 with the 40-byte fixed header
 * of version 6, however odd the rest.
 */
enum rl_parse_result {
    RL_PARSE_IP,             /* source read, headers sound (as far as they were walked) */
    RL_PARSE_IP_BROKEN,      /* source read, later headers broken: the kernel would refuse it */
    RL_PARSE_NON_IP,         /* not IPv4 or IPv6 (or cut short before the EtherType said so) */
    RL_PARSE_MALFORMED,      /* IPv4/IPv6, but no source can be read from it */
    RL_PARSE_INVALID_SOURCE, /* IPv6 from an IPv4-mapped address (RFC 6890: never a source) */
};

struct rl_packet {
    struct rl_source_key source; /* IPv6, or IPv4-mapped IPv6 */
    __u32 frame_len;             /* bytes, as charged to byte limits */
};

struct rl_cursor {
    void *pos;
    void *end;
};

/* 802.1Q / 802.1ad tag, after the outer EtherType. */
struct rl_vlan_hdr {
    __be16 tci;
    __be16 encapsulated_proto;
};

/* Generic IPv6 extension header prefix (RFC 8200 4.2). */
struct rl_ipv6_ext_hdr {
    __u8 nexthdr;
    __u8 hdrlen;
};

/* Returns a pointer to the next `len` bytes and advances past them, or NULL if they are not
 * all in the frame. */
static __always_inline void *rl_cursor_pull(struct rl_cursor *c, __u32 len)
{
    void *start = c->pos;

    if (start + len > c->end)
        return NULL;
    c->pos = start + len;
    return start;
}

static __always_inline int rl_is_vlan(__be16 proto)
{
    return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet and up to RL_MAX_VLAN_TAGS tags. Returns the EtherType (network order) or 0. */
static __always_inline __be16 rl_parse_ethernet(struct rl_cursor *c)
{
    struct ethhdr *eth = rl_cursor_pull(c, sizeof(*eth));
    __be16 proto;

    if (!eth)
        return 0;
    proto = eth->h_proto;
#pragma unroll
    for (int i = 0; i < RL_MAX_VLAN_TAGS; i++) {
        struct rl_vlan_hdr *vlan;

        if (!rl_is_vlan(proto))
            break;
        vlan = rl_cursor_pull(c, sizeof(*vlan));
        if (!vlan)
            return 0;
        proto = vlan->encapsulated_proto;
    }
    return proto;
}

static __always_inline int rl_parse_ipv4(struct rl_cursor *c, struct rl_packet *pkt)
{
    void *start = c->pos;
    struct iphdr *ip = rl_cursor_pull(c, sizeof(*ip));
    __u32 header_len;

    if (!ip || ip->version != 4)
        return RL_PARSE_MALFORMED;
    RL_ADDR_FROM_IPV4(pkt->source.addr, &ip->saddr);

    /* What ip_rcv refuses: an IHL under 5, options beyond the frame, a total length that does
     * not hold the header or does not fit the frame. */
    header_len = ip->ihl * 4;
    if (ip->ihl < 5 || start + header_len > c->end || bpf_ntohs(ip->tot_len) < header_len ||
        start + bpf_ntohs(ip->tot_len) > c->end)
        return RL_PARSE_IP_BROKEN;
    c->pos = start + header_len;
    return RL_PARSE_IP;
}

static __always_inline int rl_is_ipv6_ext(__u8 nexthdr)
{
    return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
           nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH;
}

/* Length of an IPv6 extension header from its first two bytes (RFC 8200 4.3-4.6, RFC 4302 2.2). */
static __always_inline __u32 rl_ipv6_ext_len(const struct rl_ipv6_ext_hdr *ext, __u8 type)
{
    if (type == IPPROTO_FRAGMENT)
        return 8;
    if (type == IPPROTO_AH)
        return (ext->hdrlen + 2) * 4;
    return (ext->hdrlen + 1) * 8;
}

/* ::ffff:0:0/96, where IPv4 sources are keyed: an IPv6 packet from there would share them. */
static __always_inline int rl_is_ipv4_mapped(const struct rl_source_key *key)
{
    const __u32 *words = (const __u32 *)key->addr;

    return words[0] == 0 && words[1] == 0 && words[2] == bpf_htonl(0xffff);
}

static __always_inline int rl_parse_ipv6(struct rl_cursor *c, struct rl_packet *pkt)
{
    struct ipv6hdr *ip6 = rl_cursor_pull(c, sizeof(*ip6));
    __u8 nexthdr;

    if (!ip6 || ip6->version != 6)
        return RL_PARSE_MALFORMED;
    __builtin_memcpy(pkt->source.addr, &ip6->saddr, RL_ADDR_LEN);
    if (rl_is_ipv4_mapped(&pkt->source))
        return RL_PARSE_INVALID_SOURCE;
    if (c->pos + bpf_ntohs(ip6->payload_len) > c->end)
        return RL_PARSE_IP_BROKEN;

    /* Walk the extension headers so that a truncated chain is caught; the source is already
     * known, so a chain longer than the walk is judged like any other packet. */
    nexthdr = ip6->nexthdr;
#pragma unroll
    for (int i = 0; i < RL_MAX_IPV6_EXT; i++) {
        struct rl_ipv6_ext_hdr *ext;

        if (!rl_is_ipv6_ext(nexthdr))
            return RL_PARSE_IP;
        ext = c->pos;
        if ((void *)(ext + 1) > c->end)
            return RL_PARSE_IP_BROKEN;
        if (!rl_cursor_pull(c, rl_ipv6_ext_len(ext, nexthdr)))
            return RL_PARSE_IP_BROKEN;
        nexthdr = ext->nexthdr;
    }
    return RL_PARSE_IP;
}

static __always_inline int rl_parse(struct xdp_md *ctx, struct rl_packet *pkt)
{
    struct rl_cursor c = {
        .pos = (void *)(long)ctx->data,
        .end = (void *)(long)ctx->data_end,
    };
    __be16 proto;

    pkt->frame_len = (__u32)(c.end - c.pos);
    proto = rl_parse_ethernet(&c);
    if (proto == bpf_htons(ETH_P_IP))
        return rl_parse_ipv4(&c, pkt);
    if (proto == bpf_htons(ETH_P_IPV6))
        return rl_parse_ipv6(&c, pkt);
    return RL_PARSE_NON_IP;
}

#endif /* RATELIMIT_BPF_PARSE_H */
