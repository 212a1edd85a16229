// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A ratelimitd process under test, for e2e tests (daemon_fixture.hpp) and the wire benchmark
// alike: the config it is given, its start in a namespace, and waiting for its log. Errors are
// exceptions, not test failures, so that a program without gtest can use it.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "netns.hpp"
#include "process.hpp"

namespace ratelimit::test
{

// A config for a ratelimitd on one interface.
struct DaemonConfig {
    std::string interface;
    std::string interface_fields; // more fields of its "interfaces" entry, each after a comma
    std::string rules;            // the "rules" array, JSON
    std::filesystem::path socket;
    std::filesystem::path state_dir;
    std::string pin_dir;        // empty: none, so the daemon uses its default
    std::string metrics_listen; // HOST:PORT; empty: metrics off
    std::string extra;          // more top-level fields, each after a comma

    std::string json() const;
    // Writes json() to `file`; throws if it cannot.
    void write(const std::filesystem::path &file) const;
};

// `ratelimitd args...` in `ns`, its stdout and stderr (its log) in the given files.
Process spawn_ratelimitd(const NetNs &ns, const std::vector<std::string> &args,
                         const std::filesystem::path &stdout_path,
                         const std::filesystem::path &stderr_path);

struct LogWait {
    std::chrono::milliseconds timeout = std::chrono::seconds(15);
    std::chrono::milliseconds poll = std::chrono::milliseconds(20);
    // Log text that ends the wait at once: the daemon refused what is waited for.
    std::vector<std::string> refusals;
};

// Waits until the daemon's log holds `text` `occurrences` times and returns the log. Throws
// std::runtime_error, with the log, when the daemon exits first, when the log holds one of
// `how.refusals`, or after `how.timeout`.
std::string wait_for_log(Process &daemon, const std::string &text, int occurrences = 1,
                         const LogWait &how = {});

} // namespace ratelimit::test
