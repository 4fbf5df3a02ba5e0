#!/bin/sh
# A zram user's set-up script: the steps of the kernel's
# Documentation/admin-guide/blockdev/zram.rst (6.1 and 6.12), in its order,
# with the values of its examples, each checked by reading back what it set.
#
# It is written for zram.  Run it on another device of the same interface by
# changing the three names below, nothing else, e.g.
#
#     DEV=ramzswap CTL=ramzswap-control MOD=ramzswap sh zram-setup.sh
#
# The module is expected to be loaded already (`modprobe zram num_devices=4`,
# or built in); the script takes fresh devices from hot_add and gives them
# back with hot_remove.  Each step prints `ok <step>`; an optional attribute
# the kernel does not have prints `skip <step> (no <attr>)`; the first failure
# prints `FAIL <step>: <why>` on stderr and exits non-zero.
#
# Needs: coreutils, util-linux (losetup, mkswap, swapon, blockdev), e2fsprogs.
set -eu

DEV=${DEV:-zram}
CTL=${CTL:-zram-control}
MOD=${MOD:-zram}

WORK=/var/tmp/$DEV-setup          # data, the backing file, a mount point
STEP=start

FAILED=
fail() {
	FAILED=1
	echo "FAIL $STEP: $*" >&2
	exit 1
}
# a command that failed under set -e: name the step it failed in
trap 'rc=$?; [ $rc -eq 0 ] || [ -n "$FAILED" ] || echo "FAIL $STEP: exit status $rc" >&2' EXIT

ok() { echo "ok $STEP"; }
skip() { echo "skip $1 (no $2)"; }

# put FILE VALUE: echo VALUE > FILE, as the doc does; set_attr ATTR VALUE: of
# the device in $S
put() {
	echo "$2" > "$1" || fail "echo '$2' > $1 failed"
}
set_attr() { put "$S/$1" "$2"; }
get() { cat "$S/$1" || fail "cat $S/$1 failed"; }
expect() {      # expect WHAT GOT WANTED
	[ "$2" = "$3" ] || fail "$1 is '$2', expected '$3'"
}
has() { [ -e "$S/$1" ]; }
# field N of a one-line stat file
field() { get "$1" | awk -v n="$2" '{ print $n }'; }
nfields() { get "$1" | awk '{ print NF }'; }
# bytes of a memparse() size: 256K, 512M, 1G or plain bytes
bytes() {
	case $1 in
	*K) echo $((${1%K} << 10)) ;;
	*M) echo $((${1%M} << 20)) ;;
	*G) echo $((${1%G} << 30)) ;;
	*) echo "$1" ;;
	esac
}
# the selected algorithm of comp_algorithm: the one in brackets
current_algo() { get comp_algorithm | tr ' ' '\n' | sed -n 's/^\[\(.*\)\]$/\1/p'; }
wait_block() {
	i=0
	while [ ! -b "$1" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "$1 did not appear"
		sleep 0.1
	done
}

# ---------------------------------------------------------------------------
# 1) Load Module: `modprobe zram num_devices=4` was done (or zram is built in)

STEP=module
grep -q "^$MOD " /proc/modules ||
	grep -q "/$MOD\.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null ||
	fail "module $MOD is neither loaded nor built in (modprobe $MOD num_devices=4)"
[ -r "/sys/class/$CTL/hot_add" ] || fail "no /sys/class/$CTL/hot_add"
[ -w "/sys/class/$CTL/hot_remove" ] || fail "no /sys/class/$CTL/hot_remove"
ok

# 8) Add/remove devices: two fresh ones, as the doc's zram0 (swap) and zram1 (fs)
STEP=hot_add
A=$(cat "/sys/class/$CTL/hot_add")
F=$(cat "/sys/class/$CTL/hot_add")
case $A$F in *[!0-9]*|'') fail "hot_add gave '$A' and '$F'" ;; esac
[ "$A" != "$F" ] || fail "hot_add gave $A twice"
for id in $A $F; do
	[ -d "/sys/block/$DEV$id" ] || fail "no /sys/block/$DEV$id"
	wait_block "/dev/$DEV$id"
	S=/sys/block/$DEV$id
	expect "initstate of $DEV$id" "$(get initstate)" 0
	expect "disksize of $DEV$id" "$(get disksize)" 0
