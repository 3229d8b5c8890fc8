#!/usr/bin/env bash
# Every C file of the project is formatted as .clang-format says:
# `clang-format --dry-run --Werror`, which prints what it would change.
#
#   clang_format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/deps)"; exit 1; }
# The project's own sources: what git tracks, or (no git) the source dirs.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find common bridge routerlink apigw bench tests -name '*.[ch]' \
		-not -path '*/node_modules/*')
fi
[ "${#files[@]}" -gt 0 ] || { echo "no C files found"; exit 1; }
if ! clang-format --dry-run --Werror "${files[@]}"; then
	echo "FAIL: run clang-format -i on the files above" >&2
	exit 1
fi
echo "ok: ${#files[@]} files formatted as .clang-format says ($(clang-format --version))"
