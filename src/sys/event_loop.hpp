// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A single-threaded epoll loop: the daemon's signals, timers and sockets are all file
// descriptors, served one event at a time, so no state is shared between threads. A handler that
// throws is logged with the name it was watched under, and the loop serves on: one failed event
// (a state file that cannot be written, say) never ends the daemon without its clean shutdown.
// The loop times every handler: the longest one is how long the daemon was deaf to everything
// else, and so what a request that reads a large map must never cost (those run off the loop).

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "sys/fd.hpp"

namespace ratelimit
{

class EventLoop
{
  public:
    using Handler = std::function<void(std::uint32_t events)>;

    EventLoop();
    // Calls `handler` whenever `fd` is readable (or `events` occur). The fd stays the caller's;
    // `name` says what it is in the log ("the control socket").
    void watch(int fd, std::string name, Handler handler, std::uint32_t events = EPOLLIN);
    // Changes the events a watched fd's handler is called for.
    void modify(int fd, std::uint32_t events);
    void forget(int fd);
    // Runs until stop() is called from a handler.
    void run();
    void stop() { running_ = false; }

    // The longest a handler has run since the loop was made, and its name: the longest the loop
    // was held. Also the most CPU time one handler took (wall time counts the time the thread was
    // preempted too, which a busy host adds to any handler). Safe to read from any thread.
    struct Stall {
        std::chrono::nanoseconds took{0};
        std::string name;
        std::chrono::nanoseconds on_cpu{0};
        std::string on_cpu_name;
    };
    Stall longest_stall() const;

  private:
    void note_duration(const std::string &name, std::chrono::nanoseconds took,
                       std::chrono::nanoseconds on_cpu);

    UniqueFd epoll_;
    struct Watched {
        std::string name;
        Handler handler;
    };
    std::map<int, Watched> watched_;
    bool running_ = false;
    mutable std::mutex longest_mutex_;
    Stall longest_; // guarded by longest_mutex_
};

} // namespace ratelimit
