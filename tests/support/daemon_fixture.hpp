// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A ratelimitd under test: the daemon runs in a private network namespace behind a veth pair,
// with its pins in a bpffs of the test's own. What it attached is checked through the kernel,
// and what it let through is counted by a UDP socket on the far side, never by the daemon.

#include <bpf/bpf.h>
#include <net/if.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "datapath/pins.hpp"
#include "datapath/xdp_link.hpp"
#include "netns.hpp"
#include "process.hpp"
#include "ratelimit/abi.h"
#include "sys/map.hpp"
#include "temp_fs.hpp"
#include "testbed.hpp"
#include "tools/sender.hpp"
#include "udp_counter.hpp"

namespace ratelimit::test
{

// The rules most daemon tests start from: 10.9/16 denied, 10.1/16 limited to 1 pps with a burst
// of 10, 10.2/16 allowed; anything else has no rule.
inline constexpr char kStandardRules[] = R"([{"match": "10.9.0.0/16", "action": "deny"},
                              {"match": "10.1.0.0/16", "rate": "1pps", "burst": 10},
                              {"match": "10.2.0.0/16", "action": "allow"}])";

class DaemonTest : public ::testing::Test
{
  protected:
    using Clock = std::chrono::steady_clock;
    void SetUp() override
    {
        RL_REQUIRE_NETNS();
        testbed_.emplace(netns_tag_);
        sender_ns_ = &testbed_->sender_ns();
        host_ns_ = &testbed_->receiver_ns();
        veth_ = &testbed_->veth();
        counter_.emplace(*host_ns_);
        bpffs_.emplace();
    }

    std::filesystem::path config_path() const { return dir_.path() / "ratelimitd.json"; }
    // The configs write_config writes keep the daemon's state here.
    std::filesystem::path state_dir() const
    {
        return state_dir_.empty() ? dir_.path() / "state" : state_dir_;
    }
    void use_state_dir(const std::filesystem::path &dir) { state_dir_ = dir; }
    std::filesystem::path pin_dir() const { return bpffs_->path() / "ratelimitd"; }
    PinLayout pins() const { return PinLayout(pin_dir().string()); }
    const std::string &iface() const { return veth_->receiver().name; }

    // A config on the veth's far end with the given "rules" (JSON text) and extra fields.
    void write_config(const std::string &rules, const std::string &extra = "")
    {
        DaemonConfig config;
        config.interface = iface();
        config.rules = rules;
        config.socket = dir_.path() / "run/ratelimitd.sock";
        config.state_dir = state_dir();
        config.pin_dir = pin_dir_setting_.value_or(pin_dir().string());
        config.metrics_listen = metrics_listen_;
        config.extra = extra;
        config.write(config_path());
    }

    // Makes the configs write_config writes serve /metrics on `listen` (HOST:PORT); they turn it
    // off until then.
    void enable_metrics(const std::string &listen) { metrics_listen_ = listen; }

    // Replaces the first `from` in the config file with `to`.
    void edit_config(const std::string &from, const std::string &to) const
    {
        std::string text;
        {
            std::ifstream in(config_path());
            text.assign(std::istreambuf_iterator<char>(in), {});
        }
        auto at = text.find(from);
        ASSERT_NE(at, std::string::npos) << from << " is not in the config";
        text.replace(at, from.size(), to);
        std::ofstream(config_path()) << text;
    }

    // Adds "group" (a plain name: it is not escaped) to the "control" section of the config
    // write_config() wrote.
    void set_control_group(const std::string &group) const
    {
        const std::string section = "\"control\": {";
        edit_config(section, section + "\"group\": \"" + group + "\", ");
    }

    // `ratelimitd args...` in the daemon's namespace, its output in files of its own.
    Process spawn_daemon(const std::vector<std::string> &args) const
    {
        static int serial = 0;
        serial++;
        std::filesystem::path out = dir_.path() / ("daemon" + std::to_string(serial) + ".out");
        std::filesystem::path err = dir_.path() / ("daemon" + std::to_string(serial) + ".err");
        return spawn_ratelimitd(*host_ns_, args, out, err);
    }

    Process start_daemon()
    {
        Process daemon = spawn_daemon({"-c", config_path()});
        wait_for_log(daemon, "ready:");
        return daemon;
    }

    // Waits until the daemon's log holds `text` (a count of `occurrences`).
    void wait_for_log(Process &daemon, const std::string &text, int occurrences = 1)
    {
        try {
            test::wait_for_log(daemon, text, occurrences);
        } catch (const std::exception &e) {
            FAIL() << e.what();
        }
    }

    // Sends `count` frames from `source` and returns how many the far side received.
    std::uint64_t delivered(const std::string &source, std::uint64_t count)
    {
        Address src = *parse_address(source);
        std::uint64_t before = received_from(src);
        SendPlan plan = plan_from({src});
        plan.count = count;
        plan.rate_pps = 100000;
        send(plan);
        settle();
        return received_from(src) - before;
    }

