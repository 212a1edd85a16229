// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Where a daemon pins its data path under its pin_dir: a directory per layout version
// (vN, N = RL_ABI_VERSION), holding the maps under their names in the program (maps/rld_sources,
// see RL_MAP_NAME) and each interface's XDP link (links/eth0). A daemon adopts only what it finds
// under its own version. The daemon, its tests and the benchmarks all find pins through this.

#include <string>
#include <string_view>

namespace ratelimit
{

class PinLayout
{
  public:
    explicit PinLayout(std::string pin_dir);

    const std::string &pin_dir() const { return pin_dir_; }
    std::string root() const; // pin_dir/vN
    std::string maps_dir() const;
    std::string map(std::string_view name) const;
    std::string links_dir() const;
    std::string link(std::string_view ifname) const;

  private:
    std::string pin_dir_;
};

} // namespace ratelimit
