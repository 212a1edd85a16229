// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Child processes of a test: commands run to completion for their output, and programs left
// running (NetNs::spawn) that are stopped and reaped when the test is done with them.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sys/fd.hpp"

namespace ratelimit::test
{

// Runs a program (no shell) and returns its stdout and stderr; throws std::runtime_error with
// them when it exits non-zero.
std::string run_command(const std::vector<std::string> &argv);

// `argv` as exec takes it, pointing into `argv`; throws std::invalid_argument if it is empty.
std::vector<char *> c_argv(const std::vector<std::string> &argv);

// A running child process with its stdout and stderr in files. Destroying it stops it (SIGTERM,
// then SIGKILL) and reaps it.
class Process
{
  public:
    // Takes charge of the child `pid` of this process, whose output goes to the given files. If
    // it cannot, it kills and reaps the child and throws.
    static Process adopt(pid_t pid, std::filesystem::path stdout_path,
                         std::filesystem::path stderr_path);

    Process(Process &&other) noexcept;
    Process &operator=(Process &&) = delete;
    Process(const Process &) = delete;
    ~Process();

    pid_t pid() const { return pid_; }
    void signal(int signo) const;
    // The exit code (128 + the signal if one killed it) once it has exited within `timeout`.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL if it is still running after `grace`; returns the exit code.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    std::string stdout_text() const;
    std::string stderr_text() const;

  private:
    Process(pid_t pid, UniqueFd pidfd, std::filesystem::path stdout_path,
            std::filesystem::path stderr_path);

    pid_t pid_;
    UniqueFd pidfd_; // readable once the process has exited
    std::optional<int> exit_code_;
    std::filesystem::path stdout_path_, stderr_path_;
};

} // namespace ratelimit::test