    // A plan for frames from `sources` (all of one family) to the far end's address of that
    // family; the caller adds the rate and the count or duration.
    SendPlan plan_from(std::vector<Address> sources) const
    {
        return testbed_->plan_from(std::move(sources));
    }

    // Sends as `plan` says from the sender's namespace; call from any thread.
    SendReport send(const SendPlan &plan) const { return testbed_->send(plan); }

    // Returns once the far side has received nothing for a while and has counted all it received:
    // the frames still in flight after a send (in the veth's queue, climbing the stack) have
    // landed. A quiet counter alone is not enough: its thread may be starved while datagrams
    // wait in the socket.
    void settle() const
    {
        for (std::uint64_t seen = counter_->total();;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            std::uint64_t now = counter_->total();
            if (now == seen && counter_->idle())
                return;
            seen = now;
        }
    }

    std::uint64_t received_from(const Address &src) const
    {
        auto by_source = counter_->by_source();
        auto it = by_source.find(src);
        return it == by_source.end() ? 0 : it->second;
    }

    // The XDP program on the interface, as the kernel reports it.
    XdpAttachment attached() const
    {
        return host_ns_->run([&] { return query_xdp(if_nametoindex(iface().c_str())); });
    }

    std::string program_name(std::uint32_t id) const
    {
        int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0)
            return {};
        bpf_prog_info info{};
        std::uint32_t len = sizeof(info);
        std::string name;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
            name = info.name;
        close(fd);
        return name;
    }

    std::uint32_t pinned_link_id() const
    {
        const std::string pin = pins().link(iface());
        int fd = bpf_obj_get(pin.c_str());
        if (fd < 0)
            return 0;
        bpf_link_info info{};
        std::uint32_t len = sizeof(info);
        std::uint32_t id = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
        close(fd);
        return id;
    }

    // A map the daemon pinned, by its name in the program (RL_MAP_NAME(RL_MAP_SOURCES), ...).
    UniqueFd pinned_map(const std::string &name) const
    {
        const std::string pin = pins().map(name);
        UniqueFd fd(bpf_obj_get(pin.c_str()));
        if (!fd)
            throw SystemError(errno, "open the pinned map " + pin);
        return fd;
    }

    // Sources the program tracks now: the keys of its pinned `sources` map.
    std::size_t tracked_sources() const
    {
        UniqueFd fd = pinned_map(RL_MAP_NAME(RL_MAP_SOURCES));
        return Map<rl_source_key, rl_source>(fd.get(), RL_MAP_NAME(RL_MAP_SOURCES)).keys().size();
    }

    // Packets the program counted for `reason` and `verdict` on the daemon's first interface, one
    // figure per possible CPU.
    std::vector<std::uint64_t> counted_per_cpu(rl_reason reason, rl_verdict verdict) const
    {
        UniqueFd fd = pinned_map(RL_MAP_NAME(RL_MAP_STATS));
        auto values = PerCpuMap<std::uint32_t, rl_counter>(fd.get(), RL_MAP_NAME(RL_MAP_STATS))
                          .lookup(rl_stats_index(0, reason, verdict))
                          .value_or(std::vector<rl_counter>{});
        std::vector<std::uint64_t> packets;
        for (const auto &value : values)
            packets.push_back(value.packets);
        return packets;
    }

    std::uint64_t counted(rl_reason reason, rl_verdict verdict) const
    {
        std::uint64_t total = 0;
        for (std::uint64_t packets : counted_per_cpu(reason, verdict))
            total += packets;
        return total;
    }

    // The lines the daemon logged at error level or above.
    static std::vector<std::string> errors_logged(const Process &daemon)
    {
        std::vector<std::string> errors;
        std::istringstream log(daemon.stderr_text());
        for (std::string line; std::getline(log, line);)
            if (line.starts_with("error:") || line.starts_with("critical:"))
                errors.push_back(line);
        return errors;
    }

    TempDir dir_;
    std::string netns_tag_; // in the names of the test's namespaces (NetNs), if set before SetUp
    std::string metrics_listen_; // empty: metrics off
    // The configs' pin_dir: pin_dir() (on the test's own bpffs) unless set; empty: none, so the
    // daemon uses its default.
    std::optional<std::string> pin_dir_setting_;
    std::filesystem::path state_dir_; // empty: dir_/state
    std::optional<Testbed> testbed_;
    // The testbed's parts, by the names the tests use: the daemon runs in host_ns_.
    const NetNs *sender_ns_ = nullptr, *host_ns_ = nullptr;
    const VethPair *veth_ = nullptr;
    std::optional<UdpCounter> counter_;
    std::optional<Bpffs> bpffs_;
};

} // namespace ratelimit::test
