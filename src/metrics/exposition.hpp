// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The Prometheus text exposition format, version 0.0.4: metric families as plain structs, written
// out as text. Pure: no I/O, no clock.
//
//   # HELP ratelimitd_packets_total Packets the XDP program saw, by its verdict and why.
//   # TYPE ratelimitd_packets_total counter
//   ratelimitd_packets_total{interface="eth0",verdict="drop",reason="over_limit"} 1234
//
// A family is written whole (HELP, TYPE, then its samples) and families and samples appear in the
// order given, so the text is stable from scrape to scrape.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ratelimit::metrics
{

inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { Counter, Gauge };

struct Label {
    std::string name;
    std::string value;
};

// Counts are written as exact integers: a double would round them above 2^53.
using SampleValue = std::variant<std::uint64_t, double>;

struct Sample {
    std::vector<Label> labels;
    SampleValue value;
};

struct Family {
    std::string name; // a counter's name ends in _total, as its samples are named
    MetricType type = MetricType::Gauge;
    std::string help;
    std::vector<Sample> samples;
};

// The exposition of `families`. Throws std::invalid_argument naming the metric for what the
// format (or Prometheus' naming rules) does not allow: an invalid metric or label name, a
// reserved "__" label, a counter not ending in _total, a family given twice, a label given twice
// in a sample, or two samples with the same labels.
std::string render(const std::vector<Family> &families);

// A label value between its double quotes: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
// A HELP text: backslash and newline escaped (quotes stay as they are).
std::string escape_help(std::string_view help);
// Integers exactly; doubles in the shortest form that reads back equal, and NaN, +Inf, -Inf.
std::string format_value(const SampleValue &value);

} // namespace ratelimit::metrics
