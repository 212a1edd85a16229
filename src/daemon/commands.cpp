// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon/commands.hpp"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "policy/units.hpp"
#include "datapath/inspect.hpp"
#include "datapath/xdp_link.hpp"
#include "state/desired.hpp"
#include "state/runtime_store.hpp"

namespace ratelimit
{

namespace
{

using control::ErrorCode;
using control::RequestError;
using nlohmann::json;

json count_json(std::uint64_t packets, std::uint64_t bytes)
{
    return {{"packets", packets}, {"bytes", bytes}};
}

// "passed" holds what monitor mode passed, which "would_drop" tells apart.
json traffic_json(const rl_source_counters &traffic)
{
    const auto &packets = traffic.packets, &bytes = traffic.bytes;
    return {
        {"passed", count_json(packets[RL_OUTCOME_PASSED] + packets[RL_OUTCOME_WOULD_DROP],
                              bytes[RL_OUTCOME_PASSED] + bytes[RL_OUTCOME_WOULD_DROP])},
        {"dropped", count_json(packets[RL_OUTCOME_DROPPED], bytes[RL_OUTCOME_DROPPED])},
        {"would_drop", count_json(packets[RL_OUTCOME_WOULD_DROP], bytes[RL_OUTCOME_WOULD_DROP])}};
}

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

// The default's limits as the config's "default" states them: a rule's limits, without the rule.
json default_json(const config::Config &config)
{
    if (config.default_limits.empty())
        return nullptr;
    Rule everything;
    everything.limits = config.default_limits;
    return {{"limits", rule_to_json(everything)["limits"]}};
}

// Whole seconds until `expires`, rounded up: a rule still in force has at least one left.
json seconds_left(const std::optional<WallClock::time_point> &expires)
{
    if (!expires)
        return nullptr;
    const auto left = std::chrono::ceil<std::chrono::seconds>(*expires - WallClock::now());
    return std::max<std::int64_t>(left.count(), 0);
}

json runtime_json(const RuntimeRule &runtime)
{
    json object = runtime_rule_to_json(runtime);
    object["expires_in_s"] = seconds_left(runtime.expires);
    return object;
}

// Whether a state file holds the state in force, and if not, why (the daemon retries).
json state_file_json(const SaveStatus &file)
{
    return {{"path", file.path()},
            {"saved", file.saved()},
            {"write_failures", file.failures()},
            {"error", file.saved() ? json(nullptr) : json(file.error())}};
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

// Whether `prefix` can match `address` in the program: IPv4 rules cover IPv4 sources, IPv6 rules
// IPv6 sources only (::/8 holds ::ffff:0:0/96, where IPv4 is keyed, but never matches there).
bool covers(const Prefix &prefix, const Address &address)
{
    return prefix.is_v4() == address.is_v4() && prefix.contains(address);
}

// The desired rule and the prefix of it that the program's longest-prefix match finds for
// `address`, if any.
std::optional<std::pair<DesiredRule, Prefix>> rule_for(const std::vector<DesiredRule> &desired,
                                                       const Address &address)
{
    std::optional<std::pair<DesiredRule, Prefix>> best;
    for (const auto &rule : desired)
        for (const auto &prefix : rule.prefixes)
            if (covers(prefix, address) && (!best || prefix.length > best->second.length))
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

} // namespace

json Commands::run(const control::Request &request, const control::Server::Peer &peer)
{
    using control::Command;
    switch (request.command) {
    case Command::Status:
        control::decode_no_args(request.args);
        return status();
    case Command::List:
        control::decode_no_args(request.args);
        return list();
    case Command::Set:
    case Command::Allow:
    case Command::Deny:
        return add_runtime_rule(control::decode_runtime_rule_args(request.command, request.args),
                                who(peer));
    case Command::Unset:
        return unset(control::decode_unset_args(request.args), who(peer));
    case Command::Show:
        return show(control::decode_show_args(request.args));
    case Command::Top:
        return top(control::decode_top_args(request.args));
    case Command::Stats:
        control::decode_no_args(request.args);
        return stats();
    case Command::Flush:
        return flush(control::decode_flush_args(request.args), who(peer));
    case Command::Reload:
        control::decode_no_args(request.args);
        return reload(who(peer));
    }
    throw std::invalid_argument("unknown command");
}

json Commands::status() const
{
    const config::Config &config = daemon_.config();
    const Datapath &dp = daemon_.datapath();
    json interfaces = json::array();
    for (const XdpLink &link : daemon_.links()) {
        const XdpAttachment attached = query_xdp(link.ifindex());
        interfaces.push_back({{"name", link.ifname()},
                              {"xdp_mode", attached.mode},
                              {"program_id", attached.prog_id}});
    }
    rl_source_counters totals{};
    for (const CounterRow &row : read_counters(dp, interface_names(daemon_.links()))) {
        const std::uint32_t outcome = rl_outcome_of(row.reason, row.verdict);
        totals.packets[outcome] += row.counted.packets;
        totals.bytes[outcome] += row.counted.bytes;
    }
    const ReloadResult &reload = daemon_.last_reload();
    json state_files = json::array();
    for (const SaveStatus &file : daemon_.state_files())
        state_files.push_back(state_file_json(file));
    return {
        {"version", RATELIMITD_VERSION},
        {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(daemon_.uptime()).count()},
        {"config", daemon_.config_path()},
        {"mode", config.mode == config::Mode::Monitor ? "monitor" : "enforce"},
        {"interfaces", std::move(interfaces)},
        {"last_reload",
         {{"time", format_utc(reload.when)}, {"ok", reload.ok}, {"message", reload.message}}},
        {"rules", {{"config", config.rules.size()}, {"runtime", daemon_.runtime_rules().size()}}},
        {"totals", traffic_json(totals)},
        {"tracked_sources", tracked_sources(dp)},
        {"max_sources", config.max_sources},
        {"pins",
         {{"dir", config.pin_dir},
          {"mounted_at",
           daemon_.pins().mounted_at.empty() ? json(nullptr) : json(daemon_.pins().mounted_at)},
          {"outlives_daemon", daemon_.pins().outlives_daemon},
          {"warning",
           daemon_.pins().warning.empty() ? json(nullptr) : json(daemon_.pins().warning)}}},
        {"state_files", std::move(state_files)},
    };
}

json Commands::list() const
{
    json config_rules = json::array();
    for (const auto &rule : daemon_.config().rules) {
        json object = rule_to_json(rule);
        object["overridden"] = runtime_rule(rule.match) != nullptr;
        config_rules.push_back(std::move(object));
    }
    json runtime_rules = json::array();
    for (const auto &runtime : daemon_.runtime_rules())
        runtime_rules.push_back(runtime_json(runtime));
    return {{"default", default_json(daemon_.config())},
            {"config", std::move(config_rules)},
            {"runtime", std::move(runtime_rules)}};
}

json Commands::add_runtime_rule(const control::RuntimeRuleArgs &args, const std::string &who)
{
    RuntimeRule added{args.rule, std::nullopt};
    if (args.ttl)
        added.expires = WallClock::now() + *args.ttl;
    const Prefix &prefix = added.rule.match;
    const bool replaced = runtime_rule(prefix) != nullptr;
    std::vector<RuntimeRule> rules = daemon_.runtime_rules();
    upsert(rules, added);
    commit(std::move(rules));
    spdlog::info("control socket: {} {} runtime rule {}{}", who, replaced ? "replaced" : "added",
                 rule_to_json(added.rule).dump(),
                 args.ttl ? " for " + config::format_duration(*args.ttl) : std::string());
    return {{"rule", runtime_json(added)},
            {"replaced", replaced},
            {"overrides_config", config_rule(prefix) != nullptr},
            {"state_file", state_file_json(daemon_.runtime_rules_saved())}};
}

json Commands::unset(const control::UnsetArgs &args, const std::string &who)
{
    const RuntimeRule *found = runtime_rule(args.match);
    const Rule *configured = config_rule(args.match);
    if (!found)
        throw RequestError(
            ErrorCode::NotFound,
            "no runtime rule for " + args.match.to_string() +
                (configured ? " (it is a config rule: edit the config and reload)" : ""));
    const RuntimeRule removed = *found;
    std::vector<RuntimeRule> rules = daemon_.runtime_rules();
    remove(rules, args.match);
    commit(std::move(rules));
    spdlog::info("control socket: {} removed runtime rule {}", who,
                 rule_to_json(removed.rule).dump());
    return {{"removed", runtime_rule_to_json(removed)},
            {"config_rule", configured ? rule_to_json(*configured) : json(nullptr)},
            {"state_file", state_file_json(daemon_.runtime_rules_saved())}};
}

json Commands::show(const control::ShowArgs &args) const
{
    const Address &address = args.address;
    const auto desired = desired_rules(daemon_.config(), daemon_.runtime_rules(), WallClock::now());
    const auto applies = rule_for(desired, address);
    json rule = nullptr;
    std::string why;
    if (!applies) {
        why = "no rule matches " + address.to_string() +
              " and there is no default: its packets pass, counted as no_rule" +
              ipv6_rule_note(desired, address);
    } else {
        const auto &[desired_rule, prefix] = *applies;
        json stated;
        switch (desired_rule.origin) {
        case Origin::Default:
            stated = default_json(daemon_.config());
            why = "no rule matches " + address.to_string() + ": the default applies" +
                  ipv6_rule_note(desired, address);
            break;
        case Origin::Config:
            stated = rule_to_json(*config_rule(prefix));
            why = prefix.to_string() + " is the longest prefix that matches, a config rule";
            break;
        case Origin::Runtime:
            stated = runtime_json(*runtime_rule(prefix));
            why = prefix.to_string() + " is the longest prefix that matches, a runtime rule" +
                  (config_rule(prefix) ? " (it overrides the config rule for that prefix)" : "");
            break;
        }
        rule = {{"origin", to_string(desired_rule.origin)},
                {"prefix", prefix.to_string()},
                {"rule", std::move(stated)}};
    }
    const SourceState state = inspect_source(daemon_.datapath(), address);
    json buckets = json::array();
    for (const auto &bucket : state.buckets)
        buckets.push_back({{"limit", bucket.limit},
                           {"unit", bucket.unit == RL_UNIT_BYTES ? "bytes" : "packets"},
                           {"per", bucket.per},
                           {"key", bucket.owner},
                           {"tokens", bucket.tokens},
                           {"burst", bucket.burst}});
    return {{"address", address.to_string()},
            {"rule", std::move(rule)},
            {"why", why},
            {"tracked", state.tracked},
            {"buckets", std::move(buckets)},
            {"traffic", traffic_json(state.traffic)}};
}

// One sample, no state kept: rates are the client's, over the window it chooses between two
// samples (see protocol.hpp), so callers never share or disturb each other's window.
json Commands::top(const control::TopArgs &args) const
{
    const auto sampled_at = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now().time_since_epoch());
    const SourceRanking ranking =
        heaviest_sources(daemon_.datapath(), args.count, score_of(args.by));
    json sources = json::array();
    for (const auto &source : ranking.heaviest) {
        json row = traffic_json(source.traffic);
        row["address"] = source.address.to_string();
        sources.push_back(std::move(row));
    }
    return {{"by", control::top_order_name(args.by)},
            {"scanned", ranking.scanned},
            {"sampled_at_ms", sampled_at.count()},
            {"sources", std::move(sources)}};
}

json Commands::stats() const
{
    const std::vector<std::string> names = interface_names(daemon_.links());
    json interfaces = json::array();
    for (std::uint32_t slot = 0; slot < names.size(); slot++)
        interfaces.push_back({{"name", names[slot]}, {"slot", slot}, {"counters", json::array()}});
    for (const CounterRow &row : read_counters(daemon_.datapath(), names))
        interfaces[row.slot]["counters"].push_back({{"reason", reason_name(row.reason)},
                                                    {"verdict", verdict_name(row.verdict)},
                                                    {"packets", row.counted.packets},
                                                    {"bytes", row.counted.bytes}});
    return {{"interfaces", std::move(interfaces)}};
}

json Commands::flush(const control::FlushArgs &args, const std::string &who)
{
    const ForgottenBuckets forgotten = forget_buckets(daemon_.datapath(), args.match);
    const std::string what = args.match ? args.match->to_string() : std::string("everything");
    spdlog::info("control socket: {} flushed the bucket state of {}: {} sources, {} blocks, {} "
                 "rule buckets",
                 who, what, forgotten.sources, forgotten.blocks, forgotten.rule_buckets);
    return {{"match", args.match ? json(args.match->to_string()) : json(nullptr)},
            {"sources", forgotten.sources},
            {"blocks", forgotten.blocks},
            {"rule_buckets", forgotten.rule_buckets}};
}

json Commands::reload(const std::string &who)
{
    spdlog::info("control socket: {} reloads {}", who, daemon_.config_path());
    const ReloadResult result = daemon_.reload();
    if (!result.ok)
        throw RequestError(ErrorCode::ReloadFailed, result.message);
    return {{"time", format_utc(result.when)}, {"message", result.message}};
}

void Commands::commit(std::vector<RuntimeRule> rules)
{
    try {
        daemon_.replace_runtime_rules(std::move(rules));
    } catch (const std::length_error &e) {
        throw RequestError(ErrorCode::RulesFull, e.what());
    }
}

const Rule *Commands::config_rule(const Prefix &prefix) const
{
    const auto &rules = daemon_.config().rules;
    auto found = std::ranges::find(rules, prefix, &Rule::match);
    return found == rules.end() ? nullptr : &*found;
}

const RuntimeRule *Commands::runtime_rule(const Prefix &prefix) const
{
    const auto &rules = daemon_.runtime_rules();
    auto found =
        std::ranges::find(rules, prefix, [](const RuntimeRule &r) { return r.rule.match; });
    return found == rules.end() ? nullptr : &*found;
}

} // namespace ratelimit
