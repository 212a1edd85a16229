// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon/daemon.hpp"

#include <malloc.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "daemon/commands.hpp"
#include "daemon/host_check.hpp"
#include "json/reader.hpp"
#include "policy/names.hpp"
#include "state/desired.hpp"
#include "state/map_rule_table.hpp"
#include "sys/files.hpp"
#include "sys/time.hpp"

namespace ratelimit
{

namespace
{

// Hands back to the kernel what reading a config freed: a config of 100,000 rules takes some
// 60 MiB while it is read, which malloc would otherwise keep in the daemon's resident set.
void release_freed_memory()
{
    ::malloc_trim(0); // returns whether it released any; either way there is nothing to do
}

std::string runtime_dir(const config::Config &config)
{
    return std::filesystem::path(config.control.socket).parent_path().string();
}

// Fields that shape what was loaded and attached take a restart: `next` keeps the running
// values of those, and the names of the ones it wanted to change are returned.
std::vector<std::string> keep_restart_only_fields(const config::Config &running,
                                                  config::Config &next)
{
    std::vector<std::string> changed;
    auto keep = [&](const char *name, auto field) {
        if (!(running.*field == next.*field)) {
            changed.push_back(name);
            next.*field = running.*field;
        }
    };
    keep("interfaces", &config::Config::interfaces);
    keep("max_sources", &config::Config::max_sources);
    keep("max_rules", &config::Config::max_rules);
    keep("max_prefixes", &config::Config::max_prefixes);
    keep("max_bans", &config::Config::max_bans);
    keep("pin_dir", &config::Config::pin_dir);
    keep("state_dir", &config::Config::state_dir);
    keep("control", &config::Config::control);
    keep("metrics", &config::Config::metrics);
    return changed;
}

// The reload counts live as long as the packet counters do (in the pinned maps): kept with maps a
// daemon adopts, zero with maps it creates. A file that cannot be read costs only the counts.
metrics::ReloadCounts adopted_reload_counts(const metrics::ReloadCountFile &file)
{
    try {
        return file.load();
    } catch (const std::exception &e) {
        spdlog::warn("{}; ratelimitd_config_reloads_total starts again from zero", e.what());
        return {};
    }
}

// The attach mode the kernel reports, for the log: a failed query is no reason to stop.
std::string xdp_mode_for_log(const XdpLink &link)
{
    try {
        return link.kernel_mode();
    } catch (const SystemError &e) {
        return std::string("mode unknown: ") + e.what();
    }
}

// Entries of the bans map visited per tick of the ban timer (a few system calls each).
constexpr std::size_t kBanSweepSlice = 4096;
constexpr std::chrono::seconds kBanSweepInterval{1};

bool same_bans(const BanSweeper::Found &a, const BanSweeper::Found &b)
{
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0);
}

void remove_empty_dir(const std::string &dir)
{
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
        spdlog::warn("could not remove {}: {}", dir, std::strerror(errno));
}

} // namespace

Daemon::Daemon(std::string config_path, config::Config config)
    : config_path_(std::move(config_path)), config_(std::move(config)),
      pins_layout_(config_.pin_dir), store_(config_.state_dir + "/runtime-rules.json"),
      runtime_saved_(store_.path()), reload_count_file_(config_.state_dir + "/metrics-state.json"),
      reload_counts_saved_(reload_count_file_.path()), ban_file_(config_.state_dir + "/bans.json"),
      bans_saved_(ban_file_.path())
{
    start();
}

Daemon::~Daemon() = default; // here, where Commands is a complete type

void Daemon::start()
{
    claim_instance();
    open_datapath();
    start_metrics();
    // Rules first, then attach: a program that appears on an interface is already configured.
    spdlog::info("{}", apply_rules("start"));
    restore_bans_at_cold_start();
    attach_interfaces();
    watch_signals_and_timers();
    last_reload_ = {WallClock::now(), true, "started"};
    config_loaded_ = last_reload_.when;
    publish_metric_figures();
    // Last: a client that can connect finds the program attached and its rules in force.
    open_control_socket();
}

