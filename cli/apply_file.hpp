// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The changes `ratelimitctl apply -f FILE` sends, read from the file's text, which is either
//   - lines, each a set, allow, deny or unset command with its arguments exactly as ratelimitctl
//     takes them (parsed by the same subcommands, command_table.hpp):
//         deny 198.51.100.7 --ttl 30m --comment "seen scanning"
//         set 203.0.113.0/24 --rate 100pps --burst 200
//         unset 192.0.2.0/24
//     Words are split as a shell would: blanks between them, '...' and "..." quote, a backslash
//     escapes the next character (but in '...'); a '#' starting a word starts a comment; blank
//     lines and comments are left out. Changes are numbered by their line, from 1.
//   - or a JSON array (its first character other than blanks is '['): each entry a change as the
//     apply request states it (control/protocol.hpp), without "line": a rule object as the config
//     file states it, plus "op" ("set", "allow", "deny", "unset") and "ttl"?, or {"op": "unset",
//     "match"} or {"op": "unset", "all": true}. Changes are numbered by their entry, from 1.
// The whole text is checked: every bad line (or entry) is named with its number.

#include <string>
#include <string_view>
#include <vector>

#include "control/protocol.hpp"

namespace ratelimit::ctl
{

struct FileChanges {
    std::vector<control::ApplyChange> changes; // in order, each with its number as its line
    std::vector<std::string> errors;           // "line 3: --ttl: ...", one for each bad line
};

FileChanges read_changes(std::string_view text);

// The words of one line, split as above; "" when it holds none. Throws std::invalid_argument
// saying why it cannot be split (a quote left open, a backslash at its end).
std::vector<std::string> split_words(std::string_view line);

} // namespace ratelimit::ctl
