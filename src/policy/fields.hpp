// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Typed reading of the fields of one JSON object, for documents validated as a whole (the config
// file, rule objects): every problem becomes an error naming the field's path, the value and why,
// and a field that cannot be read leaves its target at the default, so that reading goes on and
// one run reports every problem.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "json/text.hpp"
#include "json/validated.hpp"
#include "policy/names.hpp"

namespace ratelimit
{

using Fieldnames = std::span<const std::string_view>;

class Fields
{
  public:
    // `value` null: an optional object that is absent; every field reads as absent. Fields not in
    // `known` are errors, with a "did you mean" for a typo.
    Fields(const nlohmann::json *value, std::string path, Fieldnames known, JsonErrors &errors);

    bool is_object() const { return object_ != nullptr; }
    const std::string &path() const { return path_; }
    std::string path(std::string_view key) const { return json_field_path(path_, key); }

    // An error about the object as a whole; at the top (empty path) it says "the configuration".
    void fail_here(std::string message) const;
    void fail(std::string_view key, std::string message) const;
    JsonErrors &errors() const { return errors_; }

    const nlohmann::json *get(std::string_view key) const;
    // get, with an error if the field is absent from a present object.
    const nlohmann::json *require(std::string_view key) const;
    Fields object(std::string_view key, Fieldnames known) const;

    // A string without control characters: every string read is a name, prefix, path, unit or
    // choice.
    std::optional<std::string> string(std::string_view key) const;
    // A rate, size or count: a string with a unit, or a bare JSON number in the base unit
    // (spelled `base_unit`), read by `parse`.
    std::optional<std::uint64_t> quantity(std::string_view key,
                                          Parsed<std::uint64_t> (*parse)(std::string_view),
                                          std::string_view base_unit) const;

    void read(std::string_view key, bool &target) const;
    void read(std::string_view key, std::string &target) const;
    void read(std::string_view key, std::uint32_t &target, std::uint32_t min,
              std::uint32_t max) const;
    void read_absolute_path(std::string_view key, std::string &target) const;
    // A string that `problem_of` finds nothing wrong with; what it finds is the field's error.
    void read(std::string_view key, std::string &target,
              std::optional<std::string> (*problem_of)(std::string_view)) const;

    // One of the words of `table`; anything else is an error listing them.
    template <typename T, std::size_t N>
    std::optional<T> choose(std::string_view key, const Spellings<T, N> &table) const
    {
        auto text = string(key);
        if (!text)
            return std::nullopt;
        if (auto value = value_of(table, *text))
            return value;
        fail(key, quote(*text) + " is not one of " + list_names(table, " or "));
        return std::nullopt;
    }

    template <typename Target, typename T, std::size_t N>
    void read_choice(std::string_view key, Target &target, const Spellings<T, N> &table) const
    {
        if (auto choice = choose(key, table))
            target = Target(*choice);
    }

  private:
    const nlohmann::json *object_ = nullptr;
    std::string path_;
    JsonErrors &errors_;
};

} // namespace ratelimit
