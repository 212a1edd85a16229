// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "json/suggest.hpp"

#include <algorithm>
#include <vector>

namespace ratelimit::config
{

std::size_t edit_distance(std::string_view from, std::string_view to)
{
    std::vector<std::size_t> row(to.size() + 1);
    for (std::size_t j = 0; j <= to.size(); j++)
        row[j] = j;
    for (std::size_t i = 1; i <= from.size(); i++) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= to.size(); j++) {
            std::size_t substitution = diagonal + (from[i - 1] != to[j - 1]);
            diagonal = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
        }
    }
    return row[to.size()];
}

std::optional<std::string_view>
nearest_name(std::string_view typed, std::span<const std::string_view> known, std::size_t max_typos)
{
    auto closest = std::min_element(known.begin(), known.end(), [&](auto a, auto b) {
        return edit_distance(typed, a) < edit_distance(typed, b);
    });
    if (closest == known.end() || edit_distance(typed, *closest) > max_typos)
        return std::nullopt;
    return *closest;
}

} // namespace ratelimit::config
