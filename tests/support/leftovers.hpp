// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#pragma once
// What the harness creates outside the test process (namespaces, mounts, directories) is named
// after the process that owns it, so that what a killed test process left behind can be told
// from what a running one uses, and removed.

#include <string>

namespace ratelimit::test
{

// Where named network namespaces live (`ip netns`), and where the harness's directories do.
inline constexpr char kNetnsDir[] = "/run/netns";
inline constexpr char kTmpDir[] = "/tmp";

// "rlt-<pid>-" (with RATELIMITD_TEST_TAG=TAG: "rlt-<pid>-TAG-"): how every name this process
// gives starts.
std::string owned_name_prefix();

// Removes the namespaces, bpffs mounts and directories that harness objects of test processes
// no longer running left behind (a test killed by a timeout runs no destructors).
void remove_leftovers_of_dead_tests();
// The same, once per test process: the first harness object it creates calls this.
void remove_leftovers_once();

} // namespace ratelimit::test
