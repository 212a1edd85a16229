// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The control server on an event loop of the test's own, with no daemon and no root (the test's
// own group is the control group): when the process runs out of descriptors the socket stops
// accepting, and it accepts again once they are free, though no connection of its own closed to
// tell it so; a request over kMaxRequestBytes is too_large; a peer neither root nor in the group
// is refused; a handler that throws is an internal error and the server serves on; one
// connection over kMaxConnections is answered busy; a deferred request is answered off the loop
// while other connections are served, and one deferred request over kMaxDeferred is answered busy.

#include <gtest/gtest.h>
#include <poll.h>
#include <grp.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <mutex>
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

// A handler that serves every request.
nlohmann::json serve_all(const Request &, const Server::Peer &)
{
    return nlohmann::json{{"served", true}};
}

// The event loop and the server on a thread of their own; stop() (from any thread) ends it.
class ServedSocket
{
  public:
    explicit ServedSocket(const fs::path &socket, Server::Handler handler = serve_all,
                          const std::string &group = "", Server::Closed closed = {})
        : stopper_(check(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"))
    {
        config::Config::Control settings;
        settings.socket = socket.string();
        settings.group = group;
        server_.emplace(loop_, settings, std::move(handler), std::move(closed));
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

// The name of the test process's own group: the control group that lets it in without root.
std::string own_group()
{
    const group *own = ::getgrgid(::getegid());
    if (!own)
        throw std::runtime_error("the test's group has no name");
    return own->gr_name;
}

void send_all(int fd, std::string_view bytes)
{
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0)
            throw SystemError(errno, "send to the control socket");
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
}

// The answer to `request` on `fd`.
Response ask(int fd, const Request &request)
{
    send_all(fd, encode(request));
    const std::string answer = answer_within(fd, 3s);
    if (answer.empty())
        throw std::runtime_error("no answer");
    return decode_response(answer);
}

// Whether the server has closed `fd` (within a while).
bool closed_by_server(int fd)
{
    pollfd readable{fd, POLLIN, 0};
    char byte;
    return ::poll(&readable, 1, 3000) == 1 && ::recv(fd, &byte, 1, 0) == 0;
}

const Request kStatus{7, Command::Status, nlohmann::json::object()};
using Outcome = decltype(Response::outcome);

TEST(ControlServerTest, EachConnectionIsNumberedAndItsCloseIsTold)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    std::mutex mutex;
    std::vector<std::uint64_t> asked, closed; // connections, as the server numbered them
    auto note_request = [&](const Request &, const Server::Peer &peer) {
        const std::lock_guard lock(mutex);
        asked.push_back(peer.connection);
        return nlohmann::json{{"served", true}};
    };
    auto note_close = [&](const Server::Peer &peer) {
        const std::lock_guard lock(mutex);
        closed.push_back(peer.connection);
    };
    ServedSocket served(socket, note_request, own_group(), note_close);
    std::optional<UniqueFd> first(connect_to(socket));
    const UniqueFd second = connect_to(socket);
    ASSERT_TRUE(ask(first->get(), kStatus).ok());
    ASSERT_TRUE(ask(second.get(), kStatus).ok());
    ASSERT_TRUE(ask(first->get(), kStatus).ok());
    first.reset();
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    for (;;) {
        {
            const std::lock_guard lock(mutex);
            if (!closed.empty() || std::chrono::steady_clock::now() > deadline)
                break;
        }
        std::this_thread::sleep_for(10ms);
    }
    const std::lock_guard lock(mutex);
    ASSERT_EQ(asked.size(), 3u);
    EXPECT_NE(asked[0], asked[1]);
    EXPECT_EQ(asked[0], asked[2]) << "one connection, one number";
    EXPECT_EQ(closed, std::vector<std::uint64_t>{asked[0]}) << "the second is still open";
}

TEST(ControlServerTest, ARequestOverTheBoundIsTooLargeAndTheConnectionCloses)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    ServedSocket served(socket, serve_all, own_group());
    const UniqueFd client = connect_to(socket);
    ASSERT_TRUE(ask(client.get(), kStatus).ok()) << "the test's group is let in";

    send_all(client.get(), std::string(kMaxRequestBytes, 'x')); // no newline within the bound
    const std::string answer = answer_within(client.get(), 3s);
    ASSERT_NE(answer, "");
    const Response response = decode_response(answer);
    EXPECT_EQ(response.id, std::nullopt);
    ASSERT_FALSE(response.ok());
    EXPECT_EQ(std::get<Error>(response.outcome).code, ErrorCode::TooLarge);
    EXPECT_TRUE(closed_by_server(client.get()));

    // A request of the bound, its newline included, is read.
    const UniqueFd next = connect_to(socket);
    std::string line = encode(kStatus);
    line.insert(line.size() - 2, kMaxRequestBytes - line.size(), ' '); // spaces before the '}'
    ASSERT_EQ(line.size(), kMaxRequestBytes);
    send_all(next.get(), line);
    EXPECT_TRUE(decode_response(answer_within(next.get(), 3s)).ok());
}

// A connection from uid and gid 65534 (nobody), in no group: under root, from a thread whose own
// credentials are dropped (the kernel records the connecting thread's); else the test's own,
// which is not root.
UniqueFd connect_as_stranger(const fs::path &socket)
{
    if (::geteuid() != 0)
        return connect_to(socket);
    constexpr long kNobody = 65534;
    // The stranger must reach the socket to be refused by the server rather than by its mode.
    check(::chmod(socket.parent_path().c_str(), 0711), "chmod the scratch directory");
    check(::chmod(socket.c_str(), 0666), "chmod the socket");
    UniqueFd connected;
    std::string failure;
    std::thread stranger([&] {
        // Raw system calls change this thread's credentials only (glibc's change them all).
        if (::syscall(SYS_setgroups, 0, nullptr) != 0 ||
            ::syscall(SYS_setresgid, kNobody, kNobody, kNobody) != 0 ||
            ::syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) {
            failure = std::strerror(errno);
            return;
        }
        try {
            connected = connect_to(socket);
        } catch (const std::exception &e) {
            failure = e.what();
        }
    });
    stranger.join();
    if (!connected)
        throw std::runtime_error("connect as nobody: " + failure);
    return connected;
}

TEST(ControlServerTest, APeerNeitherRootNorInTheGroupIsRefused)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    bool handled = false;
    ServedSocket served(socket, [&handled](const Request &, const Server::Peer &) {
        handled = true;
        return nlohmann::json::object();
    });
    const UniqueFd client = connect_as_stranger(socket);
    const Response response = ask(client.get(), kStatus);
    EXPECT_EQ(response.id, 7u);
    ASSERT_FALSE(response.ok());
    const Error &error = std::get<Error>(response.outcome);
    EXPECT_EQ(error.code, ErrorCode::PermissionDenied);
    EXPECT_NE(error.message.find("root only"), std::string::npos) << error.message;
    EXPECT_TRUE(closed_by_server(client.get()));
    EXPECT_FALSE(handled);
}

