// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// One error model for system and libbpf calls: a failure becomes a SystemError carrying errno
// and what was being done, so no return code is dropped and every message says what failed.

#include <cerrno>
#include <string>
#include <system_error>

namespace ratelimit
{

class SystemError : public std::system_error
{
  public:
    SystemError(int err, const std::string &what)
        : std::system_error(err, std::generic_category(), what)
    {
    }
};

// libbpf 1.x and raw syscalls: a negative return is -errno (libbpf) or -1 with errno set.
inline int check(int rc, const std::string &what)
{
    if (rc < 0)
        throw SystemError(rc == -1 ? errno : -rc, what);
    return rc;
}

// libbpf calls that return NULL and set errno.
template <typename T>
T *check_ptr(T *ptr, const std::string &what)
{
    if (!ptr)
        throw SystemError(errno ? errno : EINVAL, what);
    return ptr;
}

} // namespace ratelimit
