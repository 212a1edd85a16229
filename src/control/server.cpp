// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "control/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "sys/error.hpp"
#include "sys/time.hpp"

namespace ratelimit::control
{

namespace
{

constexpr mode_t kSocketMode = 0660;
constexpr std::size_t kReadChunk = 16 * 1024;

// A socket a daemon that died left behind: no daemon listens on it (the instance lock says none
// runs), and bind() needs the name. Anything else at that path is not ours to remove.
void remove_stale_socket(const std::string &path)
{
    struct stat status;
    if (::lstat(path.c_str(), &status) != 0) {
        if (errno == ENOENT)
            return;
        throw SystemError(errno, "control.socket: stat " + path);
    }
    if (!S_ISSOCK(status.st_mode))
        throw std::runtime_error("control.socket: " + path +
                                 " exists and is not a socket; remove it or choose another path");
    check(::unlink(path.c_str()), "control.socket: remove the stale socket " + path);
}

// The config holds an absolute path, so the socket is never an abstract one (those start with a
// NUL byte): file permissions, not the network namespace, decide who may connect.
UniqueFd listen_at(const std::string &path, std::optional<gid_t> group)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
        throw std::runtime_error("control.socket: " + path +
                                 " is longer than a socket path may be (" +
                                 std::to_string(sizeof(address.sun_path) - 1) + " bytes)");
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    remove_stale_socket(path);
    UniqueFd fd(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
                      "create the control socket"));
    check(::bind(fd.get(), reinterpret_cast<const sockaddr *>(&address), sizeof(address)),
          "bind the control socket " + path);
    // Connecting is refused until listen(): owner and mode are set before anyone can.
    if (group)
        check(::chown(path.c_str(), static_cast<uid_t>(-1), *group),
              "give the control socket " + path + " to its group");
    check(::chmod(path.c_str(), kSocketMode), "chmod the control socket " + path);
    check(::listen(fd.get(), SOMAXCONN), "listen on the control socket " + path);
    return fd;
}

// The supplementary groups the peer had when it connected.
std::vector<gid_t> peer_groups(int fd)
{
    std::vector<gid_t> groups(64);
    for (;;) {
        socklen_t length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length) == 0) {
            groups.resize(length / sizeof(gid_t));
            return groups;
        }
        if (errno != ERANGE)
            throw SystemError(errno, "read the control client's groups (SO_PEERGROUPS)");
        groups.resize(length / sizeof(gid_t));
    }
}

// Runs `step` for `request` from `uid`: none if it returned, else the answer its exception makes.
template <typename Step>
std::optional<std::string> refusal(const Request &request, uid_t uid, Step &&step)
{
    try {
        step();
        return std::nullopt;
    } catch (const RequestError &e) {
        spdlog::info("control socket: refused {} from uid {}: {}", command_name(request.command),
                     uid, e.error().message);
        return encode(Response{request.id, e.error()});
    } catch (const std::exception &e) {
        spdlog::error("control socket: {} failed: {}", command_name(request.command), e.what());
        return encode(Response{request.id, Error{ErrorCode::Internal, e.what()}});
    }
}

} // namespace

