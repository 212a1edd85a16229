// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The daemon's end of the control socket (protocol.hpp): a Unix stream socket at
// control.socket, mode 0660 and group control.group, served from the daemon's event loop
// without threads. Every connection has buffers of its own and a deadline, so a slow, silent
// or broken client costs only its own connection:
// - a request line over kMaxRequestBytes gets too_large, and the connection is closed;
// - malformed JSON or an unknown command gets an error, and the connection serves on;
// - a connection that has not completed a request within kIdleTimeout is closed (a half-sent
//   request gets an error first);
// - a client that does not read its answers is not read from until it does;
// - at most kMaxConnections are served at once; one more is answered busy and closed;
// - a request whose handler defers it (a read of large maps) runs on the server's worker thread,
//   off the event loop, and its answer is written when it comes back; the connection's next
//   request waits for it. At most kMaxDeferred such requests wait or run at once (over all
//   connections): one more is answered busy at once, and the connection serves on.
// When accept() fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM: the
// daemon's other sockets may hold them all), accepting pauses and is retried every
// kAcceptRetry (and at once when a connection of ours closes): the socket serves again as soon as
// the shortage ends, whoever caused it.
// Peers are checked with SO_PEERCRED: root and members of the group may do everything; anyone
// else is answered permission_denied, logged, and disconnected.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "control/protocol.hpp"
#include "sys/event_loop.hpp"
#include "sys/fd.hpp"
#include "sys/worker.hpp"

namespace ratelimit::control
{

// The id of the group `name`, or nothing if there is no such group. Throws SystemError if the
// group database cannot be read.
std::optional<gid_t> lookup_group(const std::string &name);

class Server
{
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds kIdleTimeout{10};
    static constexpr std::size_t kMaxConnections = 128;
    static constexpr std::chrono::milliseconds kAcceptRetry{250};
    static constexpr std::size_t kMaxDeferred = 4;

    // Who is at the other end of a connection, as SO_PEERCRED told when it connected.
    struct Peer {
        pid_t pid = 0;
        uid_t uid = 0;
        bool authorized = false;
        std::uint64_t connection = 0; // which connection: numbered from 1, never reused
    };

    // The result of a request, made on the server's worker thread: it may read the data path's
    // maps and what it holds (copies), nothing of the event loop's. It throws as a Handler does.
    using Deferred = std::function<nlohmann::json()>;
    // A request's result now, or the work that makes it off the event loop.
    using Reply = std::variant<nlohmann::json, Deferred>;
    // Runs a request from an authorized `peer` and returns its reply. Throws RequestError to
    // refuse it; any other exception is logged and answered as an internal error.
    using Handler = std::function<Reply(const Request &request, const Peer &peer)>;

    // Told when a connection has closed, so that what its requests left (an apply transaction's
    // parts) goes with it. Must not throw.
    using Closed = std::function<void(const Peer &peer)>;

    // Listens at settings.socket, replacing a socket a dead daemon left there. Throws naming the
    // socket or the group when it cannot (an unknown group is an error, not root-only access).
    Server(EventLoop &loop, const config::Config::Control &settings, Handler handler,
           Closed closed = {});
    // Closes every connection and removes the socket.
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

  private:
    struct Connection {
        UniqueFd fd;
        Peer peer;
        std::string received;         // input not yet answered
        std::string unsent;           // answers not yet written
        bool input_ended = false;     // the peer has shut down its side
        bool close_when_sent = false; // refused, or its input is unusable
        bool awaiting = false;        // a deferred request's answer is being made
        std::uint64_t serial = 0;     // which connection, whatever fd it has (fds are reused)
        std::uint32_t events = 0;     // what the loop watches the fd for
        Clock::time_point deadline;   // for completing the next request
    };

    void accept_clients();
    void admit(UniqueFd fd);
    Peer identify(int fd) const;
    void on_event(int fd, std::uint32_t events);
    bool receive(Connection &connection);
    bool serve(Connection &connection);
    void answer_and_close(Connection &connection, const Error &error);
    bool send_unsent(Connection &connection);
    // The answer to `line`; none when it is deferred (the connection then awaits it).
    std::optional<std::string> answer(Connection &connection, std::string_view line);
    std::optional<std::string> defer(const Connection &connection, const Request &request,
                                     Deferred work);
    void deliver(int fd, std::uint64_t serial, std::string answer);
    // Serves `fd` on after `open` said whether it is still usable: closes it or watches it for
    // what it waits for.
    void serve_on(int fd, Connection &connection, bool open);
    void close_connection(int fd);
    void on_timer();
    void close_idle_connections(Clock::time_point now);
    void arm_timer();
    void pause_accepting(int error);
    void resume_accepting();

    EventLoop &loop_;
    std::string path_;
    std::optional<gid_t> group_; // empty: root only
    std::string group_name_;
    Handler handler_;
    Closed closed_;
    std::uint64_t connections_admitted_ = 0;
    UniqueFd listener_, timer_; // timer_: the connections' deadlines and the accept retry
    std::optional<Clock::time_point> accept_retry_; // set while accepting is paused
    bool accept_failed_ = false; // since the last accept that succeeded: log the change only
    std::map<int, Connection> connections_; // by fd
    std::uint64_t next_serial_ = 0;
    std::unique_ptr<Worker> reads_; // last: stopped first, before what its results would touch
};

} // namespace ratelimit::control
