// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// What validating a document gives: the value, or every problem found, each at its path. One
// run reports everything wrong, so that a config (or a request) is fixed in one go.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ratelimit
{

// One problem at one place of a document (or of what was read from it).
struct JsonError {
    std::string path;    // "rules[3].match"; empty for the document as a whole
    std::string message; // "is given twice (line 4, column 21)"
    // rules[3].match: "10.0.0.300/8" is not an IPv4 or IPv6 prefix
    std::string to_string() const;
    bool operator==(const JsonError &) const = default;
};

using JsonErrors = std::vector<JsonError>;

// Errors as one message: each as to_string() shows it after `prefix` (a file's name and ": ",
// say), `separator` between them. "; " for a line (a log line, an answer to a client), "\n" for
// a list.
std::string join_errors(const JsonErrors &errors, std::string_view separator = "; ",
                        std::string_view prefix = "");

template <typename T>
struct Validated {
    std::optional<T> value; // set exactly when there are no errors
    JsonErrors errors;

    static Validated valid(T value) { return {std::move(value), {}}; }
    // `value` if `errors` is empty, else only the errors.
    static Validated checked(std::optional<T> value, JsonErrors errors)
    {
        if (!errors.empty())
            return {std::nullopt, std::move(errors)};
        return {std::move(value), {}};
    }
};

// A value read from one piece of text, or why the text is not one ("\"5x\" has an unknown
// unit"). It has no path: whoever read the text from a document knows where it was, and adds it.
template <typename T>
struct Parsed {
    std::optional<T> value;
    std::string error; // set exactly when there is no value
};

} // namespace ratelimit
