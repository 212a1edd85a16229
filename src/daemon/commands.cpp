// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon/commands.hpp"

#include <algorithm>
#include <set>
#include <iterator>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "policy/units.hpp"
#include "datapath/inspect.hpp"
#include "datapath/xdp_link.hpp"
#include "state/bans.hpp"
#include "state/desired.hpp"
#include "state/reconcile.hpp"
#include "state/runtime_store.hpp"

namespace ratelimit
{

namespace
{

using control::ErrorCode;
using control::RequestError;
using nlohmann::json;

TrafficScore score_of(control::TopOrder order)
{
    switch (order) {
    case control::TopOrder::Drops:
        return dropped_packets;
    case control::TopOrder::Packets:
        return all_packets;
    case control::TopOrder::Bytes:
        return all_bytes;
    }
    throw std::invalid_argument("unknown top order");
}

// The config's "default", if it has one.
std::optional<control::DefaultLimits> default_limits(const config::Config &config)
{
    if (config.default_limits.empty())
        return std::nullopt;
    return control::DefaultLimits{config.default_limits};
}

// Whole seconds until `expires`, rounded up: a rule still in force has at least one left.
std::optional<std::int64_t> seconds_left(const std::optional<WallClock::time_point> &expires)
{
    if (!expires)
        return std::nullopt;
    const auto left = std::chrono::ceil<std::chrono::seconds>(*expires - WallClock::now());
    return std::max<std::int64_t>(left.count(), 0);
}

// What `args` adds, expiring its TTL after `now`.
RuntimeRule runtime_rule_of(const control::RuntimeRuleArgs &args, WallClock::time_point now)
{
    RuntimeRule added{args.rule, std::nullopt};
    if (args.ttl)
        added.expires = now + *args.ttl;
    return added;
}

// Why an unset of `rule` is refused: no runtime rule has that prefix or name (`configured`: a
// config rule has).
std::string no_runtime_rule(const RuleRef &rule, bool configured)
{
    const bool by_name = std::holds_alternative<std::string>(rule);
    return std::string(by_name ? "no runtime rule named \"" : "no runtime rule for ") +
           to_string(rule) + (by_name ? "\"" : "") +
           (configured ? " (it is a config rule: edit the config and reload)" : "");
}

// The list edit an apply change makes, a TTL counted from `now`.
RuntimeEdit edit_of(const control::ApplyChange &change, WallClock::time_point now)
{
    if (const auto *rule = std::get_if<control::RuntimeRuleArgs>(&change.edit))
        return runtime_rule_of(*rule, now);
    if (const auto *unset = std::get_if<control::UnsetArgs>(&change.edit))
        return std::visit([](const auto &rule) { return RuntimeEdit(rule); }, unset->rule);
    return RemoveAllRules{};
}

control::RuntimeRuleEntry runtime_entry(const RuntimeRule &runtime)
{
    return {runtime.rule,
            runtime.expires ? std::optional(format_utc(*runtime.expires)) : std::nullopt};
}

control::ActiveRuntimeRule active_rule(const RuntimeRule &runtime)
{
    return {runtime_entry(runtime), seconds_left(runtime.expires)};
}

// Whether a state file holds the state in force, and if not, why (the daemon retries).
control::StateFileStatus state_file_status(const SaveStatus &file)
{
    return {file.path(), file.saved(), file.failures(),
            file.saved() ? std::nullopt : std::optional(file.error())};
}

// Empty text as none.
std::optional<std::string> unless_empty(const std::string &text)
{
    return text.empty() ? std::nullopt : std::optional(text);
}

// The interfaces' names in attach-slot order, as read_counters takes them.
std::vector<std::string> interface_names(const std::vector<XdpLink> &links)
{
    std::vector<std::string> names;
    for (const auto &link : links)
        names.push_back(link.ifname());
    return names;
}

// "uid 1000 (pid 4242)": who asked for a change, for the log.
std::string who(const control::Server::Peer &peer)
{
    return "uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) + ")";
}

// The desired rule and the prefix of it that the program's longest-prefix match finds for
// `address`, if any.
std::optional<std::pair<DesiredRule, Prefix>> rule_for(const std::vector<DesiredRule> &desired,
                                                       const Address &address)
{
    std::optional<std::pair<DesiredRule, Prefix>> best;
    for (const auto &rule : desired)
        for (const auto &prefix : rule.prefixes)
            if (prefix.covers(address) && (!best || prefix.length > best->second.length))
                best.emplace(rule, prefix);
    return best;
}

// ", not by ::/8 (an IPv6 rule: it covers IPv6 sources only)" for an IPv4 address whose bits a
// (non-default) IPv6 rule's prefix holds; else nothing.
std::string ipv6_rule_note(const std::vector<DesiredRule> &desired, const Address &address)
{
    for (const auto &rule : desired)
        for (const auto &prefix : rule.prefixes)
            if (rule.origin != Origin::Default && address.is_v4() && !prefix.is_v4() &&
                prefix.contains(address))
                return ", not by " + prefix.to_string() +
                       " (an IPv6 rule: it covers IPv6 sources only)";
    return {};
}

control::BanInfo ban_info(const BanEntry &ban)
{
    const auto left = std::chrono::ceil<std::chrono::seconds>(ban.until - WallClock::now());
    return {ban.address,
            ban.rule,
            ban.scope,
            format_utc(ban.since),
            format_utc(ban.until),
            std::max<std::int64_t>(left.count(), 0),
            ban.offences};
}

// The global counters by interface and, if asked, each named rule's (the unnamed together, as
// rule ""), only the cells that counted something. With the rules it reads every rule slot's
// counters: then run off the event loop.
control::StatsResult stats(const Datapath &dp, const std::vector<std::string> &interfaces,
                           const std::map<std::uint32_t, std::string> &named,
                           const control::StatsArgs &args)
{
    control::StatsResult result;
    for (std::uint32_t slot = 0; slot < interfaces.size(); slot++)
        result.interfaces.push_back({interfaces[slot], slot, {}});
    for (const CounterRow &row : read_counters(dp, interfaces))
        result.interfaces[row.slot].counters.push_back(
            {row.reason, row.verdict, {row.counted.packets, row.counted.bytes}});
    if (!args.rules)
        return result;
    result.rules.emplace();
    auto by_name = rule_counts_by_name(dp, named);
    // Named rules first (by name), then the unnamed ones together.
    auto unnamed = by_name.extract("");
    auto add = [&](const std::string &rule, const RuleOutcomeCounts &cells) {
        control::RuleStats stats{rule, {}};
        for_each_rule_outcome(
            cells, [&](rl_reason reason, rl_verdict verdict, const rl_counter &counted) {
                if (counted.packets)
                    stats.counters.push_back({reason, verdict, {counted.packets, counted.bytes}});
            });
        result.rules->push_back(std::move(stats));
    };
    for (const auto &[rule, cells] : by_name)
        add(rule, cells);
    add("", unnamed.mapped());
    return result;
}

// One sample, no state kept: rates are the client's, over the window it chooses between two
// samples (see control/results.hpp), so callers never share or disturb each other's window.
// Reads every source's counters: run off the event loop.
// Each source listed is named by its rule if that rule is named (`named`, by slot): the trie is
// asked once a source, and only if some rule is named.
control::TopResult top(const Datapath &dp, const std::map<std::uint32_t, std::string> &named,
                       const control::TopArgs &args)
{
    const auto sampled_at = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    const SourceRanking ranking = heaviest_sources(dp, args.count, score_of(args.by));
    control::TopResult result{args.by, ranking.scanned, sampled_at.count(), {}};
    for (const auto &source : ranking.heaviest) {
        std::string rule;
        if (!named.empty())
            if (auto match =
                    dp.prefixes().lookup(prefix_key(Prefix{source.address, RL_ADDR_LEN * 8})))
                if (auto name = named.find(match->rule); name != named.end())
                    rule = name->second;
        result.sources.push_back(
            {source.address, control::traffic_of(source.traffic), std::move(rule)});
    }
    return result;
}

// How long status may hold the event loop waiting for a count of the tracked sources made after
// it asked; past that, it reports the last count and its age.
constexpr std::chrono::milliseconds kTrackedSourcesWait{3};

} // namespace

