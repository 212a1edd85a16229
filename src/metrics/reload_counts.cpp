// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "metrics/reload_counts.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "json/reader.hpp"
#include "state/state_file.hpp"

namespace ratelimit::metrics
{

namespace
{

using nlohmann::json;

constexpr int kFormatVersion = 1;
// The file holds two counts; anything much larger is not this file.
constexpr std::size_t kMaxFileBytes = 4096;

std::uint64_t read_count(const json &reloads, const char *result)
{
    auto count = reloads.find(result);
    if (count == reloads.end() || !count->is_number_unsigned())
        throw std::invalid_argument(std::string("config_reloads.") + result +
                                    " is not a count (a whole number, 0 or more)");
    return count->get<std::uint64_t>();
}

} // namespace

ReloadCounts ReloadCountFile::load() const
{
    auto text = read_state_file(path_, kMaxFileBytes);
    if (!text)
        return {};
    try {
        JsonDocument document = read_json(*text, {.max_bytes = kMaxFileBytes});
        if (!document.value)
            throw std::invalid_argument(document.errors.front().to_string());
        const json &root = *document.value;
        const bool shaped = root.is_object() && root.value("version", json()) == kFormatVersion &&
                            root.contains("config_reloads") && root["config_reloads"].is_object();
        if (!shaped)
            throw std::invalid_argument("not {\"version\": " + std::to_string(kFormatVersion) +
                                        ", \"config_reloads\": {\"success\": N, \"failure\": N}}");
        const json &reloads = root["config_reloads"];
        return {read_count(reloads, "success"), read_count(reloads, "failure")};
    } catch (const std::exception &e) {
        throw std::runtime_error(path_ + ": " + e.what());
    }
}

void ReloadCountFile::save(const ReloadCounts &counts) const
{
    const json root = {
        {"version", kFormatVersion},
        {"config_reloads", {{"success", counts.success}, {"failure", counts.failure}}}};
    replace_state_file(path_, root.dump() + "\n");
}

} // namespace ratelimit::metrics
