// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "sys/fd.hpp"

namespace ratelimit::ctl
{

namespace
{

using Clock = std::chrono::steady_clock;

std::string connect_error(const std::string &path, int error)
{
    switch (error) {
    case ENOENT:
        return "no socket at " + path +
               ": is ratelimitd running? (--socket or RATELIMITCTL_SOCKET names another)";
    case ECONNREFUSED:
        return "nothing listens on " + path + ": is ratelimitd running?";
    case EACCES:
    case EPERM:
        return "no permission to connect to " + path +
               ": run as root or as a member of the daemon's control group";
    case EAGAIN:
        return "ratelimitd accepts no connections at " + path + " (its backlog is full)";
    default:
        return "cannot connect to " + path + ": " + std::strerror(error);
    }
}

// The socket's timeouts for the next send or receive (connect counts as a send): what is left
// until `deadline`, so that all the calls together take no longer.
void limit_to(int fd, Clock::time_point deadline)
{
    const auto left =
        std::max(std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()),
                 std::chrono::microseconds(1)); // zero would mean no timeout
    timeval timeout{};
    timeout.tv_sec = static_cast<time_t>(left.count() / 1'000'000);
    timeout.tv_usec = static_cast<suseconds_t>(left.count() % 1'000'000);
    for (int option : {SO_SNDTIMEO, SO_RCVTIMEO})
        if (::setsockopt(fd, SOL_SOCKET, option, &timeout, sizeof timeout) != 0)
            throw Unreachable(std::string("cannot set the socket's timeout: ") +
                              std::strerror(errno));
}

UniqueFd connect_to(const std::string &path, Clock::time_point deadline)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
        throw Unreachable(path + " is longer than a socket path may be");
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        throw Unreachable(std::string("cannot create a socket: ") + std::strerror(errno));
    limit_to(fd.get(), deadline);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0)
        throw Unreachable(connect_error(path, errno));
    return fd;
}

// Sends the whole line, or as much as the daemon takes before it hangs up: it may have said why
// it did (busy, permission denied), so what it answered is read either way.
void send_line(int fd, std::string_view line, Clock::time_point deadline)
{
    while (!line.empty()) {
        limit_to(fd, deadline);
        const ssize_t sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EPIPE || errno == ECONNRESET))
            return;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            throw Unreachable("ratelimitd did not take the request in time");
        if (sent < 0)
            throw Unreachable(std::string("cannot send the request: ") + std::strerror(errno));
        line.remove_prefix(static_cast<std::size_t>(sent));
    }
}

// The next line the daemon sends, without its newline; `received` holds what came before it
// (and keeps what comes after).
std::string receive_line(int fd, std::string &received, Clock::time_point deadline)
{
    char chunk[64 * 1024];
    for (;;) {
        if (auto newline = received.find('\n'); newline != std::string::npos) {
            std::string line = received.substr(0, newline);
            received.erase(0, newline + 1);
            return line;
        }
        if (received.size() > control::kMaxResponseBytes)
            throw Unreachable("the daemon's answer is longer than " +
                              std::to_string(control::kMaxResponseBytes) + " bytes");
        limit_to(fd, deadline);
        const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            throw Unreachable("no answer from ratelimitd in time");
        if (got < 0)
            throw Unreachable(std::string("cannot read the answer: ") + std::strerror(errno));
        if (got == 0)
            throw Unreachable("ratelimitd closed the connection without answering");
        received.append(chunk, static_cast<std::size_t>(got));
    }
}

} // namespace

Session::Session(const std::string &socket_path, std::chrono::milliseconds timeout)
    : deadline_(Clock::now() + timeout), fd_(connect_to(socket_path, deadline_))
{
}

control::Response Session::call(const control::Request &request)
{
    send_line(fd_.get(), control::encode(request), deadline_);
    const std::string line = receive_line(fd_.get(), received_, deadline_);
    control::Response response;
    try {
        response = control::decode_response(line);
    } catch (const std::runtime_error &e) {
        throw Unreachable(std::string("the daemon's answer cannot be read: ") + e.what());
    }
    if (response.id && *response.id != request.id)
        throw Unreachable("the daemon answered request " + std::to_string(*response.id) + ", not " +
                          std::to_string(request.id));
    return response;
}

control::Response call(const std::string &socket_path, const control::Request &request,
                       std::chrono::milliseconds timeout)
{
    return Session(socket_path, timeout).call(request);
}

} // namespace ratelimit::ctl
