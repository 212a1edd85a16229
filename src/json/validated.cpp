// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "json/validated.hpp"

namespace ratelimit
{

std::string JsonError::to_string() const
{
    return path.empty() ? message : path + ": " + message;
}

std::string join_errors(const JsonErrors &errors, std::string_view separator,
                        std::string_view prefix)
{
    std::string joined;
    for (const auto &error : errors) {
        if (!joined.empty())
            joined += separator;
        joined += prefix;
        joined += error.to_string();
    }
    return joined;
}

} // namespace ratelimit
