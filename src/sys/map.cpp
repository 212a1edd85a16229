// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sys/map.hpp"

namespace ratelimit
{

int possible_cpus()
{
    static const int count = check(libbpf_num_possible_cpus(), "count possible CPUs");
    return count;
}

} // namespace ratelimit
