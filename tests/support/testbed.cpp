// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "testbed.hpp"

#include <utility>

namespace ratelimit::test
{

Testbed::Testbed(const std::string &tag)
    : sender_ns_(tag), receiver_ns_(tag), veth_(sender_ns_, receiver_ns_)
{
}

SendPlan Testbed::plan_from(std::vector<Address> sources) const
{
    SendPlan plan;
    plan.interface = veth_.sender().name;
    plan.destination = sources.at(0).is_v4() ? veth_.receiver().ipv4 : veth_.receiver().ipv6;
    plan.sources = std::move(sources);
    return plan;
}

SendReport Testbed::send(const SendPlan &plan) const
{
    return sender_ns_.run([&] { return send_frames(plan); });
}

} // namespace ratelimit::test
