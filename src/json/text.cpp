// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "json/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "json/suggest.hpp"

namespace ratelimit
{

namespace
{

constexpr std::size_t kMaxPlainKey = 64;
constexpr std::size_t kShownKeyBytes = 16; // of a key that is not plain

bool is_control(char c)
{
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

bool is_plain_key(std::string_view key)
{
    auto plain = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    };
    return !key.empty() && key.size() <= kMaxPlainKey && std::ranges::all_of(key, plain);
}

} // namespace

std::optional<std::string> control_character_problem(std::string_view text)
{
    auto found = std::ranges::find_if(text, is_control);
    if (found == text.end())
        return std::nullopt;
    char code[16];
    std::snprintf(code, sizeof code, "U+%04X",
                  static_cast<unsigned>(static_cast<unsigned char>(*found)));
    return "contains a control character (" + std::string(code) + " at byte " +
           std::to_string(found - text.begin()) + ")";
}

std::string json_field_path(const std::string &object, std::string_view key)
{
    if (is_plain_key(key))
        return object.empty() ? std::string(key) : object + "." + std::string(key);
    const bool shortened = key.size() > kShownKeyBytes;
    // Escaped by the JSON writer (ASCII only, invalid UTF-8 replaced): nothing raw reaches a log.
    std::string shown = nlohmann::json(std::string(key.substr(0, kShownKeyBytes)))
                            .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    if (shortened)
        shown.insert(shown.size() - 1, "...");
    return object + "[" + shown + "]";
}

std::string json_element_path(const std::string &array, std::size_t index)
{
    return array + "[" + std::to_string(index) + "]";
}

std::string json_text(const nlohmann::json &value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string quote(std::string_view text)
{
    return json_text(text);
}

std::string describe(const nlohmann::json &value)
{
    if (value.is_object())
        return "an object";
    if (value.is_array())
        return "a list";
    return json_text(value);
}

std::vector<UnknownField> unknown_fields(const nlohmann::json &object,
                                         std::span<const std::string_view> known)
{
    std::vector<UnknownField> unknown;
    for (const auto &[key, unused] : object.items()) {
        if (std::ranges::find(known, key) != known.end())
            continue;
        auto nearest = config::nearest_name(key, known);
        unknown.push_back({key, nearest ? "; did you mean " + quote(*nearest) + "?" : ""});
    }
    return unknown;
}

} // namespace ratelimit
