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
constexpr char kLimited6[] = "2001:db8:11::7"; // under a limit no frame fits: always over it
constexpr char kFree4[] = "192.0.2.1";         // under no rule
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

Frame with_byte(Frame frame, std::size_t offset, std::uint8_t value)
{
    frame.at(offset) = value;
    return frame;
}

// A UDP frame from `src` behind `count` Destination Options headers (8 bytes each).
Frame dstopts_chain(const char *src, int count)
{
    FrameBuilder b = v6(src);
    for (int i = 0; i < count; i++)
        b.ipv6_extension(IPPROTO_DSTOPTS);
    return b.build();
}

// Ethernet + the IPv6 fixed header: the source is readable from a frame this long on.
constexpr std::size_t kIpv6SourceReadable = 14 + 40;

// An IPv6 chain cut to `length` bytes, its payload length saying so: only the extension headers'
// own lengths show that it is cut.
Frame cut_chain(Frame frame, std::size_t length)
{
    frame.resize(length);
    const std::size_t payload = length - kIpv6SourceReadable;
    frame[18] = static_cast<std::uint8_t>(payload >> 8);
    frame[19] = static_cast<std::uint8_t>(payload);
    return frame;
}

struct Row {
    std::string name;
    Frame frame;
    rl_reason reason;
    rl_verdict verdict;
    // Its source is read but its headers are broken (the kernel would refuse it): judged by the
    // source's rules, unless drop_malformed drops it as malformed.
    bool broken = false;
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
        {"ipv4 IHL 15 beyond the frame", v4().udp_payload(0).ipv4_ihl(15).build(), RL_REASON_DENIED,
         RL_VERDICT_DROP, true},
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
        // Past the parser's walk (RL_MAX_IPV6_EXT) the chain is not checked, but the source is
        // known: judged like any other packet, however long the chain.
        {"ipv6 7 extension headers, cut in the 7th (past the walk)",
         cut_chain(dstopts_chain(kDenied6, 7), kIpv6SourceReadable + 6 * 8 + 4), RL_REASON_DENIED,
         RL_VERDICT_DROP},
        {"ipv6 6 extension headers, cut in the 3rd",
         cut_chain(dstopts_chain(kDenied6, 6), kIpv6SourceReadable + 2 * 8 + 4), RL_REASON_DENIED,
         RL_VERDICT_DROP, true},
        {"ipv6 12 extension headers, cut in the 2nd, limited source",
         cut_chain(dstopts_chain(kLimited6, 12), kIpv6SourceReadable + 8 + 1), RL_REASON_OVER_LIMIT,
         RL_VERDICT_DROP, true},
        {"ipv6 extension header cut at its first byte",
         cut_chain(dstopts_chain(kDenied6, 1), kIpv6SourceReadable + 1), RL_REASON_DENIED,
         RL_VERDICT_DROP, true},
        // No IPv6 node sends from ::ffff:0:0/96, where IPv4 sources are keyed: never judged as
        // (or charged to) the IPv4 source, always dropped.
        {"ipv6 from an IPv4-mapped denied source", udp6_from_mapped(kDenied4), RL_REASON_MALFORMED,
         RL_VERDICT_DROP},
        {"ipv6 from an IPv4-mapped source without a rule", udp6_from_mapped(kFree4),
         RL_REASON_MALFORMED, RL_VERDICT_DROP},
        {"arp", FrameBuilder().arp().build(), RL_REASON_NON_IP, RL_VERDICT_PASS},
        {"ipv4 version 6 in an IPv4 EtherType", with_byte(plain4, 14, 0x65), RL_REASON_MALFORMED,
         RL_VERDICT_PASS},
        {"ipv6 version 4 in an IPv6 EtherType", with_byte(plain6, 14, 0x45), RL_REASON_MALFORMED,
         RL_VERDICT_PASS},
        {"ipv6 payload length beyond the frame", with_byte(plain6, 18, 0x10), // 4096 + ...
         RL_REASON_DENIED, RL_VERDICT_DROP, true},
    };
    for (std::uint8_t ihl = 0; ihl < 5; ihl++)
        rows.push_back({"ipv4 IHL " + std::to_string(ihl), v4().ipv4_ihl(ihl).build(),
                        RL_REASON_DENIED, RL_VERDICT_DROP, true});
    // However many extension headers, from a denied and from a limited source.
    for (int count : {RL_MAX_IPV6_EXT, RL_MAX_IPV6_EXT + 1, 12}) {
        const std::string chain = "ipv6 " + std::to_string(count) + " extension headers";
        rows.push_back({chain, dstopts_chain(kDenied6, count), RL_REASON_DENIED, RL_VERDICT_DROP});
        rows.push_back({chain + ", limited source", dstopts_chain(kLimited6, count),
                        RL_REASON_OVER_LIMIT, RL_VERDICT_DROP});
    }
    for (int ext :
         {+IPPROTO_HOPOPTS, +IPPROTO_ROUTING, +IPPROTO_FRAGMENT, +IPPROTO_DSTOPTS, +IPPROTO_AH}) {
        Frame f = v6().ipv6_extension(static_cast<std::uint8_t>(ext)).build();
        rows.push_back(
            {"ipv6 extension " + std::to_string(ext), f, RL_REASON_DENIED, RL_VERDICT_DROP});
        // Cut inside the extension header: 14 Ethernet + 40 IPv6 + 4 of its 8 or 16 bytes.
        rows.push_back({"ipv6 extension " + std::to_string(ext) + " truncated", truncated(f, 58),
                        RL_REASON_DENIED, RL_VERDICT_DROP, true});
    }
    // Truncation at every header boundary (and inside each header). BPF_PROG_TEST_RUN refuses
    // frames shorter than an Ethernet header, so cuts start at 14 bytes. Cut before the end of
    // the fixed IP header, no source can be read; cut after it, the source is judged.
    auto cuts = [&rows](const std::string &what, const Frame &frame,
                        std::initializer_list<std::size_t> lengths, std::size_t source_readable,
                        rl_reason unreadable) {
        for (std::size_t len : lengths) {
            const bool readable = len >= source_readable;
            rows.push_back({what + " cut at " + std::to_string(len), truncated(frame, len),
                            readable ? RL_REASON_DENIED : unreadable,
                            readable ? RL_VERDICT_DROP : RL_VERDICT_PASS, readable});
        }
    };
    cuts("ipv4", plain4, {14, 15, 33, 34, 41}, 14 + 20, RL_REASON_MALFORMED);
    cuts("802.1Q", tagged, {14, 16}, 18 + 20, RL_REASON_NON_IP);
    cuts("802.1Q ipv4", tagged, {18, 37, 38, 45}, 18 + 20, RL_REASON_MALFORMED);
    cuts("ipv6", plain6, {14, 20, 53, 54, 61}, kIpv6SourceReadable, RL_REASON_MALFORMED);
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
        // A byte burst smaller than any frame: every packet it judges is over the limit.
        const LimitSpec tiny{RL_UNIT_BYTES, 1, 1};
        add_rule({"2001:db8:11::/48"}, compile_rule(RL_ACTION_LIMIT, {&tiny, 1}, false));
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

