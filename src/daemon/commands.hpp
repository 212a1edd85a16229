// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The control socket's commands (control/protocol.hpp lists them with their results), run on the
// daemon's event loop: they read the daemon's state and the data path's maps, and change
// runtime rules only through Daemon::replace_runtime_rules, after their arguments have been
// validated, so a refused request changes nothing.

#include <chrono>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "daemon/daemon.hpp"

namespace ratelimit
{

class Commands
{
  public:
    explicit Commands(Daemon &daemon) : daemon_(daemon) {}

    // The result of `request`; throws control::RequestError to refuse it.
    nlohmann::json run(const control::Request &request);

  private:
    nlohmann::json status() const;
    nlohmann::json list() const;
    nlohmann::json add_runtime_rule(const control::RuntimeRuleArgs &args);
    nlohmann::json unset(const control::UnsetArgs &args);
    nlohmann::json show(const control::ShowArgs &args) const;
    nlohmann::json top(const control::TopArgs &args);
    nlohmann::json stats() const;
    nlohmann::json flush(const control::FlushArgs &args);
    nlohmann::json reload();

    void commit(std::vector<RuntimeRule> rules);
    const config::Rule *config_rule(const Prefix &prefix) const;
    const RuntimeRule *runtime_rule(const Prefix &prefix) const;

    // The traffic of the sources the last `top` reported, to tell their rates the next time.
    struct TopSample {
        std::chrono::steady_clock::time_point taken;
        std::map<Address, rl_source_counters> traffic;
    };

    Daemon &daemon_;
    std::optional<TopSample> last_top_;
};

} // namespace ratelimit
