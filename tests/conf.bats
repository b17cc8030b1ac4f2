#!/usr/bin/env bats
# SPDX-License-Identifier: LGPL-2.1-or-later
# dkms.conf reading, through build/tests/conf-dump:
#  - every Debian 12 *-dkms dkms.conf (tests/fixtures/corpus) gives the same variables as
#    bash sourcing it the way DKMS does (tests/lib/conf-reference.sh), for the installed
#    kernel and this machine's arch, from a 0700 directory the sandbox user cannot read;
#  - every malformed file in tests/fixtures/conf-bad is refused with one message that names
#    the file and contains the fragment on its first line ("# expect: ...");
#  - the sandbox: not root, scrubbed environment, time limit, BASH_SOURCE and cwd.

bats_require_minimum_version 1.5.0

TOP="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
DUMP="$(dirname "${DKM_HOOK_BIN:-${TOP}/build/dkm-hook}")/tests/conf-dump"
REF="${TOP}/tests/lib/conf-reference.sh"
FIXTURES="${TOP}/tests/fixtures"

# Files the parser cannot read alone: if/case, $(...), sourcing .config, pushd...
SHELL_PACKAGES=" ddcci-dkms digimend-dkms iptables-netflow-dkms lttng-modules-dkms openafs-modules-dkms v4l2loopback-dkms west-chamber-dkms "

setup() {
	[ -x "$DUMP" ] || { echo "$DUMP is not built: run make" >&2; return 1; }
	KVER=
	for d in /lib/modules/*/; do
		d=${d%/}
		if [ -d "$d/build" ]; then
			KVER=${d##*/}
			break
		fi
	done
	[ -n "$KVER" ] || KVER=$(ls /lib/modules | head -n 1)
	ARCH=$(uname -m)
	# mktemp -d: mode 0700, owned by the caller: not readable by the sandbox user
	WORK=$(mktemp -d "${BATS_TEST_TMPDIR}/conf.XXXXXX")
}

teardown() {
	if [ -n "${PUB-}" ]; then
		rm -rf "$PUB"
	fi
}

# corpus_check <package>: conf-dump --raw equals the bash reference; the resolved view is
# accepted; the shell was needed exactly for the packages that need it.
corpus_check() {
	local pkg=$1 ref
	cp -r "${FIXTURES}/corpus/${pkg}" "${WORK}/${pkg}"
	local conf="${WORK}/${pkg}/dkms.conf"

	run --separate-stderr "$DUMP" --raw "$conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ] || { echo "conf-dump --raw failed: $stderr"; return 1; }
	[ -n "$output" ]
	ref=$("$REF" "$conf" "$KVER" "$ARCH" 2>/dev/null)
	diff -u <(printf '%s\n' "$ref") <(printf '%s\n' "$output")

	run --separate-stderr "$DUMP" "$conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ] || { echo "conf-dump refused it: $stderr"; return 1; }
	if [[ $SHELL_PACKAGES == *" $pkg "* ]]; then
		[[ $output == *"needed_shell=yes"* ]]
	else
		[[ $output == *"needed_shell=no"* ]]
	fi
}

# bad_check <name>: refused, exit non-zero, one line naming the file, with the fragment.
bad_check() {
	local name=$1 expect
	cp "${FIXTURES}/conf-bad/${name}.conf" "${WORK}/dkms.conf"
	expect=$(head -n 1 "${WORK}/dkms.conf")
	expect=${expect#\# expect: }

	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	echo "stderr: $stderr"
	[ "$status" -ne 0 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"invalid dkms.conf: '${WORK}/dkms.conf': "* ]]
	[[ $stderr == *"$expect"* ]]
}

