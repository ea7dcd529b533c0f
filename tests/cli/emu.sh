# Helpers for tests/cli/test-attest*.sh (POSIX sh; source after lib.sh): start the protocol
# emulators of tests/emulators/ on loopback, talk to their control listeners, stop them on exit.
#
#   emu_require                 exit 77 (skip) when python3 + cryptography, curl or jq are missing
#   emu_start NAME SCRIPT ARGS  start tests/emulators/SCRIPT with state dir $EMU_STATE; sets
#                               ${NAME}_PORT, ${NAME}_CONTROL, ${NAME}_PLAIN (when --plain)
#   emu_control NAME METHOD PATH [JSON]   control request; prints the answer
#   emu_fault NAME JSON         queue a fault
#   emu_stop_all                kill every emulator started (call from the EXIT trap)

EMU_PIDS=
EMU_DIR=${EMU_DIR:-$(cd "$(dirname "$0")/../emulators" && pwd)}
EMU_PYTHON=${CVM_PYTHON:-python3}

emu_require() {
        for t in "$EMU_PYTHON" curl jq openssl; do
                command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
        done
        "$EMU_PYTHON" -c 'import cryptography' 2>/dev/null ||
                { echo "SKIP: python3-cryptography not installed (packaging/install-deps.sh)"; exit 77; }
}

emu_start() {
        name=$1
        script=$2
        shift 2
        pf=$EMU_STATE/$name.port.json
        rm -f "$pf"
        "$EMU_PYTHON" "$EMU_DIR/$script" --state-dir "$EMU_STATE" --port-file "$pf" --max-lifetime 900 "$@" \
                2>"$EMU_STATE/$name.stderr" &
        EMU_PIDS="$EMU_PIDS $!"
        i=0
        while [ ! -s "$pf" ]; do
                i=$((i + 1))
                if [ $i -gt 600 ]; then
                        echo "FAIL: emulator $name did not start: $(tail -5 "$EMU_STATE/$name.stderr")"
                        return 1
                fi
                sleep 0.05
        done
        eval "${name}_PORT=$(jq -r .port "$pf")"
        eval "${name}_CONTROL=$(jq -r .control_port "$pf")"
        eval "${name}_PLAIN=$(jq -r '.plain_port // empty' "$pf")"
}

emu_control() {
        eval "cport=\$${1}_CONTROL"
        if [ $# -ge 4 ]; then
                curl -sS -X "$2" -H 'Content-Type: application/json' --data-binary "$4" "http://127.0.0.1:$cport$3"
        else
                curl -sS -X "$2" "http://127.0.0.1:$cport$3"
        fi
}

emu_fault() {
        emu_control "$1" POST /faults "$2" >/dev/null
}

emu_clear() {
        emu_control "$1" DELETE /faults >/dev/null
}

emu_stop_all() {
        for p in $EMU_PIDS; do
                kill "$p" 2>/dev/null
        done
        for p in $EMU_PIDS; do
                wait "$p" 2>/dev/null
        done
        EMU_PIDS=
}
