// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Work taken off the event loop: a thread of its own runs jobs that would hold the loop too long
// (reading a map of a million entries), one at a time, and hands each job's result back to the
// loop, which an eventfd wakes. At most `capacity` jobs wait or run at once: one more is refused
// at once, so a client that asks again and again costs a bounded queue, never more threads or
// memory.

#include <csignal>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "sys/event_loop.hpp"
#include "sys/fd.hpp"

namespace ratelimit
{

// Blocks every signal in the calling thread while it lives, so that the threads started meanwhile
// inherit that mask: the daemon takes its signals through a signalfd, and the kernel would hand a
// signal to any thread that does not block it, whose default action would end the process.
class SignalsBlocked
{
  public:
    SignalsBlocked();
    ~SignalsBlocked(); // cannot fail: restores the mask pthread_sigmask itself returned
    SignalsBlocked(const SignalsBlocked &) = delete;
    SignalsBlocked &operator=(const SignalsBlocked &) = delete;

  private:
    sigset_t previous_;
};

class Worker
{
  public:
    using Finish = std::function<void()>; // runs on the loop
    using Job = std::function<Finish()>;  // runs on the worker's thread

    // `name` says what it does in the log ("the control socket's reads").
    Worker(EventLoop &loop, std::string name, std::size_t capacity);
    // Lets a job in progress end, drops those waiting and the results not yet handed back.
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    // Queues `job`; false, queueing nothing, when `capacity` jobs wait or run already. A job
    // touches only what is safe from another thread (map reads, copies it owns); one that throws
    // is logged, and its finish never runs: a job answers its own failures.
    bool submit(Job job);
    // Jobs queued or running, and results not yet handed back.
    std::size_t pending() const;

  private:
    void serve();
    void hand_back();

    EventLoop &loop_;
    std::string name_;
    std::size_t capacity_;
    UniqueFd done_fd_; // an eventfd: results wait in done_
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;    // guarded by mutex_
    std::deque<Finish> done_; // guarded by mutex_
    std::size_t running_ = 0; // guarded by mutex_
    bool stopping_ = false;   // guarded by mutex_
    std::thread thread_;
};

} // namespace ratelimit
