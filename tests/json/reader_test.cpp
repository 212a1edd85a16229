// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The JSON reader every file and message goes through: values as nlohmann reads them, and what it
// refuses (too large, nested too deep, a key given twice, malformed) with the place and the
// reason, never the input; and the check that keeps control characters out of names, prefixes
// and paths.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "json/reader.hpp"
#include "json/text.hpp"
#include "net/address.hpp"

namespace ratelimit
{

// gtest finds it next to the type.
void PrintTo(const JsonError &error, std::ostream *out)
{
    *out << error.to_string();
}

namespace
{

using nlohmann::json;

constexpr JsonLimits kLimits{.max_bytes = 1 << 20};

// The one error reading `text` gives, as "path: message".
std::string refusal(std::string_view text, const JsonLimits &limits = kLimits)
{
    JsonDocument document = read_json(text, limits);
    EXPECT_FALSE(document.value) << text;
    EXPECT_EQ(document.errors.size(), 1u) << text;
    return document.errors.empty() ? "" : document.errors.front().to_string();
}

std::string nested(std::size_t depth)
{
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonReader, ReadsWhatNlohmannReads)
{
    const std::string text = R"({"a": [1, -2, 3.5, "x\u00e9", true, false, null, {}, []],
                                  "b": {"c": {"d": 18446744073709551615}}})";
    JsonDocument document = read_json(text, kLimits);
    ASSERT_TRUE(document.value);
    EXPECT_TRUE(document.errors.empty());
    EXPECT_EQ(*document.value, json::parse(text));
    EXPECT_TRUE((*document.value)["b"]["c"]["d"].is_number_unsigned());
    EXPECT_EQ(read_json("7", kLimits).value, json(7));
}

TEST(JsonReader, NestingUpToTheLimitIsRead)
{
    EXPECT_EQ(read_json(nested(kMaxJsonDepth), kLimits).value, json::parse(nested(kMaxJsonDepth)));
}

TEST(JsonReader, NestingDeeperIsRefusedWhereItGoesTooDeep)
{
    std::string path; // of the list one level too deep: the first element of each level
    for (std::size_t level = 0; level < kMaxJsonDepth; level++)
        path += "[0]";
    EXPECT_EQ(refusal(nested(kMaxJsonDepth + 1)),
              path + ": nested deeper than 64 levels (line 1, column 65)");
    EXPECT_EQ(refusal(R"({"a": {"b": [{"c": 1}]}})", {.max_bytes = 100, .max_depth = 3}),
              "a.b[0]: nested deeper than 3 levels (line 1, column 14)");
}

TEST(JsonReader, AMegabyteOfNestingIsRefusedAtOnce)
{
    const std::string text(1 << 20, '[');
    const auto start = std::chrono::steady_clock::now();
    const std::string error = refusal(text, {.max_bytes = text.size()});
    // It stops at the first level too deep: the rest is never read (a quadratic reader took
    // seconds and gigabytes on a tenth of this).
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
    EXPECT_NE(error.find("nested deeper than 64 levels (line 1, column 65)"), std::string::npos)
        << error;
}

TEST(JsonReader, EveryDuplicateKeyIsRefusedWithItsPathAndPlace)
{
    JsonDocument document =
        read_json("{\"a\": 1,\n \"b\": [{\"c\": 1, \"c\": 2}],\n \"a\": 3}", kLimits);
    EXPECT_FALSE(document.value);
    EXPECT_EQ(document.errors, (std::vector<JsonError>{
                                   {"b[0].c", "is given twice (line 2, column 19)"},
                                   {"a", "is given twice (line 3, column 4)"},
                               }));
    // Equal keys in different objects are no duplicates.
    EXPECT_TRUE(read_json(R"({"a": {"a": 1}, "b": {"a": 2}})", kLimits).value);
}

