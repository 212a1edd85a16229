// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Pieces of control results that the results and rendering tests both build on. Rules come from
// the config's own parser, so they are rules the daemon could hold.

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control/results.hpp"
#include "policy/rule_json.hpp"

namespace ratelimit::control::samples
{

inline Rule rule(std::string_view text)
{
    auto parsed = parse_rule(nlohmann::json::parse(text), "rule");
    if (!parsed.value)
        throw std::invalid_argument("not a rule: " + std::string(text));
    return *parsed.value;
}

inline const Traffic kTraffic{{15, 1500}, {3, 300}, {5, 500}};
inline const StateFileStatus kSaved{"/var/lib/ratelimitd/runtime-rules.json", true, 0,
                                    std::nullopt};
inline const StateFileStatus kNotSaved{"/var/lib/ratelimitd/runtime-rules.json", false, 2,
                                       "write: No space left on device"};

// A deny with 90 s left.
inline ActiveRuntimeRule expiring_deny()
{
    return {{rule(R"({"match": "198.51.100.7", "action": "deny", "comment": "scanner"})"),
             "2026-11-29T08:00:00Z"},
            90};
}

} // namespace ratelimit::control::samples
