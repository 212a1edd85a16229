/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address arithmetic shared by the XDP program and user space. */
#ifndef RATELIMIT_ADDR_H
#define RATELIMIT_ADDR_H

#include "abi.h"

/* Keeps the first `prefixlen` bits of an RL_ADDR_LEN-byte address, zeroing the rest. */
static inline void rl_mask_addr(__u8 *addr, __u32 prefixlen)
{
    for (__u32 i = 0; i < RL_ADDR_LEN; i++) {
        __u32 bit = i * 8;

        if (prefixlen <= bit)
            addr[i] = 0;
        else if (prefixlen < bit + 8)
            addr[i] &= (__u8)(0xff << (bit + 8 - prefixlen));
    }
}

#endif /* RATELIMIT_ADDR_H */
