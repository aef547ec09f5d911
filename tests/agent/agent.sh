#!/bin/sh
# Guest side of the test agent: serves command requests on a serial port.
#
# Request (one line):  MBREQ <id> <timeout-seconds> <base64 of a sh script>
# Reply:               MBBEGIN <id>
#                      <base64 of the script's stdout+stderr, any number of lines>
#                      MBEND <id> <exit code>
# The host matches replies by id and ignores everything else on the line.
TTY=${1:-/dev/ttyS1}
W=/tmp/mb-agent
mkdir -p "$W"
case "$TTY" in
/dev/tty*) stty -F "$TTY" raw -echo 115200 || exit 1 ;;
*) [ -c "$TTY" ] || exit 1 ;;	# a virtio-serial port: no line discipline
esac
exec 3<>"$TTY"
printf 'MBREADY\n' >&3
while IFS= read -r line <&3; do
	set -- $line
	[ "$1" = MBREQ ] && [ $# -eq 4 ] || continue
	id=$2 to=$3
	if printf '%s' "$4" | base64 -d >"$W/cmd.sh" 2>/dev/null; then
		# Commands must be OOM-killable even though the agent is not.
		( cd / && echo 0 >/proc/self/oom_score_adj &&
		  exec timeout -s KILL "$to" sh "$W/cmd.sh" ) </dev/null >"$W/out" 2>&1
		rc=$?
	else
		echo "agent: bad base64 request" >"$W/out"
		rc=254
	fi
	printf 'MBBEGIN %s\n' "$id" >&3
	base64 "$W/out" >&3
	printf 'MBEND %s %s\n' "$id" "$rc" >&3
done