control::Server::Reply Commands::run(const control::Request &request,
                                     const control::Server::Peer &peer)
{
    using control::Command;
    using control::encode_result;
    switch (request.command) {
    case Command::Status:
        control::decode_no_args(request.args);
        return encode_result(status());
    case Command::List:
        control::decode_no_args(request.args);
        return encode_result(list());
    case Command::Set:
    case Command::Allow:
    case Command::Deny:
        return encode_result(add_runtime_rule(
            control::decode_runtime_rule_args(request.command, request.args), who(peer)));
    case Command::Unset:
        return encode_result(unset(control::decode_unset_args(request.args), who(peer)));
    case Command::Show:
        return encode_result(show(control::decode_show_args(request.args)));
    case Command::Top:
        return control::Server::Deferred([&dp = daemon_.datapath(),
                                          named = daemon_.named_rule_slots(),
                                          args = control::decode_top_args(request.args)] {
            return encode_result(top(dp, named, args));
        });
    case Command::Stats: {
        auto args = control::decode_stats_args(request.args);
        if (!args.rules) // the global counters: a few hundred cells, read on the loop
            return encode_result(
                stats(daemon_.datapath(), interface_names(daemon_.links()), {}, args));
        return control::Server::Deferred(
            [&dp = daemon_.datapath(), interfaces = interface_names(daemon_.links()),
             named = daemon_.named_rule_slots(),
             args] { return encode_result(stats(dp, interfaces, named, args)); });
    }
    case Command::Flush:
        return encode_result(flush(control::decode_flush_args(request.args), who(peer)));
    case Command::Reload:
        control::decode_no_args(request.args);
        return encode_result(reload(who(peer)));
    case Command::Apply:
        return encode_result(apply(request.args, peer));
    case Command::Bans:
        control::decode_no_args(request.args);
        return encode_result(bans());
    case Command::Unban:
        return encode_result(unban(control::decode_show_args(request.args), who(peer)));
    }
    throw std::invalid_argument("unknown command");
}

