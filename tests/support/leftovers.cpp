// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "leftovers.hpp"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "process.hpp"

namespace ratelimit::test
{

namespace
{

namespace fs = std::filesystem;

constexpr std::string_view kNamePrefix = "rlt-";

// "rlt-<pid>-..." of a process that no longer exists.
bool left_by_dead_process(std::string_view name)
{
    if (!name.starts_with(kNamePrefix))
        return false;
    name.remove_prefix(kNamePrefix.size());
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end == name.data() + name.size() || *end != '-')
        return false;
    return pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

} // namespace

static std::string &owned_name_tag()
{
    static std::string tag;
    return tag;
}

std::string owned_name_prefix()
{
    // The tag (a short word) goes into the names too, to tell whose they are when several runs
    // share a host: set_owned_name_tag(), or RATELIMITD_TEST_TAG in the environment.
    std::string tag = owned_name_tag();
    if (const char *given = std::getenv("RATELIMITD_TEST_TAG"); tag.empty() && given != nullptr)
        tag = given;
    if (!tag.empty() && (tag.size() > 8 || !std::ranges::all_of(tag, [](char c) {
                             return std::islower(c) || std::isdigit(c);
                         })))
        throw std::invalid_argument("test name tag: 1 to 8 lowercase letters or digits");
    return std::string(kNamePrefix) + std::to_string(getpid()) + "-" +
           (tag.empty() ? "" : tag + "-");
}

void set_owned_name_tag(const std::string &tag)
{
    owned_name_tag() = tag;
}

void remove_leftovers_of_dead_tests()
{
    // Namespaces, then bpffs mounts, then the directories (bpffs mount points among them).
    auto warn = [](const std::string &what) {
        std::cerr << "netns harness: leftover not removed: " << what << "\n";
    };
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(kNetnsDir, ec)) {
        std::string name = entry.path().filename();
        if (!left_by_dead_process(name))
            continue;
        try {
            run_command({"ip", "netns", "delete", name});
        } catch (const std::exception &e) {
            warn(e.what());
        }
    }
    std::ifstream mountinfo("/proc/self/mountinfo");
    for (std::string line; std::getline(mountinfo, line);) {
        std::istringstream fields(line);
        std::string id, parent, device, root, mount_point;
        fields >> id >> parent >> device >> root >> mount_point;
        fs::path path(mount_point);
        if (path.parent_path() == kTmpDir && left_by_dead_process(path.filename().string()) &&
            umount2(mount_point.c_str(), MNT_DETACH) < 0)
            warn("umount " + mount_point + ": " + std::strerror(errno));
    }
    for (const auto &entry : fs::directory_iterator(kTmpDir, ec)) {
        if (!left_by_dead_process(entry.path().filename().string()))
            continue;
        std::error_code removed;
        fs::remove_all(entry.path(), removed);
        if (removed)
            warn(entry.path().string() + ": " + removed.message());
    }
}

void remove_leftovers_once()
{
    static std::once_flag once;
    std::call_once(once, remove_leftovers_of_dead_tests);
}

} // namespace ratelimit::test
