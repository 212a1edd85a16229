// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A daemon under test (daemon_fixture.hpp) that serves /metrics on the loopback of its namespace,
// read as an operator reads it: scrapes of the exposition and `ratelimitctl --json` answers. The
// test target links cpp-httplib and defines RATELIMITCTL_PATH.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "daemon_fixture.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"

namespace ratelimit::test
{

struct HttpAnswer {
    int status = 0;
    std::string body;
    std::string content_type;
};

// Series ("name{labels}", as written) to value, from an exposition's sample lines.
using Samples = std::map<std::string, double>;

inline Samples samples_of(const std::string &exposition)
{
    Samples samples;
    std::istringstream lines(exposition);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.starts_with('#'))
            continue;
        const auto space = line.rfind(' ');
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
}

class MetricsDaemonTest : public DaemonTest
{
  protected:
    void SetUp() override
    {
        DaemonTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        host_ns_->ip({"link", "set", "lo", "up"}); // a new namespace's loopback starts down
        metrics_port_ = free_loopback_port();
        enable_metrics("127.0.0.1:" + std::to_string(metrics_port_));
    }

    // A TCP port nothing listens on, on the loopback of the daemon's namespace.
    std::uint16_t free_loopback_port() const
    {
        return host_ns_->run([] {
            UniqueFd fd(check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t length = sizeof address;
            check(::bind(fd.get(), reinterpret_cast<sockaddr *>(&address), length),
                  "bind 127.0.0.1:0");
            check(::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&address), &length),
                  "getsockname");
            return ntohs(address.sin_port);
        });
    }

    // GET `target` (a path and query) from 127.0.0.1:`port` in the daemon's namespace.
    HttpAnswer http_get(std::uint16_t port, const std::string &target,
                        std::chrono::seconds timeout = std::chrono::seconds(10)) const
    {
        return host_ns_->run([&] {
            httplib::Client client("127.0.0.1", port);
            client.set_connection_timeout(std::chrono::seconds(5));
            client.set_read_timeout(timeout);
            auto result = client.Get(target.c_str());
            if (!result)
                throw std::runtime_error("GET 127.0.0.1:" + std::to_string(port) + target + ": " +
                                         httplib::to_string(result.error()));
            return HttpAnswer{result->status, result->body,
                              result->get_header_value("Content-Type")};
        });
    }

    std::string scrape(std::chrono::seconds timeout = std::chrono::seconds(10)) const
    {
        HttpAnswer answer = http_get(metrics_port_, "/metrics", timeout);
        if (answer.status != 200)
            throw std::runtime_error("/metrics answered " + std::to_string(answer.status) + ": " +
                                     answer.body);
        return answer.body;
    }

    // `ratelimitctl --json args...` through the daemon's control socket, which must succeed.
    nlohmann::json ctl_json(const std::vector<std::string> &args) const
    {
        std::vector<std::string> argv = {
            RATELIMITCTL_PATH, "--socket", (dir_.path() / "run/ratelimitd.sock").string(),
            "--timeout",       "5",        "--json"};
        argv.insert(argv.end(), args.begin(), args.end());
        return nlohmann::json::parse(run_command(argv));
    }

    std::uint16_t metrics_port_ = 0;
};

} // namespace ratelimit::test
