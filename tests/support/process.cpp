// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "sys/error.hpp"

extern char **environ;

namespace ratelimit::test
{

namespace
{

namespace fs = std::filesystem;

std::string joined(const std::vector<std::string> &argv)
{
    std::string out;
    for (const auto &arg : argv)
        out += (out.empty() ? "" : " ") + arg;
    return out;
}

int exit_code(int status)
{
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int wait_child(pid_t pid, const std::string &what)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            throw SystemError(errno, "wait for " + what);
    return status;
}

std::string file_text(const fs::path &path)
{
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

std::vector<char *> c_argv(const std::vector<std::string> &argv)
{
    if (argv.empty())
        throw std::invalid_argument("empty command line");
    std::vector<char *> out;
    for (const auto &arg : argv)
        out.push_back(const_cast<char *>(arg.c_str()));
    out.push_back(nullptr);
    return out;
}

std::string run_command(const std::vector<std::string> &argv)
{
    auto args = c_argv(argv);
    int fds[2];
    check(pipe2(fds, O_CLOEXEC), "pipe");
    UniqueFd output(fds[0]), child_output(fds[1]);

    posix_spawn_file_actions_t actions;
    auto must = [&](int rc, const char *what) {
        if (rc != 0)
            throw SystemError(rc, std::string(what) + " for " + argv[0]);
    };
    must(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
    pid_t pid = 0;
    try {
        must(posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0),
             "redirect stdin");
        must(posix_spawn_file_actions_adddup2(&actions, child_output.get(), STDOUT_FILENO),
             "redirect stdout");
        must(posix_spawn_file_actions_adddup2(&actions, child_output.get(), STDERR_FILENO),
             "redirect stderr");
        must(posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ), "start");
    } catch (...) {
        posix_spawn_file_actions_destroy(&actions);
        throw;
    }
    posix_spawn_file_actions_destroy(&actions);
    child_output.reset();

    std::string text;
    char buffer[4096];
    int read_error = 0;
    for (;;) {
        ssize_t n = read(output.get(), buffer, sizeof(buffer));
        if (n > 0)
            text.append(buffer, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR) {
            read_error = n < 0 ? errno : 0;
            break;
        }
    }
    int status = wait_child(pid, argv[0]); // reaped even when its output could not be read
    if (read_error)
        throw SystemError(read_error, "read the output of " + joined(argv));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("`" + joined(argv) + "` failed with exit code " +
                                 std::to_string(exit_code(status)) + ": " + text);
    return text;
}

Process Process::adopt(pid_t pid, fs::path stdout_path, fs::path stderr_path)
{
    // The syscall itself: glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link it.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        int error = errno;
        kill(pid, SIGKILL);
        wait_child(pid, "process " + std::to_string(pid));
        throw SystemError(error, "pidfd_open for process " + std::to_string(pid));
    }
    return Process(pid, UniqueFd(pidfd), std::move(stdout_path), std::move(stderr_path));
}

Process::Process(pid_t pid, UniqueFd pidfd, fs::path stdout_path, fs::path stderr_path)
    : pid_(pid), pidfd_(std::move(pidfd)), stdout_path_(std::move(stdout_path)),
      stderr_path_(std::move(stderr_path))
{
}

Process::Process(Process &&other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)),
      exit_code_(other.exit_code_), stdout_path_(std::move(other.stdout_path_)),
      stderr_path_(std::move(other.stderr_path_))
{
}

Process::~Process()
{
    if (pid_ <= 0 || exit_code_)
        return;
    try {
        stop();
    } catch (const std::exception &e) {
        ADD_FAILURE() << "cleanup: stop process " << pid_ << ": " << e.what();
    }
}

void Process::signal(int signo) const
{
    // Once reaped, the pid may belong to someone else.
    if (exit_code_)
        throw std::logic_error("process " + std::to_string(pid_) + " has already exited");
    check(kill(pid_, signo), "signal process " + std::to_string(pid_));
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout)
{
    if (exit_code_)
        return exit_code_;
    pollfd exited{pidfd_.get(), POLLIN, 0};
    auto wait_ms = static_cast<int>(
        std::min<std::chrono::milliseconds::rep>(timeout.count(), std::numeric_limits<int>::max()));
    int ready = 0;
    while ((ready = poll(&exited, 1, wait_ms)) < 0)
        if (errno != EINTR)
            throw SystemError(errno, "wait for process " + std::to_string(pid_));
    if (ready == 0)
        return std::nullopt;
    exit_code_ = exit_code(wait_child(pid_, "process " + std::to_string(pid_)));
    return exit_code_;
}

int Process::stop(std::chrono::milliseconds grace)
{
    if (exit_code_)
        return *exit_code_;
    signal(SIGTERM);
    if (auto code = wait_for(grace))
        return *code;
    signal(SIGKILL);
    return *wait_for(std::chrono::milliseconds::max());
}

std::string Process::stdout_text() const
{
    return file_text(stdout_path_);
}

std::string Process::stderr_text() const
{
    return file_text(stderr_path_);
}

} // namespace ratelimit::test
