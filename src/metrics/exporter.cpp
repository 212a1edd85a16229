// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "metrics/exporter.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <span>
#include <stdexcept>

#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include "datapath/inspect.hpp"
#include "datapath/xdp_link.hpp"
#include "sys/error.hpp"
#include "sys/worker.hpp"
#include "metrics/exposition.hpp"
#include "metrics/http_server.hpp"
#include "net/endpoint.hpp"
#include "policy/names.hpp"
#include "state/bans.hpp"

namespace ratelimit::metrics
{

namespace
{

// The config has checked `listen`.
Endpoint endpoint_of(const std::string &listen)
{
    auto parsed = parse_endpoint(listen);
    if (!parsed.endpoint)
        throw std::invalid_argument("metrics.listen: \"" + listen + "\" " + parsed.problem);
    return std::move(*parsed.endpoint);
}

std::uint32_t program_id(int prog_fd)
{
    bpf_prog_info info{};
    std::uint32_t length = sizeof(info);
    check(bpf_obj_get_info_by_fd(prog_fd, &info, &length), "read the id of the XDP program");
    return info.id;
}

// A scrape may wait this long for a count of the tracked sources made after it asked: a million
// take about 0.1 s, and a scraper's timeout is seconds.
constexpr std::chrono::milliseconds kTrackedSourcesWait{500};

} // namespace

Exporter::Exporter(const std::string &listen, Live live, DaemonFigures figures)
    : live_(live), figures_(std::move(figures))
{
    const SignalsBlocked for_the_new_threads;
    server_ = std::make_unique<BoundedHttpServer>();
    server_->Get("/metrics", [this](const httplib::Request &, httplib::Response &response) {
        try {
            response.set_content(scrape(), kContentType);
        } catch (const std::exception &e) {
            spdlog::warn("metrics: scrape failed: {}", e.what());
            response.status = 500;
            response.set_content(std::string("scrape failed: ") + e.what() + "\n",
                                 "text/plain; charset=utf-8");
        }
    });

    const Endpoint address = endpoint_of(listen);
    errno = 0;
    if (!server_->bind_to_port(address.host, address.port))
        throw std::runtime_error("metrics.listen: cannot listen on " + listen +
                                 (errno ? std::string(": ") + std::strerror(errno) : ""));
    listener_ = std::thread([this] {
        if (!server_->listen_after_bind())
            spdlog::error("metrics: the HTTP server stopped accepting connections");
        listener_ended_ = true;
    });
    // httplib 0.11's stop() does nothing until the server runs: wait for that, so that the
    // destructor's stop() always ends the listener.
    while (!server_->is_running() && !listener_ended_)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

Exporter::~Exporter()
{
    server_->stop();
    listener_.join();
}

void Exporter::publish(DaemonFigures figures)
{
    std::lock_guard lock(mutex_);
    figures_ = std::move(figures);
}

void Exporter::read_active_bans(KernelFigures &kernel) const
{
    const BanClock clock = BanClock::now();
    live_.dp.bans().for_each([&](const rl_source_key &, const rl_ban &ban) {
        if (static_cast<std::int64_t>(ban.until - clock.monotonic_ns) > 0)
            kernel.active_bans++;
    });
}

void Exporter::read_rule_counts(const DaemonFigures &daemon, KernelFigures &kernel) const
{
    // One pass over the per-rule counters, by name ("" for the unnamed), collecting on the way
    // the slots that started or refused a ban.
    std::map<std::uint32_t, RuleBans> bans;
    const auto by_name = rule_counts_by_name(
        live_.dp, daemon.named_rule_slots, [&](std::uint32_t slot, const rl_rule_counts &total) {
            if (total.bans_started || total.bans_refused)
                bans[slot] = {{}, total.bans_started, total.bans_refused};
        });
    for (const auto &[name, cells] : by_name)
        for_each_rule_outcome(
            cells, [&](rl_reason reason, rl_verdict verdict, const rl_counter &counted) {
                kernel.rule_counters.push_back({name, std::string(name_of(kVerdictNames, verdict)),
                                                std::string(name_of(kReasonNames, reason)),
                                                counted.packets, counted.bytes});
            });
    // Bans are labelled by the rule's prefix, which only the trie knows: it is walked only when
    // some rule has banned, not on every scrape.
    if (!bans.empty()) {
        const auto names = rule_names(live_.dp);
        for (auto &[slot, rule] : bans)
            if (auto name = names.find(slot); name != names.end()) {
                rule.rule = name->second.to_string();
                kernel.bans.push_back(std::move(rule));
            }
    }
}

std::string Exporter::scrape() const
{
    DaemonFigures daemon;
    {
        std::lock_guard lock(mutex_);
        daemon = figures_;
    }
    std::vector<std::string> names;
    for (const auto &interface : daemon.interfaces)
        names.push_back(interface.name);
    KernelFigures kernel;
    const Datapath &dp = live_.dp;
    for (const CounterRow &row : read_counters(dp, names))
        kernel.counters.push_back({row.interface, std::string(name_of(kVerdictNames, row.verdict)),
                                   std::string(name_of(kReasonNames, row.reason)),
                                   row.counted.packets, row.counted.bytes});
    kernel.tracked_sources = live_.tracked_sources.figure(kTrackedSourcesWait).count;
    kernel.loop_longest_stall = live_.loop.longest_stall().took;
    const TablePressure table = live_.dp.table_pressure(kernel.tracked_sources);
    kernel.source_admissions = table.admitted;
    kernel.source_admissions_refused = table.refused;
    kernel.source_evictions = table.evictions;
    kernel.admission_filter_fill = table.filter_fill;
    kernel.tat_sketch_fill = table.sketch_fill;
    read_active_bans(kernel);
    read_rule_counts(daemon, kernel);
    for (std::uint32_t slot = 0; slot < daemon.interfaces.size(); slot++) {
        const AttachedInterface &interface = daemon.interfaces[slot];
        const XdpAttachment found = query_xdp(interface.ifindex);
        const bool ours = found.prog_id == program_id(dp.program_fd(slot));
        kernel.xdp.push_back({interface.name, found.mode, ours});
    }
    return render(metric_families(RATELIMITD_VERSION, daemon, kernel));
}

} // namespace ratelimit::metrics
