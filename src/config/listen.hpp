// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The metrics listener's address as the config writes it: HOST:PORT.

#include <optional>
#include <string>
#include <string_view>

namespace ratelimit::config
{

// Why `listen` is not HOST:PORT ("127.0.0.1:9469", "[::1]:9469", "localhost:9469"), if it is
// not, quoting it: "\"9469\" is not HOST:PORT, e.g. 127.0.0.1:9469".
std::optional<std::string> explain_bad_listen(std::string_view listen);

} // namespace ratelimit::config
