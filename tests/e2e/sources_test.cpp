// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Which rules a packet's source gets, on the wire (see daemon_fixture.hpp): an IPv6 source behind
// a long extension-header chain is still denied, and an IPv6 rule never covers IPv4 sources.

#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "daemon_fixture.hpp"
#include "tools/frame.hpp"

namespace ratelimit::test
{
namespace
{

class SourcesTest : public DaemonTest
{
  protected:
    // Puts `count` copies of `frame` on the sender's end of the veth as they are.
    void send_raw(const Frame &frame, int count) const
    {
        sender_ns_->run([&] {
            UniqueFd fd(check(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), "packet socket"));
            sockaddr_ll to{};
            to.sll_family = AF_PACKET;
            to.sll_ifindex = static_cast<int>(if_nametoindex(veth_->sender().name.c_str()));
            for (int i = 0; i < count; i++)
                check(static_cast<int>(sendto(fd.get(), frame.data(), frame.size(), 0,
                                              reinterpret_cast<const sockaddr *>(&to), sizeof(to))),
                      "send a frame");
            return 0;
        });
    }

    // A UDP frame from `source` to the far end behind `count` Destination Options headers.
    Frame behind_dstopts(const char *source, int count) const
    {
        FrameBuilder b;
        b.ip(*parse_address(source), veth_->receiver().ipv6);
        for (int i = 0; i < count; i++)
            b.ipv6_extension(IPPROTO_DSTOPTS);
        return b.build();
    }
};

TEST_F(SourcesTest, ADeniedIpv6SourceBehindSevenExtensionHeadersIsDropped)
{
    write_config(R"([{"match": "2001:db8:66::/48", "action": "deny"}])");
    Process daemon = start_daemon();
    // The same chain from a source with no rule arrives: the kernel takes such frames.
    send_raw(behind_dstopts("2001:db8:67::1", 7), 20);
    send_raw(behind_dstopts("2001:db8:66::1", 7), 20);
    send_raw(behind_dstopts("2001:db8:66::1", 12), 20);
    settle();
    EXPECT_EQ(received_from(*parse_address("2001:db8:67::1")), 20u);
    EXPECT_EQ(received_from(*parse_address("2001:db8:66::1")), 0u);
    EXPECT_EQ(counted(RL_REASON_DENIED, RL_VERDICT_DROP), 40u);
}

TEST_F(SourcesTest, AnIpv6RuleDoesNotCoverIpv4SourcesAndShowSaysSo)
{
    write_config(R"([{"match": "::/8", "action": "deny"}])");
    Process daemon = start_daemon();
    EXPECT_EQ(delivered("10.3.0.1", 20), 20u);
    const auto shown = nlohmann::json::parse(
        run_command({RATELIMITCTL_PATH, "--socket", (dir_.path() / "run/ratelimitd.sock"), "--json",
                     "show", "10.3.0.1"}));
    EXPECT_TRUE(shown.at("rule").is_null());
    EXPECT_NE(shown.at("why").get<std::string>().find(
                  "not by ::/8 (an IPv6 rule: it covers IPv6 sources only)"),
              std::string::npos)
        << shown.dump();
}

} // namespace
} // namespace ratelimit::test
