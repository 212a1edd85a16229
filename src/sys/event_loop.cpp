// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sys/event_loop.hpp"

#include <sys/epoll.h>

#include <time.h>

#include <cerrno>
#include <exception>

#include <spdlog/spdlog.h>

#include "sys/error.hpp"

namespace ratelimit
{

namespace
{

// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID cannot fail for the calling thread).
std::chrono::nanoseconds thread_cpu_time()
{
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

} // namespace

EventLoop::EventLoop() : epoll_(check(epoll_create1(EPOLL_CLOEXEC), "create epoll instance")) {}

void EventLoop::watch(int fd, std::string name, Handler handler, std::uint32_t events)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    check(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "watch " + name);
    watched_[fd] = {std::move(name), std::move(handler)};
}

void EventLoop::modify(int fd, std::uint32_t events)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    check(epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev),
          "change the events of fd " + std::to_string(fd));
}

void EventLoop::forget(int fd)
{
    if (watched_.erase(fd))
        check(epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr),
              "stop watching fd " + std::to_string(fd));
}

void EventLoop::run()
{
    running_ = true;
    epoll_event events[16];
    while (running_) {
        int n = epoll_wait(epoll_.get(), events, 16, -1);
        if (n < 0 && errno == EINTR)
            continue;
        check(n, "wait for events");
        for (int i = 0; i < n && running_; i++) {
            auto it = watched_.find(events[i].data.fd);
            if (it == watched_.end())
                continue;
            const Watched watched = it->second; // a handler may forget its own fd
            const auto started = std::chrono::steady_clock::now();
            const auto started_on_cpu = thread_cpu_time();
            try {
                watched.handler(events[i].events);
            } catch (const std::exception &e) {
                spdlog::error("{}: {}", watched.name, e.what());
            } catch (...) {
                spdlog::error("{}: failed with an exception that is not a std::exception",
                              watched.name);
            }
            note_duration(watched.name, std::chrono::steady_clock::now() - started,
                          thread_cpu_time() - started_on_cpu);
        }
    }
}

void EventLoop::note_duration(const std::string &name, std::chrono::nanoseconds took,
                              std::chrono::nanoseconds on_cpu)
{
    std::lock_guard lock(longest_mutex_);
    if (took > longest_.took) {
        longest_.took = took;
        longest_.name = name;
    }
    if (on_cpu > longest_.on_cpu) {
        longest_.on_cpu = on_cpu;
        longest_.on_cpu_name = name;
    }
}

EventLoop::Stall EventLoop::longest_stall() const
{
    std::lock_guard lock(longest_mutex_);
    return longest_;
}

} // namespace ratelimit
