// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// ratelimitctl's human output: the daemon's results (control/protocol.hpp gives their shapes)
// as aligned tables and short sentences.

#include <ostream>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"

namespace ratelimit::ctl
{

// Writes `result`, the daemon's answer to `command`. Throws nlohmann::json::exception if the
// result lacks a field the protocol promises.
void render(control::Command command, const nlohmann::json &result, std::ostream &out);

} // namespace ratelimit::ctl