TEST(ControlServerTest, AHandlerThatThrowsIsAnInternalErrorAndTheServerServesOn)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    ServedSocket served(
        socket,
        [](const Request &request, const Server::Peer &) {
            if (request.command == Command::Stats)
                throw std::runtime_error("the maps cannot be read");
            if (request.command == Command::Unset)
                throw RequestError(ErrorCode::NotFound, "no runtime rule for 10.0.0.0/8");
            return nlohmann::json{{"served", true}};
        },
        own_group());
    const UniqueFd client = connect_to(socket);

    const Response failed = ask(client.get(), {8, Command::Stats, nlohmann::json::object()});
    EXPECT_EQ(failed.id, 8u);
    EXPECT_EQ(failed.outcome, (Outcome{Error{ErrorCode::Internal, "the maps cannot be read"}}));
    const Response refused = ask(client.get(), {9, Command::Unset, nlohmann::json::object()});
    EXPECT_EQ(refused.outcome,
              (Outcome{Error{ErrorCode::NotFound, "no runtime rule for 10.0.0.0/8"}}));
    // The same connection, and a new one, are served.
    EXPECT_EQ(ask(client.get(), kStatus).outcome, (Outcome{nlohmann::json{{"served", true}}}));
    const UniqueFd another = connect_to(socket);
    EXPECT_TRUE(ask(another.get(), kStatus).ok());
}