void Daemon::claim_instance()
{
    raise_open_files_limit();
    make_directories(runtime_dir(config_), 0755);
    lock_ = std::make_unique<InstanceLock>(runtime_dir(config_) + "/ratelimitd.lock");
    runtime_ = store_.load();
    if (auto clashes = name_clashes(config_, runtime_, Changed::Config); !clashes.empty())
        throw std::runtime_error(config_path_ + " and " + store_.path() + ": " +
                                 join_errors(clashes));
}

void Daemon::open_datapath()
{
    pins_ = ensure_bpffs(config_.pin_dir);
    if (!pins_.outlives_daemon)
        spdlog::warn("pins will not outlive the daemon: {}", pins_.warning);
    make_directories(pins_layout_.maps_dir(), 0700);
    make_directories(pins_layout_.links_dir(), 0700);
    DatapathOptions options;
    options.max_sources = config_.max_sources;
    options.max_rules = config_.max_rules;
    options.max_prefixes = config_.max_prefixes;
    options.max_bans = config_.max_bans;
    options.programs = static_cast<std::uint32_t>(config_.interfaces.size());
    options.pins = pins_layout_;
    dp_ = std::make_unique<Datapath>(options);
    tracked_ = std::make_unique<TrackedSourceCount>(*dp_);
    spdlog::info("data path {} (maps pinned in {})",
                 dp_->adopted() ? "adopted with its rules, buckets and counters" : "created",
                 pins_layout_.maps_dir());
    if (dp_->adopted())
        reloads_ = adopted_reload_counts(reload_count_file_);
    sweeper_ = std::make_unique<BanSweeper>(*dp_);
}

// Adopted maps hold the bans already; new ones get those of the file, which a daemon writes
// while it runs: a reboot or a cold start keeps them.
void Daemon::restore_bans_at_cold_start()
{
    if (dp_->adopted())
        return;
    try {
        const auto entries = ban_file_.load(config_.max_bans);
        const std::size_t restored = restore_bans(*dp_, entries, BanClock::now());
        update_settings(false);
        if (!entries.empty())
            spdlog::info("bans: {} of {} in {} restored (the others are over or their rules "
                         "gone)",
                         restored, entries.size(), ban_file_.path());
    } catch (const std::exception &e) {
        // The file stays as it is until the next pass that finds bans writes it anew.
        spdlog::error("bans not restored: {}", e.what());
    }
}

void Daemon::sweep_bans()
{
    drain_timer(ban_timer_.get(), "the ban timer");
    auto found = sweeper_->step(kBanSweepSlice, BanClock::now().monotonic_ns);
    update_settings(false); // the last ban may have gone
    if (!found || same_bans(*found, bans_found_))
        return;
    bans_found_ = std::move(*found);
    bans_saved_.changed();
    save_state();
}

void Daemon::save_bans()
{
    const BanClock clock = BanClock::now();
    const auto names = rule_names(*dp_);
    std::vector<BanEntry> entries;
    for (const auto &[key, ban] : bans_found_)
        entries.push_back(ban_entry(key, ban, clock, names));
    ban_file_.save(entries);
}

std::optional<BanEntry> Daemon::unban(const Address &address)
{
    const rl_source_key key = address.key();
    auto bans = dp_->bans();
    const BanClock clock = BanClock::now();
    auto ban = bans.lookup(key);
    bans.erase(key);      // a ban over, remembered for its repeat window, is forgotten too
    dp_->publish_rules(); // sources drop their cached ban, CPUs their memo of it
    update_settings(false);
    if (!ban || static_cast<std::int64_t>(ban->until - clock.monotonic_ns) <= 0)
        return std::nullopt;
    return ban_entry(key, *ban, clock, rule_names(*dp_));
}

void Daemon::start_metrics()
{
    // Before anything is attached: an address in use fails the start with no interface touched.
    if (config_.metrics.enabled) {
        metrics_ = std::make_unique<metrics::Exporter>(
            config_.metrics.listen, metrics::Exporter::Live{*dp_, *tracked_, loop_},
            metric_figures());
        spdlog::info("metrics on http://{}/metrics", config_.metrics.listen);
    }
}

void Daemon::attach_interfaces()
{
    for (std::uint32_t slot = 0; slot < config_.interfaces.size(); slot++) {
        const auto &iface = config_.interfaces[slot];
        links_.push_back(XdpLink::attach(dp_->program_fd(slot), iface.name, iface.xdp_mode,
                                         pins_layout_.link(iface.name)));
        spdlog::info("{}: {} in {} mode", iface.name,
                     links_.back().adopted() ? "program swapped into the pinned link" : "attached",
                     links_.back().kernel_mode());
    }
}