control::StatusResult Commands::status() const
{
    const config::Config &config = daemon_.config();
    const Datapath &dp = daemon_.datapath();
    std::vector<control::InterfaceStatus> interfaces;
    for (const XdpLink &link : daemon_.links()) {
        const XdpAttachment attached = query_xdp(link.ifindex());
        interfaces.push_back({link.ifname(), attached.mode, attached.prog_id});
    }
    rl_source_counters totals{};
    for (const CounterRow &row : read_counters(dp, interface_names(daemon_.links()))) {
        const std::uint32_t outcome = rl_outcome_of(row.reason, row.verdict);
        totals.packets[outcome] += row.counted.packets;
        totals.bytes[outcome] += row.counted.bytes;
    }
    const ReloadResult &reload = daemon_.last_reload();
    std::vector<control::StateFileStatus> state_files;
    for (const SaveStatus &file : daemon_.state_files())
        state_files.push_back(state_file_status(file));
    const PinMount &pins = daemon_.pins();
    const TrackedSourceCount::Figure tracked =
        daemon_.tracked_sources().figure(kTrackedSourcesWait);
    const EventLoop::Stall stall = daemon_.loop().longest_stall();
    const TablePressure table = dp.table_pressure(tracked.count);
    return {
        .version = RATELIMITD_VERSION,
        .uptime_s = std::chrono::duration_cast<std::chrono::seconds>(daemon_.uptime()).count(),
        .config = daemon_.config_path(),
        .mode = config.mode,
        .interfaces = std::move(interfaces),
        .last_reload = {format_utc(reload.when), reload.ok, reload.message},
        .rules = {config.rules.size(), daemon_.runtime_rules().size()},
        .totals = control::traffic_of(totals),
        .tracked_sources = tracked.count,
        .tracked_sources_age_ms = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(tracked.age).count()),
        .max_sources = config.max_sources,
        .loop_longest_stall_ms = std::chrono::duration<double, std::milli>(stall.took).count(),
        .loop_longest_stall_in = stall.name,
        .loop_longest_on_cpu_ms = std::chrono::duration<double, std::milli>(stall.on_cpu).count(),
        .table = {table.admitted, table.refused, table.evictions, table.filter_fill,
                  table.sketch_fill},
        .pins = {config.pin_dir, unless_empty(pins.mounted_at), pins.outlives_daemon,
                 unless_empty(pins.warning)},
        .state_files = std::move(state_files),
    };
}

