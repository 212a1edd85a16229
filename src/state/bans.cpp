// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state/bans.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "json/reader.hpp"
#include "json/text.hpp"
#include "policy/names.hpp"
#include "state/map_rule_table.hpp"
#include "state/runtime_store.hpp"
#include "state/state_file.hpp"
#include "sys/time.hpp"

namespace ratelimit
{

namespace
{

using nlohmann::json;
namespace chrono = std::chrono;

constexpr int kFormatVersion = 1;
constexpr std::string_view kFileFields[] = {"version", "bans"};
constexpr std::string_view kBanFields[] = {"address", "rule",  "scope",
                                           "since",   "until", "offences"};
// A ban as the file writes it takes under 200 bytes.
constexpr std::size_t kMaxBytesPerBan = 256;

bool in_repeat_window(const rl_ban &ban, std::uint64_t monotonic_now)
{
    return static_cast<std::int64_t>(monotonic_now - ban.until) <
           static_cast<std::int64_t>(RL_BAN_REPEAT_WINDOW_NS);
}

Address address_of(const rl_source_key &key)
{
    Address address;
    std::memcpy(address.bytes.data(), key.addr, RL_ADDR_LEN);
    return address;
}

json ban_to_json(const BanEntry &ban)
{
    return {{"address", ban.address.to_string()},
            {"rule", ban.rule ? json(ban.rule->to_string()) : json()},
            {"scope", name_of(kBanScopeNames, ban.scope)},
            {"since", format_utc(ban.since)},
            {"until", format_utc(ban.until)},
            {"offences", ban.offences}};
}

std::optional<WallClock::time_point> read_time(const json &ban, std::string_view key,
                                               const std::string &path, JsonErrors &errors)
{
    const std::string at = json_field_path(path, key);
    auto found = ban.find(key);
    if (found == ban.end()) {
        errors.push_back({at, "missing (required)"});
        return std::nullopt;
    }
    auto time = found->is_string() ? parse_utc(found->get<std::string>()) : std::nullopt;
    if (!time)
        errors.push_back({at, json_text(*found) + " is not an RFC 3339 UTC time"});
    return time;
}

std::optional<BanEntry> read_ban(const json &ban, const std::string &path, JsonErrors &errors)
{
    if (!ban.is_object()) {
        errors.push_back({path, "must be a ban object, not " + json_text(ban)});
        return std::nullopt;
    }
    const std::size_t errors_before = errors.size();
    for (const auto &unknown : unknown_fields(ban, kBanFields))
        errors.push_back(
            {json_field_path(path, unknown.key), "unknown field" + unknown.suggestion});
    BanEntry entry;
    auto address = ban.contains("address") && ban["address"].is_string()
                       ? parse_address(ban["address"].get<std::string>())
                       : std::nullopt;
    if (!address)
        errors.push_back({json_field_path(path, "address"), "must be an IPv4 or IPv6 address"});
    if (auto rule = ban.find("rule"); rule == ban.end() || !rule->is_null()) {
        entry.rule = rule != ban.end() && rule->is_string() ? parse_prefix(rule->get<std::string>())
                                                            : std::nullopt;
        if (!entry.rule)
            errors.push_back({json_field_path(path, "rule"), "must be a prefix or null"});
    }
    auto scope = ban.contains("scope") && ban["scope"].is_string()
                     ? value_of(kBanScopeNames, ban["scope"].get<std::string>())
                     : std::nullopt;
    if (!scope)
        errors.push_back({json_field_path(path, "scope"),
                          "must be one of " + list_names(kBanScopeNames, " or ")});
    auto since = read_time(ban, "since", path, errors);
    auto until = read_time(ban, "until", path, errors);
    auto offences = ban.find("offences");
    if (offences == ban.end() || !offences->is_number_unsigned() || *offences == 0 ||
        *offences > UINT32_MAX)
        errors.push_back({json_field_path(path, "offences"), "must be a whole number, at least 1"});
    if (errors.size() != errors_before)
        return std::nullopt;
    entry.address = *address;
    entry.scope = *scope;
    entry.since = *since;
    entry.until = *until;
    entry.offences = offences->get<std::uint32_t>();
    return entry;
}

Validated<std::vector<BanEntry>> read_ban_file(std::string_view text, std::size_t max_bytes)
{
    JsonDocument document = read_json(text, {.max_bytes = max_bytes});
    if (!document.value)
        return {std::nullopt, std::move(document.errors)};
    const json &root = *document.value;
    JsonErrors errors;
    std::vector<BanEntry> bans;
    if (!root.is_object()) {
        errors.push_back({"", "the file must be an object {\"version\": 1, \"bans\": [...]}"});
        return {std::nullopt, std::move(errors)};
    }
    for (const auto &unknown : unknown_fields(root, kFileFields))
        errors.push_back({unknown.key, "unknown field" + unknown.suggestion});
    if (auto version = root.find("version"); version == root.end() || *version != kFormatVersion)
        errors.push_back({"version", "must be " + std::to_string(kFormatVersion)});
    else if (auto list = root.find("bans"); list == root.end() || !list->is_array())
        errors.push_back({"bans", "must be a list of bans"});
    else
        for (std::size_t i = 0; i < list->size(); i++)
            if (auto ban = read_ban((*list)[i], json_element_path("bans", i), errors))
                bans.push_back(*ban);
    return Validated<std::vector<BanEntry>>::checked(std::move(bans), std::move(errors));
}

} // namespace

BanClock BanClock::now()
{
    BanClock clock;
    clock.monotonic_ns = clock_ns(CLOCK_MONOTONIC, "the monotonic clock");
    clock.wall = WallClock::now();
    return clock;
}

WallClock::time_point BanClock::wall_of(std::uint64_t monotonic) const
{
    const auto ahead = static_cast<std::int64_t>(monotonic - monotonic_ns);
    return wall + chrono::duration_cast<WallClock::duration>(chrono::nanoseconds(ahead));
}

std::uint64_t BanClock::monotonic_of(WallClock::time_point time) const
{
    const auto ahead = chrono::duration_cast<chrono::nanoseconds>(time - wall).count();
    const std::uint64_t monotonic = monotonic_ns + static_cast<std::uint64_t>(ahead);
    // Before the clock's start (a ban that ended before this boot): its start.
    if (ahead < 0 && static_cast<std::uint64_t>(-ahead) >= monotonic_ns)
        return 1;
    return monotonic;
}

std::map<std::uint32_t, Prefix> rule_names(const Datapath &dp)
{
    std::map<std::uint32_t, Prefix> names;
    for (const auto &rule : installed_rules(dp))
        if (!rule.prefixes.empty())
            names.emplace(rule.index, rule.prefixes.front());
    return names;
}

BanEntry ban_entry(const rl_source_key &source, const rl_ban &ban, const BanClock &clock,
                   const std::map<std::uint32_t, Prefix> &names)
{
    BanEntry entry;
    entry.address = address_of(source);
    if (auto name = names.find(ban.rule); name != names.end())
        entry.rule = name->second;
    entry.scope = (ban.flags & RL_BAN_SCOPE_ALL) ? BanScope::All : BanScope::Rule;
    entry.since = clock.wall_of(ban.since);
    entry.until = clock.wall_of(ban.until);
    entry.offences = ban.offences;
    return entry;
}

std::vector<BanEntry> bans_in_force(const Datapath &dp, const BanClock &clock)
{
    const auto names = rule_names(dp);
    std::vector<BanEntry> bans;
    dp.bans().for_each([&](const rl_source_key &key, const rl_ban &ban) {
        if (static_cast<std::int64_t>(ban.until - clock.monotonic_ns) > 0)
            bans.push_back(ban_entry(key, ban, clock, names));
    });
    std::ranges::sort(bans, {}, &BanEntry::until);
    return bans;
}

std::size_t restore_bans(Datapath &dp, const std::vector<BanEntry> &entries, const BanClock &clock)
{
    std::map<Prefix, std::uint32_t> index_of;
    for (const auto &[index, prefix] : rule_names(dp))
        index_of.emplace(prefix, index);
    std::size_t restored = 0;
    auto bans = dp.bans();
    for (const auto &entry : entries) {
        rl_ban ban{};
        ban.since = clock.monotonic_of(entry.since);
        ban.until = clock.monotonic_of(entry.until);
        ban.offences = entry.offences;
        ban.flags = entry.scope == BanScope::All ? RL_BAN_SCOPE_ALL : 0;
        auto index = entry.rule ? index_of.find(*entry.rule) : index_of.end();
        if (index != index_of.end())
            ban.rule = index->second;
        else if (entry.scope == BanScope::All)
            ban.rule = RL_NO_RULE;
        else
            continue; // its rule is gone: nothing to ban it from
        if (!in_repeat_window(ban, clock.monotonic_ns))
            continue;
        // A ban the program started meanwhile is newer: it stays.
        if (bpf_map_update_elem(bans.fd(), entry.address.key().addr, &ban, BPF_NOEXIST) == 0)
            restored++;
        else if (errno != EEXIST && errno != E2BIG)
            throw SystemError(errno, "restore a ban into map " + bans.name());
    }
    if (restored > 0)
        dp.publish_rules();
    return restored;
}

std::optional<BanSweeper::Found> BanSweeper::step(std::size_t budget, std::uint64_t monotonic_now)
{
    auto bans = dp_.bans();
    // Each key is judged once the walk has moved past it: removed first, the walk would start
    // over.
    auto judge = [&](const rl_source_key &key) {
        auto ban = bans.lookup(key);
        if (ban && !in_repeat_window(*ban, monotonic_now))
            bans.erase(key);
        else if (ban)
            found_.emplace_back(key, *ban);
    };
    for (std::size_t visited = 0; visited < budget; visited++) {
        rl_source_key next{};
        int rc = bpf_map_get_next_key(bans.fd(), cursor_ ? &*cursor_ : nullptr, &next);
        if (rc != -ENOENT)
            check(rc, "iterate the keys of map " + bans.name());
        if (cursor_)
            judge(*cursor_);
        if (rc == -ENOENT) {
            cursor_.reset();
            Found found = std::move(found_);
            found_.clear();
            std::ranges::sort(found, [](const auto &a, const auto &b) {
                return std::memcmp(a.first.addr, b.first.addr, RL_ADDR_LEN) < 0;
            });
            return found;
        }
        cursor_ = next;
    }
    return std::nullopt;
}

BanFile::BanFile(std::string path) : path_(std::move(path)) {}

std::size_t BanFile::max_bytes(std::size_t capacity)
{
    return 4096 + capacity * kMaxBytesPerBan;
}

std::vector<BanEntry> BanFile::load(std::size_t capacity) const
{
    auto text = read_state_file(path_, max_bytes(capacity));
    if (!text)
        return {};
    auto bans = read_ban_file(*text, max_bytes(capacity));
    if (!bans.value)
        throw std::runtime_error(join_errors(bans.errors, "\n", path_ + ": "));
    return std::move(*bans.value);
}

void BanFile::save(const std::vector<BanEntry> &bans) const
{
    json list = json::array();
    for (const auto &ban : bans)
        list.push_back(ban_to_json(ban));
    replace_state_file(path_,
                       json{{"version", kFormatVersion}, {"bans", std::move(list)}}.dump(1) + "\n");
}

} // namespace ratelimit
