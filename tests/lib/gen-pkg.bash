# SPDX-License-Identifier: LGPL-2.1-or-later
# A package <name> (also its module's name) of <n> C files that include common kernel headers:
# make has <n> compile jobs to run in parallel. Prints its directory.
gen_pkg() {
	local name=$1 n=$2 d=$BATS_TEST_TMPDIR/src/$1 i objs=
	mkdir -p "$d"
	for ((i = 1; i <= n; i++)); do
		cat > "$d/f$i.c" <<-EOF
			// SPDX-License-Identifier: GPL-2.0
			#include <linux/module.h>
			#include <linux/fs.h>
			#include <linux/netdevice.h>
			#include <linux/slab.h>
			int ${name}_f$i(void);
			int ${name}_f$i(void) { return $i; }
		EOF
		objs="$objs f$i.o"
	done
	echo 'MODULE_LICENSE("GPL");' >> "$d/f1.c"
	printf 'obj-m := %s.o\n%s-y :=%s\n' "$name" "$name" "$objs" > "$d/Kbuild"
	cat > "$d/dkms.conf" <<-EOF
		PACKAGE_NAME="$name"
		PACKAGE_VERSION="1.0"
		BUILT_MODULE_NAME[0]="$name"
		DEST_MODULE_LOCATION[0]="/extra"
		AUTOINSTALL="yes"
	EOF
	echo "$d"
}
