// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "json/reader.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "json/text.hpp"

namespace ratelimit
{

namespace
{

using nlohmann::json;

// Hands the text to the parser byte by byte and leaves behind how far it has got: SAX events
// carry no position, and a duplicate key or a level too deep is reported where it is.
class CountingIterator
{
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char *;
    using reference = const char &;

    CountingIterator(const char *at, const char **reached) : at_(at), reached_(reached) {}
    reference operator*() const { return *at_; }
    CountingIterator &operator++()
    {
        *reached_ = ++at_;
        return *this;
    }
    CountingIterator operator++(int)
    {
        CountingIterator before = *this;
        ++*this;
        return before;
    }
    bool operator==(const CountingIterator &other) const { return at_ == other.at_; }

  private:
    const char *at_;
    const char **reached_;
};

// "line 4, column 21" of the last byte the parser read, when it had read `consumed` bytes (one
// past the end: the end of the input).
std::string location(std::string_view text, std::size_t consumed)
{
    const std::size_t at = consumed == 0 ? 0 : std::min(consumed - 1, text.size());
    const std::string_view before = text.substr(0, at);
    const std::size_t line = 1 + static_cast<std::size_t>(std::ranges::count(before, '\n'));
    const std::size_t newline = before.rfind('\n');
    const std::size_t column = at - (newline == std::string_view::npos ? 0 : newline + 1) + 1;
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// What the parser found wrong, without the input it quotes. Its syntax messages name tokens by
// kind ("unexpected '}'; expected '[', '{', or a literal", "invalid string: ill-formed UTF-8
// byte") and then quote what was read ("; last read: '...'"), which is dropped; other messages
// quote the input throughout and are replaced.
std::string what_was_wrong(const nlohmann::detail::exception &error, const std::string &last_read)
{
    constexpr int kSyntaxError = 101, kNumberOverflow = 406;
    if (error.id == kNumberOverflow)
        return "a number too large to hold";
    if (error.id != kSyntaxError)
        return "not JSON";
    std::string what = error.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (auto colon = what.find(": "); colon != std::string::npos)
        what.erase(0, colon + 2);
    if (auto quoted = what.find("; last read: '" + last_read + "'"); quoted != std::string::npos)
        what.erase(quoted, last_read.size() + 15);
    if (auto quoted = what.find("last read"); quoted != std::string::npos)
        what.erase(quoted); // not the form expected: keep nothing that may be input
    return what;
}

// Builds the value from the parser's events (as nlohmann's own DOM parser does, which checks
// neither depth nor duplicate keys). Each open object or list is one level; the path of an error
// is put together from the levels only when there is an error.
class Builder
{
  public:
    Builder(std::string_view text, const JsonLimits &limits, const char *const &reached)
        : text_(text), limits_(limits), reached_(reached)
    {
    }

    bool null() { return add(nullptr); }
    bool boolean(bool value) { return add(value); }
    bool number_integer(json::number_integer_t value) { return add(value); }
    bool number_unsigned(json::number_unsigned_t value) { return add(value); }
    bool number_float(json::number_float_t value, const json::string_t &) { return add(value); }
    bool string(json::string_t &value) { return add(std::move(value)); }
    bool binary(json::binary_t &) { return fail("", "binary values are not JSON"); }

    bool start_object(std::size_t) { return open(json::value_t::object); }
    bool start_array(std::size_t) { return open(json::value_t::array); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(json::string_t &key)
    {
        Level &object = levels_.back();
        auto [member, inserted] =
            object.value->get_ref<json::object_t &>().try_emplace(std::move(key));
        object.key = &member->first;
        member_ = &member->second;
        if (!inserted) // the second value lands on the first; the document is refused anyway
            errors_.push_back({path(), "is given twice (" + here() + ")"});
        return true;
    }

    bool parse_error(std::size_t consumed, const std::string &last_read,
                     const nlohmann::detail::exception &error)
    {
        errors_.push_back({"", "malformed JSON at " + location(text_, consumed) + ": " +
                                   what_was_wrong(error, last_read)});
        return false;
    }

    JsonDocument result() &&
    {
        if (!errors_.empty())
            return {std::nullopt, std::move(errors_)};
        return {std::move(root_), {}};
    }

  private:
    struct Level {
        json *value;
        const std::string *key = nullptr; // objects: of the member being read
    };

    std::string here() const
    {
        return location(text_, static_cast<std::size_t>(reached_ - text_.data()));
    }

    bool fail(std::string path, std::string message)
    {
        errors_.push_back({std::move(path), std::move(message)});
        return false;
    }

    // The path of the value being read: each level's member or last element, outermost first.
    std::string path() const
    {
        std::string path;
        for (const Level &level : levels_)
            path = level.value->is_array() ? json_element_path(path, level.value->size() - 1)
                                           : json_field_path(path, *level.key);
        return path;
    }

    // Places `value` where the document is at: the root, the next element, or the member whose
    // key came last.
    json *place(json &&value)
    {
        if (levels_.empty()) {
            root_ = std::move(value);
            return &root_;
        }
        json &container = *levels_.back().value;
        if (container.is_array()) {
            container.get_ref<json::array_t &>().push_back(std::move(value));
            return &container.get_ref<json::array_t &>().back();
        }
        *member_ = std::move(value);
        return member_;
    }

    bool add(json &&value)
    {
        place(std::move(value));
        return true;
    }

    bool open(json::value_t kind)
    {
        json *container = place(json(kind));
        if (levels_.size() >= limits_.max_depth) {
            return fail(path(), "nested deeper than " + std::to_string(limits_.max_depth) +
                                    " levels (" + here() + ")");
        }
        levels_.push_back({container});
        return true;
    }

    bool close()
    {
        levels_.pop_back();
        return true;
    }

    std::string_view text_;
    const JsonLimits &limits_;
    const char *const &reached_;
    json root_;
    std::vector<Level> levels_;
    json *member_ = nullptr;
    std::vector<JsonError> errors_;
};

} // namespace

JsonDocument read_json(std::string_view text, const JsonLimits &limits)
{
    if (text.size() > limits.max_bytes)
        return {std::nullopt,
                {{"", "too large: " + std::to_string(text.size()) + " bytes, at most " +
                          std::to_string(limits.max_bytes) + " are read"}}};
    const char *reached = text.data();
    Builder builder(text, limits, reached);
    json::sax_parse(CountingIterator(text.data(), &reached),
                    CountingIterator(text.data() + text.size(), &reached), &builder);
    return std::move(builder).result();
}

} // namespace ratelimit
