// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// cpp-httplib's Server with every client bounded, so that no client (nor a few) can take the
// metrics port's memory, threads or descriptors, or hold up the scrapes of others:
// - kWorkers threads serve requests; kMaxWaiting more connections may wait for one, and a
//   connection beyond those is answered 503 and closed at once: the port holds at most
//   kWorkers + kMaxWaiting descriptors, whatever its clients do, and so can never starve the
//   control socket (which has a bound of its own);
// - a request's head (request line and headers) must be whole within kRequestDeadline of its
//   connection being accepted, however the client spaces its bytes (408), and at most
//   kMaxRequestBytes (431);
// - only GET and HEAD are served (405), and a request with a body is refused (413) before any of
//   it is read: nothing past the head is ever read;
// - the answer must be taken within kResponseDeadline, and one request is served per connection.
// httplib 0.11 times out each read, not a request (a client sending a byte every few seconds
// keeps a worker for ever), and takes any body whole into memory: so the server reads the head
// itself, within the deadline and the size, and hands httplib a stream over what it read.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "sys/fd.hpp"

namespace ratelimit::metrics
{

class BoundedHttpServer : public httplib::Server
{
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kWorkers = 4;
    static constexpr std::size_t kMaxWaiting = 12;
    static constexpr std::size_t kMaxRequestBytes = 16 * 1024;
    static constexpr std::chrono::seconds kRequestDeadline{5};
    static constexpr std::chrono::seconds kResponseDeadline{10};

    // Starts the workers: construct it with signals blocked if the process takes its signals
    // through a signalfd.
    BoundedHttpServer();
    // Call after stop() and the end of listen_after_bind(): lets the requests being served finish
    // (each within its deadlines), closes the connections still waiting, and joins the workers.
    ~BoundedHttpServer() override;

  private:
    struct Waiting {
        UniqueFd fd;
        Clock::time_point accepted;
    };

    // httplib calls this on its listener thread for each connection it accepts (the task queue
    // runs it there at once): the connection waits for a worker, or is refused.
    bool process_and_close_socket(socket_t sock) override;
    void work();
    void stop_workers();
    void serve(const Waiting &connection);

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Waiting> waiting_; // guarded by mutex_
    bool stopping_ = false;       // guarded by mutex_
    std::vector<std::thread> workers_;
};

} // namespace ratelimit::metrics
