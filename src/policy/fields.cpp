// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "policy/fields.hpp"

namespace ratelimit
{

using nlohmann::json;

Fields::Fields(const json *value, std::string path, Fieldnames known, JsonErrors &errors)
    : path_(std::move(path)), errors_(errors)
{
    if (!value)
        return;
    if (!value->is_object()) {
        fail_here("must be an object, not " + describe(*value));
        return;
    }
    object_ = value;
    for (const auto &unknown : unknown_fields(*value, known))
        fail(unknown.key, "unknown field" + unknown.suggestion);
}

void Fields::fail_here(std::string message) const
{
    errors_.push_back({path_, (path_.empty() ? "the configuration " : "") + message});
}

void Fields::fail(std::string_view key, std::string message) const
{
    errors_.push_back({path(key), std::move(message)});
}

const json *Fields::get(std::string_view key) const
{
    if (!object_)
        return nullptr;
    auto found = object_->find(key);
    return found == object_->end() ? nullptr : &*found;
}

const json *Fields::require(std::string_view key) const
{
    const json *value = get(key);
    if (!value && object_)
        fail(key, "missing (required)");
    return value;
}

Fields Fields::object(std::string_view key, Fieldnames known) const
{
    return Fields(get(key), path(key), known, errors_);
}

std::optional<std::string> Fields::string(std::string_view key) const
{
    const json *value = get(key);
    if (value && !value->is_string())
        fail(key, "must be a string, not " + describe(*value));
    if (!value || !value->is_string())
        return std::nullopt;
    const auto &text = value->get_ref<const std::string &>();
    if (auto problem = control_character_problem(text)) {
        fail(key, quote(text) + " " + *problem);
        return std::nullopt;
    }
    return text;
}

std::optional<std::uint64_t> Fields::quantity(std::string_view key,
                                              Parsed<std::uint64_t> (*parse)(std::string_view),
                                              std::string_view base_unit) const
{
    const json *value = get(key);
    if (!value)
        return std::nullopt;
    if (!value->is_string() && !value->is_number()) {
        fail(key, "must be a string with a unit or a number, not " + describe(*value));
        return std::nullopt;
    }
    auto text = value->is_string() ? string(key) : value->dump() + std::string(base_unit);
    if (!text)
        return std::nullopt;
    auto parsed = parse(*text);
    if (!parsed.value)
        fail(key, parsed.error);
    return parsed.value;
}

void Fields::read(std::string_view key, bool &target) const
{
    const json *value = get(key);
    if (value && !value->is_boolean())
        fail(key, "must be true or false, not " + describe(*value));
    else if (value)
        target = value->get<bool>();
}

void Fields::read(std::string_view key, std::string &target) const
{
    if (auto text = string(key))
        target = *text;
}

void Fields::read(std::string_view key, std::uint32_t &target, std::uint32_t min,
                  std::uint32_t max) const
{
    const json *value = get(key);
    if (!value)
        return;
    const std::string range = " (" + std::to_string(min) + " .. " + std::to_string(max) + ")";
    if (!value->is_number_integer())
        fail(key, "must be a whole number" + range + ", not " + describe(*value));
    else if (value->is_number_unsigned() && value->get<std::uint64_t>() >= min &&
             value->get<std::uint64_t>() <= max)
        target = value->get<std::uint32_t>();
    else
        fail(key, json_text(*value) + " is out of range" + range);
}

void Fields::read(std::string_view key, std::string &target,
                  std::optional<std::string> (*problem_of)(std::string_view)) const
{
    auto text = string(key);
    if (!text)
        return;
    if (auto problem = problem_of(*text))
        fail(key, *problem);
    else
        target = *text;
}

void Fields::read_absolute_path(std::string_view key, std::string &target) const
{
    auto text = string(key);
    if (text && !text->starts_with('/'))
        fail(key, quote(*text) + " is not an absolute path");
    else if (text)
        target = *text;
}

} // namespace ratelimit