control::ListResult Commands::list() const
{
    control::ListResult result{default_limits(daemon_.config()), {}, {}};
    std::set<Prefix> runtime; // a config rule is overridden where a runtime rule has its prefix
    for (const auto &r : daemon_.runtime_rules())
        runtime.insert(r.rule.match.front());
    for (const auto &rule : daemon_.config().rules)
        result.config.push_back({rule, std::ranges::any_of(runtime, [&](const Prefix &p) {
                                     return std::ranges::binary_search(rule.match, p);
                                 })});
    for (const auto &runtime : daemon_.runtime_rules())
        result.runtime.push_back(active_rule(runtime));
    return result;
}

control::RuleChangeResult Commands::add_runtime_rule(const control::RuntimeRuleArgs &args,
                                                     const std::string &who)
{
    const RuntimeRule added = runtime_rule_of(args, WallClock::now());
    const Prefix &prefix = added.rule.match.front();
    const bool replaced = runtime_rule(prefix) != nullptr;
    std::vector<RuntimeRule> rules = daemon_.runtime_rules();
    upsert(rules, added);
    commit(std::move(rules));
    spdlog::info("control socket: {} {} runtime rule {}{}", who, replaced ? "replaced" : "added",
                 rule_to_json(added.rule).dump(),
                 args.ttl ? " for " + config::format_duration(*args.ttl) : std::string());
    return {active_rule(added), replaced, config_rule(prefix) != nullptr,
            state_file_status(daemon_.runtime_rules_saved())};
}

control::UnsetResult Commands::unset(const control::UnsetArgs &args, const std::string &who)
{
    const RuntimeRule *found = runtime_rule(args.rule);
    if (!found)
        throw RequestError(ErrorCode::NotFound,
                           no_runtime_rule(args.rule, config_rule(args.rule) != nullptr));
    const RuntimeRule removed = *found;
    const Rule *configured = config_rule(removed.rule.match.front());
    std::vector<RuntimeRule> rules = daemon_.runtime_rules();
    remove(rules, removed.rule.match.front());
    commit(std::move(rules));
    spdlog::info("control socket: {} removed runtime rule {}", who,
                 rule_to_json(removed.rule).dump());
    return {runtime_entry(removed), configured ? std::optional(*configured) : std::nullopt,
            state_file_status(daemon_.runtime_rules_saved())};
}

