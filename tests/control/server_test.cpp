// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The control server on an event loop of the test's own, with no daemon and no root: when the
// process runs out of descriptors the socket stops accepting, and it accepts again once they are
// free, though no connection of its own closed to tell it so.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "control/server.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "open_files_limit.hpp"

namespace ratelimit::control
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A directory of the test's own, removed with what is in it.
class ScratchDir
{
  public:
    ScratchDir()
    {
        std::string name = (fs::temp_directory_path() / "rl-server-XXXXXX").string();
        if (!::mkdtemp(name.data()))
            throw SystemError(errno, "mkdtemp " + name);
        path_ = name;
    }
    ~ScratchDir() { fs::remove_all(path_); }
    const fs::path &path() const { return path_; }

  private:
    fs::path path_;
};

// The event loop and the server on a thread of their own; stop() (from any thread) ends it.
class ServedSocket
{
  public:
    explicit ServedSocket(const fs::path &socket)
        : stopper_(check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"))
    {
        config::Config::Control settings;
        settings.socket = socket.string();
        server_.emplace(loop_, settings, [](const Request &, const Server::Peer &) {
            return nlohmann::json{{"served", true}};
        });
        loop_.watch(stopper_.get(), "the test's stopper", [this](std::uint32_t) { loop_.stop(); });
        thread_ = std::thread([this] { loop_.run(); });
    }
    ~ServedSocket()
    {
        const std::uint64_t one = 1;
        if (::write(stopper_.get(), &one, sizeof one) != sizeof one)
            std::abort(); // the thread would never end
        thread_.join();
        loop_.forget(stopper_.get());
    }

  private:
    EventLoop loop_;
    std::optional<Server> server_;
    UniqueFd stopper_;
    std::thread thread_;
};

UniqueFd connect_to(const fs::path &socket)
{
    UniqueFd fd(check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
    check(::connect(fd.get(), reinterpret_cast<const sockaddr *>(&address), sizeof address),
          "connect to " + socket.string());
    return fd;
}

// The first line the server sends on `fd` within `timeout`; empty if none came.
std::string answer_within(int fd, std::chrono::milliseconds timeout)
{
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received.find('\n') == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd readable{fd, POLLIN, 0};
        if (left <= 0ms || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
            return {};
        char chunk[4096];
        const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0)
            return {};
        received.append(chunk, static_cast<std::size_t>(got));
    }
    return received.substr(0, received.find('\n'));
}

TEST(ControlServerTest, AcceptsAgainOnceTheDescriptorsItRanOutOfAreFree)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    ServedSocket served(socket);
    const std::string request = encode(Request{7, Command::Status, nlohmann::json::object()});

    const test::OpenFilesLimit limit(256);
    // Every descriptor is taken but one, which the client's socket takes: the server's accept()
    // fails with EMFILE.
    const UniqueFd placeholder(check(eventfd(0, EFD_CLOEXEC), "eventfd"));
    std::vector<UniqueFd> taken;
    for (int fd; (fd = ::dup(placeholder.get())) >= 0;)
        taken.emplace_back(fd);
    ASSERT_EQ(errno, EMFILE);
    taken.pop_back();
    const UniqueFd client = connect_to(socket);
    ASSERT_EQ(::send(client.get(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    EXPECT_EQ(answer_within(client.get(), 300ms), "") << "accepted with no descriptor free";

    taken.clear(); // the shortage ends; no connection of the server's closes meanwhile
    const std::string answer = answer_within(client.get(), 3s);
    ASSERT_NE(answer, "") << "the control socket does not accept again";
    const Response response = decode_response(answer);
    EXPECT_EQ(response.id, 7u);
    // Root is served; anyone else is refused by name: either way the connection was accepted.
    if (::geteuid() == 0) {
        EXPECT_TRUE(response.ok()) << answer;
    }
}

} // namespace
} // namespace ratelimit::control