@test "every corpus package and every malformed fixture has its own test here" {
	local d
	for d in "${FIXTURES}"/corpus/*/; do
		d=${d%/}
		grep -q "^@test \"corpus: ${d##*/}\"" "${BATS_TEST_FILENAME}"
	done
	for d in "${FIXTURES}"/conf-bad/*.conf; do
		d=${d##*/}
		grep -q "^@test \"refused: ${d%.conf}\"" "${BATS_TEST_FILENAME}"
	done
	[ "$(ls -d "${FIXTURES}"/corpus/*/ | wc -l)" -ge 30 ]
	[ "$(ls "${FIXTURES}"/conf-bad/*.conf | wc -l)" -ge 15 ]
}

@test "corpus: acpi-call-dkms" {
	corpus_check acpi-call-dkms
}

@test "corpus: adv-17v35x-dkms" {
	corpus_check adv-17v35x-dkms
}

@test "corpus: apfs-dkms" {
	corpus_check apfs-dkms
}

@test "corpus: bbswitch-dkms" {
	corpus_check bbswitch-dkms
}

@test "corpus: dahdi-dkms" {
	corpus_check dahdi-dkms
}

@test "corpus: ddcci-dkms" {
	corpus_check ddcci-dkms
}

@test "corpus: digimend-dkms" {
	corpus_check digimend-dkms
}

@test "corpus: dm-writeboost-dkms" {
	corpus_check dm-writeboost-dkms
}

@test "corpus: dpdk-kmods-dkms" {
	corpus_check dpdk-kmods-dkms
}

@test "corpus: evdi-dkms" {
	corpus_check evdi-dkms
}

@test "corpus: falcosecurity-scap-dkms" {
	corpus_check falcosecurity-scap-dkms
}

@test "corpus: gost-crypto-dkms" {
	corpus_check gost-crypto-dkms
}

@test "corpus: iptables-netflow-dkms" {
	corpus_check iptables-netflow-dkms
}

@test "corpus: jool-dkms" {
	corpus_check jool-dkms
}

@test "corpus: langford-dkms" {
	corpus_check langford-dkms
}

@test "corpus: librem-ec-acpi-dkms" {
	corpus_check librem-ec-acpi-dkms
}

@test "corpus: lime-forensics-dkms" {
	corpus_check lime-forensics-dkms
}

@test "corpus: lttng-modules-dkms" {
	corpus_check lttng-modules-dkms
}

@test "corpus: nat-rtsp-dkms" {
	corpus_check nat-rtsp-dkms
}

@test "corpus: openafs-modules-dkms" {
	corpus_check openafs-modules-dkms
}

@test "corpus: openrazer-driver-dkms" {
	corpus_check openrazer-driver-dkms
}

@test "corpus: openvpn-dco-dkms" {
	corpus_check openvpn-dco-dkms
}

@test "corpus: rapiddisk-dkms" {
	corpus_check rapiddisk-dkms
}

@test "corpus: rtpengine-kernel-dkms" {
	corpus_check rtpengine-kernel-dkms
}

@test "corpus: tp-smapi-dkms" {
	corpus_check tp-smapi-dkms
}

@test "corpus: v4l2loopback-dkms" {
	corpus_check v4l2loopback-dkms
}

@test "corpus: vpoll-dkms" {
	corpus_check vpoll-dkms
}

@test "corpus: west-chamber-dkms" {
	corpus_check west-chamber-dkms
}

@test "corpus: xtables-addons-dkms" {
	corpus_check xtables-addons-dkms
}

@test "corpus: xtrx-dkms" {
	corpus_check xtrx-dkms
}

@test "refused: autoinstall-unknown" {
	bad_check autoinstall-unknown
}

@test "refused: build-depends" {
	bad_check build-depends
}

@test "refused: built-location-absolute" {
	bad_check built-location-absolute
}

@test "refused: built-location-dotdot" {
	bad_check built-location-dotdot
}

@test "refused: built-name-ko" {
	bad_check built-name-ko
}

@test "refused: dest-location-dotdot" {
	bad_check dest-location-dotdot
}

@test "refused: dest-location-missing" {
	bad_check dest-location-missing
}

@test "refused: dest-location-outside" {
	bad_check dest-location-outside
}

@test "refused: dest-location-prefix" {
	bad_check dest-location-prefix
}

