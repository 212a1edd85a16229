// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The runtime rule file reader on any file content: it loads rules or throws std::runtime_error
// naming the file, never anything else; what it loads is saved and loaded back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include "state/runtime_store.hpp"

namespace
{

// One private directory for the whole run (the reader takes a file, not text), on tmpfs: the
// round trip saves, and syncing there costs nothing.
const std::string &directory()
{
    static const std::string made = [] {
        char pattern[] = "/dev/shm/state_fuzz.XXXXXX";
        if (!mkdtemp(pattern))
            std::abort();
        return std::string(pattern);
    }();
    return made;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string path = directory() + "/runtime-rules.json";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(size));
    const ratelimit::RuntimeStore store(path);
    std::vector<ratelimit::RuntimeRule> rules;
    try {
        rules = store.load();
    } catch (const std::runtime_error &) {
        return 0;
    }
    store.save(rules);
    if (store.load() != rules)
        std::abort(); // what was read must survive a round trip through the file
    return 0;
}
