// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sys/worker.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "sys/error.hpp"

namespace ratelimit
{

SignalsBlocked::SignalsBlocked()
{
    sigset_t all;
    sigfillset(&all);
    if (int rc = pthread_sigmask(SIG_BLOCK, &all, &previous_); rc != 0)
        throw SystemError(rc, "block signals for a new thread");
}

SignalsBlocked::~SignalsBlocked()
{
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

Worker::Worker(EventLoop &loop, std::string name, std::size_t capacity)
    : loop_(loop), name_(std::move(name)), capacity_(capacity),
      done_fd_(check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "create an eventfd for " + name_))
{
    loop_.watch(done_fd_.get(), name_, [this](std::uint32_t) { hand_back(); });
    const SignalsBlocked for_the_new_thread;
    thread_ = std::thread([this] { serve(); });
}

Worker::~Worker()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        jobs_.clear();
    }
    wake_.notify_all();
    thread_.join();
    try {
        loop_.forget(done_fd_.get());
    } catch (const std::exception &e) {
        spdlog::warn("{}: {}", name_, e.what());
    }
}

bool Worker::submit(Job job)
{
    {
        std::lock_guard lock(mutex_);
        if (jobs_.size() + running_ + done_.size() >= capacity_)
            return false;
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
}

std::size_t Worker::pending() const
{
    std::lock_guard lock(mutex_);
    return jobs_.size() + running_ + done_.size();
}

void Worker::serve()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_)
            return;
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        running_++;
        lock.unlock();
        Finish finish;
        try {
            finish = job();
        } catch (const std::exception &e) {
            spdlog::error("{}: {}", name_, e.what());
        } catch (...) {
            spdlog::error("{}: failed with an exception that is not a std::exception", name_);
        }
        job = nullptr; // what it held goes now, on this thread
        lock.lock();
        running_--;
        if (!finish)
            continue;
        done_.push_back(std::move(finish));
        const std::uint64_t one = 1;
        // An eventfd's counter takes 2^64-2 wakes before a write fails: it cannot here.
        if (::write(done_fd_.get(), &one, sizeof one) != sizeof one)
            spdlog::error("{}: could not wake the event loop: {}", name_, std::strerror(errno));
    }
}

void Worker::hand_back()
{
    std::uint64_t count;
    if (::read(done_fd_.get(), &count, sizeof count) < 0 && errno != EAGAIN)
        throw SystemError(errno, "read the eventfd of " + name_);
    std::deque<Finish> done;
    {
        std::lock_guard lock(mutex_);
        done.swap(done_);
    }
    // Each result on its own: one that throws is logged and the others are handed back still.
    for (Finish &finish : done) {
        try {
            finish();
        } catch (const std::exception &e) {
            spdlog::error("{}: {}", name_, e.what());
        }
    }
}

} // namespace ratelimit
