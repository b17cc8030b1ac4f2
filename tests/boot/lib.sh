# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# tests/boot/lib.sh — the steps of the qemu boot proof, one function each. Sourced by
# tests/boot/boot.bats; usable by hand too (see docs/boot-test.md):
#
#   . tests/boot/lib.sh
#   kver=$(boot_kver)
#   kdir=$(tests/boot/fetch-kernel "$kver")
#   boot_make_root /tmp/r "$kver" "$kdir"
#   boot_install_modules /tmp/r "$kver" signed          # dkm-hook add + kernel-install add
#   boot_make_image /tmp/r "$kver" /tmp/r.img /tmp/r.dracut.log dracut-module/50dkm-hook
#   boot_check_image /tmp/r.img "$kver" dkm_boot_test
#   boot_qemu "$kdir/boot/vmlinuz-$kver" /tmp/r.img /tmp/r.serial.log dkm_boot_test.greeting=hi
#   boot_result /tmp/r.serial.log
#
# Every function prints "boot: error: ..." on stderr and returns non-zero on failure.
# Nothing here writes outside the directories it is given (and mktemp's).

# shellcheck disable=SC2034 # the names below are for the files that source this one
BOOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BOOT_REPO=$(cd "$BOOT_DIR/../.." && pwd)
BOOT_MODULE=dkm_boot_test
BOOT_PARAM=greeting
BOOT_HOOK=$BOOT_DIR/hook/99-dkm-boot-test.sh
BOOT_EXAMPLE=$BOOT_DIR/example

boot_error() { printf 'boot: error: %s\n' "$*" >&2; }

# boot_kver — the kernel version whose headers are installed: $DKM_BOOT_KVER if set, else the
# one entry of /lib/modules that has a build/ directory (the newest if several do).
boot_kver() {
	if [[ ${DKM_BOOT_KVER:-} ]]; then
		echo "$DKM_BOOT_KVER"
		return 0
	fi
	local d k
	k=$(for d in /lib/modules/*/build/Makefile; do
		[[ -e $d ]] || continue
		d=${d%/build/Makefile}
		echo "${d##*/}"
	done | sort -V | tail -n1)
	if [[ -z $k ]]; then
		boot_error "no kernel headers in /lib/modules/*/build: install linux-headers-amd64"
		return 1
	fi
	echo "$k"
}

# boot_make_root <root> <kver> <kernel-dir> — a scratch root whose lib/modules/<kver> holds
# the kernel's module index files (hard links into <kernel-dir> where possible), a build link
# to the installed headers, and a fresh depmod. No in-tree module is copied: the Debian kernel
# boots the test's initramfs with built-in drivers only, and a small tree keeps dracut fast.
boot_make_root() {
	local root=$1 kver=$2 kdir=$3 f mdir
	mdir=$root/lib/modules/$kver
	if [[ ! -f $kdir/lib/modules/$kver/modules.order ]]; then
		boot_error "no unpacked kernel in '$kdir' (run tests/boot/fetch-kernel $kver)"
		return 1
	fi
	if [[ ! -d /lib/modules/$kver/build ]]; then
		boot_error "no headers at '/lib/modules/$kver/build': install linux-headers-$kver"
		return 1
	fi
	rm -rf "$root" && mkdir -p "$mdir" "$root/etc" "$root/tmp" || return 1
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		ln "$kdir/lib/modules/$kver/$f" "$mdir/$f" 2>/dev/null ||
			cp "$kdir/lib/modules/$kver/$f" "$mdir/$f" || return 1
	done
	ln -s "$(readlink -f "/lib/modules/$kver/build")" "$mdir/build" || return 1
	boot_depmod "$root" "$kver"
}

# boot_vmlinuz_version <vmlinuz> — the version string of an x86 bzImage (the setup header's
# kernel_version pointer at 0x20e, relative to 0x200), e.g. "6.1.0-56-amd64 (debian-kernel@…)
# #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (…)".
boot_vmlinuz_version() {
	local off
	off=$(od -An -tu2 -j $((0x20e)) -N2 "$1" | tr -d ' ') || return 1
	if ! [[ $off =~ ^[0-9]+$ ]] || ((off == 0)); then
		boot_error "'$1' is not a bzImage"
		return 1
	fi
	dd if="$1" bs=1 skip=$((off + 0x200)) count=256 status=none | tr '\0' '\n' | head -n1
}

# boot_depmod <root> <kver> — depmod inside the root, with no config from the host, and a
# check that it really wrote its index (depmod exits 0 when it could not).
boot_depmod() {
	local root=$1 kver=$2 empty
	empty=$root/etc/depmod.d
	mkdir -p "$empty" || return 1
	rm -f "$root/lib/modules/$kver/modules.dep"
	depmod -b "$root" -C "$empty" "$kver" || return 1
	if [[ ! -f $root/lib/modules/$kver/modules.dep ]]; then
		boot_error "depmod -b '$root' wrote no modules.dep"
		return 1
	fi
}

