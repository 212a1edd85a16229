// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon/host_check.hpp"

#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "control/server.hpp"
#include "json/text.hpp"
#include "policy/rule_json.hpp"

namespace ratelimit
{

namespace
{

// Why the daemon could not use `dir` (mkdir -p, then create files in it), if it could not: the
// nearest part of it that exists must be a directory it may write in.
std::optional<std::string> unusable_directory(const std::filesystem::path &dir)
{
    std::filesystem::path existing = dir;
    struct stat status {
    };
    while (::stat(existing.c_str(), &status) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            return existing.string() + ": " + std::strerror(errno);
        existing = existing.parent_path();
    }
    if (!S_ISDIR(status.st_mode))
        return existing.string() + " is not a directory";
    // A directory that exists need only be entered: a state disk that takes no writes (full,
    // read-only) is a run-time condition the daemon reports and retries, never a reason to leave
    // the host unprotected. One that must be made needs a parent the daemon can write in.
    if (::access(existing.c_str(), existing == dir ? X_OK : W_OK | X_OK) != 0)
        return (existing == dir ? "cannot enter " : "cannot create it in ") + existing.string() +
               ": " + std::strerror(errno);
    return std::nullopt;
}

std::vector<config::ConfigError> host_errors(const config::Config &config)
{
    std::vector<config::ConfigError> errors;
    auto directory = [&](const char *field, const std::filesystem::path &dir) {
        if (auto problem = unusable_directory(dir))
            errors.push_back({field, quote(dir.string()) + ": " + *problem});
    };
    directory("state_dir", config.state_dir);
    directory("pin_dir", config.pin_dir);
    const std::filesystem::path socket(config.control.socket);
    directory("control.socket", socket.parent_path());
    struct stat status {
    };
    if (::lstat(socket.c_str(), &status) == 0 && !S_ISSOCK(status.st_mode))
        errors.push_back({"control.socket", quote(socket.string()) +
                                                " exists and is not a socket; remove it or "
                                                "choose another path"});
    // The rule tables have no selector groups yet: such a rule would select all its sources'
    // traffic, so it is refused (reconcile refuses a runtime one the same way).
    for (std::size_t i = 0; i < config.rules.size(); i++)
        if (!config.rules[i].selector.catch_all())
            errors.push_back({json_field_path(json_element_path("rules", i), "proto"),
                              quote(selector_text(config.rules[i].selector)) +
                                  ": this data path enforces rules on all traffic only; a rule "
                                  "with \"proto\", \"port\" or \"tcp_flags\" is refused "
                                  "rather than applied to all of its sources' traffic"});
    if (!config.control.group.empty() && !control::lookup_group(config.control.group))
        errors.push_back(
            {"control.group", "no group named " + quote(config.control.group) + " on this system"});
    return errors;
}

} // namespace

bool interface_exists(const std::string &name)
{
    return if_nametoindex(name.c_str()) != 0;
}

config::ParseResult load_config_for_host(const std::string &file)
{
    config::ParseResult parsed = config::load_config_file(file, interface_exists);
    if (parsed.value) {
        parsed.errors = host_errors(*parsed.value);
        if (!parsed.errors.empty())
            parsed.value.reset();
    }
    return parsed;
}

} // namespace ratelimit
