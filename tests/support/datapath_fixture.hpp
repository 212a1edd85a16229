// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// A freshly loaded data path per test, with helpers to install rules and send frames.

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

#include "bpf_test.hpp"
#include "datapath/compile.hpp"
#include "datapath/datapath.hpp"

namespace ratelimit::test
{

Address addr(std::string_view text);
Prefix prefix(std::string_view text);

// A UDP frame from `source` (IPv4 or IPv6) with `payload` bytes after the UDP header.
Frame udp_from(std::string_view source, std::uint16_t payload = 18);
// An IPv6 UDP frame whose source is the IPv4-mapped form of `ipv4` (::ffff:a.b.c.d).
Frame udp6_from_mapped(std::string_view ipv4);

class DatapathTest : public ::testing::Test
{
  protected:
    void SetUp() override;

    // Installs a rule matched by every prefix given; returns its index.
    std::uint32_t add_rule(std::initializer_list<std::string_view> prefixes, const rl_rule &rule);
    std::uint32_t add_limit(std::string_view prefix, const LimitSpec &limit);

    std::uint32_t send(const Frame &frame); // XDP action
    // Sends `count` copies; returns how many passed.
    std::uint32_t passed_of(const Frame &frame, std::uint32_t count);
    std::uint64_t packets(rl_reason reason, rl_verdict verdict) const;

    DatapathOptions options_;
    std::unique_ptr<Datapath> dp_;

  private:
    std::uint32_t next_rule_ = 0;
};

} // namespace ratelimit::test