control::ShowResult Commands::show(const control::ShowArgs &args) const
{
    const Address &address = args.address;
    const auto desired = desired_rules(daemon_.config(), daemon_.runtime_rules(), WallClock::now());
    const auto applies = rule_for(desired, address);
    control::ShowResult result;
    result.address = address;
    if (!applies) {
        result.why = "no rule matches " + address.to_string() +
                     " and there is no default: its packets pass, counted as no_rule" +
                     ipv6_rule_note(desired, address);
    } else {
        const auto &[desired_rule, prefix] = *applies;
        control::AppliedRule applied{prefix, control::DefaultLimits{}};
        switch (desired_rule.origin) {
        case Origin::Default:
            applied.rule = control::DefaultLimits{daemon_.config().default_limits};
            result.why = "no rule matches " + address.to_string() + ": the default applies" +
                         ipv6_rule_note(desired, address);
            break;
        case Origin::Config:
            applied.rule = *config_rule(prefix);
            result.why = prefix.to_string() + " is the longest prefix that matches, a config rule";
            break;
        case Origin::Runtime:
            applied.rule = active_rule(*runtime_rule(prefix));
            result.why =
                prefix.to_string() + " is the longest prefix that matches, a runtime rule" +
                (config_rule(prefix) ? " (it overrides the config rule for that prefix)" : "");
            break;
        }
        result.rule = std::move(applied);
    }
    const SourceState state = inspect_source(daemon_.datapath(), address);
    result.tracked = state.tracked;
    for (const auto &bucket : state.buckets)
        result.buckets.push_back(
            {bucket.limit, bucket.unit, bucket.per, bucket.owner, bucket.tokens, bucket.burst});
    result.traffic = control::traffic_of(state.traffic);
    const BanClock clock = BanClock::now();
    const Datapath &dp = daemon_.datapath();
    if (auto ban = dp.bans().lookup(address.key());
        ban && static_cast<std::int64_t>(ban->until - clock.monotonic_ns) > 0)
        result.ban = ban_info(ban_entry(address.key(), *ban, clock, rule_names(dp)));
    return result;
}

control::BansResult Commands::bans() const
{
    control::BansResult result;
    for (const auto &ban : bans_in_force(daemon_.datapath(), BanClock::now()))
        result.bans.push_back(ban_info(ban));
    result.capacity = daemon_.datapath().options().max_bans;
    return result;
}

control::UnbanResult Commands::unban(const control::UnbanArgs &args, const std::string &who)
{
    auto lifted = daemon_.unban(args.address);
    if (!lifted)
        throw RequestError(ErrorCode::NotFound, args.address.to_string() + " is not banned");
    spdlog::info("control socket: {} lifted the ban of {}", who, args.address.to_string());
    return {ban_info(*lifted)};
}

control::FlushResult Commands::flush(const control::FlushArgs &args, const std::string &who)
{
    const ForgottenBuckets forgotten = forget_buckets(daemon_.datapath(), args.match);
    const std::string what = args.match ? args.match->to_string() : std::string("everything");
    spdlog::info("control socket: {} flushed the bucket state of {}: {} sources, {} blocks, {} "
                 "rule buckets",
                 who, what, forgotten.sources, forgotten.blocks, forgotten.rule_buckets);
    return {args.match, forgotten.sources, forgotten.blocks, forgotten.rule_buckets};
}

control::ReloadCommandResult Commands::reload(const std::string &who)
{
    spdlog::info("control socket: {} reloads {}", who, daemon_.config_path());
    const ReloadResult result = daemon_.reload();
    if (!result.ok)
        throw RequestError(ErrorCode::ReloadFailed, result.message);
    return {format_utc(result.when), result.message};
}

control::ApplyResult Commands::apply(const json &args, const control::Server::Peer &peer)
{
    // Taken out of the map for the time of this part: a part refused ends the transaction, and
    // a later part finds none.
    Transaction transaction;
    if (auto held = transactions_.find(peer.connection); held != transactions_.end()) {
        transaction = std::move(held->second);
        held_changes_ -= transaction.changes.size();
        transactions_.erase(held);
    }
    control::ApplyArgs part = control::decode_apply_args(args);
    if (part.part == 0)
        transaction = {};
    else if (part.part != transaction.parts)
        throw RequestError(ErrorCode::BadRequest,
                           "args.part: " + std::to_string(part.part) +
                               " out of order: the connection holds " +
                               std::to_string(transaction.parts) +
                               " parts of a transaction; start again at part 0");
    // At most one change for each rule slot to empty and one to fill, held by all connections.
    const std::size_t most = 2 * std::size_t{daemon_.config().max_rules};
    const std::size_t changes = transaction.changes.size() + part.changes.size();
    if (changes > most)
        throw RequestError(ErrorCode::TooLarge, "a transaction holds at most " +
                                                    std::to_string(most) +
                                                    " changes (twice max_rules)");
    if (part.more && held_changes_ + changes > most)
        throw RequestError(ErrorCode::Busy, "other connections hold " +
                                                std::to_string(held_changes_) +
                                                " changes of transactions; try again");
    std::ranges::move(part.changes, std::back_inserter(transaction.changes));
    if (part.more) {
        transaction.parts++;
        held_changes_ += changes;
        transactions_.emplace(peer.connection, std::move(transaction));
        return {changes, std::nullopt};
    }
    return {changes, apply_changes(transaction.changes, who(peer))};
}

