// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The state directory's files: no symbolic link is followed, neither to read a file nor to write
// one; a directory or file others could write (or another user owns) is refused with a message
// that names it and the fix, and never quotes what is in it; the retry schedule of writes that
// fail.

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bpf_test.hpp"
#include "sys/trusted_file.hpp"
#include "scratch_dir.hpp"
#include "state/runtime_store.hpp"
#include "state/state_file.hpp"

namespace ratelimit
{
namespace
{

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t kMaxTestBytes = 1 << 20; // more than any file these tests write

constexpr uid_t kNobody = 65534;

class StateFileTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        fs::create_directory(state_dir());
        fs::permissions(state_dir(), fs::perms(0750));
    }

    fs::path state_dir() const { return top_ / "state"; }
    std::string path(const std::string &name = "runtime-rules.json") const
    {
        return (state_dir() / name).string();
    }
    // A file outside the state directory, as a link planted in it would lead to.
    fs::path outside(const std::string &text) const
    {
        const fs::path file = top_ / "elsewhere";
        std::ofstream(file) << text;
        return file;
    }

    static std::string read(const fs::path &file)
    {
        std::stringstream text;
        text << std::ifstream(file).rdbuf();
        return text.str();
    }

    // What read_state_file(path(), kMaxTestBytes) throws.
    std::string refusal() const
    {
        try {
            read_state_file(path(), kMaxTestBytes);
        } catch (const UntrustedFile &e) {
            return e.what();
        }
        return "(read)";
    }

    test::ScratchDir scratch_;
    const fs::path &top_ = scratch_.path();
};

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

TEST_F(StateFileTest, ASymbolicLinkIsNotReadAndWhatItLeadsToIsNotQuoted)
{
    // A JSON string: were it read, the runtime rule file's error would quote it.
    fs::create_symlink(outside(R"("hunter2-secret")"), path());
    const std::string message = refusal();
    EXPECT_TRUE(contains(message, "cannot read " + path() + ": it is a symbolic link")) << message;
    EXPECT_FALSE(contains(message, "hunter2")) << message;
    try {
        RuntimeStore(path()).load();
        ADD_FAILURE() << "loaded the rules through a link";
    } catch (const std::runtime_error &e) {
        EXPECT_FALSE(contains(e.what(), "hunter2")) << e.what();
    }
}

TEST_F(StateFileTest, APlantedTemporaryLinkIsReplacedNotFollowed)
{
    const fs::path target = outside("precious");
    fs::create_symlink(target, path() + ".tmp");
    replace_state_file(path(), "new\n");
    EXPECT_EQ(read(target), "precious");
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path())));
    EXPECT_EQ(read(path()), "new\n");
    EXPECT_FALSE(fs::exists(fs::symlink_status(path() + ".tmp")));
}

TEST_F(StateFileTest, AFileLinkIsReplacedByAFileAndWhatItLedToIsUnchanged)
{
    const fs::path target = outside("precious");
    fs::create_symlink(target, path());
    replace_state_file(path(), "new\n");
    EXPECT_EQ(read(target), "precious");
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path())));
    EXPECT_EQ(*read_state_file(path(), kMaxTestBytes), "new\n");
}

TEST_F(StateFileTest, ADirectoryOthersCanWriteIsRefusedSayingHowToFixIt)
{
    replace_state_file(path(), "kept\n");
    for (auto [mode, who] :
         {std::pair{0777, "its group and others"}, {0757, "others"}, {0770, "its group"}}) {
        fs::permissions(state_dir(), fs::perms(mode));
        const std::string message = refusal();
        EXPECT_EQ(message, state_dir().string() + " is writable by " + who + " (mode 0" +
                               (std::stringstream() << std::oct << mode).str() +
                               "), and ratelimitd trusts no file in a directory that others can "
                               "write to; fix it with `chmod go-w " +
                               state_dir().string() + "`");
        EXPECT_THROW(replace_state_file(path(), "replaced\n"), UntrustedFile);
        EXPECT_EQ(read(path()), "kept\n");
    }
    // The sticky bit does not help: anyone could still add files to it.
    fs::permissions(state_dir(), fs::perms(01777));
    EXPECT_THROW(read_state_file(path(), kMaxTestBytes), UntrustedFile);
}

