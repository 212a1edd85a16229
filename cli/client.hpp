// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitctl's end of the control socket: a connection, and the requests sent on it one at a
// time, each answered before the next is sent.

#include <chrono>
#include <stdexcept>
#include <string>

#include "control/protocol.hpp"
#include "sys/fd.hpp"

namespace ratelimit::ctl
{

// No usable answer: no daemon at the socket, no permission to connect, a hang-up or a timeout.
class Unreachable : public std::runtime_error
{
  public:
    using std::runtime_error::runtime_error;
};

// A connection to the daemon listening at `socket_path`, for at most `timeout` in all (connecting
// and every call). Throws Unreachable saying what went wrong, as call() does.
class Session
{
  public:
    Session(const std::string &socket_path, std::chrono::milliseconds timeout);

    // Sends `request` and returns its answer.
    control::Response call(const control::Request &request);

  private:
    std::chrono::steady_clock::time_point deadline_;
    UniqueFd fd_;
    std::string received_; // what came after the last answer
};

// Sends `request` to the daemon listening at `socket_path` on a connection of its own and returns
// its answer, waiting at most `timeout` in all. Throws Unreachable saying what went wrong.
control::Response call(const std::string &socket_path, const control::Request &request,
                       std::chrono::milliseconds timeout);

} // namespace ratelimit::ctl
