// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The control socket's commands (control/protocol.hpp lists them, control/results.hpp their
// results), run on the daemon's event loop: they read the daemon's state and the data path's
// maps, and change runtime rules only through Daemon::replace_runtime_rules, after their
// arguments have been validated, so a refused request changes nothing. A command that reads a
// whole map of sources (top) is deferred to the control socket's worker, off the loop, with what
// it needs copied; status takes the tracked sources from their background count.

#include <string>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "control/results.hpp"
#include "control/server.hpp"
#include "daemon/daemon.hpp"

namespace ratelimit
{

class Commands
{
  public:
    explicit Commands(Daemon &daemon) : daemon_(daemon) {}

    // The result of `request` from `peer`; throws control::RequestError to refuse it. Every
    // change is logged with the peer's uid and pid and what it changed.
    control::Server::Reply run(const control::Request &request, const control::Server::Peer &peer);

  private:
    control::StatusResult status() const;
    control::ListResult list() const;
    control::RuleChangeResult add_runtime_rule(const control::RuntimeRuleArgs &args,
                                               const std::string &who);
    control::UnsetResult unset(const control::UnsetArgs &args, const std::string &who);
    control::ShowResult show(const control::ShowArgs &args) const;
    control::StatsResult stats() const;
    control::FlushResult flush(const control::FlushArgs &args, const std::string &who);
    control::ReloadCommandResult reload(const std::string &who);

    void commit(std::vector<RuntimeRule> rules);
    const Rule *config_rule(const Prefix &prefix) const;
    const RuntimeRule *runtime_rule(const Prefix &prefix) const;

    Daemon &daemon_;
};

} // namespace ratelimit