TEST_F(StateFileTest, AFileOthersCanWriteIsRefused)
{
    replace_state_file(path(), "text\n");
    fs::permissions(path(), fs::perms(0662));
    EXPECT_EQ(refusal(), "cannot read " + path() +
                             ": it is writable by its group and others (mode 0662), and "
                             "ratelimitd does not take its rules from a file that others can "
                             "write to; fix it with `chmod go-w " +
                             path() + "`");
}

TEST_F(StateFileTest, AFileOrDirectoryOfAnotherUserIsRefused)
{
    RL_REQUIRE_BPF(); // root, to hand files to another user
    replace_state_file(path(), "text\n");
    ASSERT_EQ(::chown(path().c_str(), kNobody, kNobody), 0) << std::strerror(errno);
    EXPECT_EQ(refusal(), "cannot read " + path() +
                             ": it is owned by uid 65534, and ratelimitd does not take its rules "
                             "from a file that root does not own; fix it with `chown root " +
                             path() + "`");
    ASSERT_EQ(::chown(path().c_str(), 0, 0), 0);
    ASSERT_EQ(::chown(state_dir().c_str(), kNobody, kNobody), 0) << std::strerror(errno);
    EXPECT_TRUE(contains(refusal(), state_dir().string() + " is owned by uid 65534")) << refusal();
}

TEST_F(StateFileTest, WhatIsNotARegularFileIsRefusedWithoutWaitingOnIt)
{
    // A FIFO with no writer would block a plain open for reading for ever.
    ASSERT_EQ(::mkfifo(path().c_str(), 0600), 0) << std::strerror(errno);
    EXPECT_EQ(refusal(), "cannot read " + path() + ": it is not a regular file");
}

TEST_F(StateFileTest, AFileOverTheBoundIsRefusedUnread)
{
    replace_state_file(path(), std::string(64, 'x'));
    EXPECT_EQ(read_state_file(path(), 64)->size(), 64u);
    try {
        read_state_file(path(), 63);
        ADD_FAILURE() << "a file over the bound was read";
    } catch (const UntrustedFile &e) {
        EXPECT_EQ(std::string(e.what()),
                  path() + " is larger than 63 bytes, more than ratelimitd reads from such a file");
    }
}

TEST_F(StateFileTest, AMissingFileOrDirectoryHoldsNothing)
{
    EXPECT_EQ(read_state_file(path(), kMaxTestBytes), std::nullopt);
    EXPECT_EQ(read_state_file((top_ / "no/such/dir/file").string(), kMaxTestBytes), std::nullopt);
}

TEST_F(StateFileTest, TheDirectoryItMakesIsTrusted)
{
    const std::string nested = (top_ / "made/for/it/runtime-rules.json").string();
    const mode_t umask_before = ::umask(0);
    replace_state_file(nested, "text\n");
    ::umask(umask_before);
    EXPECT_EQ(*read_state_file(nested, kMaxTestBytes), "text\n");
}

// ----- failed writes -------------------------------------------------

TEST(SaveStatus, IsBehindFromAChangeUntilAWriteSucceeds)
{
    SaveStatus file("/state/runtime-rules.json");
    EXPECT_TRUE(file.saved());
    file.changed();
    EXPECT_FALSE(file.saved());
    EXPECT_TRUE(file.error().empty());
    file.failed("No space left on device");
    file.failed("No space left on device");
    EXPECT_FALSE(file.saved());
    EXPECT_EQ(file.error(), "No space left on device");
    EXPECT_EQ(file.failures(), 2u);
    file.succeeded();
    EXPECT_TRUE(file.saved());
    EXPECT_TRUE(file.error().empty());
    EXPECT_EQ(file.failures(), 2u) << "a count since the start, as the metric is";
}

TEST(SaveRetryDelay, DoublesFromOneSecondToAMinute)
{
    EXPECT_EQ(save_retry_delay(1), 1s);
    EXPECT_EQ(save_retry_delay(2), 2s);
    EXPECT_EQ(save_retry_delay(3), 4s);
    EXPECT_EQ(save_retry_delay(6), 32s);
    EXPECT_EQ(save_retry_delay(7), 60s);
    EXPECT_EQ(save_retry_delay(1000), 60s);
    EXPECT_EQ(save_retry_delay(~0u), 60s);
}

} // namespace
} // namespace ratelimit