TEST(ControlServerTest, OneConnectionOverTheBoundIsAnsweredBusy)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    ServedSocket served(socket, serve_all, own_group());
    std::vector<UniqueFd> held;
    for (std::size_t i = 0; i < Server::kMaxConnections; i++) {
        held.push_back(connect_to(socket));
        ASSERT_TRUE(ask(held.back().get(), kStatus).ok()) << "connection " << i;
    }
    const UniqueFd extra = connect_to(socket);
    const std::string answer = answer_within(extra.get(), 3s);
    ASSERT_NE(answer, "") << "no answer over the bound";
    const Response busy = decode_response(answer);
    EXPECT_EQ(busy.id, std::nullopt);
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(std::get<Error>(busy.outcome).code, ErrorCode::Busy);
    EXPECT_TRUE(closed_by_server(extra.get()));
    EXPECT_TRUE(ask(held.front().get(), kStatus).ok()) << "the connections held are served on";

    // Once one closes, a new connection is served.
    held.pop_back();
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    bool served_again = false;
    while (!served_again && std::chrono::steady_clock::now() < deadline) {
        try {
            const UniqueFd next = connect_to(socket);
            served_again = ask(next.get(), kStatus).ok();
        } catch (const std::exception &) {
            // busy, and closed, until the server has seen the close
        }
    }
    EXPECT_TRUE(served_again);
}

// Top is deferred, its answer made once `gate` opens (or a refusal, for top by bytes); anything
// else is served at once.
Server::Handler deferring_top(std::shared_future<void> gate)
{
    return [gate](const Request &request, const Server::Peer &) -> Server::Reply {
        if (request.command != Command::Top)
            return nlohmann::json{{"served", true}};
        return Server::Deferred([gate, args = request.args] {
            gate.wait();
            if (args.contains("by"))
                throw RequestError(ErrorCode::BadRequest, "refused off the loop");
            return nlohmann::json{{"deferred", true}};
        });
    };
}

const Request kTop{8, Command::Top, nlohmann::json::object()};

TEST(ControlServerTest, ADeferredRequestIsAnsweredOffTheLoopWhileOthersAreServed)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    std::promise<void> open;
    ServedSocket served(socket, deferring_top(open.get_future().share()), own_group());
    const UniqueFd waiting = connect_to(socket), other = connect_to(socket);
    send_all(waiting.get(), encode(kTop));
    EXPECT_EQ(answer_within(waiting.get(), 200ms), "");
    // The loop serves another connection while the deferred answer is being made.
    EXPECT_EQ(ask(other.get(), kStatus).outcome, (Outcome{nlohmann::json{{"served", true}}}));
    open.set_value();
    const Response deferred = decode_response(answer_within(waiting.get(), 3s));
    EXPECT_EQ(deferred.id, 8u);
    EXPECT_EQ(deferred.outcome, (Outcome{nlohmann::json{{"deferred", true}}}));
    // The same connection serves on, deferred or not; a refusal off the loop is an answer too.
    EXPECT_TRUE(ask(waiting.get(), kStatus).ok());
    const Response refused = ask(waiting.get(), {9, Command::Top, nlohmann::json{{"by", "bytes"}}});
    EXPECT_EQ(refused.outcome, (Outcome{Error{ErrorCode::BadRequest, "refused off the loop"}}));
}

TEST(ControlServerTest, ADeferredRequestOverTheBoundIsAnsweredBusy)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    std::promise<void> open;
    ServedSocket served(socket, deferring_top(open.get_future().share()), own_group());
    std::vector<UniqueFd> waiting;
    for (std::size_t i = 0; i < Server::kMaxDeferred; i++) {
        waiting.push_back(connect_to(socket));
        send_all(waiting.back().get(), encode(kTop));
    }
    // Each of those is deferred, and none answered, before one more asks.
    EXPECT_EQ(answer_within(waiting.back().get(), 200ms), "");
    const UniqueFd one_more = connect_to(socket);
    const Response busy = ask(one_more.get(), kTop);
    const auto *error = std::get_if<Error>(&busy.outcome);
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->code, ErrorCode::Busy);
    EXPECT_TRUE(ask(one_more.get(), kStatus).ok()); // and its connection serves on
    open.set_value();
    for (const UniqueFd &fd : waiting)
        EXPECT_TRUE(decode_response(answer_within(fd.get(), 3s)).ok());
}

TEST(ControlServerTest, APeerThatLeavesWhileItsAnswerIsMadeCostsNothing)
{
    const ScratchDir dir;
    const fs::path socket = dir.path() / "ctl.sock";
    std::promise<void> open;
    ServedSocket served(socket, deferring_top(open.get_future().share()), own_group());
    {
        const UniqueFd leaving = connect_to(socket);
        send_all(leaving.get(), encode(kTop));
        std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(50ms);
    open.set_value();
    // Its answer is dropped; the next connection (perhaps with the same fd number) gets its own.
    const UniqueFd next = connect_to(socket);
    const Response answered = ask(next.get(), kTop);
    EXPECT_EQ(answered.outcome, (Outcome{nlohmann::json{{"deferred", true}}}));
}

} // namespace
} // namespace ratelimit::control