@test "refused: dest-name-dotdot" {
	bad_check dest-name-dotdot
}

@test "refused: duplicate-built" {
	bad_check duplicate-built
}

@test "refused: duplicate-dest" {
	bad_check duplicate-dest
}

@test "refused: exclusive-arch-regex" {
	bad_check exclusive-arch-regex
}

@test "refused: exclusive-config" {
	bad_check exclusive-config
}

@test "refused: exclusive-kernel-regex" {
	bad_check exclusive-kernel-regex
}

@test "refused: index-gap" {
	bad_check index-gap
}

@test "refused: make-match-regex" {
	bad_check make-match-regex
}

@test "refused: missing-built-name" {
	bad_check missing-built-name
}

@test "refused: missing-name" {
	bad_check missing-name
}

@test "refused: missing-version" {
	bad_check missing-version
}

@test "refused: module-name-control" {
	bad_check module-name-control
}

@test "refused: name-slash" {
	bad_check name-slash
}

@test "refused: no-modules" {
	bad_check no-modules
}

@test "refused: not-utf8" {
	bad_check not-utf8
}

@test "refused: nul-byte" {
	bad_check nul-byte
}

@test "refused: patch-match-regex" {
	bad_check patch-match-regex
}

@test "refused: patch-path" {
	bad_check patch-path
}

@test "refused: patch-slash" {
	bad_check patch-slash
}

@test "refused: pre-build-absolute" {
	bad_check pre-build-absolute
}

@test "refused: shell-computed-name" {
	bad_check shell-computed-name
}

@test "refused: shell-exit" {
	bad_check shell-exit
}

@test "refused: shell-newline-name" {
	bad_check shell-newline-name
}

@test "refused: strip-beyond" {
	bad_check strip-beyond
}

@test "refused: strip-unknown" {
	bad_check strip-unknown
}

@test "refused: unterminated-quote" {
	bad_check unterminated-quote
}

@test "refused: version-dotdot" {
	bad_check version-dotdot
}

@test "refused: a file over 1 MiB" {
	{
		printf 'PACKAGE_NAME=foo\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION[0]=/extra\n'
		head -c 1100000 /dev/zero | tr '\0' '#'
	} >"${WORK}/dkms.conf"
	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -ne 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ $stderr == *"invalid dkms.conf: '${WORK}/dkms.conf': file is larger than 1024 KiB"* ]]
}

@test "refused: a file that does not finish within the time limit is killed" {
	# a duration nothing else on the machine sleeps, so pgrep below finds only ours
	local nap="60.$$"
	printf 'PACKAGE_NAME=foo\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION[0]=/extra\nsleep %s\n' "$nap" \
		>"${WORK}/dkms.conf"
	SECONDS=0
	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -ne 0 ]
	[[ $stderr == *"evaluating it took longer than 10 s"* ]]
	[ "$SECONDS" -lt 30 ]
	# the whole process group went with it
	run pgrep -f "^sleep $nap$"
	[ "$status" -eq 1 ] # none (not 127: pgrep missing)
}

@test "CRLF: a CRLF file reads like its LF twin, on both the parser and the shell path" {
	local t
	for t in plain shell; do
		{
			printf 'PACKAGE_NAME="foo"\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=foo\n'
			printf 'MAKE="make -C ${kernel_source_dir} \\\n  M=$dkms_tree/build"\n'
			printf 'DEST_MODULE_LOCATION[0]="/extra"\nAUTOINSTALL=yes\n'
			[ "$t" = shell ] && printf 'if true; then\n  STRIP[0]=no\nfi\n'
		} >"${WORK}/lf.conf"
		sed 's/$/\r/' "${WORK}/lf.conf" >"${WORK}/crlf.conf"
		grep -q $'\r$' "${WORK}/crlf.conf"
		run --separate-stderr "$DUMP" "${WORK}/lf.conf" "$KVER" "$ARCH"
		[ "$status" -eq 0 ]
		local lf=$output
		run --separate-stderr "$DUMP" "${WORK}/crlf.conf" "$KVER" "$ARCH"
		echo "$stderr"
		[ "$status" -eq 0 ]
		[ "$output" = "$lf" ]
		[[ $output != *$'\r'* ]]
		[[ $output == *"make=make -C /lib/modules/$KVER/build   M=/var/lib/dkms/build"* ]]
	done
}

