// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Typed views of BPF maps by fd (non-owning: the skeleton or a pin owns the map). Every call
// checks its return code; "not found" is a value, anything else is a KernelError.

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernel/error.hpp"

namespace ratelimit
{

// Number of per-CPU copies a per-CPU map holds (possible CPUs, not online ones).
int possible_cpus();

template <typename K, typename V>
class Map
{
  public:
    Map(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

    int fd() const { return fd_; }
    const std::string &name() const { return name_; }

    std::optional<V> lookup(const K &key) const
    {
        V value{};
        int rc = bpf_map_lookup_elem(fd_, &key, &value);
        if (rc == -ENOENT)
            return std::nullopt;
        check(rc, "look up an element of map " + name_);
        return value;
    }

    void update(const K &key, const V &value, std::uint64_t flags = BPF_ANY)
    {
        check(bpf_map_update_elem(fd_, &key, &value, flags), "update an element of map " + name_);
    }

    // Returns false if the key was not there.
    bool erase(const K &key)
    {
        int rc = bpf_map_delete_elem(fd_, &key);
        if (rc == -ENOENT)
            return false;
        check(rc, "delete an element of map " + name_);
        return true;
    }

    std::vector<K> keys() const
    {
        std::vector<K> out;
        K key{};
        const K *prev = nullptr;
        for (;;) {
            int rc = bpf_map_get_next_key(fd_, prev, &key);
            if (rc == -ENOENT)
                return out;
            check(rc, "iterate the keys of map " + name_);
            out.push_back(key);
            prev = &out.back();
        }
    }

  private:
    int fd_;
    std::string name_;
};

// A per-CPU map: lookups return one value per possible CPU.
template <typename K, typename V>
class PerCpuMap
{
  public:
    PerCpuMap(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

    std::optional<std::vector<V>> lookup(const K &key) const
    {
        static_assert(sizeof(V) % 8 == 0, "per-CPU values are copied in 8-byte slots");
        std::vector<V> values(possible_cpus());
        int rc = bpf_map_lookup_elem(fd_, &key, values.data());
        if (rc == -ENOENT)
            return std::nullopt;
        check(rc, "look up an element of per-CPU map " + name_);
        return values;
    }

    // Writes `value` to CPU 0's copy and zeroes the others.
    void update(const K &key, const V &value, std::uint64_t flags = BPF_ANY)
    {
        std::vector<V> values(possible_cpus());
        values[0] = value;
        check(bpf_map_update_elem(fd_, &key, values.data(), flags),
              "update an element of per-CPU map " + name_);
    }

  private:
    int fd_;
    std::string name_;
};

} // namespace ratelimit
