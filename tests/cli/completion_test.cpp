// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The bash completion offers the words ratelimitctl takes: its command list is the protocol's
// command table, and the values it offers for --mode, --by and --per are the vocabulary tables'.
// A word added to one side only fails here, and a tampered copy of the script shows that it
// would.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/protocol.hpp"
#include "policy/names.hpp"

namespace ratelimit::ctl
{
namespace
{

using Words = std::vector<std::string>;

std::string completion_script()
{
    std::ifstream file(RATELIMITCTL_COMPLETION);
    if (!file)
        throw std::runtime_error("cannot read " + std::string(RATELIMITCTL_COMPLETION));
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

Words split(const std::string &text)
{
    std::istringstream in(text);
    Words words;
    for (std::string word; in >> word;)
        words.push_back(word);
    return words;
}

// The words between the quotes after the first `marker` in `script`.
Words quoted_after(const std::string &script, const std::string &marker)
{
    const auto at = script.find(marker);
    if (at == std::string::npos)
        return {};
    const auto open = script.find('"', at + marker.size());
    const auto close = script.find('"', open + 1);
    return split(script.substr(open + 1, close - open - 1));
}

// What the completion offers after `option`: its `compgen -W "..."` case.
Words values_of(const std::string &script, const std::string &option)
{
    return quoted_after(script, "\n        " + option + ")\n            COMPREPLY=($(compgen -W");
}

// Every command the protocol knows: Command(0), Command(1), ... until command_name knows no more.
Words protocol_commands()
{
    Words names;
    for (int i = 0;; i++) {
        try {
            names.emplace_back(control::command_name(static_cast<control::Command>(i)));
        } catch (const std::invalid_argument &) {
            return names;
        }
    }
}

template <typename T, std::size_t N>
Words names_of(const Spellings<T, N> &table)
{
    Words names;
    for (const auto &entry : table)
        names.emplace_back(entry.name);
    return names;
}

// How `script` differs from the tables; empty when it offers exactly their words.
Words differences(const std::string &script)
{
    Words found;
    auto compare = [&found](const std::string &what, const Words &offered, const Words &table) {
        if (offered != table)
            found.push_back(what);
    };
    compare("commands", quoted_after(script, "local commands="), protocol_commands());
    compare("--mode", values_of(script, "--mode"), names_of(kModeNames));
    compare("--by", values_of(script, "--by"),
            Words(std::begin(control::kTopOrderNames), std::end(control::kTopOrderNames)));
    // --per offers its words and examples of the "/N" form.
    Words per = values_of(script, "--per");
    std::erase_if(per, [](const std::string &word) { return word.starts_with('/'); });
    compare("--per", per, names_of(kPerNames));
    compare("--ban-scope", values_of(script, "--ban-scope"), names_of(kBanScopeNames));
    return found;
}

std::string replaced(std::string text, const std::string &from, const std::string &to)
{
    const auto at = text.find(from);
    if (at == std::string::npos)
        throw std::invalid_argument("not in the script: " + from);
    return text.replace(at, from.size(), to);
}

TEST(CompletionTest, OffersTheCommandTableAndTheVocabulary)
{
    const std::string script = completion_script();
    EXPECT_EQ(differences(script), Words{});
    EXPECT_EQ(quoted_after(script, "local commands=").size(), protocol_commands().size());
    EXPECT_FALSE(values_of(script, "--mode").empty());
}

// The options the completion offers `command`: its `options+=" ..."` case.
Words options_of(const std::string &script, const std::string &command)
{
    return quoted_after(script, "\n        " + command + ") options+=");
}

TEST(CompletionTest, OffersTheOptionsOfApplyAndUnsetAll)
{
    const std::string script = completion_script();
    EXPECT_EQ(options_of(script, "apply"), (Words{"-f", "--file"}));
    EXPECT_EQ(options_of(script, "unset"), (Words{"--all", "--yes"}));
    EXPECT_NE(script.find("--socket | -f | --file)\n            _filedir"), std::string::npos);
}

TEST(CompletionTest, AWordOnOneSideOnlyIsFound)
{
    const std::string script = completion_script();
    EXPECT_EQ(differences(replaced(script, "unban\"", "unban frobnicate\"")), Words{"commands"});
    EXPECT_EQ(differences(replaced(script, "stats flush", "flush")), Words{"commands"});
    EXPECT_EQ(differences(replaced(script, "\"enforce monitor\"", "\"enforce\"")), Words{"--mode"});
    EXPECT_EQ(differences(replaced(script, "\"drops packets bytes\"", "\"drops bytes packets\"")),
              Words{"--by"});
    EXPECT_EQ(differences(replaced(script, "\"source rule /24", "\"source rule prefix /24")),
              Words{"--per"});
    EXPECT_EQ(differences(replaced(script, "\"rule all\"", "\"rule\"")), Words{"--ban-scope"});
}

} // namespace
} // namespace ratelimit::ctl
