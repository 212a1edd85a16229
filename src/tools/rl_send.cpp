// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// rl-send: puts UDP frames on an interface for tests and benchmarks, from fixed or spoofed
// sources, flat out or paced, and reports what it sent.
//
// Exit status: 0 sent, 1 sending failed (a kernel call, named in the message), 2 usage error.

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string_view>

#include "tools/sender.hpp"

namespace
{

using ratelimit::Address;
using ratelimit::Prefix;

struct UsageError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// "250", "50k", "1.5M", "2G", optionally followed by `unit` ("50kpps").
double parse_scaled(std::string_view text, std::string_view unit, const char *option)
{
    std::string_view rest = text;
    if (!unit.empty() && rest.ends_with(unit))
        rest.remove_suffix(unit.size());
    double scale = 1;
    if (!rest.empty()) {
        switch (rest.back()) {
        case 'k':
            scale = 1e3;
            break;
        case 'M':
            scale = 1e6;
            break;
        case 'G':
            scale = 1e9;
            break;
        }
        if (scale != 1)
            rest.remove_suffix(1);
    }
    double value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (rest.empty() || ec != std::errc() || end != rest.data() + rest.size() ||
        !std::isfinite(value) || value <= 0)
        throw UsageError(std::string(option) + ": \"" + std::string(text) +
                         "\" is not a positive number (suffixes: k, M, G)");
    return value * scale;
}

// "3s", "250ms", "1.5m", "100us", "500ns"; a bare number is seconds.
std::chrono::nanoseconds parse_duration(std::string_view text)
{
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}};
    std::string_view number = text;
    double scale = 1e9;
    for (auto [suffix, ns] : kUnits) {
        if (text.ends_with(suffix)) {
            number = text.substr(0, text.size() - suffix.size());
            scale = ns;
            break;
        }
    }
    double value = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
        !std::isfinite(value) || value <= 0)
        throw UsageError("--duration: \"" + std::string(text) +
                         "\" is not a duration (e.g. 3s, 250ms, 1m)");
    return std::chrono::nanoseconds(std::llround(value * scale));
}

Address address_option(const std::string &text, const char *option)
{
    auto address = ratelimit::parse_address(text);
    if (!address)
        throw UsageError(std::string(option) + ": \"" + text + "\" is not an IPv4/IPv6 address");
    return *address;
}

void print_report(const ratelimit::SendReport &report, bool json)
{
    double seconds = static_cast<double>(report.elapsed.count()) / 1e9;
    double bits_per_second = seconds > 0 ? static_cast<double>(report.bytes) * 8 / seconds : 0;
    if (json) {
        std::printf("{\"packets\":%llu,\"bytes\":%llu,\"elapsed_ns\":%lld,\"rate_pps\":%.1f,"
                    "\"rate_bps\":%.0f,\"retries\":%llu}\n",
                    static_cast<unsigned long long>(report.packets),
                    static_cast<unsigned long long>(report.bytes),
                    static_cast<long long>(report.elapsed.count()), report.rate_pps(),
                    bits_per_second, static_cast<unsigned long long>(report.retries));
    } else {
        std::printf(
            "sent %llu packets (%llu bytes) in %.6f s: %.0f pps, %.2f Mbit/s, %llu retries\n",
            static_cast<unsigned long long>(report.packets),
            static_cast<unsigned long long>(report.bytes), seconds, report.rate_pps(),
            bits_per_second / 1e6, static_cast<unsigned long long>(report.retries));
    }
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app("Sends UDP frames on an interface and reports what was sent.", "rl-send");
    ratelimit::SendPlan plan;
    std::vector<std::string> sources;
    std::string source_range, destination, rate, count, duration;
    std::uint16_t frame_bytes = 0, vlan = 0;
    int cpu = -1;
    std::uint64_t seed = 0;
    bool json = false;

    app.add_option("-i,--interface", plan.interface, "interface to send on")->required();
    auto *from = app.add_option_group("source", "where frames come from (one of)");
    from->add_option("--src", sources, "source address; repeat to use several in turn");
    from->add_option("--src-range", source_range,
                     "prefix to draw a random source from for every frame (spoofed flood)");
    from->require_option(1);
    app.add_option("--dst", destination, "destination address")->required();
    auto *vlan_option =
        app.add_option("--vlan", vlan, "802.1Q VLAN ID")->check(CLI::Range(0, 4094));
    auto *size_option = app.add_option(
        "--size", frame_bytes, "Ethernet frame length without FCS (default 64, or the headers)");
    app.add_option("--rate", rate, "packets per second, e.g. 50000, 50k, 1.5M (default: flat out)");
    auto *until = app.add_option_group("stop", "when to stop (either or both)");
    until->add_option("--count", count, "frames to send, e.g. 10000, 10k, 1M");
    until->add_option("--duration", duration, "how long to send, e.g. 3s, 250ms, 1m");
    until->require_option(1, 2);
    auto *cpu_option = app.add_option("--cpu", cpu, "pin the sending thread to this CPU")
                           ->check(CLI::NonNegativeNumber);
    app.add_option("--batch", plan.batch, "frames per sendmmsg call (1..1024)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    app.add_flag("--qdisc-bypass", plan.qdisc_bypass, "skip the qdisc (PACKET_QDISC_BYPASS)");
    auto *seed_option = app.add_option("--seed", seed, "seed for --src-range draws");
    app.add_flag("--json", json, "print the report as JSON");

    try {
        app.parse(argc, argv);
        for (const auto &source : sources)
            plan.sources.push_back(address_option(source, "--src"));
        if (!source_range.empty()) {
            plan.source_range = ratelimit::parse_prefix(source_range);
            if (!plan.source_range)
                throw UsageError("--src-range: \"" + source_range +
                                 "\" is not an IPv4/IPv6 prefix with zero host bits");
        }
        plan.destination = address_option(destination, "--dst");
        if (*vlan_option)
            plan.vlan = vlan;
        if (*size_option)
            plan.frame_bytes = frame_bytes;
        if (!rate.empty())
            plan.rate_pps = parse_scaled(rate, "pps", "--rate");
        if (!count.empty()) {
            double frames = parse_scaled(count, "", "--count");
            if (frames != std::floor(frames))
                throw UsageError("--count: \"" + count + "\" is not a whole number of frames");
            plan.count = static_cast<std::uint64_t>(frames);
        }
        if (!duration.empty())
            plan.duration = parse_duration(duration);
        if (*cpu_option)
            plan.cpu = cpu;
        if (*seed_option)
            plan.seed = seed;
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const UsageError &e) {
        std::cerr << "rl-send: " << e.what() << "\n";
        return 2;
    }

    try {
        print_report(ratelimit::send_frames(plan), json);
    } catch (const std::invalid_argument &e) { // an inconsistent plan: still a usage error
        std::cerr << "rl-send: " << e.what() << "\n";
        return 2;
    } catch (const std::exception &e) { // a kernel call failed (SystemError), or worse
        std::cerr << "rl-send: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
