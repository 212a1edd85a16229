// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The one JSON reader for everything ratelimitd and ratelimitctl read: the config file, the
// state files, control requests and the daemon's answers. It reads in one pass through
// nlohmann's SAX interface, building the value as it goes, so that time and memory are linear in
// the input; nothing is done per value that grows with the depth or the size of what came before.
// It refuses:
// - input longer than JsonLimits::max_bytes, before reading any of it;
// - nesting deeper than JsonLimits::max_depth, as soon as it is reached, so that nothing done
//   with a value afterwards (a copy, a dump into an error message) recurses deeper than that;
// - a key given twice in one object: JSON allows it, but only one of the two values would be
//   kept, silently. Every such key is reported, with its path.
// Errors say where (line and column, and the path) and what was wrong, and never quote the
// input: a file that turns out to be something else (a secret a symlink points at) does not end
// up in a log.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "json/validated.hpp"

namespace ratelimit
{

// A config needs 6 levels, a control request 5; 64 leaves room for any sane future use.
inline constexpr std::size_t kMaxJsonDepth = 64;

struct JsonLimits {
    std::size_t max_bytes = 0;
    std::size_t max_depth = kMaxJsonDepth; // the outermost object or list is level 1
};

using JsonDocument = Validated<nlohmann::json>;

JsonDocument read_json(std::string_view text, const JsonLimits &limits);

} // namespace ratelimit
