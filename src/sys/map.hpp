// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// Typed views of BPF maps by fd (non-owning: the skeleton or a pin owns the map). Every call
// checks its return code; "not found" is a value, anything else is a SystemError.

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "sys/error.hpp"

namespace ratelimit
{

// Number of per-CPU copies a per-CPU map holds (possible CPUs, not online ones).
int possible_cpus();

namespace detail
{

// Entries a batch asks for at first; a hash map bucket larger than that doubles it.
inline constexpr std::uint32_t kFirstBatchSize = 1024;

// Reads every entry of the map at `fd` with BPF_MAP_LOOKUP_BATCH and calls
// `each(keys, values, count)` per batch: a few system calls for a map of any size, where
// get_next_key and lookup take two per entry. Entries added or removed meanwhile may or may not
// be seen. Each key has `values_per_key` values (one per possible CPU in a per-CPU map).
template <typename K, typename V, typename Each>
void lookup_in_batches(int fd, const std::string &name, std::size_t values_per_key, Each &&each,
                       std::uint32_t batch_size = kFirstBatchSize)
{
    std::vector<K> keys(batch_size);
    std::vector<V> values(batch_size * values_per_key);
    // Where the next batch starts: a hash map's bucket index or an array's key.
    alignas(8) unsigned char position[std::max(sizeof(K), sizeof(std::uint64_t))];
    bool started = false;
    for (;;) {
        std::uint32_t count = batch_size;
        int rc = bpf_map_lookup_batch(fd, started ? position : nullptr, position, keys.data(),
                                      values.data(), &count, nullptr);
        if (rc == -ENOSPC && count == 0) {
            // The kernel hands a hash map out a whole bucket at a time: this one is larger.
            batch_size *= 2;
            keys.resize(batch_size);
            values.resize(batch_size * values_per_key);
            continue;
        }
        if (rc != -ENOENT) // ENOENT: this was the last batch
            check(rc, "read the entries of map " + name);
        if (count > 0)
            each(keys.data(), values.data(), count);
        if (rc == -ENOENT)
            return;
        started = true;
    }
}

} // namespace detail

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

    // Writes values[i] at keys[i] with BPF_MAP_UPDATE_BATCH (a few system calls for any number
    // of entries), creating the keys that are not there: the kernel takes no BPF_EXIST or
    // BPF_NOEXIST for a batch. A failure throws, the entries before it written.
    void update(std::span<const K> keys, std::span<const V> values)
    {
        if (keys.size() != values.size())
            throw std::invalid_argument("update map " + name_ + ": " + std::to_string(keys.size()) +
                                        " keys, " + std::to_string(values.size()) + " values");
        while (!keys.empty()) {
            auto count = static_cast<std::uint32_t>(
                std::min<std::size_t>(keys.size(), std::numeric_limits<std::uint32_t>::max()));
            check(bpf_map_update_batch(fd_, keys.data(), values.data(), &count, nullptr),
                  "update elements of map " + name_);
            keys = keys.subspan(count);
            values = values.subspan(count);
        }
    }

    // Whether the map holds no entry (an array never is empty).
    bool empty() const
    {
        K key{};
        int rc = bpf_map_get_next_key(fd_, nullptr, &key);
        if (rc == -ENOENT)
            return true;
        check(rc, "find an element of map " + name_);
        return false;
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

    // Removes `keys` with BPF_MAP_DELETE_BATCH and returns how many were there: a key that went
    // meanwhile (an LRU map evicts on its own) is skipped.
    std::size_t erase(std::span<const K> keys)
    {
        std::size_t erased = 0;
        while (!keys.empty()) {
            auto count = static_cast<std::uint32_t>(
                std::min<std::size_t>(keys.size(), std::numeric_limits<std::uint32_t>::max()));
            int rc = bpf_map_delete_batch(fd_, keys.data(), &count, nullptr);
            erased += count;
            if (rc == -ENOENT)
                count++; // keys[count] is the one not found
            else
                check(rc, "delete elements of map " + name_);
            keys = keys.subspan(count);
        }
        return erased;
    }

    // Calls fn(key, value) for every entry, read in batches.
    template <typename Fn>
    void for_each(Fn &&fn) const
    {
        detail::lookup_in_batches<K, V>(fd_, name_, 1,
                                        [&](const K *keys, const V *values, std::uint32_t count) {
                                            for (std::uint32_t i = 0; i < count; i++)
                                                fn(keys[i], values[i]);
                                        });
    }

    // An array map's values at keys first, first + 1, ... : `count` of them at most, fewer at the
    // end of the map, read with one BPF_MAP_LOOKUP_BATCH (a bounded sample of a large array).
    std::vector<V> lookup_run(std::uint32_t first,
                              std::uint32_t count) const requires std::is_same_v<K, std::uint32_t>
    {
        std::vector<K> keys(count);
        std::vector<V> values(count);
        // A batch resumes after the key it is given: none starts at key 0.
        std::uint32_t before = first - 1, next = 0;
        int rc = bpf_map_lookup_batch(fd_, first == 0 ? nullptr : &before, &next, keys.data(),
                                      values.data(), &count, nullptr);
        if (rc != -ENOENT) // ENOENT: the run reached the end of the map
            check(rc, "read a run of entries of map " + name_);
        values.resize(count);
        return values;
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
    static_assert(sizeof(V) % 8 == 0, "per-CPU values are copied in 8-byte slots");

  public:
    PerCpuMap(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

    std::optional<std::vector<V>> lookup(const K &key) const
    {
        std::vector<V> values(possible_cpus());
        int rc = bpf_map_lookup_elem(fd_, &key, values.data());
        if (rc == -ENOENT)
            return std::nullopt;
        check(rc, "look up an element of per-CPU map " + name_);
        return values;
    }

    // Calls fn(key, per_cpu_values) for every entry, read in batches.
    template <typename Fn>
    void for_each(Fn &&fn) const
    {
        const std::size_t cpus = possible_cpus();
        detail::lookup_in_batches<K, V>(
            fd_, name_, cpus, [&](const K *keys, const V *values, std::uint32_t count) {
                for (std::uint32_t i = 0; i < count; i++)
                    fn(keys[i], std::span<const V>(values + i * cpus, cpus));
            });
    }

    // Writes `value` to CPU 0's copy and zeroes the others.
    void update(const K &key, const V &value, std::uint64_t flags = BPF_ANY)
    {
        std::vector<V> values(possible_cpus());
        values[0] = value;
        check(bpf_map_update_elem(fd_, &key, values.data(), flags),
              "update an element of per-CPU map " + name_);
    }

    // Zeroes every CPU's copy of the values at `keys` with BPF_MAP_UPDATE_BATCH: a few system
    // calls for any number of keys.
    void zero(std::span<const K> keys)
    {
        const std::vector<V> zeros(std::size_t{kZeroBatch} * possible_cpus());
        while (!keys.empty()) {
            auto count = static_cast<std::uint32_t>(std::min<std::size_t>(keys.size(), kZeroBatch));
            check(bpf_map_update_batch(fd_, keys.data(), zeros.data(), &count, nullptr),
                  "zero elements of per-CPU map " + name_);
            keys = keys.subspan(count);
        }
    }

  private:
    static constexpr std::uint32_t kZeroBatch = 4096; // keys a zeroing call takes at most
    int fd_;
    std::string name_;
};

} // namespace ratelimit
