#!/bin/sh
# Chassis-control program for the xcatpy ipmi_sim test BMC.
#
# lan.conf names it as:   chassis_control "chassis_control.sh STATE_FILE"
# and ipmi_sim 2.0.33 then runs it as
#     STATE_FILE get power              -> prints "power:0" or "power:1"
#     STATE_FILE get boot               -> prints "boot:<dev>"
#     STATE_FILE set power 0|1          (chassis power off / on; cycle = 0, then 1 a second later)
#     STATE_FILE set reset 1            (chassis power reset)
#     STATE_FILE set shutdown 1         (chassis power soft)
#     STATE_FILE set boot <dev>         (<dev>: none pxe default cdrom bios)
#     STATE_FILE set identify "<secs> <force>"   (one argument holding both)
#
# STATE_FILE holds one "key=value" line per key: power, boot, identify,
# resets, softoffs.  Every call is appended to STATE_FILE.log, so a test
# can see exactly what the BMC was asked to do.

state=$1
shift
log="$state.log"
echo "$*" >>"$log"

getv() {
	sed -n "s/^$1=//p" "$state" 2>/dev/null | tail -n 1
}

setv() {
	tmp="$state.tmp.$$"
	grep -v "^$1=" "$state" >"$tmp" 2>/dev/null
	echo "$1=$2" >>"$tmp"
	mv -f "$tmp" "$state"
}

bump() {
	n=$(getv "$1")
	setv "$1" $(( ${n:-0} + 1 ))
}

op=$1
[ $# -gt 0 ] && shift
case "$op" in
get)
	for p in "$@"; do
		case "$p" in
		power) v=$(getv power); echo "power:${v:-0}" ;;
		boot) v=$(getv boot); echo "boot:${v:-none}" ;;
		*) echo "unknown parameter: $p" >&2; exit 1 ;;
		esac
	done
	;;
set)
	while [ $# -ge 2 ]; do
		p=$1 v=$2
		shift 2
		case "$p" in
		power) setv power "$v" ;;
		reset) bump resets ;;
		shutdown)
			# A soft off: pretend the OS obeyed the ACPI request at once.
			bump softoffs
			[ "$v" = 1 ] && setv power 0
			;;
		boot) setv boot "$v" ;;
		identify)
			# ipmi_sim passes "<seconds> <force>" as ONE argument; accept
			# them as two as well.
			case "$v" in
			*" "*) setv identify "$v" ;;
			*)
				setv identify "$v ${1:-0}"
				[ $# -gt 0 ] && shift
				;;
			esac
			;;
		*) echo "unknown parameter: $p" >&2; exit 1 ;;
		esac
	done
	;;
*)
	echo "unknown operation: $op" >&2
	exit 1
	;;
esac
exit 0