control::AppliedChanges Commands::apply_changes(const std::vector<control::ApplyChange> &changes,
                                                const std::string &who)
{
    const auto now = WallClock::now();
    std::vector<RuntimeEdit> edits;
    edits.reserve(changes.size());
    for (const auto &change : changes)
        edits.push_back(edit_of(change, now));
    std::vector<RuntimeRule> rules = daemon_.runtime_rules();
    const EditCounts counts = apply_edits(rules, std::move(edits));
    if (!counts.not_found.empty()) {
        std::string message;
        for (std::size_t i : counts.not_found) {
            const RuleRef &rule = std::get<control::UnsetArgs>(changes[i].edit).rule;
            message += (message.empty() ? "" : "\n") + control::change_name(changes[i], i) + ": " +
                       no_runtime_rule(rule, config_rule(rule) != nullptr);
        }
        throw RequestError(ErrorCode::NotFound, message);
    }
    commit(std::move(rules));
    spdlog::info("control socket: {} applied {} changes of the runtime rules: {} added, {} "
                 "replaced, {} removed",
                 who, changes.size(), counts.added, counts.replaced, counts.removed);
    return {counts.added, counts.replaced, counts.removed, daemon_.runtime_rules().size(),
            state_file_status(daemon_.runtime_rules_saved())};
}

void Commands::connection_closed(const control::Server::Peer &peer) noexcept
{
    if (auto held = transactions_.find(peer.connection); held != transactions_.end()) {
        held_changes_ -= held->second.changes.size();
        transactions_.erase(held);
    }
}

void Commands::commit(std::vector<RuntimeRule> rules)
{
    if (auto clashes = name_clashes(daemon_.config(), rules, Changed::Runtime); !clashes.empty())
        throw RequestError(ErrorCode::InvalidRule, join_errors(clashes));
    try {
        daemon_.replace_runtime_rules(std::move(rules));
    } catch (const RulesFull &e) {
        throw RequestError(ErrorCode::RulesFull, e.what());
    } catch (const UnenforceableRule &e) {
        throw RequestError(ErrorCode::InvalidRule, e.what());
    }
}

namespace
{

// Whether `rule` is the one `ref` names, by its prefix or by its name.
bool is_named(const Rule &rule, const RuleRef &ref)
{
    if (const auto *prefix = std::get_if<Prefix>(&ref))
        return std::ranges::binary_search(rule.match, *prefix); // sorted
    return rule.name == std::get<std::string>(ref);
}

} // namespace

const Rule *Commands::config_rule(const RuleRef &ref) const
{
    const auto &rules = daemon_.config().rules;
    auto found = std::ranges::find_if(rules, [&](const Rule &r) { return is_named(r, ref); });
    return found == rules.end() ? nullptr : &*found;
}

const RuntimeRule *Commands::runtime_rule(const RuleRef &ref) const
{
    const auto &rules = daemon_.runtime_rules();
    auto found =
        std::ranges::find_if(rules, [&](const RuntimeRule &r) { return is_named(r.rule, ref); });
    return found == rules.end() ? nullptr : &*found;
}

} // namespace ratelimit