@test "parser: plain assignments are never executed" {
	cat >"${WORK}/dkms.conf" <<-'EOT'
		PACKAGE_NAME="foo"
		PACKAGE_VERSION=1.0
		MAKE='$(touch marker1)'"\$(touch marker2)"
		CLEAN="\`touch marker3\`"
		DEST_MODULE_LOCATION[0]=/extra
	EOT
	cd "$WORK"
	run --separate-stderr "$DUMP" --raw "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	[[ $output == *'MAKE[0]=$(touch marker1)$(touch marker2)'* ]]
	[[ $output == *'CLEAN[0]=`touch marker3`'* ]]
	[ ! -e "${WORK}/marker1" ] && [ ! -e "${WORK}/marker2" ] && [ ! -e "${WORK}/marker3" ]
	run "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[[ $output == *"needed_shell=no"* ]]
}

@test "sandbox: not root, scrubbed environment, stdin closed, stdout discarded" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to check the drop of privileges"
	cat >"${WORK}/dkms.conf" <<-'EOT'
		PACKAGE_NAME=foo
		PACKAGE_VERSION=1.0
		DEST_MODULE_LOCATION[0]=/extra
		WHO=$(id -u)
		ENVNAMES=$(env | cut -d= -f1 | grep -v '^_$' | sort | tr '\n' ' ')
		SECRET=$(printenv DKM_TEST_SECRET)
		EXPORTED=$(printenv kernelver)
		INPUT=$(cat)
		echo "this goes nowhere"
	EOT
	DKM_TEST_SECRET=hush HOME=/root run --separate-stderr "$DUMP" --raw "${WORK}/dkms.conf" "$KVER" "$ARCH"
	echo "$output"
	[ "$status" -eq 0 ]
	# build_user unset: a uid of its own, from the reserved range, that no user has
	local who
	who=$(sed -n 's/^WHO\[0\]=//p' <<<"$output")
	[ "$who" -ge $((0x7C000000)) ] && [ "$who" -le $((0x7C00FFFF)) ]
	# only what bash itself exports next to PATH and LC_ALL; the dkms variables are not exported
	[[ $output == *$'\nENVNAMES[0]=LC_ALL PATH PWD SHLVL \n'* ]]
	[[ $output == *$'\nSECRET[0]=\n'* ]]
	[[ $output != *hush* ]]
	[[ $output == *$'\nEXPORTED[0]=\n'* ]]
	[[ $output == *$'\nINPUT[0]=\n'* ]]
	[[ $output != *"goes nowhere"* ]]
}

@test "sandbox: build_user is used instead of a uid of its own, but never root" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to check the drop of privileges"
	printf 'PACKAGE_NAME=foo\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\nWHO=$(id -u)\n' \
		>"${WORK}/dkms.conf"
	CONF_DUMP_BUILD_USER=daemon run --separate-stderr "$DUMP" --raw "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	[[ $output == *"WHO[0]=$(id -u daemon)"* ]]
	CONF_DUMP_BUILD_USER=root run --separate-stderr "$DUMP" --raw "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	who=$(sed -n 's/^WHO\[0\]=//p' <<<"$output")
	[ "$who" -ge $((0x7C000000)) ] && [ "$who" -le $((0x7C00FFFF)) ]
	CONF_DUMP_BUILD_USER=no-such-user-here run --separate-stderr "$DUMP" --raw "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -ne 0 ]
	[[ $stderr == *"user 'no-such-user-here' does not exist"* ]]
}

