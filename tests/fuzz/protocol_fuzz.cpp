// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The control protocol's decoders on any line: a request decodes to a Request or a Rejection
// (never throws), its arguments decode or throw RequestError, and a response decodes or throws
// std::runtime_error.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <variant>

#include "control/protocol.hpp"

namespace
{

using namespace ratelimit::control;

void decode_args(const Request &request)
{
    switch (request.command) {
    case Command::Status:
    case Command::List:
    case Command::Stats:
    case Command::Reload:
        return decode_no_args(request.args);
    case Command::Set:
    case Command::Allow:
    case Command::Deny:
        (void)encode_args(decode_runtime_rule_args(request.command, request.args));
        return;
    case Command::Unset:
        (void)decode_unset_args(request.args);
        return;
    case Command::Show:
        (void)decode_show_args(request.args);
        return;
    case Command::Top:
        (void)decode_top_args(request.args);
        return;
    case Command::Flush:
        (void)decode_flush_args(request.args);
        return;
    case Command::Apply:
        (void)encode_args(decode_apply_args(request.args));
        return;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view line(reinterpret_cast<const char *>(data), size);
    auto decoded = decode_request(line);
    if (const auto *request = std::get_if<Request>(&decoded)) {
        try {
            decode_args(*request);
        } catch (const RequestError &) {
        }
        (void)encode(*request);
    } else {
        (void)encode(Response{std::get<Rejection>(decoded).id, std::get<Rejection>(decoded).error});
    }
    try {
        (void)encode(decode_response(line));
    } catch (const std::runtime_error &) {
    }
    return 0;
}