done
echo "device /dev/$DEV$A /dev/$DEV$F"
ok

S=/sys/block/$DEV$A
B=/dev/$DEV$A
SF=/sys/block/$DEV$F
BF=/dev/$DEV$F
rm -rf "$WORK"
mkdir -p "$WORK/mnt"

# 2) Set max number of compression streams (one per online CPU whatever is written)
STEP=max_comp_streams
set_attr max_comp_streams 3
n=$(get max_comp_streams)
case $n in *[!0-9]*|''|0) fail "max_comp_streams reads '$n'" ;; esac
ok

# 3) Select compression algorithm
STEP=comp_algorithm
list=$(get comp_algorithm)
cur=$(current_algo)
[ -n "$cur" ] || fail "no selected algorithm in brackets: '$list'"
echo "comp_algorithm: $list"
ok
for algo in lzo lz4 zstd; do
	STEP="comp_algorithm $algo"
	case " $list " in
	*" $algo "*|*" [$algo] "*)
		set_attr comp_algorithm $algo
		expect "selected algorithm" "$(current_algo)" $algo
		ok ;;
	*) skip "$STEP" "$algo in comp_algorithm" ;;
	esac
done

# 5) Set Disksize, in bytes and with mem suffixes; 11) Reset between
for size in $((50 * 1024 * 1024)) 256K 512M 1G; do
	STEP="disksize $size"
	set_attr disksize $size
	expect disksize "$(get disksize)" "$(bytes $size)"
	expect initstate "$(get initstate)" 1
	expect "blockdev --getsize64 $B" "$(blockdev --getsize64 "$B")" "$(bytes $size)"
	if echo lzo > "$S/comp_algorithm" 2>/dev/null; then
		fail "comp_algorithm changed on an initialised device"
	fi
	ok
	STEP="reset after disksize $size"
	set_attr reset 1
	expect initstate "$(get initstate)" 0
	expect disksize "$(get disksize)" 0
	ok
done

# writeback (optional feature): the backing device is set before disksize
STEP=backing_dev
if has backing_dev; then
	truncate -s 64M "$WORK/backing.img"
	LOOP=$(losetup -f --show "$WORK/backing.img")
	echo "loop $LOOP"
	expect "backing_dev before" "$(get backing_dev)" none
	set_attr backing_dev "$LOOP"
	expect backing_dev "$(get backing_dev)" "$LOOP"
	ok
else
	skip $STEP backing_dev
fi

# 3) the device's compressor: lzo, as the doc's example
STEP="comp_algorithm lzo"
set_attr comp_algorithm lzo
expect "selected algorithm" "$(current_algo)" lzo
ok

# recompression (optional feature): a secondary algorithm, before disksize
STEP=recomp_algorithm
if has recomp_algorithm; then
	set_attr recomp_algorithm "algo=zstd priority=1"
	get recomp_algorithm | grep -q '^#1: .*\[zstd\]' ||
		fail "recomp_algorithm shows no '#1: ... [zstd]': $(get recomp_algorithm)"
	ok
else
	skip $STEP recomp_algorithm
fi

# 4) Set compression algorithm parameters (6.12): zstd's level
STEP=algorithm_params
if has algorithm_params; then
	if has recomp_algorithm; then
		set_attr algorithm_params "algo=zstd level=8"
	else
		set_attr algorithm_params "algo=lzo level=1"
	fi
	ok
else
	skip $STEP algorithm_params
fi

STEP="disksize 128M"
set_attr disksize 128M
expect disksize "$(get disksize)" $((128 << 20))
expect initstate "$(get initstate)" 1
[ "$(nfields mm_stat)" -eq 9 ] || fail "mm_stat has $(nfields mm_stat) fields, not 9"
ok

# 6) Set memory limit, at run time; mm_stat's fourth field shows it
for limit in $((50 * 1024 * 1024)) 256K 512M 1G 0; do
	STEP="mem_limit $limit"
	set_attr mem_limit $limit
	expect "mm_stat mem_limit" "$(field mm_stat 4)" "$(bytes $limit)"
	ok
done

