#!/usr/bin/env bash
# Runs check.js, tedious (Node) against the repository's TDS test server:
# installs the pinned tedious with npm ci, builds and starts cmd/mssqltest
# on 127.0.0.1, runs the scenarios, and stops the server with SIGINT.
# Needs go, node (18.17 or later) and npm. Exits non-zero if a scenario
# fails or the server does not stop cleanly.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

(cd "$here" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)

tmp="$(mktemp -d)"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root" && go build -o "$tmp/mssqltest" ./cmd/mssqltest)
"$tmp/mssqltest" -addr 127.0.0.1:0 >"$tmp/stdout" &
pid=$!

# The first line of the server's standard output is its DSN.
dsn=""
for _ in $(seq 100); do
	dsn="$(head -n 1 "$tmp/stdout")"
	case "$dsn" in sqlserver://*) break ;; esac
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: the test server exited before printing its DSN" >&2
		exit 1
	fi
	sleep 0.1
done
case "$dsn" in
sqlserver://*) ;;
*)
	echo "run.sh: no DSN from the test server" >&2
	exit 1
	;;
esac

status=0
node "$here/check.js" "$dsn" || status=$?

kill -INT "$pid"
if ! wait "$pid"; then
	echo "run.sh: the test server did not exit cleanly after SIGINT" >&2
	status=1
fi
pid=""
exit "$status"
