// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// GET /metrics over HTTP (cpp-httplib) on threads of its own, so that a slow or stuck scraper
// never holds up the daemon's event loop. A scrape reads the data path's maps then and there (map
// reads are system calls, safe from any thread), the tracked sources from their background count
// and the event loop's longest stall (both made for reading from any thread), and takes the
// daemon's own figures from the copy the event loop last published, under a mutex: the HTTP
// threads touch no other daemon state.
// Any other path is 404. What any client may take of it is bounded: see http_server.hpp.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "datapath/datapath.hpp"
#include "datapath/source_count.hpp"
#include "sys/event_loop.hpp"
#include "metrics/figures.hpp"

namespace ratelimit::metrics
{

class BoundedHttpServer;

class Exporter
{
  public:
    // Listens on `listen` ("HOST:PORT", "[::1]:PORT", as the config validated it) and serves
    // until destroyed. Throws std::runtime_error naming the address if it cannot listen there.
    // What a scrape reads then and there; each must outlive the exporter.
    struct Live {
        const Datapath &dp;
        TrackedSourceCount &tracked_sources;
        const EventLoop &loop;
    };
    Exporter(const std::string &listen, Live live, DaemonFigures figures);
    // Stops listening, lets a scrape in progress finish, and joins the threads.
    ~Exporter();
    Exporter(const Exporter &) = delete;
    Exporter &operator=(const Exporter &) = delete;

    // Replaces the daemon's figures that the next scrape reports.
    void publish(DaemonFigures figures);

    // The exposition a scrape gets now.
    std::string scrape() const;

  private:
    // The bans in force, as rld_bans holds them now.
    void read_active_bans(KernelFigures &kernel) const;
    // What each named rule, and the unnamed ones together, judged, and the bans each rule started,
    // in one pass over the per-rule counters.
    void read_rule_counts(const DaemonFigures &daemon, KernelFigures &kernel) const;
    Live live_;
    mutable std::mutex mutex_;
    DaemonFigures figures_; // guarded by mutex_
    std::unique_ptr<BoundedHttpServer> server_;
    std::atomic<bool> listener_ended_{false};
    std::thread listener_;
};

} // namespace ratelimit::metrics