@test "sandbox: BASH_SOURCE and cwd are the file's, even in a directory nobody can read" {
	mkdir -m 0700 "${WORK}/src"
	cat >"${WORK}/src/dkms.conf" <<-'EOT'
		PACKAGE_NAME=foo
		PACKAGE_VERSION=1.0
		DEST_MODULE_LOCATION[0]=/extra
		HERE=$(dirname "$BASH_SOURCE")
		SELF="${BASH_SOURCE[0]##*/}"
		CWD=$PWD
		pushd "$(dirname "${BASH_SOURCE[0]}")" >/dev/null 2>&1
		popd >/dev/null 2>&1
		LITERAL='$BASH_SOURCE'
	EOT
	[ "$(stat -c %a "$WORK")" = 700 ]
	run --separate-stderr "$DUMP" --raw "${WORK}/src/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	[[ $output == *"HERE[0]=${WORK}/src"* ]]
	[[ $output == *"SELF[0]=dkms.conf"* ]]
	[[ $output == *"CWD[0]=${WORK}/src"* ]]
	[[ $output == *'LITERAL[0]=$BASH_SOURCE'* ]]
	diff -u <("$REF" "${WORK}/src/dkms.conf" "$KVER" "$ARCH" 2>/dev/null) <(printf '%s\n' "$output")
}

@test "sandbox: a helper sourced from beside the dkms.conf, in a readable directory" {
	# bats' own temporary directories are 0700: this one must be reachable by nobody
	PUB=$(mktemp -d /tmp/dkm-conf-pub.XXXXXX)
	chmod 0755 "$PUB"
	printf 'PACKAGE_VERSION=4.2\n' >"${PUB}/version.sh"
	cat >"${PUB}/dkms.conf" <<-'EOT'
		PACKAGE_NAME=foo
		. "$(dirname "$BASH_SOURCE")/version.sh"
		DEST_MODULE_LOCATION[0]=/extra
	EOT
	chmod 0644 "${PUB}/"*
	run --separate-stderr "$DUMP" --raw "${PUB}/dkms.conf" "$KVER" "$ARCH"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ $output == *"PACKAGE_VERSION[0]=4.2"* ]]
	diff -u <("$REF" "${PUB}/dkms.conf" "$KVER" "$ARCH" 2>/dev/null) <(printf '%s\n' "$output")
}

@test "resolved: MAKE_MATCH picks the command for the kernel, last match wins" {
	local major=${KVER%%.*}
	cat >"${WORK}/dkms.conf" <<-EOT
		PACKAGE_NAME=foo
		PACKAGE_VERSION=1.0
		DEST_MODULE_LOCATION[0]=/extra
		MAKE[0]="make default"
		MAKE[1]="make major"
		MAKE_MATCH[1]="^${major}\\."
		MAKE[2]="make exact"
		MAKE_MATCH[2]="^${KVER//./\\.}\$"
		MAKE[3]="make other"
		MAKE_MATCH[3]="^1\\."
	EOT
	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	[[ $output == *$'\nmake=make exact\n'* ]]
	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "1.2.3" "$ARCH"
	[[ $output == *$'\nmake=make other\n'* ]]
	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "0.1" "$ARCH"
	[[ $output == *$'\nmake=make default\n'* ]]
}