std::optional<gid_t> lookup_group(const std::string &name)
{
    std::vector<char> buffer(16 * 1024);
    group entry{};
    group *found = nullptr;
    int rc;
    while ((rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE)
        buffer.resize(buffer.size() * 2);
    if (rc != 0)
        throw SystemError(rc, "control.group: look up group \"" + name + "\"");
    if (!found)
        return std::nullopt;
    return entry.gr_gid;
}

Server::Server(EventLoop &loop, const config::Config::Control &settings, Handler handler,
               Closed closed)
    : loop_(loop), path_(settings.socket), group_name_(settings.group),
      handler_(std::move(handler)), closed_(std::move(closed))
{
    if (!group_name_.empty()) {
        group_ = lookup_group(group_name_);
        if (!group_)
            throw std::runtime_error("control.group: no group named \"" + group_name_ +
                                     "\" on this system");
    }
    listener_ = listen_at(path_, group_);
    // steady_clock is CLOCK_MONOTONIC: deadlines are armed as they are.
    timer_.reset(check(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
                       "create the control socket's timer"));
    loop_.watch(listener_.get(), "the control socket", [this](std::uint32_t) { accept_clients(); });
    loop_.watch(timer_.get(), "the control socket's timer", [this](std::uint32_t) { on_timer(); });
    reads_ = std::make_unique<Worker>(loop_, "the control socket's reads", kMaxDeferred);
    spdlog::info("control socket {} (root{})", path_,
                 group_ ? " and group " + group_name_ : std::string(" only"));
}

Server::~Server()
{
    reads_.reset(); // no answer comes back now
    try {
        for (const auto &[fd, connection] : connections_)
            loop_.forget(fd);
        loop_.forget(timer_.get());
        loop_.forget(listener_.get());
    } catch (const std::exception &e) {
        spdlog::warn("control socket: {}", e.what());
    }
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
        spdlog::warn("could not remove the control socket {}: {}", path_, std::strerror(errno));
}

void Server::accept_clients()
{
    for (;;) {
        UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            // Out of descriptors or memory: the listener would stay readable and spin the loop.
            pause_accepting(errno);
            return;
        }
        if (accept_failed_) {
            accept_failed_ = false;
            spdlog::info("control socket: accepting connections again");
        }
        admit(std::move(fd));
    }
}

void Server::pause_accepting(int error)
{
    if (!accept_failed_)
        spdlog::warn("control socket: cannot accept connections ({}); retrying every {} ms",
                     std::strerror(error), kAcceptRetry.count());
    accept_failed_ = true;
    accept_retry_ = Clock::now() + kAcceptRetry;
    loop_.modify(listener_.get(), 0);
    arm_timer();
}

void Server::resume_accepting()
{
    if (!accept_retry_)
        return;
    accept_retry_.reset();
    // Level-triggered: connections that queued meanwhile are accepted on the next turn.
    loop_.modify(listener_.get(), EPOLLIN);
}

void Server::admit(UniqueFd fd)
{
    if (connections_.size() >= kMaxConnections) {
        // A fresh socket's buffer always has room for one short line.
        const std::string busy = encode(
            Response{std::nullopt,
                     Error{ErrorCode::Busy, "the daemon serves " + std::to_string(kMaxConnections) +
                                                " connections already; try again"}});
        if (::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL) < 0)
            spdlog::debug("control socket: could not send busy: {}", std::strerror(errno));
        return;
    }
    Peer peer;
    try {
        peer = identify(fd.get());
    } catch (const SystemError &e) {
        spdlog::warn("control socket: dropping a connection: {}", e.what());
        return;
    }
    peer.connection = ++connections_admitted_;
    const int key = fd.get();
    Connection &connection = connections_[key];
    connection.fd = std::move(fd);
    connection.peer = peer;
    connection.serial = ++next_serial_;
    connection.events = EPOLLIN;
    connection.deadline = Clock::now() + kIdleTimeout;
    loop_.watch(
        key, "a control connection of uid " + std::to_string(peer.uid),
        [this, key](std::uint32_t events) { on_event(key, events); }, connection.events);
    arm_timer();
}

Server::Peer Server::identify(int fd) const
{
    ucred credentials{};
    socklen_t length = sizeof(credentials);
    check(::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length),
          "read the control client's credentials (SO_PEERCRED)");
    Peer peer{credentials.pid, credentials.uid, credentials.uid == 0};
    // The credentials the kernel checked the socket's mode against: the peer's own groups, not
    // the group database (which would also mean a possibly slow NSS lookup in the event loop).
    if (!peer.authorized && group_) {
        const auto groups = peer_groups(fd);
        peer.authorized =
            credentials.gid == *group_ || std::ranges::find(groups, *group_) != groups.end();
    }
    return peer;
}

void Server::on_event(int fd, std::uint32_t events)
{
    auto found = connections_.find(fd);
    if (found == connections_.end())
        return;
    Connection &connection = found->second;
    bool open = true;
    // Watched for nothing while it awaits an answer, the kernel still says when the peer has
    // gone: then there is no one to answer.
    if (connection.awaiting && (events & (EPOLLHUP | EPOLLERR)))
        open = false;
    else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        open = receive(connection);
    serve_on(fd, connection, open);
}

