#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# dracut cmdline hook of the qemu boot test (tests/boot). It runs inside the booted
# initramfs, loads dkm_boot_test if nothing loaded it yet, reports what the kernel did and
# powers the machine off. Every line it prints starts with "DKM-BOOT", the last one with
# "DKM-BOOT-RESULT: " followed by space-separated key=value fields:
#
#   loaded=yes|no      the module is live in /proc/modules
#   by=early|hook|none early: dracut loaded it before this hook (rd.driver.pre); hook: the
#                      modprobe below did; none: it is not loaded
#   param=<v>|-        /sys/module/dkm_boot_test/parameters/greeting
#   file=<path>|-      the file modprobe resolves the name to, inside the image
#   signed=yes|no      that file carries a module signature (modinfo sig_id)
#   signer=<s>|-       its signer (modinfo signer), spaces replaced by '_'
#   srcversion=<s>|-   /sys/module/dkm_boot_test/srcversion (what the kernel loaded)
#   file_srcversion=<s>|-  modinfo srcversion of <file> (what the image holds)
#   taint=<flags>|-    /sys/module/dkm_boot_test/taint
#   modprobe=<rc>|-    exit status of the hook's own modprobe, - if it did not run one
#
# It is sourced by dracut's /init: no `exit`, only functions and plain variables.

dkm_boot_field() { # <value> -> the value, '-' when empty, spaces replaced by '_'
	if [ -n "$1" ]; then
		echo "$1" | tr ' ' '_'
	else
		echo -
	fi
}

dkm_boot_report() {
	_m=dkm_boot_test
	_p=greeting
	_by=none
	_rc=-
	echo "DKM-BOOT: hook running on $(uname -r): $(cat /proc/cmdline)"
	if [ -d "/sys/module/$_m" ]; then
		_by=early
	else
		_err=$(modprobe "$_m" 2>&1)
		_rc=$?
		echo "DKM-BOOT: modprobe $_m: exit $_rc${_err:+: $_err}"
		[ -d "/sys/module/$_m" ] && _by=hook
	fi

	# Keep the kernel's console messages from interleaving with the report: everything it
	# said about the module is printed again below, from dmesg.
	dmesg -n 1 2>/dev/null

	_loaded=no
	if grep -q "^$_m " /proc/modules; then
		_loaded=yes
		echo "DKM-BOOT: /proc/modules: $(grep "^$_m " /proc/modules)"
	else
		echo "DKM-BOOT: /proc/modules: no line for $_m"
	fi
	dmesg | grep -i -e "$_m" -e 'module verification' -e 'Loading of' -e 'PKCS#7' -e 'PKCS7' \
		-e 'X.509' -e 'signature' | while IFS= read -r _l; do
		echo "DKM-BOOT: dmesg: $_l"
	done

	_param=
	_srcv=
	_taint=
	[ -r "/sys/module/$_m/parameters/$_p" ] && _param=$(cat "/sys/module/$_m/parameters/$_p")
	[ -r "/sys/module/$_m/srcversion" ] && _srcv=$(cat "/sys/module/$_m/srcversion")
	[ -r "/sys/module/$_m/taint" ] && _taint=$(cat "/sys/module/$_m/taint")
	echo "DKM-BOOT: /sys/module/$_m/parameters/$_p: ${_param:-(none)}"
	echo "DKM-BOOT: /sys/module/$_m/taint: ${_taint:-(none)}"

	_file=$(modinfo -n "$_m" 2>/dev/null)
	_signed=no
	_signer=
	_fsrcv=
	if [ -n "$_file" ]; then
		[ -n "$(modinfo -F sig_id "$_file" 2>/dev/null)" ] && _signed=yes
		_signer=$(modinfo -F signer "$_file" 2>/dev/null)
		_fsrcv=$(modinfo -F srcversion "$_file" 2>/dev/null)
		echo "DKM-BOOT: modinfo $_file:"
		# Without the hex dump of the signature: sig_key and signer identify it.
		modinfo "$_file" 2>&1 | grep -v -e '^signature:' -e '^[[:space:]]' | while IFS= read -r _l; do
			echo "DKM-BOOT:   $_l"
		done
	fi

	echo "DKM-BOOT-RESULT: loaded=$_loaded by=$_by param=$(dkm_boot_field "$_param")" \
		"file=$(dkm_boot_field "$_file") signed=$_signed signer=$(dkm_boot_field "$_signer")" \
		"srcversion=$(dkm_boot_field "$_srcv") file_srcversion=$(dkm_boot_field "$_fsrcv")" \
		"taint=$(dkm_boot_field "$_taint") modprobe=$_rc"
}

dkm_boot_report >/dev/console 2>&1
# Power off now: the test is over, there is no root file system to switch to.
echo o >/proc/sysrq-trigger
sleep 30
