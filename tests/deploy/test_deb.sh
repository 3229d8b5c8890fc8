#!/usr/bin/env bash
# Builds the Debian package the way a release is built (its own Release
# tree: a sanitizer build is never packaged) and checks it:
#   - the exact list of files, their owners and modes;
#   - the conffile (/etc/lorafleet/lorafleet.ini) and the maintainer scripts;
#   - Depends: exactly the Debian runtime packages of the libraries the
#     binaries link (dpkg-shlibdeps), plus adduser; no -dev package;
#   - the units: the paths, the user, the keys' StateDirectory, the
#     hardening, and `systemd-analyze verify` (when systemd-analyze exists);
#   - the shipped lorafleet.ini loads in every daemon, with the keys in
#     /var/lib/lorafleet/keys.
#
#   tests/deploy/test_deb.sh SOURCE_DIR WORK_DIR [CMAKE [CPACK [GENERATOR]]]
#
# WORK_DIR keeps the build between runs (the second run only relinks).
set -euo pipefail

src=$(cd "$1" && pwd)
work=$2
cmake_bin=${3:-cmake}
cpack_bin=${4:-cpack}
generator=${5:-}

fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

for tool in dpkg-deb dpkg-shlibdeps; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "FAIL: $tool not found (Debian's dpkg-dev; scripts/deps installs it)" >&2
		exit 1
	}
done

mkdir -p "$work"
build=$work/build
# Nothing from the calling build may leak in (scripts/test's sanitizer
# flags, a LORAFLEET_* variable).
unset CFLAGS CXXFLAGS LDFLAGS CPPFLAGS ASAN_OPTIONS UBSAN_OPTIONS
while IFS= read -r v; do unset "$v"; done < <(env | sed -n 's/^\(LORAFLEET_[A-Za-z0-9_]*\)=.*/\1/p')

start=$(date +%s)
gen_args=()
[ -n "$generator" ] && [ ! -f "$build/CMakeCache.txt" ] && gen_args=(-G "$generator")
"$cmake_bin" -S "$src" -B "$build" "${gen_args[@]}" \
	-DCMAKE_BUILD_TYPE=Release -DLF_SANITIZE=OFF -DLF_WERROR=OFF \
	-DLF_BUILD_TESTS=OFF -DLF_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr \
	>"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; exit 1; }
"$cmake_bin" --build "$build" -j"$(nproc)" >"$work/build.log" 2>&1 ||
	{ tail -50 "$work/build.log" >&2; exit 1; }
