// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "metrics/http_server.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace ratelimit::metrics
{

namespace
{

using Clock = BoundedHttpServer::Clock;

// How long a connection is read from (and what it sends thrown away) after its answer; see
// linger().
constexpr std::chrono::milliseconds kLinger{500};

// Waits until `fd` has `events` or `deadline` passes; false on the deadline or an error.
bool wait_until(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd watched{fd, events, 0};
        const int ready =
            ::poll(&watched, 1, static_cast<int>(std::clamp<long long>(left, 0, INT_MAX)));
        if (ready > 0)
            return true;
        if (ready == 0 || errno != EINTR)
            return false;
    }
}

// An answer written by the server itself, before or instead of httplib's.
std::string plain_response(std::string_view status, std::string_view text)
{
    const std::string body = std::string(text) + "\n";
    return "HTTP/1.1 " + std::string(status) +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// getpeername or getsockname, as httplib wants it: numeric address and port.
template <typename Getter>
void endpoint_of(int fd, Getter get_name, std::string &ip, int &port)
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    char host[NI_MAXHOST], service[NI_MAXSERV];
    if (get_name(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0 ||
        ::getnameinfo(reinterpret_cast<const sockaddr *>(&address), length, host, sizeof host,
                      service, sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    ip = host;
    std::from_chars(service, service + std::strlen(service), port);
}

enum class Head { Complete, Ended, TooLarge, TimedOut };

// One request's head, read from the connection within a deadline and a size, then served to
// httplib as its whole input; its answer is written within a deadline of its own.
class RequestStream final : public httplib::Stream
{
  public:
    explicit RequestStream(int fd) : fd_(fd) {}

    Head read_head(Clock::time_point deadline)
    {
        char chunk[4096];
        for (std::size_t searched = 0;;) {
            // The blank line that ends the head may straddle the last chunk and this one.
            if (head_.find("\r\n\r\n", searched) != std::string::npos)
                return Head::Complete;
            searched = head_.size() < 3 ? 0 : head_.size() - 3;
            const std::size_t room = BoundedHttpServer::kMaxRequestBytes - head_.size();
            if (room == 0)
                return Head::TooLarge;
            if (!wait_until(fd_, POLLIN, deadline))
                return Head::TimedOut;
            const ssize_t got = ::recv(fd_, chunk, std::min(sizeof chunk, room), MSG_DONTWAIT);
            if (got > 0)
                head_.append(chunk, static_cast<std::size_t>(got));
            else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                return Head::Ended;
        }
    }

    void start_answer() { answer_deadline_ = Clock::now() + BoundedHttpServer::kResponseDeadline; }

    // Writes all of `text`; false if the client did not take it in time.
    bool write_all(std::string_view text)
    {
        while (!text.empty()) {
            const ssize_t sent = write(text.data(), text.size());
            if (sent < 0)
                return false;
            text.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }

    bool is_readable() const override { return read_ < head_.size(); }
    bool is_writable() const override { return wait_until(fd_, POLLOUT, answer_deadline_); }

    // What read_head() read, then the end: nothing past the head is read from the client (a
    // request with a body is refused before its body is asked for).
    ssize_t read(char *ptr, size_t size) override
    {
        const std::size_t n = std::min(size, head_.size() - read_);
        std::memcpy(ptr, head_.data() + read_, n);
        read_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char *ptr, size_t size) override
    {
        for (;;) {
            if (!wait_until(fd_, POLLOUT, answer_deadline_))
                return -1;
            const ssize_t sent = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent >= 0)
                return sent;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
        }
    }

    void get_remote_ip_and_port(std::string &ip, int &port) const override
    {
        endpoint_of(fd_, ::getpeername, ip, port);
    }
    void get_local_ip_and_port(std::string &ip, int &port) const override
    {
        endpoint_of(fd_, ::getsockname, ip, port);
    }
    socket_t socket() const override { return fd_; }

  private:
    int fd_;
    std::string head_;
    std::size_t read_ = 0;
    Clock::time_point answer_deadline_;
};

// Runs each accepted connection's task on the listener thread at once: the task only queues the
// connection for a worker, or refuses it, so the listener never waits on a client.
class InlineQueue final : public httplib::TaskQueue
{
  public:
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
};

httplib::Server::HandlerResponse refuse_what_is_not_served(const httplib::Request &request,
                                                           httplib::Response &response)
{
    if (request.method != "GET" && request.method != "HEAD") {
        response.status = 405;
        response.set_header("Allow", "GET, HEAD");
        response.set_content("only GET and HEAD are served\n", "text/plain; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
    }
    if (request.has_header("Transfer-Encoding") ||
        (request.has_header("Content-Length") &&
         request.get_header_value("Content-Length") != "0")) {
        response.status = 413;
        response.set_content("a request here carries no body\n", "text/plain; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
}

// A client may still be sending (a body it was refused): closing with its input unread would
// reset the connection, and the reset can discard the answer before the client reads it. So stop
// writing and read (and drop) what comes for a moment first, as nginx's lingering close does.
void linger(int fd)
{
    ::shutdown(fd, SHUT_WR);
    const auto until = Clock::now() + kLinger;
    char sink[4096];
    while (wait_until(fd, POLLIN, until)) {
        const ssize_t got = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return;
    }
}

} // namespace

BoundedHttpServer::BoundedHttpServer()
{
    new_task_queue = [] { return new InlineQueue; };
    set_pre_routing_handler(refuse_what_is_not_served);
    try {
        for (std::size_t i = 0; i < kWorkers; i++)
            workers_.emplace_back([this] { work(); });
    } catch (...) {
        stop_workers();
        throw;
    }
}

BoundedHttpServer::~BoundedHttpServer()
{
    stop_workers();
}

void BoundedHttpServer::stop_workers()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto &worker : workers_)
        worker.join();
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock)
{
    Waiting connection{UniqueFd(sock), Clock::now()};
    {
        std::lock_guard lock(mutex_);
        if (waiting_.size() < kMaxWaiting) {
            waiting_.push_back(std::move(connection));
            wake_.notify_one();
            return true;
        }
    }
    // A fresh socket's buffer has room for this short answer: no waiting on the client here.
    const std::string busy =
        plain_response("503 Service Unavailable", "the metrics server has " +
                                                      std::to_string(kWorkers + kMaxWaiting) +
                                                      " connections already; try again");
    if (::send(sock, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        spdlog::debug("metrics: could not send busy: {}", std::strerror(errno));
    spdlog::debug("metrics: refused a connection: {} are open", kWorkers + kMaxWaiting);
    return false;
}

void BoundedHttpServer::work()
{
    for (;;) {
        Waiting connection;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
            if (stopping_)
                return;
            connection = std::move(waiting_.front());
            waiting_.pop_front();
        }
        try {
            serve(connection);
        } catch (const std::exception &e) {
            spdlog::warn("metrics: serving a request failed: {}", e.what());
        }
    }
}

void BoundedHttpServer::serve(const Waiting &connection)
{
    const int fd = connection.fd.get();
    RequestStream stream(fd);
    const Head head = stream.read_head(connection.accepted + kRequestDeadline);
    stream.start_answer();
    switch (head) {
    case Head::Complete: {
        bool closed = false;
        process_request(stream, true, closed, nullptr);
        break;
    }
    case Head::TooLarge:
        stream.write_all(plain_response("431 Request Header Fields Too Large",
                                        "a request's head is at most " +
                                            std::to_string(kMaxRequestBytes) + " bytes"));
        break;
    case Head::TimedOut:
        stream.write_all(plain_response("408 Request Timeout",
                                        "no complete request within " +
                                            std::to_string(kRequestDeadline.count()) + " s"));
        break;
    case Head::Ended:
        return;
    }
    linger(fd);
}

} // namespace ratelimit::metrics
