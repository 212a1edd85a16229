// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// The config as this host can run it. config::load_config_file checks what the file alone says;
// this adds what only the host can say and a start would otherwise find out halfway (after
// the program is attached): interfaces that do not exist, a control.group with no such group,
// directories (state_dir, pin_dir, the control socket's) that neither exist nor can be
// created, something other than a socket at control.socket, a rule with a selector (which this
// data path cannot enforce yet). `ratelimitd --check`, the start
// and every reload read the config through this one function, so they always agree.
//
// What it does not check, because only doing it can tell: binding metrics.listen (the running
// daemon holds that port while --check runs beside it), the one-instance lock, loading and
// attaching the program.

#include <string>

#include "config/config.hpp"

namespace ratelimit
{

// Whether an interface of that name exists in this network namespace.
bool interface_exists(const std::string &name);

// config::load_config_file with the host's checks: the errors of both, each naming its field.
config::ParseResult load_config_for_host(const std::string &file);

} // namespace ratelimit
