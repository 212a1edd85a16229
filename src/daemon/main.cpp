// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// ratelimitd: per-source rate limiting in XDP.
//
//   ratelimitd [-c FILE] [--check] [--log-level LEVEL]
//
// Exit codes: 0 stopped cleanly (or --check found the config valid), 1 failed at run time,
// 2 bad arguments, 78 invalid config, or a config or state file that others could have written
// (EX_CONFIG: restarting will not fix either).

#include <cstdarg>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <bpf/libbpf.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "daemon/daemon.hpp"
#include "daemon/host_check.hpp"
#include "daemon/system.hpp"
#include "json/reader.hpp"
#include "sys/trusted_file.hpp"

namespace
{

constexpr int kExitConfig = 78;

// libbpf's own messages go to the same log, at matching levels.
int libbpf_log(libbpf_print_level level, const char *format, va_list args)
{
    char line[1024];
    int n = std::vsnprintf(line, sizeof(line), format, args);
    std::string_view text(line, n > 0 ? std::min<std::size_t>(n, sizeof(line) - 1) : 0);
    while (!text.empty() && text.back() == '\n')
        text.remove_suffix(1);
    switch (level) {
    case LIBBPF_WARN:
        spdlog::warn("libbpf: {}", text);
        break;
    case LIBBPF_INFO:
        spdlog::debug("libbpf: {}", text);
        break;
    default:
        spdlog::trace("libbpf: {}", text);
        break;
    }
    return n;
}

// Whatever the level (even off), the reason for a failed start or run is printed.
void report_exit_reason(const std::exception &e)
{
    if (spdlog::should_log(spdlog::level::critical))
        spdlog::critical("{}", e.what());
    else
        std::cerr << "critical: " << e.what() << "\n";
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"ratelimitd: per-source rate limiting in XDP, before the kernel allocates an skb"};
    std::string config_path = "/etc/ratelimitd/ratelimitd.json";
    std::string log_level;
    bool check_only = false;
    app.add_option("-c,--config", config_path, "config file")->capture_default_str();
    app.add_flag("--check", check_only, "validate the config file and exit (0 valid, 78 not)");
    app.add_option("--log-level", log_level,
                   "trace, debug, info, warn, error, critical or off (overrides log_level)")
        ->check(CLI::Validator(
            [](const std::string &level) {
                return ratelimit::config::explain_bad_log_level(level).value_or("");
            },
            "LEVEL"));
    app.set_version_flag("--version", std::string(RATELIMITD_VERSION));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    // Logs go to stderr without timestamps: journald adds time and unit.
    spdlog::set_default_logger(spdlog::stderr_color_mt("ratelimitd"));
    spdlog::set_pattern("%^%l%$: %v");
    libbpf_set_print(libbpf_log);

    // The same checks as a reload's: what --check accepts, a start does not refuse halfway.
    auto parsed = ratelimit::load_config_for_host(config_path);
    if (!parsed.value) {
        std::cerr << ratelimit::join_errors(parsed.errors, "\n", config_path + ": ") << "\n";
        return kExitConfig;
    }
    if (check_only) {
        std::cout << config_path << ": valid (" << parsed.value->rules.size() << " rules, "
                  << parsed.value->interfaces.size() << " interfaces)\n";
        return 0;
    }
    spdlog::set_level(
        spdlog::level::from_str(log_level.empty() ? parsed.value->log_level : log_level));
    try {
        ratelimit::require_capabilities(!parsed.value->control.group.empty());
        ratelimit::Daemon daemon(config_path, *parsed.value);
        daemon.run();
    } catch (const ratelimit::UntrustedFile &e) {
        report_exit_reason(e);
        return kExitConfig;
    } catch (const std::exception &e) {
        report_exit_reason(e);
        return 1;
    }
    return 0;
}
