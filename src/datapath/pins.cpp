// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath/pins.hpp"

#include "ratelimit/abi.h"

namespace ratelimit
{

PinLayout::PinLayout(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

std::string PinLayout::root() const
{
    return pin_dir_ + "/v" + std::to_string(RL_ABI_VERSION);
}

std::string PinLayout::maps_dir() const
{
    return root() + "/maps";
}

std::string PinLayout::map(std::string_view name) const
{
    return maps_dir() + "/" + std::string(name);
}

std::string PinLayout::links_dir() const
{
    return root() + "/links";
}

std::string PinLayout::link(std::string_view ifname) const
{
    return links_dir() + "/" + std::string(ifname);
}

} // namespace ratelimit
