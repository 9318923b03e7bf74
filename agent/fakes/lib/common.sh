# shellcheck shell=sh disable=SC2034
# lib/common.sh: helpers shared by the fake macOS commands in agent/fakes/.
# Sourced (never run) by each fake after it has located this directory.
# Sourcing it checks MMC_ROOT and MMC_NOW, and sets:
#   FAKE      the fake's name (basename of $0), for messages
#   ROOT      $MMC_ROOT without trailing slashes (stands for the Mac's /)
#   ROOT_REAL the same directory with symlinks resolved
#   FAKES     $ROOT/var/db/mmc-fakes, the fakes' private state
#   RECEIPTS  $ROOT/var/db/receipts, package receipts
#   NOW       $MMC_NOW, or the current time, in UNIX epoch seconds
#   TAB       a tab character

LC_ALL=C
export LC_ALL

FAKE=${0##*/}

# err MESSAGE: print MESSAGE on stderr.
err() { printf '%s\n' "$*" >&2; }

# die CODE MESSAGE: print MESSAGE on stderr and exit with CODE.
die() {
	_code=$1
	shift
	err "$@"
	exit "$_code"
}

# The fakes must never touch a real system: MMC_ROOT must name a directory
# other than /.
ROOT=${MMC_ROOT-}
case $ROOT in
'') die 70 "$FAKE (mmc fake): MMC_ROOT is not set; refusing to run against the real system" ;;
/*) ;;
*) die 70 "$FAKE (mmc fake): MMC_ROOT must be an absolute path, not '$ROOT'" ;;
esac
while :; do
	case $ROOT in
	*/) ROOT=${ROOT%/} ;;
	*) break ;;
	esac
done
[ -n "$ROOT" ] || die 70 "$FAKE (mmc fake): MMC_ROOT is /; refusing to run against the real system"
ROOT_REAL=$(cd "$ROOT" 2>/dev/null && pwd -P) ||
	die 70 "$FAKE (mmc fake): MMC_ROOT '$ROOT' is not a directory"
[ "$ROOT_REAL" != / ] || die 70 "$FAKE (mmc fake): MMC_ROOT '$ROOT' resolves to /; refusing to run against the real system"

FAKES=$ROOT/var/db/mmc-fakes
RECEIPTS=$ROOT/var/db/receipts
TAB=$(printf '\t')

case ${MMC_NOW-} in
'') NOW=$(date +%s) ;;
*[!0-9]*) die 70 "$FAKE (mmc fake): MMC_NOW must be UNIX epoch seconds, not '$MMC_NOW'" ;;
*) NOW=$MMC_NOW ;;
esac

# host_path PATH: print the host path standing for the Mac path PATH
# (absolute, or relative to the current directory). A path that is already
# under $MMC_ROOT is kept as it is. Fails (prints nothing) on a '..' component.
host_path() {
	_p=$1
	case $_p in
	/*) ;;
	*) _p=$(pwd)/$_p ;;
	esac
	case /$_p/ in
	*/../*) return 1 ;;
	esac
	case $_p in
	"$ROOT"/* | "$ROOT_REAL"/*) printf '%s\n' "$_p" ;;
	*) printf '%s\n' "$ROOT$_p" ;;
	esac
}

# mac_path HOSTPATH: the Mac path of a host path under $MMC_ROOT.
mac_path() {
	case $1 in
	"$ROOT"/*) printf '%s\n' "${1#"$ROOT"}" ;;
	"$ROOT_REAL"/*) printf '%s\n' "${1#"$ROOT_REAL"}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# safe_name NAME: true if NAME can be used as a single file name.
safe_name() {
	case $1 in
	'' | . | .. | */*) return 1 ;;
	esac
	return 0
}

# fake_value FILE DEFAULT: the first line of $FAKES/FILE if it exists, else
# DEFAULT.
fake_value() {
	if [ -f "$FAKES/$1" ]; then
		head -n 1 "$FAKES/$1"
	else
		printf '%s\n' "$2"
	fi
}

