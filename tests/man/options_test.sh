#!/usr/bin/env bash
# The man pages document exactly the options the binaries take: every option `--help` lists is
# in the page, and every option the page documents is in `--help`. For ratelimitctl, also each
# command (the "## NAME" headings under COMMANDS against the Subcommands `--help` lists) and each
# command's options (`ratelimitctl CMD --help` against the option lines under its heading).
#
#   tests/man/options_test.sh SOURCE_DIR RATELIMITD RATELIMITCTL
#
# An option is documented by a definition line of its own: one that starts with `*-`, such as
# `*-c*, *--config* _FILE_`.
set -euo pipefail
src=$1 daemon=$2 ctl=$3
failures=0

# Options listed by a CLI11 --help (read on stdin): the "Options:" block, one per line.
help_options() {
    awk '/^Options:/ { on = 1; next } /^$/ { on = 0 } on && /^  -/ {
           split($1, names, ","); for (i in names) print names[i] }' | sort -u
}
# Subcommands listed by a CLI11 --help.
help_commands() {
    awk '/^Subcommands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' | sort -u
}
# Options defined in the lines of a page section (read on stdin).
page_options() {
    grep -E '^\*-' | grep -oE '\*--?[a-zA-Z][a-zA-Z0-9-]*\*' | tr -d '*' | sort -u || true
}
# The lines of the "# TITLE" section of a page.
section() {
    awk -v title="# $2" '$0 == title { on = 1; next } /^# / { on = 0 } on' "$1"
}
# The lines under "## NAME" (up to the next heading) of the COMMANDS section.
command_section() {
    section "$1" COMMANDS | awk -v name="$2" '/^## / { on = ($2 == name); next } on'
}
compare() { # what, documented (file), listed (file)
    local missing extra
    missing=$(comm -13 "$2" "$3")
    extra=$(comm -23 "$2" "$3")
    if [[ -n $missing ]]; then
        echo "FAIL: $1: in --help but not documented: $(echo $missing)" >&2
        failures=$((failures + 1))
    fi
    if [[ -n $extra ]]; then
        echo "FAIL: $1: documented but not in --help: $(echo $extra)" >&2
        failures=$((failures + 1))
    fi
    [[ -n $missing || -n $extra ]] || echo "ok: $1 ($(wc -l <"$3") items)"
}

tmp=$(mktemp -d /tmp/rl-man-options.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

section "$src/man/ratelimitd.8.scd" OPTIONS | page_options >"$tmp/doc"
"$daemon" --help | help_options >"$tmp/help"
compare "ratelimitd(8) options" "$tmp/doc" "$tmp/help"

page=$src/man/ratelimitctl.8.scd
section "$page" OPTIONS | page_options >"$tmp/doc"
"$ctl" --help | help_options >"$tmp/help"
compare "ratelimitctl(8) options" "$tmp/doc" "$tmp/help"

section "$page" COMMANDS | awk '/^## / { print $2 }' | sort -u >"$tmp/doc"
"$ctl" --help | help_commands >"$tmp/commands"
compare "ratelimitctl(8) commands" "$tmp/doc" "$tmp/commands"

# The page says once that every command takes -h, --help.
# Not grep -q: with pipefail, its early exit would fail the pipeline when section gets SIGPIPE.
section "$page" COMMANDS | grep 'Every command takes \*-h\*, \*--help\*' >/dev/null ||
    { echo "FAIL: ratelimitctl(8) does not say every command takes -h, --help" >&2; failures=$((failures + 1)); }
while read -r command; do
    { command_section "$page" "$command" | page_options; printf '%s\n' -h --help; } |
        sort -u >"$tmp/doc"
    "$ctl" "$command" --help | help_options >"$tmp/help"
    compare "ratelimitctl(8) $command" "$tmp/doc" "$tmp/help"
done <"$tmp/commands"

((failures == 0)) || exit 1
echo PASS
