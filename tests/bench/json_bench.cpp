// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// What reading JSON costs (scripts/bench.sh json): a config of 100k and 1M rules, the runtime rule
// file with 100k rules, and a 1 MB file of nothing but nesting, which must be refused at once.
// Each row prints the CPU time (best of --runs), the process's peak RSS after it, and its target.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "config/config.hpp"
#include "state/runtime_store.hpp"

namespace
{

using namespace ratelimit;

double peak_rss_mib()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024;
}

// `count` rules, each its own /32 with a packet limit, as an operator would list sources.
std::string rules_text(int count)
{
    std::string rules;
    rules.reserve(static_cast<std::size_t>(count) * 64);
    for (int i = 0; i < count; i++)
        rules += (i ? ",\n  " : "") + std::string(R"({"match": "10.)") + std::to_string(i >> 16) +
                 "." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255) +
                 R"(", "rate": "100pps", "burst": 200})";
    return rules;
}

std::string config_text(int rules)
{
    return R"({"interfaces": [{"name": "eth0"}], "max_rules": 1048576, "rules": [
  )" + rules_text(rules) +
           "]}\n";
}

// CPU seconds this thread has used: on a shared machine, wall time mostly measures the others.
double cpu_seconds()
{
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Best of `runs` timings of `work`, in CPU seconds.
double best_of(int runs, const std::function<void()> &work)
{
    double best = 1e30;
    for (int run = 0; run < runs; run++) {
        const double start = cpu_seconds();
        work();
        best = std::min(best, cpu_seconds() - start);
    }
    return best;
}

void row(const char *what, double seconds, const char *target)
{
    std::printf("| %-46s | %10.3f ms | %8.0f MiB | %-40s |\n", what, seconds * 1e3, peak_rss_mib(),
                target);
}

void require(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "json_bench: %s\n", what);
        std::exit(1);
    }
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"JSON reader benchmark"};
    int runs = 3;
    app.add_option("--runs", runs, "timings per row; the best is printed")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);
    const auto any_interface = [](const std::string &) { return true; };

    std::printf("| %-46s | %13s | %12s | %-40s |\n", "input", "CPU time", "peak RSS", "target");
    std::printf("|%s|%s|%s|%s|\n", std::string(48, '-').c_str(), std::string(15, '-').c_str(),
                std::string(14, '-').c_str(), std::string(42, '-').c_str());

    // First, while the process is small: refusing must not grow it.
    const std::string nesting(1 << 20, '[');
    row("1 MiB of nested lists: refused",
        best_of(runs,
                [&] {
                    require(!config::parse_config(nesting, any_interface).value,
                            "nesting accepted");
                }),
        "< 1 ms, no memory (was 25 s, 3 GB)");

    double per_rule_100k = 0;
    for (int count : {100'000, 1'000'000}) {
        const std::string text = config_text(count);
        const double seconds = best_of(runs, [&] {
            auto result = config::parse_config(text, any_interface);
            require(result.value && result.value->rules.size() == std::size_t(count),
                    "config refused");
        });
        const std::string what = "config, " + std::to_string(count / 1000) + "k rules (" +
                                 std::to_string(text.size() >> 20) + " MiB): parsed";
        if (count == 100'000) {
            per_rule_100k = seconds / count;
            row(what.c_str(), seconds, "< 1 s (was 2.0 s)");
        } else {
            char target[64];
            std::snprintf(target, sizeof target, "linear: %.1fx 100k per rule (was 208 s)",
                          seconds / count / per_rule_100k);
            row(what.c_str(), seconds, target);
        }
    }

    // The runtime rule file as the daemon writes it, read back at start.
    const std::filesystem::path directory =
        std::filesystem::temp_directory_path() / ("json_bench." + std::to_string(getpid()));
    std::filesystem::create_directories(directory);
    const RuntimeStore store((directory / "runtime-rules.json").string());
    {
        auto parsed = config::parse_config(config_text(100'000), any_interface);
        std::vector<RuntimeRule> rules;
        for (auto &rule : parsed.value->rules)
            rules.push_back(RuntimeRule{std::move(rule), std::nullopt});
        store.save(rules);
    }
    row("runtime rule file, 100k rules: loaded",
        best_of(runs, [&] { require(store.load().size() == 100'000, "state refused"); }), "< 1 s");
    std::filesystem::remove_all(directory);
    return 0;
}
