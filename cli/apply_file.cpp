// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "apply_file.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_table.hpp"
#include "json/reader.hpp"
#include "json/text.hpp"

namespace ratelimit::ctl
{

namespace
{

using control::Command;
using nlohmann::json;

constexpr std::string_view kBlanks = " \t\r";

// The subcommands a line may name, on a command line of their own.
class LineParser
{
  public:
    LineParser()
    {
        subs_ = {set_command(lines_, in_),
                 allow_or_deny_command(lines_, Command::Allow, "never limit", in_),
                 allow_or_deny_command(lines_, Command::Deny, "drop every packet of", in_),
                 unset_command(lines_, in_)};
        lines_.require_subcommand(1, 1);
    }

    // The change `words` (a command and its arguments) makes. Throws std::invalid_argument
    // saying why they make none.
    control::ApplyChange change(const std::vector<std::string> &words)
    {
        auto sub = std::ranges::find(subs_, words.front(),
                                     [](const Subcommand &s) { return s.app->get_name(); });
        if (sub == subs_.end())
            throw std::invalid_argument(json_text(words.front()) +
                                        " is not set, allow, deny or unset");
        std::vector<std::string> reversed(words.rbegin(), words.rend()); // as CLI11 takes them
        lines_.clear();
        try {
            lines_.parse(reversed);
        } catch (const CLI::CallForHelp &) {
            throw std::invalid_argument("--help is no change");
        } catch (const CLI::ParseError &e) {
            throw std::invalid_argument(e.what());
        }
        try {
            return sub->change();
        } catch (const control::RequestError &e) {
            throw std::invalid_argument(e.what());
        }
    }

  private:
    CLI::App lines_{"a line of ratelimitctl apply -f", "apply"};
    Inputs in_;
    std::vector<Subcommand> subs_;
};

FileChanges read_lines(std::string_view text)
{
    FileChanges read;
    LineParser parser;
    std::uint64_t number = 0;
    while (!text.empty()) {
        const std::size_t end = std::min(text.find('\n'), text.size());
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        number++;
        try {
            const std::vector<std::string> words = split_words(line);
            if (words.empty())
                continue;
            control::ApplyChange change = parser.change(words);
            change.line = number;
            read.changes.push_back(std::move(change));
        } catch (const std::invalid_argument &e) {
            read.errors.push_back("line " + std::to_string(number) + ": " + e.what());
        }
    }
    return read;
}

FileChanges read_json_array(std::string_view text)
{
    FileChanges read;
    JsonDocument document = read_json(text, {.max_bytes = text.size()});
    if (!document.value) {
        read.errors.push_back("not a JSON array of changes: " + join_errors(document.errors));
        return read;
    }
    if (!document.value->is_array()) {
        read.errors.push_back("not a JSON array of changes");
        return read;
    }
    for (std::size_t i = 0; i < document.value->size(); i++) {
        const std::uint64_t number = i + 1;
        const std::string entry = "entry " + std::to_string(number);
        json change = (*document.value)[i];
        try {
            if (change.is_object() && change.contains("line"))
                throw control::RequestError(control::ErrorCode::BadRequest,
                                            entry + ": line: ratelimitctl numbers the entries");
            if (change.is_object())
                change["line"] = number;
            read.changes.push_back(control::decode_change(change, [&entry](std::string_view path) {
                return path.empty() ? entry : entry + ": " + std::string(path);
            }));
        } catch (const control::RequestError &e) {
            read.errors.push_back(e.what());
        }
    }
    return read;
}

} // namespace

std::vector<std::string> split_words(std::string_view line)
{
    std::vector<std::string> words;
    std::optional<std::string> word; // the word being read, if any
    char quote = 0;                  // the quote open, if any
    auto append = [&word](char c) {
        if (!word)
            word.emplace();
        word->push_back(c);
    };
    for (std::size_t i = 0; i < line.size(); i++) {
        const char c = line[i];
        if (quote == '\'' ? c == '\'' : quote != 0 && c == '"') {
            quote = 0;
        } else if (quote != '\'' && c == '\\') {
            if (++i == line.size())
                throw std::invalid_argument("a backslash ends the line");
            append(line[i]);
        } else if (quote != 0) {
            append(c);
        } else if (c == '\'' || c == '"') {
            quote = c;
            if (!word)
                word.emplace();
        } else if (kBlanks.find(c) != std::string_view::npos) {
            if (word)
                words.push_back(std::move(*word));
            word.reset();
        } else if (c == '#' && !word) {
            break;
        } else {
            append(c);
        }
    }
    if (quote != 0)
        throw std::invalid_argument(std::string("a ") + quote + " is left open");
    if (word)
        words.push_back(std::move(*word));
    return words;
}

FileChanges read_changes(std::string_view text)
{
    const std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && text[first] == '[')
        return read_json_array(text);
    return read_lines(text);
}

} // namespace ratelimit::ctl
