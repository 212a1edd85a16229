// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A file of prefixes, as a rule's "match_file" names it and `ratelimitctl set --match-file`
// reads it: one prefix (or bare address) per line, in the formats of FireHOL `.netset` and
// Spamhaus DROP files. A `#` or `;` starts a comment that runs to the end of the line (a whole
// line, or after the prefix: "192.0.2.0/24 ; SBL123"); blank lines are skipped; a line may end
// in CRLF; spaces and tabs around the prefix are ignored. A prefix listed twice is taken once.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace ratelimit
{

// The largest prefix file read: a 1,000,000-line netset of /24s is about 17 MiB.
inline constexpr std::size_t kMaxPrefixFileBytes = std::size_t{32} << 20;
// Bad lines reported one by one; the rest are counted.
inline constexpr std::size_t kMaxPrefixFileErrors = 10;

struct PrefixList {
    std::vector<Prefix> prefixes; // sorted, distinct
    // Each bad line: "\"/etc/x.netset\" line 12: \"10.0.0.300/8\" is not an IPv4 or IPv6
    // prefix" (kMaxPrefixFileErrors of them, then one counting the rest); a file with no
    // prefix at all is an error too. Empty: `prefixes` is the file.
    std::vector<std::string> errors;
};

// The prefixes of `text`, the content of the file `name` (named in the errors).
PrefixList parse_prefix_list(std::string_view text, const std::string &name);

// Sorts `prefixes` and drops the repeats.
void make_distinct(std::vector<Prefix> &prefixes);

} // namespace ratelimit
