// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The config parser on any text: it must refuse or accept, never crash, hang or exhaust memory;
// and what it accepts is a config that validates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    const auto result =
        ratelimit::config::parse_config(text, [](const std::string &) { return true; });
    if (result.value.has_value() == !result.errors.empty())
        std::abort(); // a config exactly when there are no errors
    for (const auto &error : result.errors)
        (void)error.to_string();
    return 0;
}
