// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// "Did you mean": the known name nearest to a mistyped one, for the field names of every document
// read (config, rule files, requests) and ratelimitctl's commands alike. In namespace config, as
// where it was first written: ratelimitctl calls it config::nearest_name.

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace ratelimit::config
{

// Insertions, deletions and substitutions that turn `from` into `to` (Levenshtein).
std::size_t edit_distance(std::string_view from, std::string_view to);

// The name in `known` fewest edits away from `typed`, if at most `max_typos` away; the first of
// equally near ones.
std::optional<std::string_view> nearest_name(std::string_view typed,
                                             std::span<const std::string_view> known,
                                             std::size_t max_typos = 2);

} // namespace ratelimit::config
