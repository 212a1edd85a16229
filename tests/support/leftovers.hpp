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

// "rlt-<pid>-": how every name this process gives starts ("rlt-<pid>-TAG-" once a tag is set by
// set_owned_name_tag() or RATELIMITD_TEST_TAG).
std::string owned_name_prefix();
// Makes every name given from now on say whose it is after the pid ("rlt-<pid>-stall-...").
void set_owned_name_tag(const std::string &tag);

// Removes the namespaces, bpffs mounts and directories that harness objects of test processes
// no longer running left behind (a test killed by a timeout runs no destructors).
void remove_leftovers_of_dead_tests();
// The same, once per test process: the first harness object it creates calls this.
void remove_leftovers_once();

} // namespace ratelimit::test