// drop_malformed drops what has no readable source, and, unjudged, what has broken headers.
TEST_F(ParseTest, DropMalformedDropsOnlyMalformedPackets)
{
    dp_->set_settings_flags(RL_SETTINGS_DROP_MALFORMED);
    for (auto row : rows()) {
        if (row.reason == RL_REASON_MALFORMED || row.broken) {
            row.reason = RL_REASON_MALFORMED;
            row.verdict = RL_VERDICT_DROP;
        }
        expect_row(row);
    }
}

// Monitor mode drops nothing, an IPv4-mapped IPv6 source included.
TEST_F(ParseTest, MonitorModePassesEveryRow)
{
    dp_->set_settings_flags(RL_SETTINGS_MONITOR);
    for (auto row : rows()) {
        row.verdict = RL_VERDICT_PASS;
        expect_row(row);
    }
}

// A long chain is charged to the source's bucket like any other packet (it once passed, counted
// malformed): a 3-packet burst lets 3 of 10 through, whatever the chain.
TEST_F(ParseTest, LongExtensionChainsAreChargedToTheSourcesBucket)
{
    const LimitSpec three{RL_UNIT_PACKETS, 1, 3};
    add_rule({"2001:db8:33::/48"}, compile_rule(RL_ACTION_LIMIT, {&three, 1}, false));
    for (int count : {RL_MAX_IPV6_EXT + 1, 12}) {
        const std::string source = "2001:db8:33::" + std::to_string(count);
        EXPECT_EQ(passed_of(dstopts_chain(source.c_str(), count), 10), 3u) << count << " headers";
    }
    EXPECT_EQ(packets(RL_REASON_MALFORMED, RL_VERDICT_PASS), 0u);
}

TEST_F(ParseTest, BytesCountTheWholeFrame)
{
    Frame f = v4(kFree4).udp_payload(1000).build();
    send(f);
    EXPECT_EQ(dp_->counter(RL_REASON_NO_RULE, RL_VERDICT_PASS).bytes, f.size());
}

} // namespace
} // namespace ratelimit::test
