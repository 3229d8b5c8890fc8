#!/usr/bin/env bash
# ctest deploy/docker_packages: the Dockerfile's apt-get lists agree with
# scripts/deps, and the runtime stage has every library the daemons link.
#
#   tests/deploy/docker_packages.sh SOURCE_DIR [BINARY...]
#
# 1. build stage: installs exactly `scripts/deps --list build`;
# 2. runtime stage: installs exactly `scripts/deps --list runtime` (the
#    runtime package paired with each -dev package) plus the image's own
#    extras below;
# 3. each pair of `scripts/deps --list libraries` is real: the -dev package
#    depends on its runtime package (dpkg, where the -dev package is installed);
# 4. every NEEDED library of each BINARY (the built daemons) comes from a
#    runtime package of the list, or from a package in every Debian image
#    (libc6, libgcc-s1, essential or priority "required" ones), or is a
#    sanitizer runtime of an LF_SANITIZE build.
# Every disagreement is printed as a diff; exit 1 if there is one.
set -euo pipefail
src=${1:?usage: docker_packages.sh SOURCE_DIR [BINARY...]}
shift
dockerfile=$src/Dockerfile
deps=$src/scripts/deps
# In the runtime stage besides the libraries (see the Dockerfile):
# ca-certificates for TLS to the router or broker, curl for apigw's
# health check.
image_extras=(ca-certificates curl)
# In debian:bookworm-slim already: the C library (needed by every essential
# package, though its priority is "optional" since Debian 12) and gcc's
# runtime; and every package that is essential or of priority "required".
base_packages=(libc6 libgcc-s1)

failed=0
fail() {
	echo "FAIL: $*" >&2
	failed=1
}

# The packages of the `apt-get install` commands of one stage (FROM ... AS
# <stage>), one a line, sorted: continuation lines joined, options dropped,
# up to the end of the command (&&, ;, |).
stage_packages() {
	awk -v want="$1" '
		{ line = $0 }
		cont { buf = buf " " line } !cont { buf = line }
		/\\[[:space:]]*$/ { cont = 1; sub(/\\[[:space:]]*$/, "", buf); next }
		{ cont = 0 }
		{
			n = split(buf, w, /[[:space:]]+/)
			if (toupper(w[1]) == "FROM") {
				stage = ""
				for (i = 2; i < n; i++) if (toupper(w[i]) == "AS") stage = w[i + 1]
				next
			}
			if (stage != want) next
			for (i = 1; i < n; i++) {
				if (w[i] != "apt-get" || w[i + 1] != "install") continue
				for (j = i + 2; j <= n; j++) {
					if (w[j] == "&&" || w[j] == ";" || w[j] == "|" || w[j] == "||") break
					if (w[j] ~ /^-/ || w[j] == "") continue
					print w[j]
				}
			}
		}
	' "$dockerfile" | sort
}

