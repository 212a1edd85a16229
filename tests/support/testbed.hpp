// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Where a limiter under test meets frames: two private namespaces joined by a veth pair (pair 0).
// Frames are sent in the sender's namespace and arrive on the receiver's end, where the limiter
// sits (the daemon of an e2e test, a benchmarked program or firewall).

#include <string>
#include <vector>

#include "net/address.hpp"
#include "netns.hpp"
#include "tools/sender.hpp"

namespace ratelimit::test
{

class Testbed
{
  public:
    // `tag`: what the namespaces serve, in their names (see NetNs).
    explicit Testbed(const std::string &tag = "");
    Testbed(const Testbed &) = delete;
    Testbed &operator=(const Testbed &) = delete;

    const NetNs &sender_ns() const { return sender_ns_; }
    const NetNs &receiver_ns() const { return receiver_ns_; }
    const VethPair &veth() const { return veth_; }

    // A plan for frames from `sources` (all of one family) to the receiving end's address of
    // that family; the caller adds the rate and the count or duration.
    SendPlan plan_from(std::vector<Address> sources) const;
    // Sends as `plan` says from the sender's namespace; call from any thread.
    SendReport send(const SendPlan &plan) const;

  private:
    NetNs sender_ns_, receiver_ns_;
    VethPair veth_;
};

} // namespace ratelimit::test
