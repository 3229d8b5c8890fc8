#!/usr/bin/env bash
# clang-tidy (.clang-tidy at the top of the tree) over the daemons' code,
# with the build's compile_commands.json.
#
#   clang_tidy.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
cd "$src"
command -v clang-tidy >/dev/null || { echo "clang-tidy is not installed (scripts/deps)"; exit 1; }
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json"; exit 1; }
mapfile -t files < <(ls common/*.c bridge/*.c routerlink/*.c apigw/*.c)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! clang-tidy -p "$build" --quiet "${files[@]}" >"$out" 2>&1; then
	grep -E 'warning:|error:' -A3 "$out" >&2 || cat "$out" >&2
	echo "FAIL: clang-tidy found the above" >&2
	exit 1
fi
echo "ok: clang-tidy: ${#files[@]} files, no findings ($(clang-tidy --version | sed -n 's/.*version //p'))"