void Server::serve_on(int fd, Connection &connection, bool open)
{
    if (open)
        open = serve(connection);
    if (!open) {
        close_connection(fd);
    } else {
        // Read only while nothing is waiting to be written, and no answer is being made: a
        // client that does not read its answers, or sends more while it waits, is not read from.
        const std::uint32_t wanted = connection.awaiting         ? 0u
                                     : connection.unsent.empty() ? std::uint32_t{EPOLLIN}
                                                                 : std::uint32_t{EPOLLOUT};
        if (wanted != connection.events) {
            loop_.modify(fd, wanted);
            connection.events = wanted;
        }
    }
    arm_timer();
}

// Takes in what the peer sent; false when the connection has failed.
bool Server::receive(Connection &connection)
{
    if (connection.input_ended || connection.close_when_sent)
        return true;
    char chunk[kReadChunk];
    const ssize_t got = ::recv(connection.fd.get(), chunk, sizeof chunk, 0);
    if (got > 0)
        connection.received.append(chunk, static_cast<std::size_t>(got));
    else if (got == 0)
        connection.input_ended = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::debug("control socket: uid {}: {}", connection.peer.uid, std::strerror(errno));
        return false;
    }
    return true;
}

// Answers the requests received, one at a time: the next is answered only once the answer
// before it has been written. False when the connection is done.
bool Server::serve(Connection &connection)
{
    for (;;) {
        if (!send_unsent(connection))
            return false;
        if (!connection.unsent.empty())
            return true; // the peer reads slowly: wait until it can take more
        if (connection.awaiting)
            return true; // its answer is being made off the loop
        if (connection.close_when_sent)
            return false;
        const auto newline = connection.received.find('\n');
        if (newline == std::string::npos || newline >= kMaxRequestBytes) {
            if (connection.received.size() >= kMaxRequestBytes) {
                answer_and_close(connection,
                                 {ErrorCode::TooLarge, "a request is at most " +
                                                           std::to_string(kMaxRequestBytes) +
                                                           " bytes, its newline included"});
                continue;
            }
            if (!connection.input_ended)
                return true; // the rest of the request is on its way
            if (connection.received.empty())
                return false; // the peer is done, and everything is answered
            answer_and_close(connection,
                             {ErrorCode::BadRequest, "the request ends without a newline"});
            continue;
        }
        const std::string line = connection.received.substr(0, newline);
        connection.received.erase(0, newline + 1);
        std::optional<std::string> answered = answer(connection, line);
        connection.deadline = Clock::now() + kIdleTimeout;
        if (!answered) {
            connection.awaiting = true;
            return true;
        }
        connection.unsent = std::move(*answered);
    }
}

// For input that cannot be read as requests: the error, and no more reading.
void Server::answer_and_close(Connection &connection, const Error &error)
{
    connection.unsent = encode(Response{std::nullopt, error});
    connection.close_when_sent = true;
}

// Writes what the socket takes of the answers; false when the peer has gone.
bool Server::send_unsent(Connection &connection)
{
    while (!connection.unsent.empty()) {
        const ssize_t sent = ::send(connection.fd.get(), connection.unsent.data(),
                                    connection.unsent.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            spdlog::debug("control socket: uid {}: {}", connection.peer.uid, std::strerror(errno));
            return false;
        }
        connection.unsent.erase(0, static_cast<std::size_t>(sent));
    }
    return true;
}

std::optional<std::string> Server::answer(Connection &connection, std::string_view line)
{
    const auto decoded = decode_request(line);
    if (!connection.peer.authorized) {
        const auto *request = std::get_if<Request>(&decoded);
        const std::string what =
            request ? std::string(command_name(request->command)) : std::string("a request");
        spdlog::warn("control socket: refused {} from uid {} (pid {}): not root{}", what,
                     connection.peer.uid, connection.peer.pid,
                     group_ ? " nor in group " + group_name_ : std::string());
        connection.close_when_sent = true;
        return encode(Response{
            request ? std::optional(request->id) : std::get<Rejection>(decoded).id,
            Error{ErrorCode::PermissionDenied,
                  "uid " + std::to_string(connection.peer.uid) + " may not use ratelimitd: " +
                      (group_ ? "root and members of group " + group_name_ + " only"
                              : std::string("root only (no control.group is configured)"))}});
    }
    if (const auto *rejection = std::get_if<Rejection>(&decoded)) {
        spdlog::info("control socket: refused a request from uid {}: {}", connection.peer.uid,
                     rejection->error.message);
        return encode(Response{rejection->id, rejection->error});
    }
    const Request &request = std::get<Request>(decoded);
    spdlog::debug("control socket: {} from uid {}", command_name(request.command),
                  connection.peer.uid);
    Reply reply;
    if (auto refused = refusal(request, connection.peer.uid,
                               [&] { reply = handler_(request, connection.peer); }))
        return refused;
    if (auto *now = std::get_if<nlohmann::json>(&reply))
        return encode(Response{request.id, std::move(*now)});
    return defer(connection, request, std::move(std::get<Deferred>(reply)));
}

