// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Reading a trusted file: every byte, whatever its size against the read buffer, and nothing past
// the cap.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sys/trusted_file.hpp"

namespace ratelimit
{
namespace
{

namespace fs = std::filesystem;

class TrustedFileTest : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        char pattern[] = "/tmp/trusted_file_test.XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // A file of `size` bytes that differ from their neighbours, so a lost or doubled block shows.
    std::string write_file(std::size_t size)
    {
        std::string text(size, '\0');
        for (std::size_t i = 0; i < size; i++)
            text[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
        std::ofstream(dir_ / "file", std::ios::binary | std::ios::trunc) << text;
        return text;
    }

    fs::path dir_;
};

TEST_F(TrustedFileTest, ReadsEveryByteAtEachSizeAroundTheBuffer)
{
    for (std::size_t size : {0u, 1u, 4095u, 4096u, 4097u, 8192u, (1u << 20) + 3}) {
        const std::string written = write_file(size);
        const auto read = read_trusted_file((dir_ / "file").string(), Symlinks::Refuse, 2u << 20);
        ASSERT_TRUE(read.has_value()) << size;
        EXPECT_EQ(read->size(), size);
        EXPECT_TRUE(*read == written) << size;
    }
}

TEST_F(TrustedFileTest, TakesAFileOfTheCapAndRefusesOneByteMore)
{
    const std::string path = (dir_ / "file").string();
    write_file(10000);
    EXPECT_EQ(read_trusted_file(path, Symlinks::Refuse, 10000)->size(), 10000u);
    write_file(10001);
    EXPECT_THROW(read_trusted_file(path, Symlinks::Refuse, 10000), UntrustedFile);
}

TEST_F(TrustedFileTest, ReadsAFileWhoseSizeTheKernelDoesNotKnow)
{
    // procfs reports size 0 for files with content: the read goes on past what fstat said.
    const auto read = read_trusted_file("/proc/self/status", Symlinks::Refuse, 1u << 20);
    ASSERT_TRUE(read.has_value());
    EXPECT_NE(read->find("Name:"), std::string::npos);
}

} // namespace
} // namespace ratelimit