rm -f "$build"/lorafleet_*.deb
(cd "$build" && "$cpack_bin" -G DEB) >"$work/cpack.log" 2>&1 ||
	{ cat "$work/cpack.log" >&2; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
deb=$build/lorafleet_${version}_${arch}.deb
[ -f "$deb" ] || { echo "FAIL: no $deb (cpack.log: $work/cpack.log)" >&2; ls "$build" >&2; exit 1; }
echo "built $deb in $(($(date +%s) - start)) s"

# --- Control fields --------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = lorafleet ] || bad "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || bad "Version is '$(field Version)', the project's is $version"
[ "$(field Architecture)" = "$arch" ] || bad "Architecture is '$(field Architecture)'"
[ -n "$(field Maintainer)" ] || bad "no Maintainer"
[ "$(field Section)" = net ] || bad "Section is '$(field Section)'"
[ -n "$(field Description)" ] || bad "no Description"

# Depends: package names only (versions are dpkg-shlibdeps' business).
depends=$(field Depends)
echo "Depends: $depends"
got=$(echo "$depends" | tr ',' '\n' | sed -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$' | sort)
expected=$(printf '%s\n' adduser libc6 libcjson1 libgrpc29 libinih1 libmosquitto1 \
	libprotobuf-c1 libsodium23 libwebsockets17 | sort)
if [ "$got" != "$expected" ]; then
	bad "Depends differs from the expected runtime packages:"
	diff <(echo "$expected") <(echo "$got") | sed 's/^/    /' >&2 || true
fi
# The same runtime packages as scripts/deps' table (which the Dockerfile's
# runtime stage installs), plus libc6 and adduser.
if deps_runtime=$("$src/scripts/deps" --list runtime 2>/dev/null); then
	from_deps=$({ printf '%s\n' adduser libc6; echo "$deps_runtime"; } | sort)
	if [ "$got" != "$from_deps" ]; then
		bad "Depends disagrees with scripts/deps --list runtime (+ adduser, libc6):"
		diff <(echo "$from_deps") <(echo "$got") | sed 's/^/    /' >&2 || true
	fi
else
	bad "scripts/deps --list runtime failed"
fi
if echo "$got" | grep -q -- '-dev$'; then
	bad "Depends names a -dev package: $(echo "$got" | grep -- '-dev$' | tr '\n' ' ')"
fi
# Every dependency carries a minimum version from the shlibs files, except
# adduser (ours).
echo "$depends" | tr ',' '\n' | grep -v adduser | grep -vq '(>=' &&
	bad "a library dependency without a version: $depends"

# --- Files ------------------------------------------------------------------
# "mode owner path" for every regular file, sorted.
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $1, $2, "/" $6 }' | sort -k3)
expected_files=$(
	{
		for d in apigw bridge routerlink; do
			echo "-rwxr-xr-x root/root /usr/bin/lorafleet-$d"
			echo "-rw-r--r-- root/root /usr/lib/systemd/system/lorafleet-$d.service"
		done
		echo "-rw-r--r-- root/root /etc/lorafleet/lorafleet.ini"
		echo "-rw-r--r-- root/root /usr/share/doc/lorafleet/README.md"
		for f in "$src"/docs/*.md; do
			echo "-rw-r--r-- root/root /usr/share/doc/lorafleet/$(basename "$f")"
		done
		echo "-rw-r--r-- root/root /usr/share/lorafleet/broker-config/acl"
		echo "-rw-r--r-- root/root /usr/share/lorafleet/broker-config/mosquitto.conf"
		echo "-rwxr-xr-x root/root /usr/share/lorafleet/broker-config/mkcerts"
	} | sort -k3
)
if [ "$files" != "$expected_files" ]; then
	bad "the package's files differ from the expected list (< expected, > package):"
	diff <(echo "$expected_files") <(echo "$files") | sed 's/^/    /' >&2 || true
fi
dpkg-deb -c "$deb" | awk '{print $2}' | grep -qv '^root/root$' && bad "a file not owned by root/root"

# --- Control archive: conffiles and maintainer scripts ------------------------
ctl=$work/control
root=$work/root
rm -rf "$ctl" "$root"
dpkg-deb -e "$deb" "$ctl"
dpkg-deb -x "$deb" "$root"
[ "$(cat "$ctl/conffiles" 2>/dev/null)" = /etc/lorafleet/lorafleet.ini ] ||
	bad "conffiles is '$(cat "$ctl/conffiles" 2>/dev/null)', not /etc/lorafleet/lorafleet.ini"
for s in postinst prerm postrm; do
	if [ ! -x "$ctl/$s" ]; then
		bad "no executable $s"
		continue
	fi
	sh -n "$ctl/$s" || bad "$s: syntax error"
done
grep -q 'adduser .*--system .*--group .*--home /var/lib/lorafleet' "$ctl/postinst" ||
	bad "postinst does not create the lorafleet system user"
grep -q '/run/systemd/system' "$ctl/postinst" || bad "postinst calls systemctl unguarded"
# The Hotspot keys are never deleted, not even on purge.
if grep -nE 'rm [^#]*(/var/lib/lorafleet|keys)' "$ctl/postrm" "$ctl/prerm" "$ctl/postinst" |
	grep -v 'multi-user.target.wants'; then
	bad "a maintainer script deletes the keys"
fi
grep -q deluser "$ctl/postrm" && bad "postrm deletes the lorafleet user, who owns the keys"

# --- Units ------------------------------------------------------------------
units=$root/usr/lib/systemd/system
for d in bridge routerlink apigw; do
	u=$units/lorafleet-$d.service
	[ -f "$u" ] || continue
	want=(
		"User=lorafleet"
		"ExecStart=/usr/bin/lorafleet-$d -c /etc/lorafleet/lorafleet.ini"
		"EnvironmentFile=-/etc/lorafleet/$d.env"
		"Restart=on-failure"
		"ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "NoNewPrivileges=yes"
		"ProtectKernelTunables=yes" "ProtectKernelModules=yes" "ProtectControlGroups=yes"
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "CapabilityBoundingSet="
		"After=network-online.target mosquitto.service" "Wants=network-online.target"
		"WantedBy=multi-user.target"
	)
	[ "$d" = routerlink ] && want+=("StateDirectory=lorafleet/keys" "StateDirectoryMode=0700")
	for line in "${want[@]}"; do
		grep -qxF "$line" "$u" || bad "lorafleet-$d.service lacks '$line'"
	done
	grep -q '^RestartSec=' "$u" || bad "lorafleet-$d.service has no RestartSec"
	grep -q '^DynamicUser=yes' "$u" && bad "lorafleet-$d.service uses DynamicUser"
	[ "$d" != routerlink ] && grep -q '^StateDirectory=' "$u" &&
		bad "lorafleet-$d.service has a StateDirectory it does not need"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# The units name /usr/bin, which is not this machine's: verify copies
	# that point into the unpacked package instead.
	vdir=$work/verify
	rm -rf "$vdir"
	mkdir -p "$vdir"
	for u in "$units"/*.service; do
		sed "s|^ExecStart=/usr/bin/|ExecStart=$root/usr/bin/|" "$u" >"$vdir/$(basename "$u")"
	done
	if ! out=$(systemd-analyze verify "$vdir"/*.service 2>&1) || [ -n "$out" ]; then
		bad "systemd-analyze verify:"
		# shellcheck disable=SC2001
		echo "$out" | sed 's/^/    /' >&2
	fi
else
	echo "systemd-analyze not found: units not verified"
fi

# --- The shipped configuration ----------------------------------------------
ini=$root/etc/lorafleet/lorafleet.ini
for d in bridge routerlink apigw; do
	if ! out=$(env -i PATH="$PATH" "$root/usr/bin/lorafleet-$d" -c "$ini" --check-config 2>&1); then
		bad "lorafleet-$d refuses the shipped lorafleet.ini: $out"
	elif [ "$d" = routerlink ] && ! echo "$out" | grep -qE '^keys_dir *= */var/lib/lorafleet/keys$'; then
		bad "routerlink's keys_dir with the shipped lorafleet.ini is not /var/lib/lorafleet/keys:"
		echo "$out" | grep keys_dir >&2 || true
	fi
done

if [ "$fail" -ne 0 ]; then
	echo "test_deb: FAILED ($deb)" >&2
	exit 1
fi
echo "test_deb: ok ($deb, $(($(date +%s) - start)) s)"
