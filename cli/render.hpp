// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitctl's human output: the daemon's results (control/protocol.hpp gives their shapes)
// as aligned tables and short sentences.

#include <cstddef>
#include <ostream>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"

namespace ratelimit::ctl
{

// Writes `result`, the daemon's answer to `command`. Throws nlohmann::json::exception if the
// result lacks a field the protocol promises.
void render(control::Command command, const nlohmann::json &result, std::ostream &out);

// The `top` result ratelimitctl shows: the first `count` sources of the `later` sample, each
// with "per_second" {"packets", "dropped", "would_drop", "bytes"} since the `earlier` one (null
// if its counters went back, the source having been forgotten, or the earlier sample did not
// list it), and "interval_s" between the two.
nlohmann::json top_with_rates(const nlohmann::json &earlier, const nlohmann::json &later,
                              std::size_t count);

} // namespace ratelimit::ctl
