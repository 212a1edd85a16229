// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitd: loads (or adopts) the data path, keeps its rules equal to the config plus the
// runtime rules, attaches it to the configured interfaces, and serves signals and timers from
// one event loop.

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/system.hpp"
#include "datapath/datapath.hpp"
#include "datapath/xdp_link.hpp"
#include "state/runtime_store.hpp"

namespace ratelimit
{

struct ReloadResult {
    WallClock::time_point when{};
    bool ok = true;
    std::string message;
};

class Daemon
{
  public:
    Daemon(std::string config_path, config::Config config);
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;

    // Serves until SIGTERM or SIGINT; then detaches, unless the config keeps the program.
    void run();

    // Re-reads and applies the config file; an invalid file changes nothing.
    ReloadResult reload();

  private:
    void start();
    void apply_rules(const char *why);
    void expire_runtime_rules();
    void arm_expiry_timer();
    void on_signal();
    void shut_down();
    std::string summary() const;

    std::string config_path_;
    config::Config config_;
    std::string pin_root_; // pin_dir/vN
    std::unique_ptr<InstanceLock> lock_;
    RuntimeStore store_;
    std::vector<RuntimeRule> runtime_;
    std::unique_ptr<Datapath> dp_;
    std::vector<XdpLink> links_;
    EventLoop loop_;
    UniqueFd signals_, expiry_timer_;
    ReloadResult last_reload_;
};

// Whether an interface of that name exists in this network namespace.
bool interface_exists(const std::string &name);

} // namespace ratelimit
