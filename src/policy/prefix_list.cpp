// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "policy/prefix_list.hpp"

#include <algorithm>
#include <optional>

#include "json/text.hpp"

namespace ratelimit
{

namespace
{

// A bad line is quoted at most this long.
constexpr std::size_t kQuotedLineBytes = 80;

std::string_view trimmed(std::string_view text)
{
    const std::size_t first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos)
        return {};
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

std::string shortened(std::string_view text)
{
    if (text.size() <= kQuotedLineBytes)
        return quote(text);
    return quote(text.substr(0, kQuotedLineBytes)) + "...";
}

// Why `entry` (a line without its comment, trimmed) is no prefix, if it is not; else adds it.
std::optional<std::string> read_entry(std::string_view entry, std::vector<Prefix> &prefixes)
{
    if (entry.find_first_of(" \t") != std::string_view::npos)
        return shortened(entry) +
               " is not one prefix: one per line, a comment after \"#\" or \";\"";
    auto prefix = read_prefix(entry);
    if (!prefix.value)
        return entry.size() <= kQuotedLineBytes ? prefix.error
                                                : shortened(entry) + " is not a prefix";
    prefixes.push_back(*prefix.value);
    return std::nullopt;
}

} // namespace

void make_distinct(std::vector<Prefix> &prefixes)
{
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
}

PrefixList parse_prefix_list(std::string_view text, const std::string &name)
{
    PrefixList list;
    std::size_t bad = 0, number = 0;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        number++;
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        const std::string_view entry = trimmed(line.substr(0, line.find_first_of("#;")));
        if (entry.empty())
            continue;
        auto problem = read_entry(entry, list.prefixes);
        if (problem && ++bad <= kMaxPrefixFileErrors)
            list.errors.push_back(quote(name) + " line " + std::to_string(number) + ": " +
                                  *problem);
    }
    if (bad > kMaxPrefixFileErrors)
        list.errors.push_back(quote(name) + ": " + std::to_string(bad - kMaxPrefixFileErrors) +
                              " more bad lines");
    if (bad == 0 && list.prefixes.empty())
        list.errors.push_back(quote(name) + " holds no prefix (" + std::to_string(number) +
                              " lines, all blank or comments): a rule must match something");
    make_distinct(list.prefixes);
    return list;
}

} // namespace ratelimit
