// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// One error model for kernel and libbpf calls: a failure becomes a KernelError carrying errno
// and what was being done, so no return code is dropped and every message says what failed.

#include <cerrno>
#include <string>
#include <system_error>

namespace ratelimit
{

class KernelError : public std::system_error
{
  public:
    KernelError(int err, const std::string &what)
        : std::system_error(err, std::generic_category(), what)
    {
    }
};

// libbpf 1.x and raw syscalls: a negative return is -errno (libbpf) or -1 with errno set.
inline int check(int rc, const std::string &what)
{
    if (rc < 0)
        throw KernelError(rc == -1 ? errno : -rc, what);
    return rc;
}

// libbpf calls that return NULL and set errno.
template <typename T>
T *check_ptr(T *ptr, const std::string &what)
{
    if (!ptr)
        throw KernelError(errno ? errno : EINVAL, what);
    return ptr;
}

} // namespace ratelimit
