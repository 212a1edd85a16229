// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon_process.hpp"

#include <fstream>
#include <stdexcept>
#include <thread>

namespace ratelimit::test
{

namespace
{

int occurrences_in(const std::string &log, const std::string &text)
{
    int seen = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1))
        seen++;
    return seen;
}

} // namespace

std::string DaemonConfig::json() const
{
    std::string text = R"({"interfaces": [{"name": ")" + interface + "\"" + interface_fields +
                       "}],\n" + R"(  "rules": )" + rules + ",\n" + R"(  "control": {"socket": ")" +
                       socket.string() + "\"},\n" + R"(  "state_dir": ")" + state_dir.string() +
                       "\",\n";
    if (!pin_dir.empty())
        text += R"(  "pin_dir": ")" + pin_dir + "\",\n";
    text += metrics_listen.empty()
                ? R"(  "metrics": {"enabled": false})"
                : R"(  "metrics": {"enabled": true, "listen": ")" + metrics_listen + R"("})";
    return text + extra + "}";
}

void DaemonConfig::write(const std::filesystem::path &file) const
{
    std::ofstream out(file);
    out << json();
    out.close();
    if (!out)
        throw std::runtime_error("cannot write the config " + file.string());
}

Process spawn_ratelimitd(const NetNs &ns, const std::vector<std::string> &args,
                         const std::filesystem::path &stdout_path,
                         const std::filesystem::path &stderr_path)
{
    std::vector<std::string> argv = {RATELIMITD_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return ns.spawn(argv, stdout_path, stderr_path);
}

std::string wait_for_log(Process &daemon, const std::string &text, int occurrences,
                         const LogWait &how)
{
    for (auto deadline = std::chrono::steady_clock::now() + how.timeout;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(how.poll)) {
        std::string log = daemon.stderr_text();
        if (occurrences_in(log, text) >= occurrences)
            return log;
        for (const auto &refusal : how.refusals)
            if (log.find(refusal) != std::string::npos)
                throw std::runtime_error("ratelimitd logged \"" + refusal + "\":\n" + log);
        if (auto code = daemon.wait_for(std::chrono::milliseconds(0)))
            throw std::runtime_error("ratelimitd exited with " + std::to_string(*code) + ":\n" +
                                     log);
    }
    throw std::runtime_error("no \"" + text + "\" in the daemon's log:\n" + daemon.stderr_text());
}

} // namespace ratelimit::test
