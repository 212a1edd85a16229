// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitd: loads (or adopts) the data path, keeps its rules equal to the config plus the
// runtime rules, attaches it to the configured interfaces, and serves signals, timers and the
// control socket from one event loop.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "control/server.hpp"
#include "sys/event_loop.hpp"
#include "daemon/system.hpp"
#include "datapath/datapath.hpp"
#include "datapath/source_count.hpp"
#include "datapath/xdp_link.hpp"
#include "metrics/exporter.hpp"
#include "metrics/reload_counts.hpp"
#include "state/bans.hpp"
#include "state/reconcile.hpp"
#include "state/runtime_store.hpp"
#include "state/state_file.hpp"

namespace ratelimit
{

class Commands;

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

    // Re-reads and applies the config file (SIGHUP, ratelimitctl reload); an invalid file changes
    // nothing.
    ReloadResult reload();

    // Makes `rules` the runtime rules: stored in the state directory first, then enforced. A
    // file that cannot be written does not stop them from being enforced: runtime_rules_saved()
    // then says why, and the daemon writes the file again later. Throws RulesFull,
    // changing nothing, if they do not fit the rule table.
    void replace_runtime_rules(std::vector<RuntimeRule> rules);

    // What the control commands report.
    const std::string &config_path() const { return config_path_; }
    const config::Config &config() const { return config_; }
    const std::vector<RuntimeRule> &runtime_rules() const { return runtime_; }
    const Datapath &datapath() const { return *dp_; }
    TrackedSourceCount &tracked_sources() const { return *tracked_; }
    const EventLoop &loop() const { return loop_; }
    const std::vector<XdpLink> &links() const { return links_; }
    // The names of the named rules, by slot, as of the last change of the rules.
    const std::map<std::uint32_t, std::string> &named_rule_slots() const
    {
        return named_rule_slots_;
    }
    const ReloadResult &last_reload() const { return last_reload_; }
    const PinMount &pins() const { return pins_; }
    const SaveStatus &runtime_rules_saved() const { return runtime_saved_; }
    // Every file of the state directory, runtime rules first.
    std::vector<SaveStatus> state_files() const
    {
        return {runtime_saved_, reload_counts_saved_, bans_saved_};
    }
    // Lifts the ban of `address`: the ban in force lifted, or nullopt if it had none. Its
    // offences are forgotten with it.
    std::optional<BanEntry> unban(const Address &address);
    std::chrono::steady_clock::duration uptime() const
    {
        return std::chrono::steady_clock::now() - started_;
    }

  private:
    // A reload's result and the line that logs it, which reload() writes once it is counted.
    struct ReloadOutcome {
        ReloadResult result;
        std::string log_line;
    };

    // The start's steps, in order.
    void start();
    void claim_instance(); // the runtime directory, the one-instance lock, the runtime rules
    void open_datapath();  // bpffs, the pinned maps and program: adopted, or created
    void start_metrics();
    void attach_interfaces();
    void watch_signals_and_timers();
    void open_control_socket();
    ReloadOutcome load_and_apply_config();
    // Puts the config's rules and the runtime rules in force, publishes the figures and returns
    // the line to log.
    std::string apply_rules(const char *why);
    // Writes the settings flags for the config and the runtime rules (rules_ban_ says whether
    // one of them bans). RL_SETTINGS_BANS is kept with `keep_bans` (while the rules installed may
    // still ban), so that it is set before a rule that bans is installed and cleared only once
    // none is and rld_bans is empty.
    void update_settings(bool keep_bans);
    // After `plan` is applied: publishes the figures and returns the line to log.
    std::string rules_in_force(const ReconcilePlan &plan, const char *why);
    void expire_runtime_rules();
    void arm_expiry_timer();
    // Writes every state file that is behind the state in force. A write that fails is logged,
    // shown by status and metrics, and retried on the save timer with backoff; never fatal.
    void save_state();
    // Writes `file` with `write` unless it is saved already; false if the write failed.
    bool save_file(SaveStatus &file, const std::function<void()> &write);
    void retry_saves();
    void arm_save_timer(std::chrono::seconds delay); // zero disarms it
    // Bans: restored from the file at a cold start, swept a slice at a time on a timer, and
    // written to the file after a pass that found them changed.
    void restore_bans_at_cold_start();
    void sweep_bans();
    void save_bans();
    void on_signal();
    void shut_down();
    std::string summary() const;
    void count_reload(const ReloadResult &result);
    metrics::DaemonFigures metric_figures() const;
    void publish_metric_figures();

    std::string config_path_;
    config::Config config_;
    PinLayout pins_layout_;
    PinMount pins_;
    std::unique_ptr<InstanceLock> lock_;
    RuntimeStore store_;
    SaveStatus runtime_saved_; // of store_
    std::vector<RuntimeRule> runtime_;
    bool rules_ban_ = false; // whether a rule of config_ or runtime_ bans (update_settings)
    std::map<std::uint32_t, std::string> named_rule_slots_; // publish_metric_figures
    EventLoop loop_; // before what watches it and what reads how long it was held (metrics_)
    std::unique_ptr<Datapath> dp_;
    std::unique_ptr<TrackedSourceCount> tracked_; // after dp_, which it counts
    std::vector<XdpLink> links_;
    metrics::ReloadCountFile reload_count_file_;
    SaveStatus reload_counts_saved_; // of reload_count_file_
    BanFile ban_file_;
    SaveStatus bans_saved_;               // of ban_file_
    std::unique_ptr<BanSweeper> sweeper_; // after dp_
    BanSweeper::Found bans_found_;        // by the last full pass, which the file keeps
    metrics::ReloadCounts reloads_;
    WallClock::time_point config_loaded_{};      // at start, or by the last successful reload
    std::unique_ptr<metrics::Exporter> metrics_; // after dp_: stopped before the maps close
    UniqueFd signals_, expiry_timer_, save_timer_, ban_timer_;
    unsigned save_retries_ = 0; // of the writes failing now
    bool save_retry_armed_ = false;
    bool keep_attached_this_exit_ = false; // SIGUSR2: keep_attached_on_exit for this stop only
    ReloadResult last_reload_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::unique_ptr<Commands> commands_;
    std::unique_ptr<control::Server> control_; // after loop_ and commands_: destroyed before them
};

} // namespace ratelimit