# xml_escape TEXT: TEXT with &, < and > escaped for XML character data.
xml_escape() {
	case $1 in
	*[\&\<\>]*) printf '%s\n' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# plist_value KEY FILE: the value of the first <key>KEY</key> in the XML
# plist FILE (string, integer, real or date on the same or a later line;
# true/false for booleans), unescaped. Fails if the key is absent.
plist_value() {
	awk -v key="<key>$1</key>" '
		function emit(s) {
			if (match(s, /<(string|integer|real|date)>[^<]*<\//)) {
				s = substr(s, RSTART, RLENGTH - 2)
				sub(/^<[a-z]+>/, "", s)
				gsub(/&lt;/, "<", s); gsub(/&gt;/, ">", s)
				gsub(/&quot;/, "\"", s); gsub(/&apos;/, "\047", s)
				gsub(/&amp;/, "\\&", s)
				print s; found = 1; exit
			}
			if (s ~ /<(string|integer|real|date)\/>/) { print ""; found = 1; exit }
			if (s ~ /<true\/>/) { print "true"; found = 1; exit }
			if (s ~ /<false\/>/) { print "false"; found = 1; exit }
			if (s ~ /<(dict|array)/) { exit }
		}
		want && NF { emit($0) }
		!want && (i = index($0, key)) {
			want = 1
			rest = substr($0, i + length(key))
			if (rest ~ /[^ \t]/) emit(rest)
		}
		END { exit found ? 0 : 1 }
	' "$2"
}

# Plist writing. px N TEXT: TEXT indented by N tabs. pkv N KEY TYPE VALUE:
# a <key> line and a value line (VALUE is escaped).
px() {
	_n=$1
	shift
	while [ "$_n" -gt 0 ]; do
		printf '\t'
		_n=$((_n - 1))
	done
	printf '%s\n' "$*"
}
pkv() {
	px "$1" "<key>$2</key>"
	px "$1" "<$3>$(xml_escape "$4")</$3>"
}
plist_begin() {
	printf '%s\n' '<?xml version="1.0" encoding="UTF-8"?>' \
		'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">' \
		'<plist version="1.0">'
}
plist_end() { printf '%s\n' '</plist>'; }

# write_atomic DEST: copy stdin to DEST through a temporary file and mv, so
# DEST is either absent/old or complete.
write_atomic() {
	_tmp=$1.mmc-tmp.$$
	if cat >"$_tmp" && mv -f "$_tmp" "$1"; then
		return 0
	fi
	rm -f "$_tmp"
	return 1
}

# iso_date EPOCH: EPOCH as YYYY-MM-DDTHH:MM:SSZ (a plist <date>).
iso_date() {
	date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
		date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ
}

# Values shared by system_profiler and ioreg.
hw_serial() { fake_value serial C02FAKE0MMC1; }
hw_uuid() { fake_value uuid 5D1A3E2C-8F4B-4C1D-9E7A-2B6C0D9F1A34; }
hw_model() { fake_value sysctl/hw.model MacBookPro18,3; }

# escape_arg TEXT: TEXT on one line, with \ as \\, a tab as \t and a newline
# as \n (no newline after it).
escape_arg() {
	printf '%s\n' "$1" | sed -e 's/\\/\\\\/g' -e "s/$TAB/\\\\t/g" |
		awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
}

# record_call LOG ARG...: append "EPOCH<TAB>FAKE<TAB>ARG<TAB>ARG..." (each ARG
# through escape_arg) to $FAKES/calls.log, the order of the calls of every fake
# that records, and to $FAKES/LOG unless LOG is empty.
record_call() {
	_log=$1
	shift
	_line=$NOW$TAB$FAKE
	for _a; do
		_line=$_line$TAB$(escape_arg "$_a")
	done
	mkdir -p "$FAKES" || return 1
	printf '%s\n' "$_line" >>"$FAKES/calls.log" || return 1
	[ -z "$_log" ] || printf '%s\n' "$_line" >>"$FAKES/$_log"
}