std::optional<std::string> Server::defer(const Connection &connection, const Request &request,
                                         Deferred work)
{
    const int fd = connection.fd.get();
    const std::uint64_t serial = connection.serial;
    const uid_t uid = connection.peer.uid;
    auto job = [this, fd, serial, uid, request, work = std::move(work)]() -> Worker::Finish {
        nlohmann::json result;
        std::optional<std::string> refused = refusal(request, uid, [&] { result = work(); });
        std::string line =
            refused ? std::move(*refused) : encode(Response{request.id, std::move(result)});
        return [this, fd, serial, line = std::move(line)]() mutable {
            deliver(fd, serial, std::move(line));
        };
    };
    if (reads_->submit(std::move(job)))
        return std::nullopt;
    spdlog::info("control socket: {} from uid {} answered busy: {} reads of the maps wait or run",
                 command_name(request.command), uid, kMaxDeferred);
    return encode(Response{
        request.id, Error{ErrorCode::Busy, "the daemon is making " + std::to_string(kMaxDeferred) +
                                               " answers that read its maps already; try again"}});
}

void Server::deliver(int fd, std::uint64_t serial, std::string answer)
{
    auto found = connections_.find(fd);
    if (found == connections_.end() || found->second.serial != serial)
        return; // the peer went meanwhile
    Connection &connection = found->second;
    connection.awaiting = false;
    connection.unsent = std::move(answer);
    connection.deadline = Clock::now() + kIdleTimeout;
    serve_on(fd, connection, true);
}

void Server::close_connection(int fd)
{
    loop_.forget(fd);
    if (auto found = connections_.find(fd); found != connections_.end() && closed_)
        closed_(found->second.peer);
    connections_.erase(fd);
    resume_accepting(); // a descriptor is free now
}

void Server::on_timer()
{
    drain_timer(timer_.get(), "the control socket's timer");
    const auto now = Clock::now();
    close_idle_connections(now);
    if (accept_retry_ && *accept_retry_ <= now)
        resume_accepting();
    arm_timer();
}

void Server::close_idle_connections(Clock::time_point now)
{
    std::vector<int> idle;
    for (auto &[fd, connection] : connections_) {
        if (connection.awaiting || connection.deadline > now)
            continue; // an answer being made is not the peer's silence
        idle.push_back(fd);
        if (connection.received.empty() || !connection.unsent.empty())
            continue;
        // Best effort, on a socket with nothing else queued: say why before hanging up.
        const std::string timed_out =
            encode(Response{std::nullopt, Error{ErrorCode::BadRequest,
                                                "no complete request within " +
                                                    std::to_string(kIdleTimeout.count()) + " s"}});
        if (::send(fd, timed_out.data(), timed_out.size(), MSG_NOSIGNAL) < 0)
            spdlog::debug("control socket: uid {}: {}", connection.peer.uid, std::strerror(errno));
    }
    for (int fd : idle) {
        spdlog::debug("control socket: closing an idle connection of uid {}",
                      connections_.at(fd).peer.uid);
        close_connection(fd);
    }
}

void Server::arm_timer()
{
    std::optional<Clock::time_point> earliest = accept_retry_;
    for (const auto &[fd, connection] : connections_)
        if (!connection.awaiting && (!earliest || connection.deadline < *earliest))
            earliest = connection.deadline;
    itimerspec when{}; // all zero: disarmed
    if (earliest)
        when.it_value = to_timespec(*earliest);
    check(timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &when, nullptr),
          "arm the control socket's timer");
}

} // namespace ratelimit::control
