// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "metrics/exposition.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <system_error>

namespace ratelimit::metrics
{

namespace
{

bool ascii_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

// Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without colons.
bool valid_name(std::string_view name, bool colons_allowed)
{
    auto leading = [colons_allowed](char c) {
        return ascii_letter(c) || c == '_' || (colons_allowed && c == ':');
    };
    if (name.empty() || !leading(name.front()))
        return false;
    return std::ranges::all_of(name, [&](char c) { return leading(c) || ascii_digit(c); });
}

const char *type_name(MetricType type)
{
    switch (type) {
    case MetricType::Counter:
        return "counter";
    case MetricType::Gauge:
        return "gauge";
    }
    throw std::invalid_argument("unknown metric type");
}

void check_family(const Family &family)
{
    const std::string &name = family.name;
    if (!valid_name(name, true))
        throw std::invalid_argument("\"" + name + "\" is not a valid metric name");
    if (family.type == MetricType::Counter && !name.ends_with("_total"))
        throw std::invalid_argument("counter " + name + " does not end in _total");
}

// `{name="value",...}`, or nothing for no labels; checks the names on the way.
std::string label_text(const std::string &metric, const std::vector<Label> &labels)
{
    if (labels.empty())
        return {};
    std::set<std::string_view> names;
    std::string text = "{";
    for (const auto &label : labels) {
        if (!valid_name(label.name, false) || label.name.starts_with("__"))
            throw std::invalid_argument(metric + ": \"" + label.name +
                                        "\" is not a label name a metric may have");
        if (!names.insert(label.name).second)
            throw std::invalid_argument(metric + ": label " + label.name + " given twice");
        if (text.size() > 1)
            text += ',';
        text += label.name + "=\"" + escape_label_value(label.value) + "\"";
    }
    return text + "}";
}

} // namespace

std::string escape_label_value(std::string_view value)
{
    std::string escaped;
    escaped.reserve(value.size());
    for (char c : value) {
        switch (c) {
        case '\\':
            escaped += "\\\\";
            break;
        case '"':
            escaped += "\\\"";
            break;
        case '\n':
            escaped += "\\n";
            break;
        default:
            escaped += c;
        }
    }
    return escaped;
}

std::string escape_help(std::string_view help)
{
    std::string escaped;
    escaped.reserve(help.size());
    for (char c : help) {
        if (c == '\\')
            escaped += "\\\\";
        else if (c == '\n')
            escaped += "\\n";
        else
            escaped += c;
    }
    return escaped;
}

std::string format_value(const SampleValue &value)
{
    if (const auto *count = std::get_if<std::uint64_t>(&value))
        return std::to_string(*count);
    const double number = std::get<double>(value);
    if (std::isnan(number))
        return "NaN";
    if (std::isinf(number))
        return number > 0 ? "+Inf" : "-Inf";
    char text[32]; // the shortest round-trip form of a double takes at most 24
    auto [end, error] = std::to_chars(text, text + sizeof text, number);
    if (error != std::errc())
        throw std::invalid_argument("cannot format a sample value");
    return std::string(text, end);
}

std::string render(const std::vector<Family> &families)
{
    std::set<std::string_view> family_names;
    std::string text;
    for (const auto &family : families) {
        check_family(family);
        if (!family_names.insert(family.name).second)
            throw std::invalid_argument("metric " + family.name + " given twice");
        text += "# HELP " + family.name + " " + escape_help(family.help) + "\n";
        text += "# TYPE " + family.name + " " + type_name(family.type) + "\n";
        std::set<std::string> label_sets;
        for (const auto &sample : family.samples) {
            std::string labels = label_text(family.name, sample.labels);
            text += family.name + labels + " " + format_value(sample.value) + "\n";
            if (!label_sets.insert(std::move(labels)).second)
                throw std::invalid_argument(family.name + ": two samples with the same labels");
        }
    }
    return text;
}

} // namespace ratelimit::metrics