@test "resolved: BUILD_EXCLUSIVE_* against the kernel's .config, version and arch" {
	mkdir "${WORK}/ksrc"
	printf 'CONFIG_PRESENT=y\nCONFIG_MOD=m\n# CONFIG_ABSENT is not set\n' >"${WORK}/ksrc/.config"
	local head='PACKAGE_NAME=foo\nPACKAGE_VERSION=1.0\nDEST_MODULE_LOCATION[0]=/extra\n'

	printf "${head}"'BUILD_EXCLUSIVE_CONFIG="CONFIG_PRESENT CONFIG_MOD !CONFIG_ABSENT"\n' >"${WORK}/dkms.conf"
	run --separate-stderr "$DUMP" --excluded "${WORK}/dkms.conf" "$KVER" "$ARCH" "${WORK}/ksrc"
	[ "$status" -eq 0 ]
	[[ $output == *"excluded=no"* ]]

	printf "${head}"'BUILD_EXCLUSIVE_CONFIG="CONFIG_PRESENT CONFIG_ABSENT"\n' >"${WORK}/dkms.conf"
	run --separate-stderr "$DUMP" --excluded "${WORK}/dkms.conf" "$KVER" "$ARCH" "${WORK}/ksrc"
	[[ $output == *"excluded=BUILD_EXCLUSIVE_CONFIG: CONFIG_ABSENT is not set in '${WORK}/ksrc/.config'"* ]]

	printf "${head}"'BUILD_EXCLUSIVE_CONFIG="!CONFIG_MOD"\n' >"${WORK}/dkms.conf"
	run --separate-stderr "$DUMP" --excluded "${WORK}/dkms.conf" "$KVER" "$ARCH" "${WORK}/ksrc"
	[[ $output == *"excluded=BUILD_EXCLUSIVE_CONFIG: CONFIG_MOD is set in"* ]]

	printf "${head}"'BUILD_EXCLUSIVE_KERNEL_MIN=999.0\n' >"${WORK}/dkms.conf"
	run --separate-stderr "$DUMP" --excluded "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[[ $output == *"excluded=BUILD_EXCLUSIVE_KERNEL_MIN=999.0 > $KVER"* ]]

	printf "${head}"'BUILD_EXCLUSIVE_ARCH="^(arm|mips)"\n' >"${WORK}/dkms.conf"
	run --separate-stderr "$DUMP" --excluded "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[[ $output == *"excluded=BUILD_EXCLUSIVE_ARCH='^(arm|mips)' does not match $ARCH"* ]]
}

@test "parser: tricky quoting and arrays give exactly what bash gives, without a shell" {
	cat >"${WORK}/dkms.conf" <<-'EOT'
		PACKAGE_NAME='pkg'
		PACKAGE_VERSION="1.0"'-'1
		A='single $x \n'"double $kernelver"\ plain\$
		B="a\\b\$c\`d\"e \n"
		C=x#y # and a comment
		D=${kernelver}_${arch}-$kernel_source_dir
		E[3]=three; E[1]=one
		E=zero
		F=("a b" c [7]=s
		   'd e'  # comment inside the list
		)
		F+=(t)
		G="${F[@]}" H=${F[7]}
		i=7
		J=${F[$i]} K[$i]=k L=${F[${i}]}
		M="multi
		line"
		N=one\
		two
		export O=exported P
		Q=$missing/${missing}
		R=a*b?[c]{d,e}
		S="" T=$ U="$"x V=${E[1]}${E}
		W+=appended
		W+=more
		X="tab	in"
		BUILT_MODULE_NAME[0]=mod
		DEST_MODULE_LOCATION[0]=/updates/dkms
		LOAD=no
	EOT
	run --separate-stderr "$DUMP" --raw "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	diff -u <("$REF" "${WORK}/dkms.conf" "$KVER" "$ARCH") <(printf '%s\n' "$output")
	run "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	[ "$status" -eq 0 ]
	[[ $output == *"needed_shell=no"* ]]
	[[ $output == *"package_version=1.0-1"* ]]
}

# ---- the name rule: package names, versions, module names ----

# names_conf <PACKAGE_NAME> <PACKAGE_VERSION> <BUILT_MODULE_NAME> [DEST_MODULE_NAME]: a file
# with these values, single-quoted (taken literally, as a sloppy or hostile file would have them)
names_conf() {
	{
		printf "PACKAGE_NAME='%s'\nPACKAGE_VERSION='%s'\nBUILT_MODULE_NAME[0]='%s'\n" "$1" "$2" "$3"
		[ -z "${4-}" ] || printf "DEST_MODULE_NAME[0]='%s'\n" "$4"
		echo 'DEST_MODULE_LOCATION[0]="/updates/dkms"'
	} >"${WORK}/dkms.conf"
}

rule="letters, digits and '._+-~', not starting with '-' or '.'"