# boot_dkm_hook — the dkm-hook binary under test: $DKM_HOOK_BIN, else <repo>/$B/dkm-hook
# (B as for make, default build; an absolute B is taken as it is).
boot_dkm_hook() {
	local b=${B:-build}
	[[ $b == /* ]] || b=$BOOT_REPO/$b
	echo "${DKM_HOOK_BIN:-$b/dkm-hook}"
}

# boot_install_modules <root> <kver> <mode> — the example module installed by dkm-hook.
#
# Contract: afterwards <root>/lib/modules/<kver> holds the installed example module
# (tests/boot/example, module dkm_boot_test) in the form the kernel expects —
# signed (mode "signed") or not (mode "unsigned"), compressed as .ko.xz (xz, CRC32 check,
# LZMA2 dictionary 1 MiB) — and modules.dep (depmod) knows it. Where in the tree it lives
# is the installer's business: the tests find it through modules.dep.
#
# How: the root's dkm-hook.conf says compress=xz and sign=yes|no; the signing key is a
# self-signed one made here (CN dkm-boot-test-key) where dkm-hook looks for it; `dkm-hook add
# tests/boot/example`; then the real `kernel-install add` with our plugin
# (40-dkm-hook.install) as its only plugin and DKM_HOOK_ROOT=<root> — the kernel arrives, the
# plugin builds, signs, compresses, installs and runs depmod (no 50-depmod.install after it).
# kernel-install's image argument is a placeholder: the plugin does not read it.
# Output goes to <root>/var/tmp/dkm-hook-install.log.
boot_install_modules() {
	local root=$1 kver=$2 mode=$3 dkm plugin log sign
	case $mode in
	signed) sign=yes ;;
	unsigned) sign=no ;;
	*)
		boot_error "boot_install_modules: mode must be signed or unsigned, not '$mode'"
		return 1
		;;
	esac
	dkm=$(boot_dkm_hook)
	plugin=${DKM_HOOK_PLUGIN:-$(dirname "$dkm")/40-dkm-hook.install}
	for f in "$dkm" "$plugin"; do
		[[ -x $f ]] || { boot_error "'$f' is not built: run make"; return 1; }
	done
	log=$root/var/tmp/dkm-hook-install.log
	mkdir -p "$root/etc/dkm-hook" "$root/var/tmp/ki" "$root/boot" "$root/etc/kernel" || return 1
	printf 'ID=debian\nVERSION_ID="12"\n' >"$root/etc/os-release"
	printf 'compress=xz\nsign=%s\n' "$sign" >"$root/etc/dkm-hook/dkm-hook.conf"
	if [[ $mode == signed ]]; then
		local key=$root/var/lib/dkm-hook/mok.key cert=$root/var/lib/dkm-hook/mok.der
		if [[ ! -f $key ]]; then
			mkdir -p "${key%/*}" || return 1
			# Self-signed, codeSigning: the kernel does not know it, so with
			# module.sig_enforce=1 it must answer "unavailable key".
			openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 \
				-subj "/CN=dkm-boot-test-key/" \
				-addext "extendedKeyUsage=codeSigning" \
				-addext "basicConstraints=critical,CA:FALSE" \
				-addext "keyUsage=digitalSignature" \
				-keyout "$key" -outform DER -out "$cert" >"$log" 2>&1 || {
				boot_error "openssl could not make a key, see '$log'"
				return 1
			}
			chmod 0600 "$key"
		fi
	fi
	: >"$root/var/tmp/ki/vmlinuz-$kver"
	if ! {
		DKM_HOOK_ROOT=$root "$dkm" add "$BOOT_EXAMPLE" &&
			env DKM_HOOK_ROOT="$root" KERNEL_INSTALL_PLUGINS="$plugin" BOOT_ROOT="$root/boot" \
				MACHINE_ID=0123456789abcdef0123456789abcdef \
				KERNEL_INSTALL_CONF_ROOT="$root/etc/kernel" \
				kernel-install -v add "$kver" "$root/var/tmp/ki/vmlinuz-$kver"
	} >>"$log" 2>&1; then
		boot_error "dkm-hook could not install the example module, see '$log'"
		return 1
	fi
}

# boot_module_file <root> <kver> [module] — the path of the module as modules.dep records it.
boot_module_file() {
	local root=$1 kver=$2 m=${3:-$BOOT_MODULE} rel
	rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n);
		gsub(/-/, "_", n); if (n == m) print $1 }' "$root/lib/modules/$kver/modules.dep")
	if [[ -z $rel ]]; then
		boot_error "'$m' is not in '$root/lib/modules/$kver/modules.dep'"
		return 1
	fi
	if [[ $(wc -l <<<"$rel") -ne 1 ]]; then
		boot_error "'$m' is in modules.dep more than once: ${rel//$'\n'/ }"
		return 1
	fi
	echo "$root/lib/modules/$kver/$rel"
}

# boot_corrupt_signature <file.ko.xz> — break the PKCS#7 blob of a signed, xz-compressed
# module in place: its first bytes (the DER SEQUENCE header) are zeroed, the 12-byte trailer
# and the "~Module signature appended~" marker stay intact, so the kernel finds a signature,
# tries to parse it, and must refuse the module.
# (Flipping bits inside the RSA value instead would not be noticed before the key lookup:
# the kernel answers "unavailable key" for a key it does not hold, whatever the bytes.)
boot_corrupt_signature() {
	local f=$1 tmp size siglen start
	tmp=$(mktemp) || return 1
	xz -dc "$f" >"$tmp" || { rm -f "$tmp"; return 1; }
	size=$(stat -c %s "$tmp")
	if [[ $(tail -c 28 "$tmp") != "~Module signature appended~" ]]; then
		boot_error "'$f' is not signed: nothing to corrupt"
		rm -f "$tmp"
		return 1
	fi
	# be32 sig_len is the last field of the trailer, right before the 28-byte marker.
	siglen=$(tail -c 32 "$tmp" | head -c 4 | od -An -tu1 | awk '{ print ($1 * 16777216) + ($2 * 65536) + ($3 * 256) + $4 }')
	start=$((size - 28 - 12 - siglen))
	if ((siglen < 16 || start < 0)); then
		boot_error "'$f': implausible signature length $siglen"
		rm -f "$tmp"
		return 1
	fi
	dd if=/dev/zero of="$tmp" bs=1 seek="$start" count=16 conv=notrunc status=none || {
		rm -f "$tmp"
		return 1
	}
	xz --check=crc32 --lzma2=dict=1MiB -c "$tmp" >"$f.tmp" && mv -f "$f.tmp" "$f"
	local rc=$?
	rm -f "$tmp"
	return $rc
}

# boot_dracut_base <dir> [dracut-module-dir...] — a private dracut base directory: links to
# the host's dracut (/usr/lib/dracut), its modules.d as links to each host module plus the
# given module directories (e.g. dracut-module/50dkm-hook), and no dracut.conf.d at all,
# so nothing from the host's dracut configuration leaks into the image.
boot_dracut_base() {
	local base=$1 f m
	shift
	local host=${DKM_BOOT_DRACUT_HOST:-/usr/lib/dracut}
	rm -rf "$base" && mkdir -p "$base/modules.d" || return 1
	for f in "$host"/*; do
		case ${f##*/} in
		modules.d | dracut.conf.d) ;;
		*) ln -s "$f" "$base/" || return 1 ;;
		esac
	done
	for m in "$host"/modules.d/*; do
		ln -s "$m" "$base/modules.d/" || return 1
	done
	for m in "$@"; do
		m=$(cd "$m" && pwd) || return 1
		[[ -f $m/module-setup.sh ]] || { boot_error "no module-setup.sh in '$m'"; return 1; }
		rm -f "$base/modules.d/${m##*/}"
		ln -s "$m" "$base/modules.d/" || return 1
	done
}

