# SPDX-License-Identifier: LGPL-2.1-or-later
# A tiny real kernel module, built against the installed headers of $KVER (lib/common.bash),
# once per test file run (cached in BATS_FILE_TMPDIR), copied into the caller's directory.
#
#   kmod_build DIR [NAME]   -> prints DIR/NAME.ko (NAME defaults to dkm_sigtest)
#
# kbuild writes only into M= (a private copy of the source); the headers are read-only here.

kmod_build() {
	local dir=$1 name=${2:-dkm_sigtest}
	local cache=${BATS_FILE_TMPDIR:?kmod_build needs bats >= 1.4}/kmod-$name

	if [ ! -f "$cache/$name.ko" ]; then
		[ -e "/lib/modules/$KVER/build/Makefile" ] || {
			echo "kmod_build: no headers for '$KVER': apt-get install linux-headers-$KVER" >&2
			return 1
		}
		rm -rf "$cache" && mkdir -p "$cache"
		cat > "$cache/$name.c" <<-EOF
			// SPDX-License-Identifier: GPL-2.0
			#include <linux/module.h>
			static int answer = 42;
			module_param(answer, int, 0444);
			static int __init ${name}_init(void) { return 0; }
			static void __exit ${name}_exit(void) { }
			module_init(${name}_init);
			module_exit(${name}_exit);
			MODULE_LICENSE("GPL");
			MODULE_DESCRIPTION("dkm-hook test module ${name}");
		EOF
		echo "obj-m := $name.o" > "$cache/Kbuild"
		make -s -C "/lib/modules/$KVER/build" M="$cache" modules > "$cache/build.log" 2>&1 || {
			cat "$cache/build.log" >&2
			return 1
		}
		[ -f "$cache/$name.ko" ] || { echo "kmod_build: no $name.ko after make" >&2; return 1; }
	fi
	mkdir -p "$dir"
	cp "$cache/$name.ko" "$dir/$name.ko"
	echo "$dir/$name.ko"
}

# The kernel's own sign-file for $KVER (Debian ships it in linux-kbuild-*).
kernel_sign_file() {
	local f
	for f in "/lib/modules/$KVER/build/scripts/sign-file" /usr/lib/linux-kbuild-*/scripts/sign-file; do
		[ -x "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

# What modinfo prints for a certificate: signer = issuer CN, sig_key = serial as AB:CD:...
cert_signer() {
	openssl x509 -inform DER -in "$1" -noout -issuer -nameopt sep_multiline,utf8,-esc_msb |
		sed -n 's/^ *CN=//p'
}
cert_sig_key() {
	openssl x509 -inform DER -in "$1" -noout -serial | sed 's/^serial=//; s/^\(00\)*//; s/../&:/g; s/:$//'
}
