// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Where ratelimitd keeps its pins when it runs as `ip netns exec` runs it (NetNs::spawn does the
// same: a mount namespace of its own with a fresh sysfs, where /sys/fs/bpf is no bpffs): the
// default pin_dir works, and a bpffs that will not outlive the daemon is said to at start and in
// `ratelimitctl status`. Whatever the daemon mounts stays in its own mount namespace: the host's
// /sys/fs/bpf is never touched.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <thread>

#include "daemon_fixture.hpp"

namespace ratelimit::test
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kWillNotOutlive[] = "warning: pins will not outlive the daemon";

class PinsTest : public DaemonTest
{
  protected:
    nlohmann::json status() const
    {
        return nlohmann::json::parse(
            run_command({RATELIMITCTL_PATH, "--socket", (dir_.path() / "run/ratelimitd.sock"),
                         "--json", "status"}));
    }

    // `path` as the daemon sees it, in its own mount namespace.
    static fs::path seen_by(const Process &daemon, const fs::path &path)
    {
        return fs::path("/proc") / std::to_string(daemon.pid()) / "root" / path.relative_path();
    }

    // Waits up to `timeout` for the interface to have no XDP program; returns whether it has none.
    bool detached_within(std::chrono::milliseconds timeout) const
    {
        for (auto deadline = Clock::now() + timeout; Clock::now() < deadline;
             std::this_thread::sleep_for(20ms))
            if (attached().prog_id == 0)
                return true;
        return attached().prog_id == 0;
    }
};

TEST_F(PinsTest, DefaultPinDirUnderIpNetnsExecMountsABpffsAndWarns)
{
    const fs::path default_pins = "/sys/fs/bpf/ratelimitd";
    const bool host_had_pins = fs::exists(default_pins); // another daemon's: left alone
    pin_dir_setting_ = "";
    write_config(kStandardRules);
    Process daemon = start_daemon();
    const std::string log = daemon.stderr_text();
    EXPECT_NE(log.find("mounted a bpffs at /sys/fs/bpf for the pins"), std::string::npos) << log;
    EXPECT_NE(log.find(kWillNotOutlive), std::string::npos) << log;

    EXPECT_TRUE(fs::exists(seen_by(daemon, PinLayout(default_pins).link(iface()))));
    EXPECT_EQ(fs::exists(default_pins), host_had_pins) << "the host's /sys/fs/bpf was touched";
    EXPECT_EQ(delivered("10.9.0.1", 20), 0u);
    EXPECT_EQ(delivered("10.1.0.1", 20), 10u);

    const nlohmann::json pins = status().at("pins");
    EXPECT_EQ(pins.at("dir"), default_pins.string());
    EXPECT_EQ(pins.at("mounted_at"), "/sys/fs/bpf");
    EXPECT_EQ(pins.at("outlives_daemon"), false);
    EXPECT_NE(pins.at("warning").get<std::string>().find("ip netns exec"), std::string::npos);

    EXPECT_EQ(daemon.stop(), 0);
    EXPECT_EQ(fs::exists(default_pins), host_had_pins);
}

TEST_F(PinsTest, APlainPinDirWarnsAndThePinsDoGoWithTheDaemon)
{
    pin_dir_setting_ = (dir_.path() / "plain/pins").string();
    write_config(kStandardRules, R"(, "keep_attached_on_exit": true)");
    Process daemon = start_daemon();
    const std::string log = daemon.stderr_text();
    EXPECT_NE(log.find("mounted a bpffs at " + *pin_dir_setting_), std::string::npos) << log;
    EXPECT_NE(log.find(kWillNotOutlive), std::string::npos) << log;
    EXPECT_EQ(status().at("pins").at("outlives_daemon"), false);

    // What the warning says: kept attached on exit, yet detached with the daemon's namespace.
    ASSERT_NE(attached().prog_id, 0u);
    EXPECT_EQ(daemon.stop(), 0);
    EXPECT_TRUE(detached_within(5s));
}

TEST_F(PinsTest, ABpffsThatOutlivesTheDaemonGetsNoWarning)
{
    write_config(kStandardRules);
    Process daemon = start_daemon();
    EXPECT_EQ(daemon.stderr_text().find("will not outlive"), std::string::npos);
    const nlohmann::json pins = status().at("pins");
    EXPECT_EQ(pins.at("dir"), pin_dir().string());
    EXPECT_TRUE(pins.at("mounted_at").is_null());
    EXPECT_EQ(pins.at("outlives_daemon"), true);
    EXPECT_TRUE(pins.at("warning").is_null());
}

TEST_F(PinsTest, APinDirNoBpffsCanBeMountedForFailsSayingWhatToDo)
{
    pin_dir_setting_ = "/proc/ratelimitd-pins"; // /proc takes no directories and is not empty
    write_config(kStandardRules);
    Process daemon = host_ns_->spawn({RATELIMITD_PATH, "-c", config_path()},
                                     dir_.path() / "bad.out", dir_.path() / "bad.err");
    EXPECT_EQ(daemon.wait_for(10s), 1);
    EXPECT_NE(daemon.stderr_text().find("is not on a bpffs and none can be mounted there: mount "
                                        "one (mount -t bpf bpf DIR)"),
              std::string::npos)
        << daemon.stderr_text();
    EXPECT_EQ(attached().prog_id, 0u);
}

} // namespace
} // namespace ratelimit::test