@test "names: shell code, options and globs in PACKAGE_NAME, PACKAGE_VERSION and module names are refused, naming the character" {
	local args msg
	while IFS='@' read -r args msg; do
		eval "names_conf $args"
		run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
		[ "$status" -ne 0 ] || { echo "accepted: $args"; return 1; }
		[ "${#stderr_lines[@]}" -eq 1 ]
		[ "$stderr" = "dkm-hook: error: invalid dkms.conf: '${WORK}/dkms.conf': $msg" ] ||
			{ echo "got:  $stderr"; echo "want: $msg"; return 1; }
	done <<-EOF
		'x\$(touch\${IFS}PWNED)' 1.0 mod@PACKAGE_NAME[0]='x\$(touch\${IFS}PWNED)': it contains '\$': must be a name of $rule, such as 'mydriver'
		'x\`id\`' 1.0 mod@PACKAGE_NAME[0]='x\`id\`': it contains '\`': must be a name of $rule, such as 'mydriver'
		-rf 1.0 mod@PACKAGE_NAME[0]='-rf': it starts with '-': must be a name of $rule, such as 'mydriver'
		.hidden 1.0 mod@PACKAGE_NAME[0]='.hidden': it starts with '.': must be a name of $rule, such as 'mydriver'
		pkg '1.0;reboot' mod@PACKAGE_VERSION[0]='1.0;reboot': it contains ';': must be a name of $rule, such as '1.0'
		pkg '1.0*' mod@PACKAGE_VERSION[0]='1.0*': it contains '*': must be a name of $rule, such as '1.0'
		pkg 1.0 --help@BUILT_MODULE_NAME[0]='--help': it starts with '-': must be a name of $rule, such as 'mymod'
		pkg 1.0 'm\$(id)'@BUILT_MODULE_NAME[0]='m\$(id)': it contains '\$': must be a name of $rule, such as 'mymod'
		pkg 1.0 mod -v@DEST_MODULE_NAME[0]='-v': it starts with '-': must be a name of $rule, such as 'mod'
		pkg 1.0 mod 'a|b'@DEST_MODULE_NAME[0]='a|b': it contains '|': must be a name of $rule, such as 'mod'
		pkg 'é' mod@PACKAGE_VERSION[0]='é': it contains the byte 0xc3 (not ASCII): must be a name of $rule, such as '1.0'
	EOF
}

@test "names: what real packages use is accepted (Debian versions, svn snapshots, underscores)" {
	local args
	while read -r args; do
		eval "names_conf $args"
		run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
		[ "$status" -eq 0 ] || { echo "refused: $args: $stderr"; return 1; }
	done <<-'EOF'
		tp_smapi 1.2.3+dfsg-1~bpo tp_smapi
		west-chamber 20100405+svn20111107.r124 xt_ECHO
		nvidia-current 535.154.05 nvidia-drm
		v4l2loopback 0.12.7 v4l2loopback v4l2loopback_x
		8812au 5.6.4.2_35491.20191025 8812au
		Zfs 2.1.11~rc1 zfs
	EOF
}

@test "DKMS's rules: DEST_MODULE_LOCATION is checked on its prefix only; PATCH may name a file in a subdirectory of patches/" {
	cat > "${WORK}/dkms.conf" <<-'EOF2'
		PACKAGE_NAME="foo"
		PACKAGE_VERSION="1.0"
		BUILT_MODULE_NAME[0]="foo"
		DEST_MODULE_LOCATION[0]="/updates-dkms-test"
		BUILT_MODULE_NAME[1]="bar"
		DEST_MODULE_LOCATION[1]="/kernelfoo/x"
		PATCH=(patch1.patch subdir/patch2.patch)
	EOF2
	run --separate-stderr "$DUMP" "${WORK}/dkms.conf" "$KVER" "$ARCH"
	echo "stderr: $stderr"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"/updates-dkms-test"* ]]
	[[ "$output" == *"/kernelfoo/x"* ]]
	[[ "$output" == *"subdir/patch2.patch"* ]]
}
