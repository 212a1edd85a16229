// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "policy/units.hpp"

#include <span>

#include "json/text.hpp"

namespace ratelimit::config
{

namespace
{

// Wide enough for 27 significant digits times the largest unit, so no step below overflows.
using Wide = unsigned __int128;

constexpr std::size_t kMaxIntegerDigits = 18; // more is above every maximum
constexpr std::size_t kMaxDecimals = 9;
constexpr int kMaxFormattedDecimals = 2;

enum class Spelling {
    Canonical, // read and written
    Alias,     // only read
};

struct Unit {
    std::string_view name;
    int magnitude;           // units of one magnitude (k and Ki) compete on fewest decimals
    std::uint64_t numerator; // one of this unit is numerator / denominator base units
    std::uint64_t denominator = 1;
    Spelling spelling = Spelling::Canonical;
};

constexpr auto kAlias = Spelling::Alias;
constexpr std::uint64_t kKi = 1024, kMi = kKi * kKi, kGi = kMi * kKi;

constexpr Unit kPacketRateUnits[] = {
    {"pps", 0, 1},          {"", 0, 1, 1, kAlias},
    {"kpps", 1, 1000},      {"Kpps", 1, 1000, 1, kAlias},
    {"Mpps", 2, 1'000'000}, {"Gpps", 3, 1'000'000'000},
};

// The base unit is the byte; rates are written in bits, the unit link speeds are sold in.
constexpr Unit kByteRateUnits[] = {
    {"bit", 0, 1, 8},
    {"kbit", 1, 125},
    {"Mbit", 2, 125'000},
    {"Gbit", 3, 125'000'000},
    {"Kbit", 1, 125, 1, kAlias},
    {"bit/s", 0, 1, 8, kAlias},
    {"kbit/s", 1, 125, 1, kAlias},
    {"Kbit/s", 1, 125, 1, kAlias},
    {"Mbit/s", 2, 125'000, 1, kAlias},
    {"Gbit/s", 3, 125'000'000, 1, kAlias},
    {"B/s", 0, 1, 1, kAlias},
    {"kB/s", 1, 1000, 1, kAlias},
    {"KB/s", 1, 1000, 1, kAlias},
    {"MB/s", 2, 1'000'000, 1, kAlias},
    {"GB/s", 3, 1'000'000'000, 1, kAlias},
    {"KiB/s", 1, kKi, 1, kAlias},
    {"MiB/s", 2, kMi, 1, kAlias},
    {"GiB/s", 3, kGi, 1, kAlias},
};

constexpr Unit kSizeUnits[] = {
    {"B", 0, 1},     {"", 0, 1, 1, kAlias}, {"kB", 1, 1000}, {"KB", 1, 1000, 1, kAlias},
    {"KiB", 1, kKi}, {"MB", 2, 1'000'000},  {"MiB", 2, kMi}, {"GB", 3, 1'000'000'000},
    {"GiB", 3, kGi},
};

constexpr Unit kPacketCountUnits[] = {{"", 0, 1}};

constexpr Unit kDurationUnits[] = {
    {"ms", 0, 1}, {"s", 1, 1000}, {"m", 2, 60'000}, {"h", 3, 3'600'000}, {"d", 4, 86'400'000},
};

struct Quantity {
    std::string_view what; // "a packet rate"
    std::span<const Unit> units;
    std::string_view hint;      // how to write one, closing every error message
    std::string_view base_noun; // "packets per second": what values are whole numbers of
    bool rounds = false;        // fractions of the base unit are rounded, not refused
    std::uint64_t min = 1;
    std::uint64_t max = kMaxBurst; // applies after rounding
};

constexpr Quantity kPacketRate{.what = "a packet rate",
                               .units = kPacketRateUnits,
                               .hint = "use pps, kpps, Mpps or Gpps",
                               .base_noun = "packets per second",
                               .max = kMaxPacketRate};
constexpr Quantity kByteRate{
    .what = "a byte rate",
    .units = kByteRateUnits,
    .hint = "use bit, kbit, Mbit, Gbit or B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s",
    .base_noun = "bytes per second",
    .rounds = true, // bits are eighths of the base unit
    .max = kMaxByteRate};
constexpr Quantity kSize{.what = "a size",
                         .units = kSizeUnits,
                         .hint = "use B, kB, MB, GB, KiB, MiB or GiB",
                         .base_noun = "bytes"};
constexpr Quantity kPacketCount{.what = "a packet count",
                                .units = kPacketCountUnits,
                                .hint = "write a whole number of packets",
                                .base_noun = "packets"};
constexpr Quantity kDuration{.what = "a duration",
                             .units = kDurationUnits,
                             .hint = "use ms, s, m, h or d",
                             .base_noun = "milliseconds",
                             .max = static_cast<std::uint64_t>(kMaxDuration.count())};

Wide power_of_ten(std::size_t exponent)
{
    Wide power = 1;
    while (exponent-- > 0)
        power *= 10;
    return power;
}

std::string to_string(Wide value)
{
    std::string digits;
    do {
        digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
        value /= 10;
    } while (value != 0);
    return digits;
}

// "1.5kpps" as its digits ("1", "5") and its unit ("kpps").
struct Written {
    std::string_view integer;
    std::string_view fraction;
    std::string_view unit;
};

std::optional<Written> split(std::string_view text)
{
    constexpr std::string_view kDigits = "0123456789";
    Written written;
    std::size_t end = std::min(text.find_first_not_of(kDigits), text.size());
    written.integer = text.substr(0, end);
    if (end < text.size() && text[end] == '.') {
        std::size_t fraction_end = std::min(text.find_first_not_of(kDigits, end + 1), text.size());
        written.fraction = text.substr(end + 1, fraction_end - end - 1);
        if (written.fraction.empty())
            return std::nullopt;
        end = fraction_end;
    }
    if (written.integer.empty())
        return std::nullopt;
    written.unit = text.substr(std::min(text.find_first_not_of(' ', end), text.size()));
    return written;
}

const Unit *find_unit(std::span<const Unit> units, std::string_view name)
{
    for (const Unit &unit : units)
        if (unit.name == name)
            return &unit;
    return nullptr;
}

Wide digits_value(std::string_view integer, std::string_view fraction)
{
    Wide value = 0;
    for (std::string_view part : {integer, fraction})
        for (char digit : part)
            value = value * 10 + static_cast<unsigned>(digit - '0');
    return value;
}

// Decimals needed to write `parts` / `per_unit` exactly, if at most kMaxFormattedDecimals.
std::optional<int> exact_decimals(Wide parts, std::uint64_t per_unit)
{
    for (int decimals = 0; decimals <= kMaxFormattedDecimals; decimals++)
        if (parts * power_of_ten(decimals) % per_unit == 0)
            return decimals;
    return std::nullopt;
}

std::string format_quantity(std::uint64_t value, std::span<const Unit> units)
{
    const Unit *best = nullptr;
    int best_decimals = 0;
    for (const Unit &unit : units) {
        Wide parts = Wide{value} * unit.denominator; // value, in 1/denominator base units
        if (unit.spelling == Spelling::Alias || parts < unit.numerator)
            continue;
        auto decimals = exact_decimals(parts, unit.numerator);
        bool larger = best && unit.magnitude > best->magnitude;
        bool as_large_but_shorter =
            best && unit.magnitude == best->magnitude && decimals && *decimals < best_decimals;
        if (decimals && (!best || larger || as_large_but_shorter)) {
            best = &unit;
            best_decimals = *decimals;
        }
    }
    if (!best)
        return "0" + std::string(units.front().name);
    Wide scaled = Wide{value} * best->denominator * power_of_ten(best_decimals) / best->numerator;
    Wide scale = power_of_ten(best_decimals);
    std::string text = to_string(scaled / scale);
    if (best_decimals > 0) {
        std::string fraction = to_string(scaled % scale);
        text += "." + std::string(best_decimals - fraction.size(), '0') + fraction;
    }
    return text + std::string(best->name);
}

Parsed<std::uint64_t> parse_quantity(std::string_view text, const Quantity &quantity)
{
    auto fail = [&](const std::string &why) {
        return Parsed<std::uint64_t>{std::nullopt, "\"" + std::string(text) + "\" " + why};
    };
    // Not quoted: the text would carry the control character into the message.
    if (auto problem = control_character_problem(text))
        return {std::nullopt, "the text " + *problem};
    // The messages are built only for a failure: a config may hold 100,000 quantities.
    auto hint = [&] { return "; " + std::string(quantity.hint); };
    auto written = split(text);
    if (!written)
        return fail("is not " + std::string(quantity.what) + hint());
    const Unit *unit = find_unit(quantity.units, written->unit);
    if (!unit && written->unit.empty())
        return fail("needs a unit" + hint());
    if (!unit)
        return fail("has an unknown unit \"" + std::string(written->unit) + "\"" + hint());
    if (written->fraction.size() > kMaxDecimals)
        return fail("has more than " + std::to_string(kMaxDecimals) + " decimals");
    auto significant = written->integer.substr(
        std::min(written->integer.find_first_not_of('0'), written->integer.size()));
    auto maximum = [&] {
        return "is above the maximum of " + format_quantity(quantity.max, quantity.units);
    };
    if (significant.size() > kMaxIntegerDigits)
        return fail(maximum());

    Wide numerator = digits_value(significant, written->fraction) * unit->numerator;
    Wide denominator = power_of_ten(written->fraction.size()) * unit->denominator;
    if (!quantity.rounds && numerator % denominator != 0)
        return fail("is not a whole number of " + std::string(quantity.base_noun));
    Wide value = (numerator + denominator / 2) / denominator;
    if (value < quantity.min)
        return fail("is below the minimum of " + format_quantity(quantity.min, quantity.units));
    if (value > quantity.max)
        return fail(maximum());
    return {static_cast<std::uint64_t>(value), {}};
}

} // namespace

Parsed<std::uint64_t> parse_packet_rate(std::string_view text)
{
    return parse_quantity(text, kPacketRate);
}

Parsed<std::uint64_t> parse_byte_rate(std::string_view text)
{
    return parse_quantity(text, kByteRate);
}

Parsed<std::uint64_t> parse_size(std::string_view text)
{
    return parse_quantity(text, kSize);
}

Parsed<std::uint64_t> parse_packet_count(std::string_view text)
{
    return parse_quantity(text, kPacketCount);
}

Parsed<std::chrono::milliseconds> parse_duration(std::string_view text)
{
    // A compound duration ("1h30m", "2d 12h", "1m30.5s") is a sum of parts, each a number and a
    // unit, the units from larger to smaller so that each is said once.
    auto fail = [&](const std::string &why) {
        return Parsed<std::chrono::milliseconds>{std::nullopt,
                                                 "\"" + std::string(text) + "\" " + why};
    };
    constexpr std::string_view kNumber = "0123456789.";
    std::uint64_t total = 0;
    const Unit *previous = nullptr;
    std::string_view rest = text;
    do {
        // A part runs to the next digit after its unit's letters.
        const std::size_t unit_at = std::min(rest.find_first_not_of(kNumber), rest.size());
        const std::size_t next = std::min(rest.find_first_of(kNumber, unit_at), rest.size());
        std::string_view part = rest.substr(0, next);
        rest.remove_prefix(next);
        while (part.ends_with(' '))
            part.remove_suffix(1);
        auto parsed = parse_quantity(part, kDuration);
        if (!parsed.value)
            return previous ? fail("has a bad part: " + parsed.error)
                            : Parsed<std::chrono::milliseconds>{std::nullopt, parsed.error};
        const Unit *unit = find_unit(kDurationUnits, split(part)->unit);
        if (previous && unit->magnitude >= previous->magnitude)
            return fail("repeats a unit or has a smaller one first; write e.g. 1h30m");
        previous = unit;
        total += *parsed.value; // each part is at most kMaxDuration: no overflow
        if (total > kDuration.max)
            return fail("is above the maximum of " +
                        format_quantity(kDuration.max, kDurationUnits));
    } while (!rest.empty());
    return {std::chrono::milliseconds(total), {}};
}

std::string format_packet_rate(std::uint64_t packets_per_second)
{
    return format_quantity(packets_per_second, kPacketRateUnits);
}

std::string format_bit_rate(std::uint64_t bytes_per_second)
{
    return format_quantity(bytes_per_second, kByteRateUnits);
}

std::string format_size(std::uint64_t bytes)
{
    return format_quantity(bytes, kSizeUnits);
}

std::string format_duration(std::chrono::milliseconds duration)
{
    return format_quantity(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                           kDurationUnits);
}

} // namespace ratelimit::config