# 7) Activate: swap on the first device, ext4 on the second
STEP=mkswap
mkswap "$B" > /dev/null
ok
STEP=swapon
swapon "$B"
grep -q "^$B " /proc/swaps || fail "$B not in /proc/swaps"
ok

STEP=mkfs.ext4
put "$SF/disksize" 64M
expect "initstate of $DEV$F" "$(cat "$SF/initstate")" 1
mkfs.ext4 -q "$BF"
ok
STEP=mount
mount "$BF" "$WORK/mnt"
grep -q "^$BF $WORK/mnt " /proc/mounts || fail "$BF not mounted on $WORK/mnt"
ok
STEP="write a file"
# a mix of page kinds: zero, random, text, binary
{
	head -c 1M /dev/zero
	head -c 1M /dev/urandom
	yes 'zram: compressed RAM-based block devices 0123456789' | head -c 1M
	cat /usr/bin/* 2>/dev/null | head -c 1M
} > "$WORK/data"
expect "size of $WORK/data" "$(stat -c %s "$WORK/data")" $((4 << 20))
cp "$WORK/data" "$WORK/mnt/data"
sync
echo 3 > /proc/sys/vm/drop_caches
cmp "$WORK/data" "$WORK/mnt/data" || fail "the file reads back different"
[ "$(awk '{ print $1 }' "$SF/mm_stat")" -gt 0 ] || fail "nothing stored on $DEV$F"
ok

# 9) Stats
STEP=stat
w=$(awk '{ print $5 }' "$SF/stat")     # write I/Os (Documentation/block/stat.rst)
[ "$(awk '{ print NF }' "$SF/stat")" -ge 11 ] || fail "stat: $(cat "$SF/stat")"
[ "$w" -gt 0 ] || fail "stat shows no writes: $(cat "$SF/stat")"
ok
STEP=io_stat
S=$SF
expect "io_stat fields" "$(nfields io_stat)" 4
expect "io_stat failed_writes" "$(field io_stat 2)" 0
ok
STEP=mm_stat
expect "mm_stat fields" "$(nfields mm_stat)" 9
[ "$(field mm_stat 1)" -gt 0 ] || fail "mm_stat orig_data_size 0: $(get mm_stat)"
[ "$(field mm_stat 3)" -gt 0 ] || fail "mm_stat mem_used_total 0: $(get mm_stat)"
ok
STEP=debug_stat
get debug_stat | head -n 1 | grep -q '^version: ' || fail "debug_stat: $(get debug_stat)"
ok
S=/sys/block/$DEV$A

# 10) Deactivate
STEP=umount
umount "$WORK/mnt"
! grep -q "^$BF " /proc/mounts || fail "$BF still mounted"
ok
STEP=swapoff
swapoff "$B"
! grep -q "^$B " /proc/swaps || fail "$B still in /proc/swaps"
ok

# The swap device's pages, for the optional features: the same mix, raw
STEP="write pages"
dd if="$WORK/data" of="$B" bs=1M oflag=direct conv=fsync status=none
[ "$(field mm_stat 6)" -ge 200 ] || fail "mm_stat same_pages < 200: $(get mm_stat)"
[ "$(field mm_stat 8)" -ge 200 ] || fail "mm_stat huge_pages < 200: $(get mm_stat)"
ok

STEP=bd_stat
if has bd_stat; then
	expect "bd_stat fields" "$(nfields bd_stat)" 3
	expect "bd_stat before writeback" "$(get bd_stat | awk '{ print $1, $2, $3 }')" "0 0 0"
	ok
else
	skip $STEP bd_stat
fi

# idle: by age (CONFIG_ZRAM_MEMORY_TRACKING, 6.12: CONFIG_ZRAM_TRACK_ENTRY_ACTIME),
# then all pages.  In this order: an age also clears the mark of the pages
# accessed since on 6.12 (6.1 only sets marks), so after `all` it would
# leave nothing idle for the writeback below.
STEP="idle 86400"
if has idle; then
	set_attr idle 86400
	ok
	STEP="idle all"
	set_attr idle all
	ok
else
	skip "$STEP" idle
fi

if has writeback && has backing_dev && has bd_stat; then
	STEP="writeback huge"
	set_attr writeback huge
	n=$(field bd_stat 3)
	[ "$n" -ge 200 ] || fail "bd_stat bd_writes $n after writeback huge: $(get bd_stat)"
	expect "bd_stat bd_count" "$(field bd_stat 1)" "$n"
	ok
	STEP="writeback huge_idle"
	set_attr writeback huge_idle
	ok

	STEP=writeback_limit
	budget=$((400 << 20 >> 12))
	expect writeback_limit_enable "$(get writeback_limit_enable)" 0
	set_attr writeback_limit $budget
	set_attr writeback_limit_enable 1
	expect writeback_limit_enable "$(get writeback_limit_enable)" 1
	expect writeback_limit "$(get writeback_limit)" $budget
	ok

	STEP="writeback idle"
	before=$(field bd_stat 3)
	set_attr writeback idle
	after=$(field bd_stat 3)
	[ "$after" -ge $((before + 200)) ] ||
		fail "bd_stat bd_writes $before -> $after after writeback idle"
	expect "writeback_limit after writing $((after - before)) pages" \
		"$(get writeback_limit)" $((budget - (after - before)))
	ok

	STEP="writeback page_index"
	dd if="$WORK/data" of="$B" bs=4096 skip=512 seek=1251 count=1 oflag=direct \
		conv=fsync status=none
	before=$(field bd_stat 3)
	set_attr writeback page_index=1251
	expect "bd_stat bd_writes" "$(field bd_stat 3)" $((before + 1))
	ok

	STEP="writeback_limit_enable 0"
	set_attr writeback_limit_enable 0
	expect writeback_limit_enable "$(get writeback_limit_enable)" 0
	ok

	STEP="read back"
	dd if="$B" bs=1M count=4 iflag=direct status=none | cmp - "$WORK/data" ||
		fail "the pages read back different"
	dd if="$B" bs=4096 skip=1251 count=1 iflag=direct status=none |
		cmp -i 0:$((512 * 4096)) -n 4096 - "$WORK/data" ||
		fail "page 1251 reads back different"
	[ "$(field bd_stat 2)" -gt 0 ] || fail "bd_stat shows no reads: $(get bd_stat)"
	ok
else
	skip writeback "writeback, backing_dev or bd_stat"
fi

# recompression (6.12, CONFIG_ZRAM_MULTI_COMP): fresh pages, not written back
if has recompress; then
	STEP="recompress type=idle"
	dd if="$WORK/data" of="$B" bs=1M seek=16 oflag=direct conv=fsync status=none
	set_attr idle all
	before=$(field mm_stat 2)
	set_attr recompress "type=idle"
	after=$(field mm_stat 2)
	[ "$after" -lt "$before" ] ||
		fail "compr_data_size $before -> $after: zstd compressed nothing smaller"
	ok
	for arg in "type=huge" "threshold=3000" "type=huge_idle max_pages=42"; do
		STEP="recompress $arg"
		set_attr recompress "$arg"
		ok
	done
	STEP="read back recompressed"
	dd if="$B" bs=1M skip=16 count=4 iflag=direct status=none | cmp - "$WORK/data" ||
		fail "the recompressed pages read back different"
	ok
else
	skip recompress recompress
fi

STEP=compact
set_attr compact 1
n=$(field mm_stat 7)
case $n in *[!0-9]*|'') fail "mm_stat pages_compacted '$n'" ;; esac
ok

STEP=mem_used_max
set_attr mem_used_max 0
expect "mm_stat mem_used_max after reset" "$(field mm_stat 5)" "$(field mm_stat 3)"
ok

# 11) Reset, then 8) remove the devices
STEP=reset
set_attr reset 1
put "$SF/reset" 1
for id in $A $F; do
	expect "initstate of $DEV$id" "$(cat "/sys/block/$DEV$id/initstate")" 0
	expect "disksize of $DEV$id" "$(cat "/sys/block/$DEV$id/disksize")" 0
done
if has backing_dev; then
	expect "backing_dev after reset" "$(get backing_dev)" none
	losetup -d "$LOOP"
fi
ok

STEP=hot_remove
for id in $A $F; do
	put "/sys/class/$CTL/hot_remove" "$id"
	[ ! -e "/sys/block/$DEV$id" ] || fail "/sys/block/$DEV$id still there"
done
rm -rf "$WORK"
ok
STEP=done
echo "done"