# boot_make_image <root> <kver> <out.img> <log> [dracut-module-dir...] — the real dracut, on
# the root's module tree only: private config (--conf /dev/null, an empty --confdir, a private
# dracut base dir), --no-hostonly, only "base kernel-modules", no compression, and the test
# hook as a cmdline hook. Without module dirs the example module goes in with
# --force-drivers (dracut loads it early through rd.driver.pre); with them, their dracut
# modules are added to -m instead and must put it in themselves (e.g. dracut-module/50dkm-hook).
# Needs no root privileges: the root tree must be readable, <out.img>'s dir writable.
boot_make_image() {
	local root=$1 kver=$2 out=$3 log=$4 work m mods="base kernel-modules"
	shift 4
	local extra=("$@")
	work=$(mktemp -d "$(dirname "$out")/.dracut.XXXXXX") || return 1
	if ! boot_dracut_base "$work/base" "${extra[@]}" || ! mkdir -p "$work/confdir" "$work/tmp"; then
		rm -rf "$work"
		return 1
	fi
	local args=(
		--conf /dev/null --confdir "$work/confdir"
		--kmoddir "$root/lib/modules/$kver" --kver "$kver"
		--no-hostonly --no-hostonly-cmdline --no-early-microcode --no-compress
		--nofscks --nomdadmconf --nolvmconf --no-hostonly-i18n
		--fwdir "$work/confdir" --tmpdir "$work/tmp"
		--install "grep modinfo"
		--include "$BOOT_HOOK" /lib/dracut/hooks/cmdline/99-dkm-boot-test.sh
	)
	if ((${#extra[@]})); then
		for m in "${extra[@]}"; do
			m=${m%/}
			m=${m##*/}
			mods+=" ${m#[0-9][0-9]}"
		done
	else
		args+=(--force-drivers "$BOOT_MODULE")
	fi
	args+=(-m "$mods" --force "$out")
	{
		echo "+ dracutbasedir=$work/base dracut ${args[*]}"
		# for dracut-module/50dkm-hook: dkm-hook's root is the one of --kmoddir
		DKM_HOOK_ROOT=$root DKM_HOOK_BIN=$(boot_dkm_hook) dracutbasedir=$work/base \
			dracut "${args[@]}"
	} >"$log" 2>&1
	local rc=$?
	rm -rf "$work"
	if ((rc != 0)); then
		boot_error "dracut failed (exit $rc), see '$log'"
		return 1
	fi
	if grep -E '^dracut(-install)?: (ERROR|FAILED)|dracut-install: ERROR' "$log" >&2; then
		boot_error "dracut reported errors (exit 0 all the same), see '$log'"
		return 1
	fi
	[[ -s $out ]] || { boot_error "dracut wrote no image '$out'"; return 1; }
}

# boot_check_image <img> <kver> [module] — the image really holds exactly one file for the
# module, and it is the compressed .ko.xz; the test hook is there too. Prints that file's
# path inside the image. (dracut exits 0 when a module it was asked for is missing.)
boot_check_image() {
	local img=$1 kver=$2 m=${3:-$BOOT_MODULE} list files
	list=$(lsinitrd "$img" 2>/dev/null) || { boot_error "lsinitrd cannot read '$img'"; return 1; }
	files=$(awk '{ print $NF }' <<<"$list" | grep -E "(^|/)$m\.ko(\.[a-z]+)?$" || true)
	if [[ -z $files ]]; then
		boot_error "'$img' holds no $m.ko*: dracut left the module out (exit 0 all the same)"
		return 1
	fi
	if [[ $(wc -l <<<"$files") -ne 1 ]]; then
		boot_error "'$img' holds more than one $m module: ${files//$'\n'/ }"
		return 1
	fi
	if [[ $files != *lib/modules/$kver/*.ko.xz ]]; then
		boot_error "'$img' holds '$files', not a .ko.xz under lib/modules/$kver"
		return 1
	fi
	if ! grep -q 'lib/dracut/hooks/cmdline/99-dkm-boot-test.sh$' <<<"$list"; then
		boot_error "'$img' lacks the test hook lib/dracut/hooks/cmdline/99-dkm-boot-test.sh"
		return 1
	fi
	echo "/$files"
}

# boot_image_file_sha256 <img> <path-in-image> — sha256 of one file inside an image.
boot_image_file_sha256() {
	local sum
	sum=$(lsinitrd -f "${2#/}" "$1" 2>/dev/null | sha256sum) || return 1
	# sha256 of nothing: lsinitrd found no such file.
	if [[ $sum == e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855* ]]; then
		boot_error "'$1' has no file '$2'"
		return 1
	fi
	echo "${sum%% *}"
}

# boot_qemu <vmlinuz> <img> <serial.log> [kernel args...] — boot the image under software
# emulation, serial console into <serial.log> (qemu's own messages into <serial.log>.qemu).
# The hook powers the machine off; a kernel panic reboots, which -no-reboot turns into an
# exit; `timeout` ends anything else. Returns qemu's status (124: timed out).
boot_qemu() {
	local vmlinuz=$1 img=$2 log=$3
	shift 3
	local append="console=ttyS0 panic=-1 rd.emergency=poweroff rd.shell=0 $*"
	rm -f "$log" "$log.qemu"
	timeout "${DKM_BOOT_TIMEOUT:-120}" qemu-system-x86_64 -accel tcg -m 512 -smp 1 -nic none \
		-no-reboot -nographic -monitor none -serial "file:$log" \
		-kernel "$vmlinuz" -initrd "$img" -append "$append" \
		</dev/null >"$log.qemu" 2>&1
}

# boot_result <serial.log> — the DKM-BOOT-RESULT line of a boot, without its prefix.
boot_result() {
	local line
	line=$(tr -d '\r' <"$1" | sed -n 's/^DKM-BOOT-RESULT: //p' | tail -n1)
	if [[ -z $line ]]; then
		boot_error "no DKM-BOOT-RESULT line in '$1': the hook did not run or did not finish"
		return 1
	fi
	echo "$line"
}

# boot_field <result-line> <key> — one field of a result line.
boot_field() {
	local kv
	for kv in $1; do
		if [[ ${kv%%=*} == "$2" ]]; then
			echo "${kv#*=}"
			return 0
		fi
	done
	return 1
}
