// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Table-driven verdicts of the real XDP program (BPF_PROG_TEST_RUN) on crafted frames: every row
// asserts the XDP action and that exactly its (reason, verdict) counter moved, by one packet.

#include <linux/bpf.h>
#include <netinet/in.h>

#include <functional>
#include <string>

#include "datapath_fixture.hpp"

namespace ratelimit::test
{
namespace
{

constexpr char kDenied4[] = "203.0.113.7"; // under a deny rule
constexpr char kDenied6[] = "2001:db8:bad::7";
constexpr char kFree4[] = "192.0.2.1"; // under no rule
constexpr char kFree6[] = "2001:db8:1::1";

FrameBuilder v4(const char *src = kDenied4)
{
    return FrameBuilder().ip(addr(src), addr("198.51.100.1"));
}

FrameBuilder v6(const char *src = kDenied6)
{
    return FrameBuilder().ip(addr(src), addr("2001:db8:ffff::1"));
}

Frame truncated(Frame frame, std::size_t length)
{
    frame.resize(length);
    return frame;
}

struct Row {
    std::string name;
    Frame frame;
    rl_reason reason;
    rl_verdict verdict;
};

std::vector<Row> rows()
{
    const Frame plain4 = v4().build(), plain6 = v6().build();
    const Frame tagged = v4().vlan(FrameBuilder::kTpid8021Q, 10).build();
    std::vector<Row> rows = {
        {"ipv4", plain4, RL_REASON_DENIED, RL_VERDICT_DROP},
        {"ipv6", plain6, RL_REASON_DENIED, RL_VERDICT_DROP},
        {"ipv4 no rule", v4(kFree4).build(), RL_REASON_NO_RULE, RL_VERDICT_PASS},
        {"ipv6 no rule", v6(kFree6).build(), RL_REASON_NO_RULE, RL_VERDICT_PASS},
        {"ipv4 802.1Q", tagged, RL_REASON_DENIED, RL_VERDICT_DROP},
        {"ipv4 802.1ad+802.1Q",
         v4().vlan(FrameBuilder::kTpid8021AD, 100).vlan(FrameBuilder::kTpid8021Q, 10).build(),
         RL_REASON_DENIED, RL_VERDICT_DROP},
        {"ipv6 802.1ad+802.1Q",
         v6().vlan(FrameBuilder::kTpid8021AD, 100).vlan(FrameBuilder::kTpid8021Q, 10).build(),
         RL_REASON_DENIED, RL_VERDICT_DROP},
        {"three tags are not parsed",
         v4().vlan(FrameBuilder::kTpid8021AD, 1)
             .vlan(FrameBuilder::kTpid8021Q, 2)
             .vlan(FrameBuilder::kTpid8021Q, 3)
             .build(),
         RL_REASON_NON_IP, RL_VERDICT_PASS},
        {"ipv4 4 bytes of options", v4().ipv4_options(4).build(), RL_REASON_DENIED,
         RL_VERDICT_DROP},
        {"ipv4 40 bytes of options", v4().ipv4_options(40).build(), RL_REASON_DENIED,
         RL_VERDICT_DROP},
        {"ipv4 IHL 15 beyond the frame", v4().udp_payload(0).ipv4_ihl(15).build(),
         RL_REASON_MALFORMED, RL_VERDICT_PASS},
        {"ipv4 first fragment", v4().ipv4_fragment(0, true).build(), RL_REASON_DENIED,
         RL_VERDICT_DROP},
        {"ipv4 non-first fragment", v4().ipv4_fragment(1480, false).build(), RL_REASON_DENIED,
         RL_VERDICT_DROP},
        {"ipv6 four extension headers",
         v6().ipv6_extension(IPPROTO_HOPOPTS)
             .ipv6_extension(IPPROTO_DSTOPTS)
             .ipv6_extension(IPPROTO_ROUTING)
             .ipv6_extension(IPPROTO_FRAGMENT)
             .build(),
         RL_REASON_DENIED, RL_VERDICT_DROP},
        {"ipv6 seven extension headers",
         [] {
             FrameBuilder b = v6();
             for (int i = 0; i < RL_MAX_IPV6_EXT + 1; i++)
                 b.ipv6_extension(IPPROTO_DSTOPTS);
             return b.build();
         }(),
         RL_REASON_MALFORMED, RL_VERDICT_PASS},
        {"arp", FrameBuilder().arp().build(), RL_REASON_NON_IP, RL_VERDICT_PASS},
        {"ipv4 version 6 in an IPv4 EtherType",
         [&] {
             Frame f = plain4;
             f[14] = 0x65;
             return f;
         }(),
         RL_REASON_MALFORMED, RL_VERDICT_PASS},
        {"ipv6 payload length beyond the frame",
         [&] {
             Frame f = plain6;
             f[18] = 0x10; // payload length 4096 + ...
             return f;
         }(),
         RL_REASON_MALFORMED, RL_VERDICT_PASS},
    };
    for (std::uint8_t ihl = 0; ihl < 5; ihl++)
        rows.push_back({"ipv4 IHL " + std::to_string(ihl), v4().ipv4_ihl(ihl).build(),
                        RL_REASON_MALFORMED, RL_VERDICT_PASS});
    for (int ext :
         {+IPPROTO_HOPOPTS, +IPPROTO_ROUTING, +IPPROTO_FRAGMENT, +IPPROTO_DSTOPTS, +IPPROTO_AH}) {
        Frame f = v6().ipv6_extension(static_cast<std::uint8_t>(ext)).build();
        rows.push_back(
            {"ipv6 extension " + std::to_string(ext), f, RL_REASON_DENIED, RL_VERDICT_DROP});
        // Cut inside the extension header: 14 Ethernet + 40 IPv6 + 4 of its 8 or 16 bytes.
        rows.push_back({"ipv6 extension " + std::to_string(ext) + " truncated", truncated(f, 58),
                        RL_REASON_MALFORMED, RL_VERDICT_PASS});
    }
    // Truncation at every header boundary (and inside each header). BPF_PROG_TEST_RUN refuses
    // frames shorter than an Ethernet header, so cuts start at 14 bytes.
    for (std::size_t len : {14, 15, 33, 34, 41})
        rows.push_back({"ipv4 cut at " + std::to_string(len), truncated(plain4, len),
                        RL_REASON_MALFORMED, RL_VERDICT_PASS});
    for (std::size_t len : {14, 16})
        rows.push_back({"802.1Q cut at " + std::to_string(len), truncated(tagged, len),
                        RL_REASON_NON_IP, RL_VERDICT_PASS});
    for (std::size_t len : {18, 37, 38, 45})
        rows.push_back({"802.1Q ipv4 cut at " + std::to_string(len), truncated(tagged, len),
                        RL_REASON_MALFORMED, RL_VERDICT_PASS});
    for (std::size_t len : {14, 20, 53, 54, 61})
        rows.push_back({"ipv6 cut at " + std::to_string(len), truncated(plain6, len),
                        RL_REASON_MALFORMED, RL_VERDICT_PASS});
    return rows;
}

class ParseTest : public DatapathTest
{
  protected:
    void SetUp() override
    {
        DatapathTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        rl_rule deny = compile_rule(RL_ACTION_DENY, {}, false);
        add_rule({"203.0.113.0/24", "2001:db8:bad::/48"}, deny);
    }

