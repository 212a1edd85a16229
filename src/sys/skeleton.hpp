// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Owns a bpftool-generated libbpf skeleton: opened on construction, destroyed exactly once.

#include <memory>

#include "sys/error.hpp"

namespace ratelimit
{

template <typename Skel>
class Skeleton
{
  public:
    Skeleton() : skel_(check_ptr(Skel::open(), "open BPF skeleton")) {}

    // Verifies and loads the programs and creates the maps (after maps/rodata are set up).
    void load() { check(Skel::load(skel_.get()), "load BPF skeleton"); }

    Skel *operator->() const { return skel_.get(); }
    Skel *get() const { return skel_.get(); }

  private:
    struct Destroy {
        void operator()(Skel *skel) const { Skel::destroy(skel); }
    };
    std::unique_ptr<Skel, Destroy> skel_;
};

} // namespace ratelimit
