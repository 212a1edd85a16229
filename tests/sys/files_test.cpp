// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// mkdir -p as the daemon makes its directories: the mode it asks for whatever the umask, and
// what exists left alone.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sys/error.hpp"
#include "sys/files.hpp"

namespace ratelimit
{
namespace
{

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char pattern[] = "/tmp/files_test.XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    static mode_t mode_of(const fs::path &path)
    {
        struct stat status {
        };
        check(::stat(path.c_str(), &status), "stat " + path.string());
        return status.st_mode & 07777;
    }

    fs::path dir_;
};

TEST_F(FilesTest, MakesEveryMissingDirectoryWithTheModeWhateverTheUmask)
{
    const mode_t umask_before = ::umask(077);
    for (auto sync : {SyncDirectories::No, SyncDirectories::Yes}) {
        const fs::path deep = dir_ / (sync == SyncDirectories::Yes ? "s" : "n") / "b" / "c";
        make_directories(deep.string(), 0750, sync);
        EXPECT_EQ(mode_of(deep), 0750u);
        EXPECT_EQ(mode_of(deep.parent_path()), 0750u);
    }
    ::umask(umask_before);
}

TEST_F(FilesTest, LeavesWhatExistsAndSaysWhatItCouldNotMake)
{
    ::chmod(dir_.c_str(), 0700);
    make_directories(dir_.string(), 0755);
    EXPECT_EQ(mode_of(dir_), 0700u);

    std::ofstream(dir_ / "file") << "in the way";
    try {
        make_directories((dir_ / "file" / "below").string(), 0755);
        FAIL() << "made a directory below a file";
    } catch (const SystemError &e) {
        EXPECT_NE(std::string(e.what()).find((dir_ / "file" / "below").string()), std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace ratelimit