    // Sends the row's frame and checks the action and that only its counter moved.
    void expect_row(const Row &row)
    {
        SCOPED_TRACE(row.name);
        std::vector<std::uint64_t> before(RL_STATS_ENTRIES);
        for (int r = 0; r < RL_REASON_COUNT; r++)
            for (int v = 0; v < RL_VERDICT_COUNT; v++)
                before[r * RL_VERDICT_COUNT + v] =
                    packets(static_cast<rl_reason>(r), static_cast<rl_verdict>(v));

        std::uint32_t action = send(row.frame);
        EXPECT_EQ(action, row.verdict == RL_VERDICT_DROP ? XDP_DROP : XDP_PASS);
        for (int r = 0; r < RL_REASON_COUNT; r++) {
            for (int v = 0; v < RL_VERDICT_COUNT; v++) {
                std::uint64_t moved =
                    packets(static_cast<rl_reason>(r), static_cast<rl_verdict>(v)) -
                    before[r * RL_VERDICT_COUNT + v];
                bool expected = r == row.reason && v == row.verdict;
                EXPECT_EQ(moved, expected ? 1u : 0u) << "reason " << r << " verdict " << v;
            }
        }
    }
};

TEST_F(ParseTest, EveryRowGetsItsVerdictAndCounter)
{
    for (const auto &row : rows())
        expect_row(row);
}

TEST_F(ParseTest, DropMalformedDropsOnlyMalformedPackets)
{
    dp_->set_settings_flags(RL_SETTINGS_DROP_MALFORMED);
    for (auto row : rows()) {
        if (row.reason == RL_REASON_MALFORMED)
            row.verdict = RL_VERDICT_DROP;
        expect_row(row);
    }
}

TEST_F(ParseTest, BytesCountTheWholeFrame)
{
    Frame f = v4(kFree4).udp_payload(1000).build();
    send(f);
    EXPECT_EQ(dp_->counter(RL_REASON_NO_RULE, RL_VERDICT_PASS).bytes, f.size());
}

} // namespace
} // namespace ratelimit::test
