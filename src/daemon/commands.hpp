// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The control socket's commands (control/protocol.hpp lists them, control/results.hpp their
// results), run on the daemon's event loop: they read the daemon's state and the data path's
// maps, and change runtime rules only through Daemon::replace_runtime_rules, after their
// arguments have been validated, so a refused request changes nothing. A command that reads a
// whole map of sources (top) is deferred to the control socket's worker, off the loop, with what
// it needs copied; status takes the tracked sources from their background count.

#include <map>
#include <string>
#include <vector>

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

    // Drops what the peer's connection held: the parts of an apply it did not finish.
    void connection_closed(const control::Server::Peer &peer) noexcept;

  private:
    control::StatusResult status() const;
    control::ListResult list() const;
    control::RuleChangeResult add_runtime_rule(const control::RuntimeRuleArgs &args,
                                               const std::string &who);
    control::UnsetResult unset(const control::UnsetArgs &args, const std::string &who);
    control::ShowResult show(const control::ShowArgs &args) const;
    control::FlushResult flush(const control::FlushArgs &args, const std::string &who);
    control::ReloadCommandResult reload(const std::string &who);
    control::ApplyResult apply(const nlohmann::json &args, const control::Server::Peer &peer);
    control::AppliedChanges apply_changes(const std::vector<control::ApplyChange> &changes,
                                          const std::string &who);
    control::BansResult bans() const;
    control::UnbanResult unban(const control::UnbanArgs &args, const std::string &who);

    void commit(std::vector<RuntimeRule> rules);
    const Rule *config_rule(const RuleRef &rule) const;
    const RuntimeRule *runtime_rule(const RuleRef &rule) const;

    // The parts of an apply received so far on one connection.
    struct Transaction {
        std::uint64_t parts = 0;
        std::vector<control::ApplyChange> changes;
    };

    Daemon &daemon_;
    std::map<std::uint64_t, Transaction> transactions_; // by connection
    std::size_t held_changes_ = 0;                      // in all of them
};

} // namespace ratelimit
