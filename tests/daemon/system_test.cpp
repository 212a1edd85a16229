// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The instance lock: one daemon per lock file, and a lock path that others could have planted a
// link at never has the daemon write through it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/system.hpp"
#include "sys/error.hpp"

namespace fs = std::filesystem;
using namespace ratelimit;

namespace
{

class InstanceLockTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char templ[] = "/tmp/rl-lock-test.XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        dir_ = templ;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A file holding `text`, standing for one an attacker wants the daemon to truncate.
    fs::path victim(const std::string &text)
    {
        const fs::path path = dir_ / "victim";
        std::ofstream(path) << text;
        return path;
    }

    static std::string read(const fs::path &path)
    {
        std::ostringstream text;
        text << std::ifstream(path).rdbuf();
        return text.str();
    }

    // The message InstanceLock(path) throws, or "" if it takes the lock.
    static std::string refusal(const fs::path &path)
    {
        try {
            InstanceLock lock(path.string());
            return "";
        } catch (const SystemError &e) {
            return e.what();
        }
    }

    fs::path dir_;
};

TEST_F(InstanceLockTest, HoldsTheLockAndWritesItsPid)
{
    const fs::path path = dir_ / "ratelimitd.lock";
    InstanceLock lock(path.string());
    EXPECT_EQ(read(path), std::to_string(::getpid()) + "\n");
    EXPECT_NE(refusal(path).find("another ratelimitd holds"), std::string::npos);
}

TEST_F(InstanceLockTest, RefusesASymlinkAndLeavesItsTargetAlone)
{
    const fs::path target = victim("precious\n");
    const fs::path path = dir_ / "ratelimitd.lock";
    fs::create_symlink(target, path);
    const std::string message = refusal(path);
    EXPECT_NE(message.find("is a symbolic link"), std::string::npos) << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_EQ(read(target), "precious\n");
}

TEST_F(InstanceLockTest, RefusesAHardLinkAndLeavesItsTargetAlone)
{
    const fs::path target = victim("precious\n");
    const fs::path path = dir_ / "ratelimitd.lock";
    fs::create_hard_link(target, path);
    const std::string message = refusal(path);
    EXPECT_NE(message.find("not a regular file of this user with one link"), std::string::npos)
        << message;
    EXPECT_EQ(read(target), "precious\n");
}

TEST_F(InstanceLockTest, RefusesADirectory)
{
    const fs::path path = dir_ / "ratelimitd.lock";
    fs::create_directory(path);
    EXPECT_NE(refusal(path), "");
}

} // namespace