void Daemon::watch_signals_and_timers()
{
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGUSR2})
        sigaddset(&mask, sig);
    check(sigprocmask(SIG_BLOCK, &mask, nullptr), "block signals");
    signals_.reset(check(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK), "create signalfd"));
    loop_.watch(signals_.get(), "signals", [this](std::uint32_t) { on_signal(); });
    expiry_timer_.reset(check(timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK),
                              "create the expiry timer"));
    loop_.watch(expiry_timer_.get(), "the runtime rules' expiry timer",
                [this](std::uint32_t) { expire_runtime_rules(); });
    save_timer_.reset(check(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                            "create the state save timer"));
    loop_.watch(save_timer_.get(), "the state save timer",
                [this](std::uint32_t) { retry_saves(); });
    arm_expiry_timer();
    ban_timer_.reset(
        check(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), "create the ban timer"));
    loop_.watch(ban_timer_.get(), "the ban timer", [this](std::uint32_t) { sweep_bans(); });
    itimerspec every{to_timespec(kBanSweepInterval), to_timespec(kBanSweepInterval)};
    check(timerfd_settime(ban_timer_.get(), 0, &every, nullptr), "arm the ban timer");
}

void Daemon::open_control_socket()
{
    commands_ = std::make_unique<Commands>(*this);
    control_ = std::make_unique<control::Server>(
        loop_, config_.control,
        [this](const control::Request &request, const control::Server::Peer &peer) {
            return commands_->run(request, peer);
        },
        [this](const control::Server::Peer &peer) { commands_->connection_closed(peer); });
}

std::string Daemon::apply_rules(const char *why)
{
    DatapathRuleTable table(*dp_);
    rules_ban_ = rules_ban(config_, runtime_);
    update_settings(true);
    const ReconcilePlan plan = reconcile(config_, runtime_, table, WallClock::now());
    update_settings(false);
    return rules_in_force(plan, why);
}

void Daemon::update_settings(bool keep_bans)
{
    const std::uint32_t current = dp_->settings_flags();
    // rld_bans is looked at last: finding it empty walks all its buckets.
    const bool bans =
        rules_ban_ || (keep_bans && (current & RL_SETTINGS_BANS)) || !dp_->bans().empty();
    const std::uint32_t flags = desired_settings_flags(config_, bans);
    if (flags != current)
        dp_->set_settings_flags(flags); // a new generation: only when they change
}

std::string Daemon::rules_in_force(const ReconcilePlan &plan, const char *why)
{
    publish_metric_figures();
    return fmt::format("rules ({}): {} in force: {} added, {} changed, {} removed, {} unchanged",
                       why, plan.added + plan.changed + plan.unchanged, plan.added, plan.changed,
                       plan.removed, plan.unchanged);
}

void Daemon::replace_runtime_rules(std::vector<RuntimeRule> rules)
{
    DatapathRuleTable table(*dp_);
    const ReconcilePlan plan = plan_rules(config_, rules, table, WallClock::now());
    runtime_ = std::move(rules);
    // Stored before enforced: a rule in force is never lost by a crash or restart, unless the
    // file cannot be written. Then the rules are enforced all the same: a deny an operator needs
    // now matters more than its surviving a restart, and status says it is not saved.
    runtime_saved_.changed();
    save_state();
    rules_ban_ = rules_ban(config_, runtime_);
    update_settings(true);
    apply(plan, table);
    update_settings(false);
    spdlog::info("{}", rules_in_force(plan, "runtime rules"));
    arm_expiry_timer();
}

void Daemon::run()
{
    notify_systemd("READY=1\nSTATUS=" + summary());
    spdlog::info("ready: {}", summary());
    release_freed_memory();
    loop_.run();
    notify_systemd("STOPPING=1");
    metrics_.reset(); // no scrape sees the interfaces half detached
    // The bans as they are now, for a cold start (a restart that adopts the maps has them).
    if (auto found = BanSweeper(*dp_).step(SIZE_MAX, BanClock::now().monotonic_ns))
        bans_found_ = std::move(*found);
    bans_saved_.changed();
    save_file(bans_saved_, [this] { save_bans(); });
    shut_down();
}

