// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitctl's human output: the daemon's results (control/results.hpp) as aligned tables and
// short sentences.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "control/protocol.hpp"
#include "control/results.hpp"

namespace ratelimit::ctl
{

void render(const control::StatusResult &result, std::ostream &out);
void render(const control::ListResult &result, std::ostream &out);
void render(const control::RuleChangeResult &result, std::ostream &out);
void render(const control::UnsetResult &result, std::ostream &out);
void render(const control::ShowResult &result, std::ostream &out);
void render(const control::StatsResult &result, std::ostream &out);
void render(const control::FlushResult &result, std::ostream &out);
void render(const control::BansResult &result, std::ostream &out);
void render(const control::UnbanResult &result, std::ostream &out);
void render(const control::ReloadCommandResult &result, std::ostream &out);
void render(const control::ApplyResult &result, std::ostream &out);

// Writes `result`, the daemon's answer to `command` (any but top, which is shown with rates:
// top_with_rates). Throws std::runtime_error naming the field if it is not what the command
// answers.
void render(control::Command command, const nlohmann::json &result, std::ostream &out);

// ----- top: the rates between two samples ----------------------------

struct SourceRates {
    double packets = 0, dropped = 0, would_drop = 0, bytes = 0;
    bool operator==(const SourceRates &) const = default;
};

struct RatedSource {
    control::SourceTraffic source; // as the later sample has it
    // Per second since the earlier sample; none if its counters went back (the source was
    // forgotten), or the earlier sample did not list it although it listed not every source.
    std::optional<SourceRates> per_second;
    bool operator==(const RatedSource &) const = default;
};

// The `top` result ratelimitctl shows.
struct TopRates {
    control::TopOrder by = control::TopOrder::Drops;
    std::uint64_t scanned = 0;
    double interval_s = 0; // between the two samples
    std::vector<RatedSource> sources;
    bool operator==(const TopRates &) const = default;
};

// The first `count` sources of the `later` sample, with their rates since the `earlier` one.
TopRates top_with_rates(const control::TopResult &earlier, const control::TopResult &later,
                        std::size_t count);
// As --json prints it: the top result's fields but "sampled_at_ms", and "interval_s"; each source
// with "per_second" {"packets", "dropped", "would_drop", "bytes"} or null.
nlohmann::json encode_top_rates(const TopRates &rates);
void render(const TopRates &rates, std::ostream &out);

} // namespace ratelimit::ctl
