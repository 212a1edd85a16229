// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitctl's end of the control socket: one request and its answer per connection.

#include <chrono>
#include <stdexcept>
#include <string>

#include "control/protocol.hpp"

namespace ratelimit::ctl
{

// No usable answer: no daemon at the socket, no permission to connect, a hang-up or a timeout.
class Unreachable : public std::runtime_error
{
  public:
    using std::runtime_error::runtime_error;
};

// Sends `request` to the daemon listening at `socket_path` and returns its answer, waiting at
// most `timeout` in all. Throws Unreachable saying what went wrong.
control::Response call(const std::string &socket_path, const control::Request &request,
                       std::chrono::milliseconds timeout);

} // namespace ratelimit::ctl