ReloadResult Daemon::reload()
{
    notify_systemd("RELOADING=1");
    auto [result, log_line] = load_and_apply_config();
    last_reload_ = result;
    // Counted and published before it is logged, and so before the control socket answers: a
    // reader who saw the log line or the answer finds the figures of this reload.
    count_reload(last_reload_);
    if (last_reload_.ok)
        spdlog::info("{}", log_line);
    else
        spdlog::error("{}", log_line);
    notify_systemd("READY=1\nSTATUS=" + summary());
    release_freed_memory();
    return last_reload_;
}

Daemon::ReloadOutcome Daemon::load_and_apply_config()
{
    auto parsed = load_config_for_host(config_path_);
    if (!parsed.value) {
        const std::string message = join_errors(parsed.errors);
        return {{WallClock::now(), false, message},
                "reload refused, running rules kept: " + message};
    }
    config::Config next = *parsed.value;
    if (auto clashes = name_clashes(next, runtime_, Changed::Config); !clashes.empty()) {
        const std::string message = join_errors(clashes);
        return {{WallClock::now(), false, message},
                "reload refused, running rules kept: " + message};
    }
    std::string outcome = "applied";
    if (auto kept = keep_restart_only_fields(config_, next); !kept.empty()) {
        std::string fields;
        for (const auto &f : kept)
            fields += (fields.empty() ? "" : ", ") + f;
        spdlog::warn("reload: {} changed; that takes a restart, the running values stay", fields);
        outcome += "; " + fields + " changed, which takes a restart: the running values stay";
    }
    config::Config previous = std::move(config_);
    config_ = std::move(next);
    try {
        // Only a changed log_level applies: one given with --log-level stays until then.
        if (config_.log_level != previous.log_level) {
            spdlog::set_level(spdlog::level::from_str(config_.log_level));
            spdlog::info("log level {}", config_.log_level);
        }
        std::string rules = apply_rules("reload");
        return {{WallClock::now(), true, outcome}, rules};
    } catch (const std::exception &e) {
        config_ = std::move(previous);
        rules_ban_ = rules_ban(config_, runtime_);
        update_settings(true); // the running config's mode, not the refused one's
        return {{WallClock::now(), false, e.what()},
                std::string("reload failed, running rules kept: ") + e.what()};
    }
}

void Daemon::expire_runtime_rules()
{
    drain_timer(expiry_timer_.get(), "the expiry timer");
    auto expired = drop_expired(runtime_, WallClock::now());
    // Armed for the next expiry first: should what follows fail, the later rules still expire.
    arm_expiry_timer();
    if (expired.empty())
        return;
    // Out of the maps at its expiry even if the file cannot be written: a restart before the
    // file catches up finds the rule expired in it too.
    runtime_saved_.changed();
    save_state();
    const std::string rules = apply_rules("expiry");
    // Logged once they are out of force: a reader who sees the line finds them gone.
    for (const auto &r : expired)
        spdlog::info("runtime rule {} expired", r.rule.match.front().to_string());
    spdlog::info("{}", rules);
}

void Daemon::arm_expiry_timer()
{
    itimerspec when{};
    if (auto next = next_expiry(runtime_)) {
        when.it_value = to_timespec(*next);
        if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
            when.it_value.tv_nsec = 1; // zero would disarm it
    }
    check(timerfd_settime(expiry_timer_.get(), TFD_TIMER_ABSTIME, &when, nullptr),
          "arm the expiry timer");
}

void Daemon::save_state()
{
    const bool rules_saved = save_file(runtime_saved_, [this] { store_.save(runtime_); });
    const bool counts_saved =
        save_file(reload_counts_saved_, [this] { reload_count_file_.save(reloads_); });
    const bool bans_saved = save_file(bans_saved_, [this] { save_bans(); });
    publish_metric_figures();
    if (rules_saved && counts_saved && bans_saved) {
        save_retries_ = 0;
        if (save_retry_armed_)
            arm_save_timer(std::chrono::seconds(0));
    } else if (!save_retry_armed_) {
        // A write failing on a request does not hasten the retries already planned.
        arm_save_timer(save_retry_delay(++save_retries_));
    }
}