TEST(JsonReader, MalformedInputIsPlacedAndNeverQuoted)
{
    // A secret file read by mistake: the first token is the secret.
    EXPECT_EQ(refusal("hunter2-token\n"),
              "malformed JSON at line 1, column 1: syntax error while parsing value - invalid "
              "literal");
    EXPECT_EQ(refusal("\"hunter2-token\nsecond line"),
              "malformed JSON at line 1, column 15: syntax error while parsing value - invalid "
              "string: control character U+000A (LF) must be escaped to \\u000A or \\n");
    EXPECT_EQ(refusal("{\"a\": 1,\n \"b\": truehunter2}"),
              "malformed JSON at line 2, column 11: syntax error while parsing object - invalid "
              "literal; expected '}'");
    EXPECT_EQ(refusal("[1e99999]"),
              "malformed JSON at line 1, column 8: a number too large to hold");
    EXPECT_EQ(refusal("{\"a\": [}"), "malformed JSON at line 1, column 8: syntax error while "
                                     "parsing value - unexpected '}'; expected '[', '{', or a "
                                     "literal");
    EXPECT_EQ(refusal(""), "malformed JSON at line 1, column 1: syntax error while parsing value "
                           "- unexpected end of input; expected '[', '{', or a literal");
    EXPECT_EQ(refusal("[1,\n"), "malformed JSON at line 2, column 1: syntax error while parsing "
                                "value - unexpected end of input; expected '[', '{', or a literal");
    for (const char *text : {"hunter2-token\n", "\"hunter2-token\n", "[1e999hunter2]",
                             "{\"a\": truehunter2}", "[\"\xffhunter2\"]"})
        EXPECT_EQ(refusal(text).find("hunter2"), std::string::npos) << refusal(text);
}

TEST(JsonReader, InputOverTheLimitIsRefusedUnread)
{
    EXPECT_EQ(refusal("[1, 2, 3]", {.max_bytes = 8}), "too large: 9 bytes, at most 8 are read");
    EXPECT_TRUE(read_json("[1, 2, 3]", {.max_bytes = 9}).value);
}

TEST(JsonReader, PathsNeverCarryControlCharactersOrLongKeys)
{
    EXPECT_EQ(json_field_path("rules[0]", "rate"), "rules[0].rate");
    EXPECT_EQ(json_field_path("", "max_sources"), "max_sources");
    EXPECT_EQ(json_field_path("a", "x\ny"), R"(a["x\ny"])");
    EXPECT_EQ(json_field_path("", std::string(100, 'k')), "[\"" + std::string(16, 'k') + "...\"]");
    EXPECT_EQ(refusal(R"({"\u001b[31m": 1, "\u001b[31m": 2})"),
              R"(["\u001b[31m"]: is given twice (line 1, column 30))");
}

TEST(ControlCharacters, AreFoundAndNamed)
{
    EXPECT_EQ(control_character_problem("10.0.0.1"), std::nullopt);
    EXPECT_EQ(control_character_problem("caf\xc3\xa9 /x y"), std::nullopt);
    EXPECT_EQ(control_character_problem(std::string_view("10.4.0.9\0 <- harmless", 21)),
              "contains a control character (U+0000 at byte 8)");
    EXPECT_EQ(control_character_problem("a\tb"), "contains a control character (U+0009 at byte 1)");
    EXPECT_EQ(control_character_problem("ab\x7f"),
              "contains a control character (U+007F at byte 2)");
}

TEST(ControlCharacters, MakeNoAddressOrPrefix)
{
    using namespace std::string_view_literals;
    EXPECT_EQ(parse_address("10.4.0.9\0 <- harmless"sv), std::nullopt);
    EXPECT_EQ(parse_prefix("10.4.0.9\0 <- harmless"sv), std::nullopt);
    EXPECT_EQ(parse_prefix("10.4.0.0\0/16"sv), std::nullopt);
    EXPECT_EQ(parse_prefix("2001:db8::1\0"sv), std::nullopt);
    EXPECT_EQ(parse_prefix("10.4.0.9"sv), parse_prefix("10.4.0.9/32"));
}

TEST(JoinErrors, OneMessageOrOneLineEach)
{
    const std::vector<JsonError> errors{{"rules[0].match", "is not a prefix"},
                                        {"", "a key is given twice"}};
    EXPECT_EQ(join_errors(errors), "rules[0].match: is not a prefix; a key is given twice");
    EXPECT_EQ(join_errors(errors, "\n", "f.json: "),
              "f.json: rules[0].match: is not a prefix\nf.json: a key is given twice");
    EXPECT_EQ(join_errors({}), "");
}

} // namespace
} // namespace ratelimit
