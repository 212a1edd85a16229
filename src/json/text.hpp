// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Strings from outside (the config, the state files, control requests): what no name, prefix or
// path may contain, and how to name a place in a JSON document safely.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ratelimit
{

// Why `text` cannot be a name, prefix or path, if it cannot: it holds a control character
// (U+0000 .. U+001F or U+007F), e.g. "contains a control character (U+0000 at byte 8)". A NUL
// would cut the text short wherever it reaches a C API ("10.4.0.9\u0000 <- harmless" would be
// read as 10.4.0.9 and shown whole), and the others are never meant and garble logs.
std::optional<std::string> control_character_problem(std::string_view text);

// Paths into a document as errors name them: "rules[3].limits[0].rate". A key that is not a
// plain field name (letters, digits, '_' and '-', at most 64 bytes) is written escaped and
// shortened, as ["k\u0000..."], so that a path never carries control characters or much of the
// input into a log.
std::string json_field_path(const std::string &object, std::string_view key);
std::string json_element_path(const std::string &array, std::size_t index);

// Compact JSON text of `value`, as messages quote it: escapes what a terminal should not see raw,
// replaces invalid UTF-8 (a client's bytes echoed back) rather than throwing.
std::string json_text(const nlohmann::json &value);
// `text` as a JSON string, as messages quote a name, prefix or path.
std::string quote(std::string_view text);
// A value as an error message shows it: scalars as written, containers by kind ("an object",
// "a list"), so that a message never repeats a whole document.
std::string describe(const nlohmann::json &value);

// A key of an object that is not one of the fields its reader knows.
struct UnknownField {
    std::string key;
    std::string suggestion; // "; did you mean \"rate\"?" for a typo of a known field, else ""
};
// The keys of `object` (an object) that `known` does not name, in order.
std::vector<UnknownField> unknown_fields(const nlohmann::json &object,
                                         std::span<const std::string_view> known);

} // namespace ratelimit