bool Daemon::save_file(SaveStatus &file, const std::function<void()> &write)
{
    if (file.saved())
        return true;
    try {
        write();
    } catch (const std::exception &e) {
        file.failed(e.what());
        spdlog::error("{} not saved (failed writes: {}); the daemon runs on with what it holds "
                      "in memory and writes it again later: {}",
                      file.path(), file.failures(), e.what());
        return false;
    }
    if (!file.error().empty())
        spdlog::info("{} saved again", file.path());
    file.succeeded();
    return true;
}

void Daemon::retry_saves()
{
    drain_timer(save_timer_.get(), "the state save timer");
    save_retry_armed_ = false;
    save_state();
}

void Daemon::arm_save_timer(std::chrono::seconds delay)
{
    itimerspec when{};
    when.it_value = to_timespec(delay);
    check(timerfd_settime(save_timer_.get(), 0, &when, nullptr), "arm the state save timer");
    save_retry_armed_ = delay.count() > 0;
}

void Daemon::on_signal()
{
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo == SIGHUP) {
            spdlog::info("SIGHUP: reloading {}", config_path_);
            reload();
        } else if (info.ssi_signo == SIGUSR2) {
            // A restart that must keep protection (a package upgrade): the next daemon adopts.
            spdlog::info("SIGUSR2: stopping, keeping the program attached for the next daemon");
            keep_attached_this_exit_ = true;
            loop_.stop();
        } else {
            spdlog::info("signal {}: stopping", strsignal(static_cast<int>(info.ssi_signo)));
            loop_.stop();
        }
    }
}

void Daemon::shut_down()
{
    if (config_.keep_attached_on_exit || keep_attached_this_exit_) {
        spdlog::info("keeping the program attached and its maps pinned in {}", pins_layout_.root());
        return;
    }
    for (auto &link : links_)
        link.unpin();
    links_.clear(); // closing the last reference to each link detaches it
    dp_->unpin_maps();
    remove_empty_dir(pins_layout_.links_dir());
    remove_empty_dir(pins_layout_.maps_dir());
    remove_empty_dir(pins_layout_.root());
    spdlog::info("detached from {} interface(s) and removed the pins", config_.interfaces.size());
}

std::string Daemon::summary() const
{
    std::string ifaces;
    for (const auto &link : links_)
        ifaces +=
            (ifaces.empty() ? "" : ", ") + link.ifname() + " (" + xdp_mode_for_log(link) + ")";
    return std::to_string(config_.rules.size()) + " config rules, " +
           std::to_string(runtime_.size()) + " runtime rules, " +
           std::string(name_of(kModeNames, config_.mode)) + " mode on " + ifaces + "; metrics " +
           (metrics_ ? "on " + config_.metrics.listen : std::string("off"));
}

void Daemon::count_reload(const ReloadResult &result)
{
    if (result.ok) {
        reloads_.success++;
        config_loaded_ = result.when;
    } else {
        reloads_.failure++;
    }
    reload_counts_saved_.changed();
    save_state();
}

metrics::DaemonFigures Daemon::metric_figures() const
{
    metrics::DaemonFigures figures;
    figures.source_capacity = dp_->options().max_sources;
    figures.ban_capacity = dp_->options().max_bans;
    const auto desired = desired_rules(config_, runtime_, WallClock::now());
    figures.rules = metrics::rules_by_origin(desired);
    // The slots of the named rules, found by a prefix of theirs (read only if any is named).
    std::map<Prefix, std::string> named;
    for (const auto &rule : desired)
        if (!rule.name.empty())
            named.emplace(rule.prefixes.front(), rule.name);
    if (!named.empty())
        for (const auto &rule : installed_rules(*dp_))
            for (const auto &prefix : rule.prefixes)
                if (auto found = named.find(prefix); found != named.end())
                    figures.named_rule_slots[rule.index] = found->second;
    figures.reloads = reloads_;
    figures.last_reload_success = config_loaded_;
    figures.state_files = state_files();
    for (const auto &link : links_)
        figures.interfaces.push_back({link.ifname(), link.ifindex()});
    return figures;
}

void Daemon::publish_metric_figures()
{
    metrics::DaemonFigures figures = metric_figures();
    named_rule_slots_ = figures.named_rule_slots; // for ratelimitctl stats --rules too
    if (metrics_)
        metrics_->publish(std::move(figures));
}

} // namespace ratelimit