# Prints a labelled diff of two sorted lists; fails when they differ.
compare() {
	local what=$1 want_label=$2 want=$3 got_label=$4 got=$5
	if [ -z "$got" ]; then
		fail "$what: no apt-get install found in $got_label"
		return
	fi
	if ! diff -u --label "$want_label" --label "$got_label" <(echo "$want") <(echo "$got") >"$tmp/diff"; then
		fail "$what: the lists differ (- $want_label, + $got_label):"
		sed 1,2d "$tmp/diff" >&2
	else
		echo "ok: $what: $(echo "$got" | wc -l) packages agree"
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- 1, 2: the Dockerfile against scripts/deps ------------------------------
want_build=$("$deps" --list build | sort)
want_runtime=$({ "$deps" --list runtime; printf '%s\n' "${image_extras[@]}"; } | sort)
compare "build stage" "scripts/deps --list build" "$want_build" \
	"Dockerfile (stage build)" "$(stage_packages build)"
compare "runtime stage" "scripts/deps --list runtime + ${image_extras[*]}" "$want_runtime" \
	"Dockerfile (stage runtime)" "$(stage_packages runtime)"

# --- 3: each -dev package depends on its runtime package --------------------
if command -v dpkg-query >/dev/null 2>&1; then
	while read -r dev rt; do
		if ! depends=$(dpkg-query -W -f='${Depends}' "$dev" 2>/dev/null); then
			echo "note: $dev is not installed; its pairing with $rt is not checked"
			continue
		fi
		if tr ',|' '\n' <<<"$depends" | awk '{print $1}' | grep -qx "$rt"; then
			echo "ok: $dev depends on $rt"
		else
			fail "$dev does not depend on $rt (scripts/deps pairs them); it depends on: $depends"
		fi
	done < <("$deps" --list libraries)
else
	echo "note: no dpkg-query; the -dev/runtime pairs are not checked"
fi

# --- 4: the binaries' NEEDED libraries --------------------------------------
# The package that owns a library file, trying the path and its target with
# and without /usr (Debian 12 is /usr-merged; dpkg knows one of them).
owner() {
	local p c
	for p in "$1" "$(readlink -f "$1")"; do
		for c in "$p" "${p#/usr}" "/usr$p"; do
			dpkg-query -S "$c" 2>/dev/null | sed -n '1s/:.*//p' | grep . && return 0
		done
	done
	return 1
}
# What the runtime packages pull in with them (Depends, recursively): a
# library a binary links directly (a sanitizer or debug build does, for
# libgrpc29's abseil) is installed if one of those brings it.
mapfile -t runtime_list <<<"$want_runtime"
pulled_in=$(apt-cache depends --recurse --important "${runtime_list[@]}" 2>/dev/null |
	grep -v '^ ' | grep -v '^<' | sort -u || true)
if [ $# -gt 0 ]; then
	if ! command -v objdump >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
		fail "objdump and dpkg-query are needed to check the binaries' libraries"
	fi
	for bin in "$@"; do
		[ -x "$bin" ] || { fail "$bin: not built"; continue; }
		ldd "$bin" >"$tmp/ldd"
		before=$failed
		failed=0
		for soname in $(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}'); do
			path=$(awk -v s="$soname" '$1 == s && $2 == "=>" {print $3}' "$tmp/ldd")
			if [ -z "$path" ] || [ "$path" = "not" ]; then
				fail "$(basename "$bin"): $soname is not found (ldd)"
				continue
			fi
			if ! pkg=$(owner "$path"); then
				fail "$(basename "$bin"): $soname ($path) belongs to no Debian package"
				continue
			fi
			if grep -qx "$pkg" <<<"$want_runtime" || grep -qx "$pkg" <<<"$pulled_in"; then
				continue
			fi
			case "$pkg" in
			libasan* | libubsan* | liblsan* | libtsan*) continue ;; # LF_SANITIZE
			esac
			# grpc.pc's -latomic stays NEEDED only in the sanitizer build
			# (the Release binaries the image ships do not link it).
			# (objdump into a variable: grep -q closing the pipe early would
			# make it fail under pipefail, and this test flaky.)
			if [ "$pkg" = libatomic1 ] && grep -q 'NEEDED.*libasan' <<<"$(objdump -p "$bin")"; then
				continue
			fi
			case "$(dpkg-query -W -f='${Essential}/${Priority}' "$pkg")" in
			yes/* | */required) continue ;;
			esac
			if printf '%s\n' "${base_packages[@]}" | grep -qx "$pkg"; then
				continue
			fi
			fail "$(basename "$bin") needs $soname from $pkg, which the runtime stage neither installs nor pulls in" \
				"(add its -dev/runtime pair to scripts/deps and the package to the Dockerfile)"
		done
		[ "$failed" -eq 0 ] &&
			echo "ok: $(basename "$bin"): every NEEDED library is installed by the runtime stage or in every Debian image"
		[ "$before" -eq 0 ] || failed=1
	done
fi

if [ "$failed" -ne 0 ]; then
	echo "The Dockerfile's package lists must match scripts/deps (see tests/deploy/docker_packages.sh)." >&2
	exit 1
fi
