#!/usr/bin/env bash
# cppcheck over the project's C code (daemons, harness, tests, benchmarks)
# with the checks that find bugs rather than style: warning, performance,
# portability (and the errors it always reports). Every suppression is in
# cppcheck.supp with its reason. Any finding fails the test. System
# headers are not read, so the protobuf-c version macros that the
# generated headers test are given here.
#
#   cppcheck.sh SOURCE_DIR GENERATED_PROTO_DIR
set -euo pipefail
src=$1
gen=$2
cd "$src"
command -v cppcheck >/dev/null || { echo "cppcheck is not installed (scripts/deps)"; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cppcheck --quiet --std=c11 --enable=warning,performance,portability --inline-suppr \
	--error-exitcode=1 --suppress=missingIncludeSystem \
	--suppressions-list=tests/static/cppcheck.supp \
	-D__GNUC__ -DLF_VERSION='"test"' -D_GNU_SOURCE \
	-DPROTOBUF_C_VERSION_NUMBER=1004001 -DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 \
	-DPROTOBUF_C__BEGIN_DECLS= -DPROTOBUF_C__END_DECLS= \
	-I common/include -I "$gen" -I bridge -I routerlink -I apigw -I tests/harness -I bench \
	common bridge routerlink apigw bench tests/harness tests/unit tests/integration \
	2>"$out" || {
	cat "$out" >&2
	echo "FAIL: cppcheck found the above (fix, or suppress in tests/static/cppcheck.supp with the reason)" >&2
	exit 1
}
echo "ok: cppcheck $(cppcheck --version | sed 's/Cppcheck //'): no findings"
