// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The daemon's own counters behind ratelimitd_config_reloads_total. Prometheus counters must not
// go back while the series lives, and the packet counters live in pinned maps that outlast a
// restart, so these are kept in a file beside them (STATE_DIR/metrics-state.json):
//
//   {"version": 1, "config_reloads": {"success": 12, "failure": 1}}
//
// The file is replaced whole and atomically on every change (state/state_file.hpp).

#include <cstdint>
#include <string>

namespace ratelimit::metrics
{

struct ReloadCounts {
    std::uint64_t success = 0;
    std::uint64_t failure = 0;
    bool operator==(const ReloadCounts &) const = default;
};

class ReloadCountFile
{
  public:
    explicit ReloadCountFile(std::string path) : path_(std::move(path)) {}

    const std::string &path() const { return path_; }

    // A missing file holds zero counts. Throws std::runtime_error naming the file and what is
    // wrong with it, or SystemError if it cannot be read.
    ReloadCounts load() const;
    // Throws SystemError naming the operation and the file; the file is then unchanged.
    void save(const ReloadCounts &counts) const;

  private:
    std::string path_;
};

} // namespace ratelimit::metrics
